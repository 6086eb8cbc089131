#pragma once
// ElectionTicker: when the election shell runs its core's ticks, and when it must wake the io
// thread for them. Pure: every time is passed in.
//
// The core counts time in ticks (20 ms). A core that follows a leader, or leads, has no timer
// armed, and a tick changes nothing in it but the count: waking 50 times a second for them was
// most of an idle node's wake-ups. The ticks stay on their grid (start + k·tick), but the shell
// runs the ones that came due in a batch whenever it runs anyway (a wake-up, or before any
// input), so the core sees the same tick count at every input as before. It wakes only:
//
//   - at the tick where the core's armed timer expires (during an election: every tick it needs);
//   - otherwise at most `watch` later, to notice a freeze: a wake-up later than the stall
//     threshold means the process was frozen (SIGSTOP, a paused VM) long enough for its peers to
//     give up on it. When the transport's own timer wakes the io thread within `watch`, that
//     instant is taken instead, and the two share one wake-up.
//
// A freeze of more than threshold + watch is always noticed (of more than the threshold, if it
// began just before a wake-up); the ticks it missed are not replayed.

#include <chrono>
#include <cstdint>
#include <optional>

namespace chorus::node {

class ElectionTicker {
 public:
  using Clock = std::chrono::steady_clock;

  /// `tick` and `watch` must be positive.
  ElectionTicker(Clock::time_point start, std::chrono::microseconds tick,
                 std::chrono::microseconds watch, std::chrono::microseconds stall_threshold);

  /// How late `now` is past the armed wake-up, when that is more than the stall threshold: the
  /// process was frozen. Then the grid restarts at `now`, so that the missed ticks are not run.
  std::optional<std::chrono::microseconds> stall(Clock::time_point now);

  /// The ticks that came due by `now` and have not been run: the caller runs that many, in order;
  /// ticks() then counts them.
  std::int64_t take_due(Clock::time_point now);

  /// Ticks run since the start.
  std::int64_t ticks() const { return ticks_; }

  /// The wake-up to arm after running at `now`: the tick where the core's timer expires
  /// (`core_timeout`: ticks from the last one run, from BullyElection::ticks_until_timeout), or the
  /// freeze watch, whichever comes first. Remembered as what a stall is measured against.
  Clock::time_point arm(Clock::time_point now, std::optional<std::int64_t> core_timeout,
                        std::optional<Clock::time_point> transport_wakeup);

  /// The wake-up armed last.
  std::optional<Clock::time_point> armed() const { return armed_; }

 private:
  Clock::time_point tick_time(std::int64_t tick) const;

  Clock::time_point origin_;
  std::chrono::microseconds tick_;
  std::chrono::microseconds watch_;
  std::chrono::microseconds stall_threshold_;
  std::int64_t ticks_ = 0;
  std::optional<Clock::time_point> armed_;
};

}  // namespace chorus::node
