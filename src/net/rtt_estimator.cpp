#include "chorus/net/rtt_estimator.hpp"

#include <algorithm>

namespace chorus::net {

using std::chrono::microseconds;

void RttEstimator::sent(std::int64_t stamp_us) {
  sent_stamps_.push_back(stamp_us);
  if (sent_stamps_.size() > kRememberedStamps) sent_stamps_.pop_front();
}

std::optional<microseconds> RttEstimator::sample_of(std::int64_t echo_us, std::int64_t hold_us,
                                                    std::int64_t received_us) const {
  if (std::find(sent_stamps_.begin(), sent_stamps_.end(), echo_us) == sent_stamps_.end()) {
    return std::nullopt;  // never sent on this link: forged, or from an earlier link
  }
  auto elapsed = received_us - echo_us;
  if (elapsed < 0 || hold_us < 0 || hold_us > elapsed) return std::nullopt;
  auto sample = elapsed - hold_us;
  if (sample > received_us - link_created_us_) return std::nullopt;
  return microseconds{sample};
}

std::optional<microseconds> RttEstimator::echoed(std::int64_t echo_us, std::int64_t hold_us,
                                                 std::int64_t received_us) {
  auto sample = sample_of(echo_us, hold_us, received_us);
  if (!sample) return std::nullopt;
  if (!smoothed_) {
    smoothed_ = sample;
  } else {
    // A real change of path persists and is followed within a few samples; a single wild
    // one is not taken in one step.
    auto bounded = samples_ >= kWarmupSamples ? std::min(*sample, *smoothed_ * kMaxStepFactor)
                                              : *sample;
    smoothed_ = (*smoothed_ * 7 + bounded) / 8;
  }
  ++samples_;
  return sample;
}

}  // namespace chorus::net
