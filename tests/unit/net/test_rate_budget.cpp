// The per-connection frame and byte budget.

#include <catch2/catch.hpp>

#include "chorus/net/rate_budget.hpp"

using chorus::net::RateBudget;
using chorus::net::RateLimits;

namespace {
constexpr RateLimits kLimits{100, 10, 1000, 2000};
}

TEST_CASE("a full budget allows a burst, then one frame per refill interval") {
  RateBudget budget(kLimits, 0);
  for (int i = 0; i < 10; ++i) {
    REQUIRE(budget.allows(0));
    budget.spend(1, 0);
  }
  CHECK_FALSE(budget.allows(0));
  CHECK(budget.wait_us(0) == 10'000);  // 100 frames/s
  CHECK_FALSE(budget.allows(9'999));
  CHECK(budget.allows(10'000));
  budget.spend(1, 10'000);
  CHECK_FALSE(budget.allows(10'000));
}

TEST_CASE("the sustained rate is the configured one over a long flood") {
  RateBudget budget(kLimits, 0);
  int handled = 0;
  for (std::int64_t now = 0; now <= 10'000'000; now += 100) {  // tries every 100 µs for 10 s
    while (budget.allows(now)) {
      budget.spend(1, now);
      ++handled;
    }
  }
  CHECK(handled == 10 + 1000);  // the burst, then 100 a second
}

TEST_CASE("a frame larger than the bytes left is taken, and the debt waited out") {
  RateBudget budget(kLimits, 0);
  REQUIRE(budget.allows(0));
  budget.spend(3000, 0);  // 2000 in the bucket: 1000 in debt
  CHECK_FALSE(budget.allows(0));
  CHECK(budget.wait_us(0) == 1'000'001);  // back above zero bytes at 1000 bytes/s
  CHECK_FALSE(budget.allows(1'000'000));
  CHECK(budget.allows(1'000'001));
}

TEST_CASE("an idle connection's budget refills only up to the burst") {
  RateBudget budget(kLimits, 0);
  budget.spend(1, 0);
  int handled = 0;
  while (budget.allows(3'600'000'000)) {
    budget.spend(1, 3'600'000'000);
    ++handled;
  }
  CHECK(handled == 10);
}

TEST_CASE("a clock that seems to run backwards grants nothing") {
  RateBudget budget(kLimits, 1'000'000);
  for (int i = 0; i < 10; ++i) budget.spend(1, 1'000'000);
  CHECK_FALSE(budget.allows(0));
  CHECK_FALSE(budget.allows(1'000'000));
  CHECK(budget.wait_us(1'000'000) == 10'000);
}
