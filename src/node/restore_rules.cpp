#include "chorus/node/restore_rules.hpp"

#include <algorithm>

namespace chorus::node {

namespace {

bool newer(std::uint64_t epoch, std::uint64_t seq, std::uint64_t than_epoch, std::uint64_t than_seq) {
  return epoch > than_epoch || (epoch == than_epoch && seq > than_seq);
}

}  // namespace

bool adopts_state(const HeldState& held, const OfferedState& offered) {
  const bool is_newer = newer(offered.epoch, offered.seq, held.epoch, held.seq);
  if (offered.restored) {
    if (held.origin == Origin::live) return false;
    return held.origin == Origin::none || is_newer;
  }
  // A live state is only comparable, and mappable, in the clock the leader took over.
  return held.origin == Origin::live && offered.clock == held.clock_owner && is_newer;
}

bool adopts_queue(const HeldQueue& held, const OfferedQueue& offered) {
  if (offered.restored) {
    if (held.origin == Origin::live || held.live_state) return false;
    return held.origin == Origin::none || offered.version > held.version;
  }
  return offered.version > held.version;
}

playback::PlaybackState restored_state(const playback::PlaybackState& saved, std::uint64_t epoch,
                                       std::uint64_t seq, std::int64_t now_us) {
  playback::PlaybackState state;
  state.epoch = epoch;
  state.seq = seq;
  state.anchor_us = now_us;
  if (saved.status == playback::PlayStatus::stopped || !saved.track || saved.track->frames <= 0) return state;
  state.status = playback::PlayStatus::paused;
  state.track = saved.track;
  state.anchor_frame = std::clamp<std::int64_t>(saved.anchor_frame, 0, saved.track->frames - 1);
  return state;
}

bool resumes_by_itself(bool resume_playing, Origin origin, playback::PlayStatus saved_status) {
  return resume_playing && origin == Origin::restored && saved_status == playback::PlayStatus::playing;
}

}  // namespace chorus::node
