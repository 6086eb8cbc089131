#pragma once
// The one time base of a node: integer microseconds of std::chrono::steady_clock since its
// epoch. Clock samples, heartbeats, the playback rules and the outputs' audible instants are all
// expressed in it, so they compare without conversion.

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

}  // namespace chorus
