#include <catch2/catch.hpp>

#include "chorus/net/receive_stamp.hpp"

using chorus::net::kMaxStampAgeUs;
using chorus::net::stamp_age_us;

TEST_CASE("a receive stamp's age is the wall clock's advance since it, in whole µs") {
  CHECK(stamp_age_us(1'000'000'000, 1'000'250'999) == 250);
  CHECK(stamp_age_us(5'000, 5'000) == 0);
}

TEST_CASE("a receive stamp that cannot be true is not believed") {
  // In the future: the wall clock was stepped back between the stamp and the read.
  CHECK_FALSE(stamp_age_us(2'000'000, 1'999'999).has_value());
  // Older than any read waits: the wall clock was stepped forward.
  CHECK(stamp_age_us(0, kMaxStampAgeUs * 1000) == kMaxStampAgeUs);
  CHECK_FALSE(stamp_age_us(0, kMaxStampAgeUs * 1000 + 1000).has_value());
}
