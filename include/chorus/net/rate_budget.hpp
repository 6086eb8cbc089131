#pragma once
// RateBudget: how many frames and bytes one connection may have read and handled, as two token
// buckets (a sustained rate and a burst). When either is spent the connection stops reading
// until it refills, so a flooding peer is slowed by TCP's own flow control and cannot take the
// io thread from the heartbeats and clock sync of the others. Pure: time is passed in.

#include <cstddef>
#include <cstdint>

namespace chorus::net {

struct RateLimits {
  /// Far above what a member sends (heartbeats, clock sync, commands, gossip: tens a second).
  std::int64_t frames_per_s = 500;
  std::int64_t frame_burst = 1000;
  std::int64_t bytes_per_s = 2 << 20;
  /// At least the largest frame, so that one always fits into a full bucket.
  std::int64_t byte_burst = 4 << 20;
};

class RateBudget {
 public:
  /// Starts with full buckets at `now_us`.
  RateBudget(RateLimits limits, std::int64_t now_us);

  /// Whether one more frame may be handled at `now_us`: a frame token left and no byte debt.
  bool allows(std::int64_t now_us);
  /// Takes one frame of `bytes`; the byte bucket may go into debt for a frame larger than what
  /// is left, which the next frames then wait out.
  void spend(std::size_t bytes, std::int64_t now_us);
  /// How long from `now_us` until allows() is true again (0 if it is now).
  std::int64_t wait_us(std::int64_t now_us);

 private:
  void refill(std::int64_t now_us);

  // Exact integer arithmetic: the buckets hold millionths of a frame and of a byte, so one
  // microsecond adds exactly `per_s` of them.
  RateLimits limits_;
  std::int64_t frames_;
  std::int64_t bytes_;
  std::int64_t last_us_;
};

}  // namespace chorus::net
