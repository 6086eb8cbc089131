#pragma once
// The files of the state a node keeps between runs (node/saved_state.hpp for their format):
// queue.json and playback.json in its cache directory, beside room.json. Reading happens once,
// at start; writing on a thread of its own, so a full queue (about 6 MB, some 0.2 s to encode
// and write) never holds up the io thread: the io thread hands over an immutable view of the queue
// and a copy of the state, and the writer keeps only the newest of each.

#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "chorus/control/control_port.hpp"
#include "chorus/node/play_queue.hpp"
#include "chorus/node/saved_state.hpp"

namespace chorus::node {

inline constexpr const char* kKeptQueueFile = "queue.json";
inline constexpr const char* kKeptPlaybackFile = "playback.json";

/// What a node kept: each part absent when missing or unusable (a warning was logged then).
struct KeptState {
  std::optional<PlayQueue> queue;
  std::optional<SavedPlayback> playback;
};

/// Reads the kept state of cluster `cluster` in `directory`.
KeptState load_kept_state(const std::filesystem::path& directory, const std::string& cluster);

/// The queue to write: its fields and its items, as the front ends' immutable view holds them.
struct QueueToKeep {
  SavedQueueHeader header;
  std::shared_ptr<const control::QueueView> items;
};

/// Replaces `file` with `text`: written beside it, flushed to disk, then renamed, so a power cut
/// leaves the old file or the new one. False, with `problem`, if it cannot.
bool replace_file(const std::filesystem::path& file, const std::string& text, std::string* problem);

class KeptStateWriter {
 public:
  KeptStateWriter(std::filesystem::path directory, std::string cluster);
  ~KeptStateWriter();
  KeptStateWriter(const KeptStateWriter&) = delete;
  KeptStateWriter& operator=(const KeptStateWriter&) = delete;

  /// Hands over what to write (either may be absent); a part not yet written is replaced.
  void keep(std::optional<QueueToKeep> queue, std::optional<SavedPlayback> playback);
  /// Writes what is pending and ends the thread.
  void stop();

 private:
  void run();
  void write(const QueueToKeep& queue) const;
  void write(const SavedPlayback& playback) const;

  const std::filesystem::path directory_;
  const std::string cluster_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<QueueToKeep> queue_;
  std::optional<SavedPlayback> playback_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace chorus::node
