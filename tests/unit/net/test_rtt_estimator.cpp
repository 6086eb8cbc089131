#include <catch2/catch.hpp>

#include "chorus/net/rtt_estimator.hpp"

using namespace chorus::net;
using std::chrono::microseconds;

namespace {

constexpr std::int64_t kLinkCreated = 10'000'000;  // µs on the steady clock

}  // namespace

TEST_CASE("an echo of a heartbeat stamp sent on the link gives a sample") {
  RttEstimator rtt(kLinkCreated);
  rtt.sent(kLinkCreated + 1000);
  auto sample = rtt.echoed(kLinkCreated + 1000, 200, kLinkCreated + 1500);
  REQUIRE(sample.has_value());
  CHECK(*sample == microseconds{300});
  CHECK(rtt.smoothed() == microseconds{300});
}

TEST_CASE("an echo of a stamp never sent on the link is discarded") {
  RttEstimator rtt(kLinkCreated);
  rtt.sent(kLinkCreated + 1000);
  CHECK_FALSE(rtt.echoed(1, 0, kLinkCreated + 2000));                  // the forged "echo 1"
  CHECK_FALSE(rtt.echoed(kLinkCreated + 999, 0, kLinkCreated + 2000));  // close, but not sent
  CHECK_FALSE(rtt.smoothed().has_value());
}

TEST_CASE("only the last few stamps sent are accepted as echoes") {
  RttEstimator rtt(kLinkCreated);
  for (std::int64_t i = 1; i <= std::int64_t{RttEstimator::kRememberedStamps} + 1; ++i) {
    rtt.sent(kLinkCreated + i * 1000);
  }
  CHECK_FALSE(rtt.echoed(kLinkCreated + 1000, 0, kLinkCreated + 100'000));
  CHECK(rtt.echoed(kLinkCreated + 2000, 0, kLinkCreated + 100'000));
}

TEST_CASE("a hold that is negative or longer than the time since the stamp is discarded") {
  RttEstimator rtt(kLinkCreated);
  rtt.sent(kLinkCreated + 1000);
  CHECK_FALSE(rtt.echoed(kLinkCreated + 1000, -1, kLinkCreated + 2000));
  CHECK_FALSE(rtt.echoed(kLinkCreated + 1000, 1001, kLinkCreated + 2000));
  CHECK(rtt.echoed(kLinkCreated + 1000, 1000, kLinkCreated + 2000) == microseconds{0});
}

TEST_CASE("an echo received before its stamp or older than the link is discarded") {
  RttEstimator rtt(kLinkCreated);
  rtt.sent(kLinkCreated + 5000);
  CHECK_FALSE(rtt.echoed(kLinkCreated + 5000, 0, kLinkCreated + 4000));
  RttEstimator stale(kLinkCreated);
  stale.sent(kLinkCreated - 1000);  // e.g. stamped by the clock before the link was set up
  CHECK_FALSE(stale.echoed(kLinkCreated - 1000, 0, kLinkCreated + 10));
}

TEST_CASE("one sample far above the smoothed RTT moves it only a bounded step") {
  RttEstimator rtt(kLinkCreated);
  std::int64_t now = kLinkCreated + 1'000'000;
  auto feed = [&](std::int64_t sample_us) {
    now += 100'000;
    rtt.sent(now);
    return rtt.echoed(now, 0, now + sample_us);
  };
  for (int i = 0; i < RttEstimator::kWarmupSamples; ++i) REQUIRE(feed(1000));
  REQUIRE(rtt.smoothed() == microseconds{1000});
  REQUIRE(feed(30'000'000));  // 30 s: not believed at once
  CHECK(*rtt.smoothed() == microseconds{(1000 * 7 + 8 * 1000) / 8});
  // A path that really got slower is followed within a few samples.
  for (int i = 0; i < 12; ++i) feed(20'000);
  CHECK(*rtt.smoothed() > microseconds{15'000});
  CHECK(*rtt.smoothed() <= microseconds{20'000});
}
