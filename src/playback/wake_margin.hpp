#pragma once
// How early a paced file output should wake before a block's deadline so that it is already
// running when the deadline comes, and then waits the rest by polling the clock.
//
// Why: a sleeping thread wakes some tens of microseconds after the instant it asked for (the
// timer interrupt, the scheduler, and on a virtual machine the host waking a halted virtual CPU:
// measured 60–100 µs on a 2-core VM, varying with whether that CPU was idle). That lateness
// differs between nodes and over time, so it is skew between rooms. Waking earlier by about the
// usual lateness and polling the remaining few microseconds puts the write within a few µs of its
// deadline; a wake-up later than the margin still costs only its excess.
//
// The margin is the median of the lateness this thread has seen over its last kWindow wake-ups:
// then about half the blocks wake before the margin runs out and poll only the rest of it (a
// few µs a block on average), the other half are late by less than they
// would have been, and the median block of any 100 ms, by which skew is judged, is on time.
// Bounded by kMaxUs so that a long stall never turns into a long poll. Pure: the caller measures
// and passes the lateness.

#include <array>
#include <cstdint>

namespace chorus::playback {

class WakeMargin {
 public:
  static constexpr int kWindow = 64;
  static constexpr std::int64_t kMaxUs = 200;

  /// How late (µs, ≥ 0) the thread woke after the instant it asked for; negative counts as 0.
  void record_lateness(std::int64_t late_us);

  /// How long before a deadline to wake: 0 until kWindow/4 wake-ups are known.
  std::int64_t margin_us() const { return margin_us_; }

 private:
  void recompute();

  std::array<std::int64_t, kWindow> lateness_{};
  int count_ = 0;  ///< samples held, up to kWindow
  int next_ = 0;   ///< where the next sample goes
  std::int64_t margin_us_ = 0;
};

}  // namespace chorus::playback
