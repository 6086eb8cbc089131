#include "wake_margin.hpp"

#include <algorithm>

namespace chorus::playback {

void WakeMargin::record_lateness(std::int64_t late_us) {
  lateness_[static_cast<std::size_t>(next_)] = std::max<std::int64_t>(late_us, 0);
  next_ = (next_ + 1) % kWindow;
  count_ = std::min(count_ + 1, kWindow);
  recompute();
}

void WakeMargin::recompute() {
  if (count_ < kWindow / 4) return;
  // A copy on the stack: the window stays in arrival order for the ring.
  std::array<std::int64_t, kWindow> sorted = lateness_;
  const auto end = sorted.begin() + count_;
  const auto median = sorted.begin() + count_ / 2;
  std::nth_element(sorted.begin(), median, end);
  margin_us_ = std::min(*median, kMaxUs);
}

}  // namespace chorus::playback
