#include "chorus/playback/device_clock.hpp"

#include <algorithm>
#include <cmath>

namespace chorus::playback {

namespace {
/// Weight of a new residual in jitter_us(): about the last 50 reports (half a second of 10 ms
/// blocks).
constexpr double kJitterWeight = 0.02;
}  // namespace

std::int64_t DeviceClock::update(std::int64_t frame, std::int64_t reported_us) {
  if (!have_line_) {
    start_at(frame, reported_us);
    return reported_us;
  }
  const auto elapsed = static_cast<double>(frame - frame_);
  const double predicted = at_us_ + elapsed * frame_us_;
  const double residual = static_cast<double>(reported_us) - predicted;
  if (std::abs(residual) > static_cast<double>(tuning_.reset_us) || elapsed < 0) {
    ++jumps_;
    start_at(frame, reported_us);
    return reported_us;
  }
  frame_ = frame;
  at_us_ = predicted + tuning_.phase_gain * residual;
  if (elapsed > 0) {
    const double most = tuning_.max_rate_ppm * 1e-6;
    frame_us_ = std::clamp(frame_us_ + tuning_.rate_gain * residual / elapsed, kFrameUs / (1 + most),
                           kFrameUs / (1 - most));
  }
  jitter_us_ += kJitterWeight * (std::abs(residual) - jitter_us_);
  return std::llround(at_us_);
}

void DeviceClock::restart_timeline() { have_line_ = false; }

double DeviceClock::rate_ppm() const {
  // A device frame lasting less than nominal means the device consumes frames faster.
  return (kFrameUs / frame_us_ - 1.0) * 1e6;
}

void DeviceClock::start_at(std::int64_t frame, std::int64_t reported_us) {
  have_line_ = true;
  frame_ = frame;
  at_us_ = static_cast<double>(reported_us);
}

}  // namespace chorus::playback
