#include <catch2/catch.hpp>

#include "chorus/net/rate_limited_log.hpp"

using namespace chorus::net;
using namespace std::chrono_literals;

TEST_CASE("a rate-limited log writes the first line at once") {
  RateLimitedLog log(5s);
  auto suppressed = log.admit(RateLimitedLog::Clock::time_point{} + 1h);
  REQUIRE(suppressed.has_value());
  CHECK(*suppressed == 0);
}

TEST_CASE("a rate-limited log holds lines back for a period, then reports how many") {
  RateLimitedLog log(5s);
  auto t0 = RateLimitedLog::Clock::time_point{} + 1h;
  REQUIRE(log.admit(t0));
  for (int i = 1; i <= 1000; ++i) CHECK_FALSE(log.admit(t0 + i * 4ms));  // up to 4 s later
  CHECK_FALSE(log.admit(t0 + 4999ms));
  auto suppressed = log.admit(t0 + 5s);
  REQUIRE(suppressed.has_value());
  CHECK(*suppressed == 1001);
  // The count starts again from the line just written.
  CHECK_FALSE(log.admit(t0 + 6s));
  CHECK(log.admit(t0 + 10s) == std::optional<std::uint64_t>{1});
}

TEST_CASE("a rate-limited log that went quiet writes the next line with nothing suppressed") {
  RateLimitedLog log(2s);
  auto t0 = RateLimitedLog::Clock::time_point{} + 1h;
  REQUIRE(log.admit(t0));
  CHECK(log.admit(t0 + 1h) == std::optional<std::uint64_t>{0});
}
