#include "chorus/playback/track_audio.hpp"

#include <algorithm>
#include <cstring>

#include "output_format.hpp"

namespace chorus::playback {

namespace {

std::size_t chunks_for(std::int64_t frames) {
  return frames <= 0 ? 0 : static_cast<std::size_t>((frames + TrackAudio::kChunkFrames - 1) / TrackAudio::kChunkFrames);
}

}  // namespace

TrackAudio::TrackAudio(std::int64_t frames)
    : frames_(std::max<std::int64_t>(frames, 0)),
      chunk_count_(chunks_for(frames_)),
      chunks_(new std::atomic<const Samples*>[chunk_count_]) {
  for (std::size_t i = 0; i < chunk_count_; ++i) chunks_[i].store(nullptr, std::memory_order_relaxed);
}

TrackAudio::~TrackAudio() {
  for (std::size_t i = 0; i < chunk_count_; ++i) delete chunks_[i].load(std::memory_order_relaxed);
}

std::int64_t TrackAudio::chunk_frames(std::size_t chunk) const noexcept {
  if (chunk >= chunk_count_) return 0;
  const auto start = static_cast<std::int64_t>(chunk) * kChunkFrames;
  return std::min(kChunkFrames, frames_ - start);
}

std::int64_t TrackAudio::read(std::int64_t first, std::span<std::int16_t> out) const {
  const auto count = static_cast<std::int64_t>(out.size() / kChannels);
  std::int64_t missing = 0;
  std::int64_t done = 0;
  while (done < count) {
    const std::int64_t frame = first + done;
    auto* dst = out.data() + done * kChannels;
    if (frame < 0 || frame >= frames_) {
      // Outside the track: silence up to its start, or to the end of the block.
      const std::int64_t n = frame < 0 ? std::min(count - done, -frame) : count - done;
      std::memset(dst, 0, static_cast<std::size_t>(n) * kChannels * sizeof(std::int16_t));
      done += n;
      continue;
    }
    const auto chunk = static_cast<std::size_t>(frame / kChunkFrames);
    const std::int64_t offset = frame % kChunkFrames;
    const std::int64_t n = std::min(count - done, chunk_frames(chunk) - offset);
    // Announce the chunk before loading its pointer; evict() unpublishes before it checks the
    // announcement. Sequentially consistent on both sides, so one of us sees the other.
    in_use_.store(static_cast<std::int64_t>(chunk), std::memory_order_seq_cst);
    if (const Samples* samples = chunks_[chunk].load(std::memory_order_seq_cst)) {
      std::memcpy(dst, samples->data() + offset * kChannels, static_cast<std::size_t>(n) * kChannels * sizeof(std::int16_t));
    } else {
      std::memset(dst, 0, static_cast<std::size_t>(n) * kChannels * sizeof(std::int16_t));
      missing += n;
    }
    in_use_.store(-1, std::memory_order_release);
    done += n;
  }
  cursor_.store(first + count, std::memory_order_relaxed);
  read_any_.store(true, std::memory_order_relaxed);
  // Reading has arrived where the last hint pointed: the decoder follows the reader alone again.
  auto hinted = hinted_.load(std::memory_order_relaxed);
  if (hinted >= 0 && (first / kChunkFrames == hinted / kChunkFrames || first / kChunkFrames == hinted / kChunkFrames + 1)) {
    hinted_.compare_exchange_strong(hinted, -1, std::memory_order_relaxed);
  }
  return missing;
}

void TrackAudio::hint(std::int64_t frame) const {
  // Before the first read the hint is where reading will start; after it, the reader's own
  // place stays the cursor (its window must not be freed under it during a seek's lead).
  if (!read_any_.load(std::memory_order_relaxed)) cursor_.store(frame, std::memory_order_relaxed);
  hinted_.store(std::max<std::int64_t>(frame, 0), std::memory_order_relaxed);
  if (wake_) wake_();
}

std::size_t TrackAudio::resident_chunks() const noexcept {
  std::size_t resident = 0;
  for (std::size_t i = 0; i < chunk_count_; ++i) resident += has(i) ? 1 : 0;
  return resident;
}

bool TrackAudio::has(std::size_t chunk) const noexcept {
  return chunk < chunk_count_ && chunks_[chunk].load(std::memory_order_relaxed) != nullptr;
}

void TrackAudio::store(std::size_t chunk, std::vector<std::int16_t> samples) {
  if (chunk >= chunk_count_ || has(chunk)) return;
  if (static_cast<std::int64_t>(samples.size()) != chunk_frames(chunk) * kChannels) return;
  chunks_[chunk].store(new Samples(std::move(samples)), std::memory_order_seq_cst);
}

bool TrackAudio::evict(std::size_t chunk, std::vector<std::int16_t>* reclaim) {
  if (chunk >= chunk_count_) return true;
  const Samples* samples = chunks_[chunk].exchange(nullptr, std::memory_order_seq_cst);
  if (samples == nullptr) return true;
  if (in_use_.load(std::memory_order_seq_cst) == static_cast<std::int64_t>(chunk)) {
    chunks_[chunk].store(samples, std::memory_order_seq_cst);  // being copied: keep it for now
    return false;
  }
  if (reclaim != nullptr) *reclaim = std::move(*const_cast<Samples*>(samples));
  delete samples;
  return true;
}

}  // namespace chorus::playback
