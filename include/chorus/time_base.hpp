#pragma once
// The one time base of a node: integer microseconds of std::chrono::steady_clock since its
// epoch. Clock samples, heartbeats, the playback rules and the outputs' audible instants are all
// expressed in it, so they compare without conversion.

#include <time.h>

#include <chrono>
#include <cstdint>

namespace chorus {

using SteadyClock = std::chrono::steady_clock;

/// `t` in µs since the steady clock's epoch.
inline std::int64_t to_us(SteadyClock::time_point t) noexcept {
  return std::chrono::duration_cast<std::chrono::microseconds>(t.time_since_epoch()).count();
}

/// The steady clock's time point `us` µs after its epoch: to_us's inverse.
inline SteadyClock::time_point from_us(std::int64_t us) noexcept {
  return SteadyClock::time_point(std::chrono::microseconds(us));
}

/// Now, in µs since the steady clock's epoch.
inline std::int64_t now_us() noexcept { return to_us(SteadyClock::now()); }

/// A wall-clock (CLOCK_REALTIME) instant in µs, e.g. a timestamp a library hands over on the
/// wall clock, as steady-clock µs: moved by the two clocks' difference, read side by side now
/// (the closest of three pairs of reads, so that a preemption between them does not count). A
/// step of the wall clock since `wall_us` is not undone.
inline std::int64_t wall_to_steady_us(std::int64_t wall_us) noexcept {
  std::int64_t best_spread = INT64_MAX;
  std::int64_t wall_minus_steady = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::int64_t before = now_us();
    timespec wall{};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    const std::int64_t after = now_us();
    if (after - before < best_spread) {
      best_spread = after - before;
      wall_minus_steady = static_cast<std::int64_t>(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000 - (before + after) / 2;
    }
  }
  return wall_us - wall_minus_steady;
}

}  // namespace chorus
