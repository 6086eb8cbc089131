#pragma once
// RttEstimator: the round-trip time of one link, from heartbeat echoes, trusting only what can
// be true. Pure: every time is passed in (µs of the steady clock).
//
// A peer echoes our last heartbeat stamp with how long it held it: sample = now − echo − hold.
// A sample is discarded when the echo is not one of the last few stamps sent on this link, the
// hold is negative or longer than the time since that stamp, or the sample is longer than the
// link has existed. A sample far above the smoothed value moves it at most a bounded step, so
// one outlier cannot inflate timeouts derived from it.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

namespace chorus::net {

class RttEstimator {
 public:
  /// Stamps remembered per link: a reply may echo one sent a few heartbeats ago.
  static constexpr std::size_t kRememberedStamps = 8;
  /// Samples before the smoothed value is trusted enough to bound the next ones.
  static constexpr int kWarmupSamples = 4;
  /// Past warm-up, a sample counts as at most this many times the smoothed value.
  static constexpr int kMaxStepFactor = 8;

  explicit RttEstimator(std::int64_t link_created_us = 0) : link_created_us_(link_created_us) {}

  /// Remembers the stamp of a heartbeat sent on this link.
  void sent(std::int64_t stamp_us);

  /// Feeds an echo received at `received_us`; returns the sample taken, or nothing if the echo
  /// could not be true.
  std::optional<std::chrono::microseconds> echoed(std::int64_t echo_us, std::int64_t hold_us,
                                                  std::int64_t received_us);

  /// Smoothed RTT (7/8 old + 1/8 new); nothing before the first valid sample.
  std::optional<std::chrono::microseconds> smoothed() const { return smoothed_; }

 private:
  std::optional<std::chrono::microseconds> sample_of(std::int64_t echo_us, std::int64_t hold_us,
                                                     std::int64_t received_us) const;

  std::int64_t link_created_us_;
  std::deque<std::int64_t> sent_stamps_;
  std::optional<std::chrono::microseconds> smoothed_;
  int samples_ = 0;
};

}  // namespace chorus::net
