#include "chorus/node/save_schedule.hpp"

#include <algorithm>

namespace chorus::node {

void SaveSchedule::pending_from(std::int64_t now) {
  if (!pending_since_) pending_since_ = now;
}

void SaveSchedule::queue_changed(std::int64_t now) {
  pending_.queue = true;
  pending_from(now);
}

void SaveSchedule::state_changed(std::int64_t now, bool playing) {
  pending_.playback = true;
  playing_ = playing;
  pending_from(now);
}

std::optional<std::int64_t> SaveSchedule::due() const {
  if (pending_since_) return last_write_ ? std::max(*pending_since_, *last_write_ + kMinSaveGapUs) : *pending_since_;
  // The position moves: keep the one on disk fresh.
  if (playing_ && last_write_) return *last_write_ + kPlayingSaveIntervalUs;
  return std::nullopt;
}

SaveParts SaveSchedule::take(std::int64_t now) {
  const auto when = due();
  if (!when || now < *when) return {};
  SaveParts parts = pending_;
  parts.playback = parts.playback || playing_;
  pending_ = {};
  pending_since_.reset();
  last_write_ = now;
  return parts;
}

}  // namespace chorus::node
