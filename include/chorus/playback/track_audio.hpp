#pragma once
// TrackAudio: one track's decoded audio (48 kHz stereo S16), held as one-second chunks that the
// library's decoder thread keeps filled around where the track is being read. Its memory is set
// by that window (about a dozen seconds), not by the length of the track.
//
// Threads (see docs/audio.md, "Streaming"):
//   read()              the audio thread, one reader at a time: lock-free, never waits, never
//                       frees. A chunk not decoded yet reads as silence and is counted.
//   hint(), cursor(), frames(), chunk_count(), resident_chunks()
//                       any thread.
//   store(), evict(), has()
//                       the decoder thread only (one writer).
// A chunk is freed by evict() only while the reader does not hold it: the reader announces the
// chunk it is about to copy (a one-slot hazard pointer) before it loads the chunk's pointer, and
// the writer checks that announcement after unpublishing it.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

namespace chorus::playback {

class TrackAudio {
 public:
  static constexpr std::int64_t kChunkFrames = 48'000;  ///< one second at the output rate

  /// `frames` of audio, none decoded yet.
  explicit TrackAudio(std::int64_t frames);
  ~TrackAudio();
  TrackAudio(const TrackAudio&) = delete;
  TrackAudio& operator=(const TrackAudio&) = delete;

  std::int64_t frames() const noexcept { return frames_; }
  std::size_t chunk_count() const noexcept { return chunk_count_; }
  /// Frames in `chunk` (the last one may be shorter).
  std::int64_t chunk_frames(std::size_t chunk) const noexcept;

  /// Audio thread: copies frames [first, first + out.size() / 2) into `out` (interleaved
  /// stereo). Frames outside the track, or not decoded yet, come out silent. Returns how many
  /// frames of the track were not decoded yet (0 unless the decoder has fallen behind).
  std::int64_t read(std::int64_t first, std::span<std::int16_t> out) const;

  /// Any thread: reading is about to continue from `frame` (a start, a seek): the decoder
  /// decodes there first (hint() wakes it through the callback given to on_hint()).
  void hint(std::int64_t frame) const;
  /// Set once, before the track is shared with other threads: what hint() calls to wake the
  /// decoder thread. Must not block.
  void on_hint(std::function<void()> wake) { wake_ = std::move(wake); }
  /// The frame after the last one read; before the first read, the last hint.
  std::int64_t cursor() const noexcept { return cursor_.load(std::memory_order_relaxed); }
  /// The last hint, until reading arrives at its chunk; −1 when none is pending. Between a seek's
  /// hint and the instant the reader jumps (a command's lead), the reader still reads the old
  /// place: the decoder keeps both places decoded instead of chasing one and then the other.
  std::int64_t hinted() const noexcept { return hinted_.load(std::memory_order_relaxed); }
  /// Chunks decoded and held now.
  std::size_t resident_chunks() const noexcept;

  // ---- decoder thread -------------------------------------------------------------------

  bool has(std::size_t chunk) const noexcept;
  /// Publishes `chunk`'s samples (exactly chunk_frames(chunk) · 2 values; others are ignored).
  void store(std::size_t chunk, std::vector<std::int16_t> samples);
  /// Frees `chunk` unless the reader is copying from it right now (then false: try later). With
  /// `reclaim`, its samples' storage is moved there instead of freed, for the next chunk.
  bool evict(std::size_t chunk, std::vector<std::int16_t>* reclaim = nullptr);

 private:
  using Samples = std::vector<std::int16_t>;

  const std::int64_t frames_;
  const std::size_t chunk_count_;
  const std::unique_ptr<std::atomic<const Samples*>[]> chunks_;
  mutable std::atomic<std::int64_t> in_use_{-1};  ///< the chunk read() is copying from, or −1
  mutable std::atomic<std::int64_t> cursor_{0};
  mutable std::atomic<std::int64_t> hinted_{-1};
  mutable std::atomic<bool> read_any_{false};
  std::function<void()> wake_;
};

}  // namespace chorus::playback
