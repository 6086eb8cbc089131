#include "chorus/node/election_ticker.hpp"

#include <algorithm>
#include <utility>

namespace chorus::node {

using std::chrono::duration_cast;
using std::chrono::microseconds;

ElectionTicker::ElectionTicker(Clock::time_point start, microseconds tick, microseconds watch,
                               microseconds stall_threshold)
    : origin_(start), tick_(tick), watch_(watch), stall_threshold_(stall_threshold) {}

std::optional<microseconds> ElectionTicker::stall(Clock::time_point now) {
  if (!armed_) return std::nullopt;
  auto late = duration_cast<microseconds>(now - *armed_);
  if (late <= stall_threshold_) return std::nullopt;
  origin_ = now - ticks_ * tick_;  // the ticks missed while frozen are not run
  armed_ = now;
  return late;
}

std::int64_t ElectionTicker::take_due(Clock::time_point now) {
  if (now < origin_) return 0;
  const std::int64_t due = (now - origin_) / tick_;
  if (due <= ticks_) return 0;
  return due - std::exchange(ticks_, due);
}

ElectionTicker::Clock::time_point ElectionTicker::arm(
    Clock::time_point now, std::optional<std::int64_t> core_timeout,
    std::optional<Clock::time_point> transport_wakeup) {
  auto at = now + watch_;
  if (transport_wakeup && *transport_wakeup > now && *transport_wakeup <= at) at = *transport_wakeup;
  if (core_timeout) at = std::min(at, tick_time(ticks_ + std::max<std::int64_t>(1, *core_timeout)));
  armed_ = at;
  return at;
}

ElectionTicker::Clock::time_point ElectionTicker::tick_time(std::int64_t tick) const {
  return origin_ + tick * tick_;
}

}  // namespace chorus::node
