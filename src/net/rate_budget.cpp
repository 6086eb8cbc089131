#include "chorus/net/rate_budget.hpp"

#include <algorithm>

namespace chorus::net {
namespace {
constexpr std::int64_t kMicro = 1'000'000;

std::int64_t ceil_div(std::int64_t a, std::int64_t b) { return (a + b - 1) / b; }
}  // namespace

RateBudget::RateBudget(RateLimits limits, std::int64_t now_us)
    : limits_(limits),
      frames_(limits.frame_burst * kMicro),
      bytes_(limits.byte_burst * kMicro),
      last_us_(now_us) {}

void RateBudget::refill(std::int64_t now_us) {
  if (now_us <= last_us_) return;  // time passed in never runs backwards here; ignore if it does
  // Past a full refill the elapsed time no longer matters; capping it also bounds the products.
  std::int64_t elapsed = std::min(now_us - last_us_, 3600 * kMicro);
  frames_ = std::min(limits_.frame_burst * kMicro, frames_ + elapsed * limits_.frames_per_s);
  bytes_ = std::min(limits_.byte_burst * kMicro, bytes_ + elapsed * limits_.bytes_per_s);
  last_us_ = now_us;
}

bool RateBudget::allows(std::int64_t now_us) {
  refill(now_us);
  return frames_ >= kMicro && bytes_ > 0;
}

void RateBudget::spend(std::size_t bytes, std::int64_t now_us) {
  refill(now_us);
  frames_ -= kMicro;
  bytes_ -= static_cast<std::int64_t>(bytes) * kMicro;
}

std::int64_t RateBudget::wait_us(std::int64_t now_us) {
  refill(now_us);
  std::int64_t frame_wait = frames_ >= kMicro ? 0 : ceil_div(kMicro - frames_, limits_.frames_per_s);
  std::int64_t byte_wait = bytes_ > 0 ? 0 : ceil_div(1 - bytes_, limits_.bytes_per_s);
  return std::max(frame_wait, byte_wait);
}

}  // namespace chorus::net
