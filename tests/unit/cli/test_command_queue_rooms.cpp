// The parser's queue and room commands: add, delete, move, the play modes, volume, mute, unmute.
// Every accepted form, and every malformed one rejected with the usage line.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "chorus/cli/command.hpp"
#include "parse_results.hpp"

using chorus::cli::CommandKind;
using chorus::cli::ParseErrorKind;
using chorus::cli::Switch;
using chorus::test::contains;
using chorus::test::parsed;
using chorus::test::rejected;

TEST_CASE("add takes a library number or a query", "[cli]") {
  auto number = parsed("add 12");
  CHECK(number.kind == CommandKind::add);
  CHECK(number.track == 12);
  CHECK(number.query.empty());
  CHECK_FALSE(number.uri);

  auto query = parsed("add  daft   punk ");
  CHECK(query.track == 0);
  CHECK(query.query == "daft punk");

  // A number among other words is part of a query.
  CHECK(parsed("add 1999 remix").query == "1999 remix");

  CHECK(rejected("add").kind == ParseErrorKind::missing_argument);
  CHECK(rejected("add 0").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("add 99999999999").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("add a\x01" "b").kind == ParseErrorKind::bad_argument);
  CHECK(contains(rejected("add").message(), "usage: add N | QUERY..."));
}

TEST_CASE("delete takes a position or an inclusive range", "[cli]") {
  auto one = parsed("delete 3");
  CHECK(one.kind == CommandKind::remove);
  CHECK(one.track == 3);
  CHECK(one.count == 1);

  auto range = parsed("delete 2-5");
  CHECK(range.track == 2);
  CHECK(range.count == 4);
  CHECK(parsed("delete 4-4").count == 1);

  for (const std::string line : {"delete 0", "delete -1", "delete 5-2", "delete 2-", "delete -3",
                                 "delete x", "delete 1-x", "delete 1--2", "delete 1-0"}) {
    INFO(line);
    CHECK(rejected(line).kind == ParseErrorKind::bad_argument);
  }
  CHECK(rejected("delete").kind == ParseErrorKind::missing_argument);
  CHECK(rejected("delete 1 2").kind == ParseErrorKind::extra_argument);
}

TEST_CASE("move takes a position or range and where it goes", "[cli]") {
  auto one = parsed("move 4 1");
  CHECK(one.kind == CommandKind::move);
  CHECK(one.track == 4);
  CHECK(one.count == 1);
  CHECK(one.to == 1);

  auto range = parsed("move 2-3 7");
  CHECK(range.track == 2);
  CHECK(range.count == 2);
  CHECK(range.to == 7);

  CHECK(rejected("move").kind == ParseErrorKind::missing_argument);
  CHECK(rejected("move 2").kind == ParseErrorKind::missing_argument);
  CHECK(rejected("move 2 0").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("move 0 2").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("move 2 3 4").kind == ParseErrorKind::extra_argument);
}

TEST_CASE("the play modes take on and off, single and consume also oneshot", "[cli]") {
  CHECK(parsed("random on").mode == Switch::on);
  CHECK(parsed("random off").mode == Switch::off);
  CHECK(parsed("repeat on").kind == CommandKind::repeat);
  CHECK(parsed("single oneshot").mode == Switch::oneshot);
  CHECK(parsed("consume oneshot").mode == Switch::oneshot);
  CHECK(parsed("consume on").kind == CommandKind::consume);

  CHECK(rejected("random oneshot").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("repeat oneshot").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("random 1").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("single ON").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("random").kind == ParseErrorKind::missing_argument);
  CHECK(rejected("consume on off").kind == ParseErrorKind::extra_argument);
  CHECK(contains(rejected("single yes").message(), "usage: single on|off|oneshot"));
}

TEST_CASE("volume shows, sets or changes a room's volume", "[cli]") {
  auto show = parsed("volume");
  CHECK(show.kind == CommandKind::volume);
  CHECK_FALSE(show.volume);
  CHECK(show.room.empty());

  auto own = parsed("volume 40");
  CHECK(own.room.empty());
  CHECK(own.volume == 40);
  CHECK_FALSE(own.relative_volume);

  auto up = parsed("volume +5");
  CHECK(up.volume == 5);
  CHECK(up.relative_volume);
  auto down = parsed("volume -100");
  CHECK(down.volume == -100);
  CHECK(down.relative_volume);

  auto show_room = parsed("volume kitchen");
  CHECK(show_room.room == "kitchen");
  CHECK_FALSE(show_room.volume);

  auto set_room = parsed("volume 127.0.0.1:7001 0");
  CHECK(set_room.room == "127.0.0.1:7001");
  CHECK(set_room.volume == 0);

  // A lone number that is not a volume is an error, not a room named "150".
  CHECK(rejected("volume 150").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("volume +101").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("volume kitchen loud").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("volume kitchen 101").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("volume a b c").kind == ParseErrorKind::extra_argument);
  CHECK(rejected("volume " + std::string(300, 'r') + " 5").kind == ParseErrorKind::bad_argument);
}

TEST_CASE("mute and unmute take an optional room", "[cli]") {
  CHECK(parsed("mute").room.empty());
  CHECK(parsed("mute kitchen").room == "kitchen");
  CHECK(parsed("unmute kitchen").kind == CommandKind::unmute);
  CHECK(rejected("mute a b").kind == ParseErrorKind::extra_argument);
  CHECK(rejected("unmute a\x7f").kind == ParseErrorKind::bad_argument);
}

TEST_CASE("queue takes --json, clear and access nothing", "[cli]") {
  CHECK(parsed("queue --json").json);
  CHECK(parsed("clear").kind == CommandKind::clear);
  CHECK(parsed("access").kind == CommandKind::access);
  CHECK(rejected("clear all").kind == ParseErrorKind::extra_argument);
}

TEST_CASE("update takes nothing and is in the help", "[cli]") {
  CHECK(parsed("update").kind == CommandKind::update);
  CHECK(parsed("  update  ").kind == CommandKind::update);
  CHECK(rejected("update music").kind == ParseErrorKind::extra_argument);
  CHECK(contains(rejected("update now").message(), "usage: update"));
  CHECK(contains(chorus::cli::help_text(), "update"));
}
