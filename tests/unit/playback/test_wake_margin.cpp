// WakeMargin: how early a paced FIFO output wakes before each deadline.

#include "playback/wake_margin.hpp"

#include <catch2/catch.hpp>

#include <cstdint>

using chorus::playback::WakeMargin;

namespace {

void record_n(WakeMargin& m, int n, std::int64_t late_us) {
  for (int i = 0; i < n; ++i) m.record_lateness(late_us);
}

}  // namespace

TEST_CASE("wake margin: none until a quarter of the window is known", "[wake_margin]") {
  WakeMargin m;
  CHECK(m.margin_us() == 0);
  record_n(m, WakeMargin::kWindow / 4 - 1, 80);
  CHECK(m.margin_us() == 0);
  m.record_lateness(80);
  CHECK(m.margin_us() == 80);
}

TEST_CASE("wake margin: the median of the lateness", "[wake_margin]") {
  WakeMargin m;
  // 63, 62, ..., 0 µs: the median of 64 samples (the 33rd smallest) is 32.
  for (int i = WakeMargin::kWindow - 1; i >= 0; --i) m.record_lateness(i);
  CHECK(m.margin_us() == 32);
}

TEST_CASE("wake margin: late wake-ups short of half do not move it", "[wake_margin]") {
  WakeMargin m;
  for (int i = 0; i < 10 * WakeMargin::kWindow; ++i) m.record_lateness(i % 5 < 2 ? 5'000 : 60);
  CHECK(m.margin_us() == 60);
}

TEST_CASE("wake margin: bounded however late the wake-ups", "[wake_margin]") {
  WakeMargin m;
  record_n(m, WakeMargin::kWindow, 30'000);
  CHECK(m.margin_us() == WakeMargin::kMaxUs);
}

TEST_CASE("wake margin: an early wake-up counts as on time", "[wake_margin]") {
  WakeMargin m;
  record_n(m, WakeMargin::kWindow, -40);
  CHECK(m.margin_us() == 0);
}

TEST_CASE("wake margin: follows a change within half a window", "[wake_margin]") {
  WakeMargin m;
  record_n(m, WakeMargin::kWindow, 90);
  CHECK(m.margin_us() == 90);
  record_n(m, WakeMargin::kWindow / 2, 20);
  CHECK(m.margin_us() == 90);  // 32 old ones left: the 33rd smallest is old
  m.record_lateness(20);
  CHECK(m.margin_us() == 20);
}
