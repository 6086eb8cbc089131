#pragma once
// The cluster's state as a node keeps it between runs (docs/queue.md and docs/playback.md,
// "After a restart"): two small JSON documents in the node's cache directory, pure text here
// (no files: node/state_file_writer.hpp writes them, PlaybackController reads them).
//
//   queue.json     {"format":1,"cluster":"home","pages":[QUEUE_SNAPSHOT, ...]}
//   playback.json  {"format":1,"cluster":"home","epoch":7,"state":STATE_SYNC_RESPONSE}
//
// The queue is stored as the QUEUE_SNAPSHOT pages the node would send, and the state as a
// STATE_SYNC_RESPONSE, so the protocol's own decoder validates what is read back. They are two
// files because they change at different rates: the state (a few hundred bytes) is rewritten
// every few seconds while playing, the queue (up to 16384 items, a few MB) only when it changed.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/control/control_port.hpp"
#include "chorus/node/play_queue.hpp"
#include "chorus/playback/schedule.hpp"

namespace chorus::node {

/// The format both documents carry; any other is ignored (with a warning).
inline constexpr std::int64_t kSavedStateFormat = 1;
/// Larger files are not read: a full queue of long names stays well below.
inline constexpr std::size_t kMaxSavedQueueBytes = 64u << 20;
inline constexpr std::size_t kMaxSavedPlaybackBytes = 64u << 10;

/// The queue's fields beside its items.
struct SavedQueueHeader {
  std::uint64_t version = 0;
  std::uint64_t next_id = 1;
  bool library = true;
  protocol::QueueModes modes;
};

/// The playback state as saved: its order (epoch, seq), status and track as they were, and the
/// position in `state.anchor_frame` (where it was when saved); `state.anchor_us` means nothing
/// once the process is gone and is saved as 0.
struct SavedPlayback {
  /// The highest election epoch this node had seen: leaderships after a restart take higher
  /// ones, so (epoch, seq) keeps ordering states across restarts.
  std::uint64_t highest_epoch = 0;
  playback::PlaybackState state;
  friend bool operator==(const SavedPlayback&, const SavedPlayback&) = default;
};

/// What reading a document gave: the value, or why there is none (`problem`, empty when the
/// document was simply absent).
template <class T>
struct Loaded {
  std::optional<T> value;
  std::string problem;
};

std::string encode_saved_queue(const std::string& cluster, const SavedQueueHeader& header,
                               const std::vector<control::QueueItem>& items);
/// The queue of cluster `cluster`; any defect (not JSON, another format or cluster, a page the
/// protocol refuses, pages that do not make one queue) gives none, with the reason.
Loaded<PlayQueue> decode_saved_queue(std::string_view text, const std::string& cluster);

std::string encode_saved_playback(const std::string& cluster, const SavedPlayback& saved);
Loaded<SavedPlayback> decode_saved_playback(std::string_view text, const std::string& cluster);

/// The saved state with its position where a node stands now: its anchor at 0 (no clock survives
/// a restart). `frame` is the frame reached when saved.
playback::PlaybackState state_to_save(const playback::PlaybackState& state, std::int64_t frame);

}  // namespace chorus::node
