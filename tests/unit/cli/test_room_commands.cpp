// volume, mute, unmute: [ROOM] [V|+V|-V] and [ROOM].

#include <catch2/catch.hpp>

#include "cli/parse_results.hpp"

using namespace chorus;
using chorus::test::parsed;
using chorus::test::rejected;

TEST_CASE("room commands: volume alone shows the rooms, one volume word names this node") {
  const auto show = parsed("volume");
  CHECK(show.kind == cli::CommandKind::volume);
  CHECK(show.room.empty());
  CHECK_FALSE(show.volume);

  const auto here = parsed("volume 40");
  CHECK(here.room.empty());
  CHECK(here.volume == 40);
  CHECK_FALSE(here.relative_volume);

  const auto up = parsed("volume +10");
  CHECK(up.room.empty());
  CHECK(up.volume == 10);
  CHECK(up.relative_volume);

  const auto down = parsed("volume -100");
  CHECK(down.volume == -100);
  CHECK(down.relative_volume);
}

TEST_CASE("room commands: a room then a volume, or a room alone") {
  const auto there = parsed("volume kitchen 0");
  CHECK(there.room == "kitchen");
  CHECK(there.volume == 0);
  const auto shown = parsed("volume kitchen");
  CHECK(shown.room == "kitchen");
  CHECK_FALSE(shown.volume);
  CHECK(parsed("volume 127.0.0.1:7001 -5").room == "127.0.0.1:7001");
  CHECK(parsed("mute").room.empty());
  CHECK(parsed("mute kitchen").kind == cli::CommandKind::mute);
  CHECK(parsed("unmute kitchen").room == "kitchen");
}

TEST_CASE("room commands: volumes outside 0..100 and extra words are refused") {
  CHECK(rejected("volume kitchen 101").kind == cli::ParseErrorKind::bad_argument);
  CHECK(rejected("volume 101").kind == cli::ParseErrorKind::bad_argument);
  CHECK(rejected("volume -101").kind == cli::ParseErrorKind::bad_argument);
  CHECK(rejected("volume 99999999999999999999").kind == cli::ParseErrorKind::bad_argument);
  CHECK(rejected("volume kitchen +101").kind == cli::ParseErrorKind::bad_argument);
  CHECK(rejected("volume kitchen loud").kind == cli::ParseErrorKind::bad_argument);
  CHECK(rejected("volume kitchen 5 6").kind == cli::ParseErrorKind::extra_argument);
  CHECK(rejected("mute kitchen hall").kind == cli::ParseErrorKind::extra_argument);
}
