// RescanSchedule: inotify events coalesced into rescans; polling when the directory is not watched.

#include <catch2/catch.hpp>

#include "chorus/node/rescan_schedule.hpp"

using chorus::node::kMaxWaitUs;
using chorus::node::kPollIntervalUs;
using chorus::node::kQuietUs;
using chorus::node::RescanSchedule;

TEST_CASE("rescan schedule: nothing is due without a change or polling") {
  RescanSchedule schedule;
  CHECK_FALSE(schedule.due());
  CHECK_FALSE(schedule.take(1'000'000'000));
  CHECK_FALSE(schedule.polling());
}

TEST_CASE("rescan schedule: one change is served after the quiet time, once") {
  RescanSchedule schedule;
  schedule.changed(100);
  REQUIRE(schedule.due() == 100 + kQuietUs);
  CHECK_FALSE(schedule.take(100 + kQuietUs - 1));
  CHECK(schedule.take(100 + kQuietUs));
  CHECK_FALSE(schedule.due());
  CHECK_FALSE(schedule.take(100 + 10 * kQuietUs));
}

TEST_CASE("rescan schedule: a thousand changes a millisecond apart make one rescan") {
  RescanSchedule schedule;
  int rescans = 0;
  std::int64_t now = 0;
  for (int i = 0; i < 1000; ++i, now += 1000) {
    schedule.changed(now);
    if (schedule.take(now)) ++rescans;
  }
  CHECK(rescans == 0);
  const auto last = now - 1000;
  CHECK(schedule.due() == last + kQuietUs);
  CHECK(schedule.take(last + kQuietUs));
  CHECK(++rescans == 1);
}

TEST_CASE("rescan schedule: a steady trickle still gets a rescan after the longest wait") {
  RescanSchedule schedule;
  int rescans = 0;
  // A change every second for two minutes: never quiet for kQuietUs.
  for (std::int64_t now = 0; now <= 120'000'000; now += 1'000'000) {
    schedule.changed(now);
    if (schedule.take(now)) ++rescans;
  }
  // The change seen at a rescan's instant is served by it, so the next wait starts a second later.
  CHECK(rescans == 120'000'000 / (kMaxWaitUs + 1'000'000));
}

TEST_CASE("rescan schedule: a change during a wait moves the rescan, not past the longest wait") {
  RescanSchedule schedule;
  schedule.changed(0);
  schedule.changed(kQuietUs - 1);
  CHECK(schedule.due() == 2 * kQuietUs - 1);
  schedule.changed(kMaxWaitUs);
  CHECK(schedule.due() == kMaxWaitUs);
  // An event stamped earlier than one seen (clocks read on two paths) does not pull it back.
  RescanSchedule other;
  other.changed(50);
  other.changed(10);
  CHECK(other.due() == 50 + kQuietUs);
}

TEST_CASE("rescan schedule: polling rescans every interval and a change-driven rescan restarts it") {
  RescanSchedule schedule;
  schedule.poll(0);
  CHECK(schedule.polling());
  CHECK(schedule.due() == kPollIntervalUs);
  CHECK(schedule.take(kPollIntervalUs));
  CHECK(schedule.due() == 2 * kPollIntervalUs);
  schedule.poll(kPollIntervalUs + 1);  // asking again does not move it
  CHECK(schedule.due() == 2 * kPollIntervalUs);
  schedule.changed(kPollIntervalUs + 10);
  CHECK(schedule.due() == kPollIntervalUs + 10 + kQuietUs);
  CHECK(schedule.take(kPollIntervalUs + 10 + kQuietUs));
  CHECK(schedule.due() == 2 * kPollIntervalUs + 10 + kQuietUs);
}

TEST_CASE("rescan schedule: a late take serves everything due at once") {
  RescanSchedule schedule;
  schedule.poll(0);
  schedule.changed(5);
  CHECK(schedule.take(10 * kPollIntervalUs));
  CHECK_FALSE(schedule.take(10 * kPollIntervalUs));
  CHECK(schedule.due() == 11 * kPollIntervalUs);
}
