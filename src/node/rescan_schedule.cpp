#include "chorus/node/rescan_schedule.hpp"

#include <algorithm>

namespace chorus::node {

void RescanSchedule::changed(std::int64_t now) {
  if (!first_change_) first_change_ = now;
  last_change_ = std::max(last_change_, now);
}

void RescanSchedule::poll(std::int64_t now) {
  if (!next_poll_) next_poll_ = now + kPollIntervalUs;
}

std::optional<std::int64_t> RescanSchedule::due() const {
  std::optional<std::int64_t> when = next_poll_;
  if (first_change_) {
    const auto settled = std::min(last_change_ + kQuietUs, *first_change_ + kMaxWaitUs);
    when = when ? std::min(*when, settled) : settled;
  }
  return when;
}

bool RescanSchedule::take(std::int64_t now) {
  const auto when = due();
  if (!when || now < *when) return false;
  first_change_.reset();
  if (next_poll_) next_poll_ = now + kPollIntervalUs;
  return true;
}

}  // namespace chorus::node
