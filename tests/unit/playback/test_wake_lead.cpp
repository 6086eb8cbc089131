// WakeLead: the lead a paced output wakes early by follows the median of its wake-up latencies,
// stays within [0, kMostLead], and is not dragged by rare long stalls.

#include <chorus/playback/wake_lead.hpp>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdint>
#include <random>

using chorus::playback::WakeLead;
using std::chrono::microseconds;
using std::chrono::nanoseconds;

namespace {

/// A simulated thread asking to be woken at `asked`, woken `latency` later: what the output
/// thread passes to observe() is that latency, whatever the lead was.
void wake_many(WakeLead& lead, int times, auto&& latency) {
  for (int i = 0; i < times; ++i) lead.observe(latency());
}

}  // namespace

TEST_CASE("WakeLead starts at zero: a new output asks for its deadline itself") {
  const WakeLead lead;
  CHECK(lead.lead() == nanoseconds{0});
}

TEST_CASE("WakeLead converges on a steady latency and then holds within a step of it") {
  WakeLead lead;
  wake_many(lead, 100, [] { return microseconds(40); });
  CHECK(lead.lead() == microseconds(40));
  wake_many(lead, 10, [] { return microseconds(40); });
  CHECK(lead.lead() == microseconds(40));
}

TEST_CASE("WakeLead moves one step per wake-up, so one late wake-up barely moves it") {
  WakeLead lead;
  wake_many(lead, 30, [] { return microseconds(30); });
  REQUIRE(lead.lead() == microseconds(30));
  lead.observe(microseconds(5'000));  // a 5 ms platform stall
  CHECK(lead.lead() == microseconds(30) + WakeLead::kStep);
  lead.observe(nanoseconds{0});
  CHECK(lead.lead() == microseconds(30));
}

TEST_CASE("WakeLead follows the median of noisy latencies, not their mean") {
  // 80 % of wake-ups 20-30 µs late, 20 % stalled by 1-4 ms: the mean is ~530 µs, the median
  // ~26 µs. Leading by the mean would put most writes half a millisecond early.
  std::mt19937 random(7);
  std::uniform_int_distribution<int> usual(20, 30);
  std::uniform_int_distribution<int> stall(1'000, 4'000);
  std::bernoulli_distribution stalled(0.2);
  WakeLead lead;
  wake_many(lead, 5'000, [&] { return microseconds(stalled(random) ? stall(random) : usual(random)); });
  CHECK(lead.lead() >= microseconds(22));
  CHECK(lead.lead() <= microseconds(32));
}

TEST_CASE("WakeLead follows a latency that changes, in a step per wake-up") {
  WakeLead lead;
  wake_many(lead, 200, [] { return microseconds(80); });
  REQUIRE(lead.lead() == microseconds(80));
  wake_many(lead, 50, [] { return microseconds(10); });  // the CPU became busy, wakes fast
  CHECK(lead.lead() == microseconds(30));
  wake_many(lead, 50, [] { return microseconds(10); });
  CHECK(lead.lead() == microseconds(10));
}

TEST_CASE("WakeLead stays within zero and kMostLead whatever it observes") {
  WakeLead lead;
  wake_many(lead, 1'000, [] { return microseconds(50'000); });  // a machine stalled for good
  CHECK(lead.lead() == WakeLead::kMostLead);
  wake_many(lead, 1'000, [] { return nanoseconds(-5'000); });   // a clock read before the wake
  CHECK(lead.lead() == nanoseconds{0});
}
