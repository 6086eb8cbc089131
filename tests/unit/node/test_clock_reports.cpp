// What `status` and `debug` say about the clock estimate's sanity checks: a jump held back, the
// samples held back and dropped, the steps of the leader's clock adopted.

#include <catch2/catch.hpp>

#include <string>

#include <boost/json.hpp>

#include "chorus/clock/clock_sync.hpp"
#include "chorus/node/playback_controller.hpp"
#include "chorus/node/playback_reports.hpp"

using namespace chorus;
using namespace chorus::node;

namespace {

constexpr std::int64_t kJump = 300'000;

/// Round trips 300 ms apart, 50 µs each way, answered `offset` ahead.
struct Feed {
  clock::ClockSync sync;
  std::int64_t t = 1'000'000'000'000;

  clock::SampleVerdict next(std::int64_t offset) {
    const auto verdict = sync.add_sample(t, t + 50 + offset, t + 80 + offset, t + 130);
    t += 300'000;
    return verdict;
  }
  PlaybackView view() const {
    PlaybackView view;
    view.following_clock = true;
    view.state_synced = true;
    view.clock = sync.status(t);
    return view;
  }
};

}  // namespace

TEST_CASE("status marks a held-back jump, and debug and status --json count holds, outliers and steps") {
  Feed feed;
  for (int i = 0; i < 10; ++i) feed.next(0);
  CHECK(playback_status_text(feed.view()).find("held back") == std::string::npos);
  CHECK(clock_checks_text(feed.view()) ==
        "clock held back    0 samples (0 now), 0 dropped as outliers\n"
        "clock steps        0\nclock rejected     0\n");

  REQUIRE(feed.next(kJump) == clock::SampleVerdict::held);
  CHECK(playback_status_text(feed.view()).find("(a jump is held back, re-measuring)") !=
        std::string::npos);
  REQUIRE(feed.next(0) == clock::SampleVerdict::accepted);  // an outlier, dropped
  for (int i = 0; i < 4; ++i) REQUIRE(feed.next(kJump) == clock::SampleVerdict::held);
  REQUIRE(feed.next(kJump) == clock::SampleVerdict::step);  // 5 samples over 1.2 s
  REQUIRE(feed.sync.add_sample(100, 110, 120, 50) == clock::SampleVerdict::local_backwards);
  const PlaybackView view = feed.view();
  CHECK(clock_checks_text(view) ==
        "clock held back    6 samples (0 now), 1 dropped as outliers\n"
        "clock steps        1 (last +300.0 ms)\nclock rejected     1\n");

  boost::json::object out;
  add_playback_status(out, view);
  const auto& clock = out.at("clock").as_object();
  CHECK(clock.at("held").to_number<std::int64_t>() == 0);
  CHECK(clock.at("held_back").to_number<std::int64_t>() == 6);
  CHECK(clock.at("outliers").to_number<std::int64_t>() == 1);
  CHECK(clock.at("steps").to_number<std::int64_t>() == 1);
}
