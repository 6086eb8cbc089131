#pragma once
// Which state wins when a cluster forms from nodes that each kept theirs (docs/playback.md and
// docs/queue.md, "After a restart"). Pure: PlaybackCore asks these at a takeover and at every
// offer.
//
// A new leader holds what it took over: a state and queue of this run (`live`: it followed a
// leader, or led), else what it kept on disk (`restored`), else nothing (`none`). Followers offer
// theirs in STATE_OFFER / QUEUE_OFFER, marked `restored` when they come from disk. Until the
// leader's own first command (state) or edit (queue):
//   - a live offer wins as before: newer by (epoch, seq) in the same clock; a newer version;
//   - a restored offer never replaces a live state or queue, nor any queue of a leader whose
//     state is live (a node that was off rejoining a running cluster changes nothing), and replaces a restored one only when newer: (epoch, seq)
//     for states (epochs keep growing across restarts: the election starts above the highest
//     epoch kept), the version for queues (each leader continues its predecessor's);
//   - anything restored beats nothing.

#include <cstdint>
#include <string>

#include "chorus/playback/schedule.hpp"

namespace chorus::node {

/// Where what a leader took over came from.
enum class Origin { none, restored, live };

struct HeldState {
  Origin origin = Origin::none;
  std::string clock_owner;  ///< live: whose clock the state is in
  std::uint64_t epoch = 0;  ///< the state's order as taken over (before the leader restamps it)
  std::uint64_t seq = 0;
};

struct OfferedState {
  bool restored = false;
  std::string clock;  ///< live: whose clock the offered state is in
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
};

/// Whether a leader still open to offers adopts `offered` over `held`.
bool adopts_state(const HeldState& held, const OfferedState& offered);

struct HeldQueue {
  Origin origin = Origin::none;
  std::uint64_t version = 0;
  /// The leader holds a state of this run (it took one over, or issued a command): its cluster
  /// runs, even on a queue that came from nowhere (a library queue, never edited).
  bool live_state = false;
};

struct OfferedQueue {
  bool restored = false;
  std::uint64_t version = 0;
};

/// Whether a leader still open to offers fetches and adopts the queue `offered` over `held`.
bool adopts_queue(const HeldQueue& held, const OfferedQueue& offered);

/// The state a leader holds from a saved one: paused where it was (clamped into its track), or
/// stopped when it had no track; anchored at `now_us`, stamped (epoch, seq).
playback::PlaybackState restored_state(const playback::PlaybackState& saved, std::uint64_t epoch,
                                       std::uint64_t seq, std::int64_t now_us);

/// Whether a leader that took over a restored state plays it by itself: only with
/// --resume-playing, and only if it was playing when saved (MPD's restore_paused = no).
bool resumes_by_itself(bool resume_playing, Origin origin, playback::PlayStatus saved_status);

}  // namespace chorus::node
