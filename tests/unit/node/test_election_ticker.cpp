// ElectionTicker: the core's ticks stay on their grid and run in batches; the io thread wakes
// only for the core's timer or the freeze watch; a freeze is measured against the armed wake-up.

#include <catch2/catch.hpp>

#include <optional>

#include "chorus/node/election_ticker.hpp"

using chorus::node::ElectionTicker;
using Clock = ElectionTicker::Clock;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

Clock::time_point at(std::int64_t ms) { return t0 + milliseconds(ms); }

/// 20 ms ticks, a 200 ms watch, a 400 ms stall threshold: the node's defaults.
ElectionTicker ticker() {
  return ElectionTicker(t0, milliseconds(20), milliseconds(200), milliseconds(400));
}

}  // namespace

TEST_CASE("ticks come due on their grid from the start and run in batches") {
  auto t = ticker();
  CHECK(t.take_due(at(0)) == 0);
  CHECK(t.take_due(at(19)) == 0);
  CHECK(t.take_due(at(20)) == 1);
  CHECK(t.take_due(at(20)) == 0);
  CHECK(t.ticks() == 1);
  CHECK(t.take_due(at(199)) == 8);  // ticks 2..9
  CHECK(t.ticks() == 9);
  CHECK(t.take_due(at(1000)) == 41);
  CHECK(t.ticks() == 50);
  CHECK(t.take_due(at(999)) == 0);  // time never runs ticks back
  CHECK(t.ticks() == 50);
}

TEST_CASE("every tick is run exactly once, however the wake-ups fall") {
  for (std::int64_t step = 1; step <= 97; step += 6) {
    auto t = ticker();
    std::int64_t run = 0;
    for (std::int64_t ms = 0; ms <= 5000; ms += step) run += t.take_due(at(ms));
    INFO("a wake-up every " << step << " ms");
    CHECK(run == t.ticks());
    CHECK(t.ticks() == (5000 / step * step) / 20);
  }
}

TEST_CASE("without a core timer the wake-up is the freeze watch") {
  auto t = ticker();
  CHECK(t.arm(at(0), std::nullopt, std::nullopt) == at(200));
  CHECK(t.armed() == at(200));
  CHECK(t.arm(at(35), std::nullopt, std::nullopt) == at(235));
}

TEST_CASE("the watch shares the transport's wake-up when that comes within it") {
  auto t = ticker();
  CHECK(t.arm(at(0), std::nullopt, at(150)) == at(150));
  CHECK(t.arm(at(0), std::nullopt, at(200)) == at(200));
  CHECK(t.arm(at(0), std::nullopt, at(1)) == at(1));
  CHECK(t.arm(at(0), std::nullopt, at(201)) == at(200));   // too late for the watch
  CHECK(t.arm(at(100), std::nullopt, at(100)) == at(300));  // being served now: its next is unknown
  CHECK(t.arm(at(100), std::nullopt, at(50)) == at(300));
}

TEST_CASE("a core timer wakes the shell at the tick where it expires") {
  for (std::int64_t now_ms = 0; now_ms < 400; now_ms += 3) {
    for (std::int64_t timeout = 1; timeout <= 30; ++timeout) {
      auto t = ticker();
      t.take_due(at(now_ms));
      auto expiry = at((t.ticks() + timeout) * 20);
      INFO("now " << now_ms << " ms, timeout " << timeout << " ticks");
      auto armed = t.arm(at(now_ms), timeout, std::nullopt);
      CHECK(armed == std::min(expiry, at(now_ms + 200)));
      CHECK(t.arm(at(now_ms), timeout, at(now_ms + 1)) == std::min(expiry, at(now_ms + 1)));
      // Waking then runs the tick at which the core's timer fires.
      if (armed == expiry) {
        CHECK(t.take_due(armed) == timeout);
      }
    }
  }
}

TEST_CASE("a wake-up later than the threshold is a freeze, and its missed ticks are dropped") {
  auto t = ticker();
  CHECK_FALSE(t.stall(at(10'000)));  // nothing armed yet
  t.take_due(at(100));
  t.arm(at(100), std::nullopt, std::nullopt);  // armed for 300 ms
  CHECK_FALSE(t.stall(at(300)));
  CHECK_FALSE(t.stall(at(700)));  // exactly the threshold late
  auto late = t.stall(at(700) + microseconds(1));
  REQUIRE(late);
  CHECK(*late == microseconds(400'001));
  CHECK_FALSE(t.stall(at(701)));  // noticed once
  CHECK(t.take_due(at(701)) == 0);  // the 30 ticks missed are not run
  CHECK(t.ticks() == 5);
  CHECK(t.take_due(at(720)) == 0);
  CHECK(t.take_due(at(721)) == 1);  // the grid restarted at the resumption
}

TEST_CASE("a freeze longer than threshold plus watch is always noticed, one within the threshold never") {
  // Wake-ups at every armed instant (no core timer, no transport), a freeze of `length` from
  // `begin`: the first run after it checks for a stall.
  for (std::int64_t begin = 1000; begin < 1400; begin += 7) {
    for (std::int64_t length = 0; length <= 1000; length += 10) {
      auto t = ticker();
      std::optional<microseconds> found;
      Clock::time_point now = at(0);
      while (now < at(3000) && !found) {
        auto next = t.arm(now, std::nullopt, std::nullopt);
        if (next > at(begin) && now <= at(begin)) next = std::max(next, at(begin + length));
        now = next;
        found = t.stall(now);
        t.take_due(now);
      }
      INFO("frozen at " << begin << " ms for " << length << " ms");
      if (length > 400 + 200) CHECK(found);
      if (length <= 400) CHECK_FALSE(found);
    }
  }
}
