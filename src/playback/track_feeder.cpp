#include "track_feeder.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "output_format.hpp"

namespace chorus::playback::detail {

namespace {

/// The chunk the cursor is in.
std::size_t cursor_chunk(const TrackAudio& audio) {
  const auto cursor = std::clamp<std::int64_t>(audio.cursor(), 0, std::max<std::int64_t>(audio.frames() - 1, 0));
  return static_cast<std::size_t>(cursor / TrackAudio::kChunkFrames);
}

}  // namespace

TrackFeeder::~TrackFeeder() {
  stop_.store(true, std::memory_order_release);
  if (thread_.joinable()) thread_.join();
}

void TrackFeeder::add(const std::shared_ptr<TrackAudio>& audio, std::unique_ptr<TrackDecoder> decoder,
                      std::string name) {
  std::lock_guard lock(mutex_);
  added_.push_back(Feed{audio, std::move(decoder), std::move(name)});
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void TrackFeeder::run() {
  while (!stop_.load(std::memory_order_acquire)) {
    {
      std::lock_guard lock(mutex_);
      for (auto& feed : added_) feeds_.push_back(std::move(feed));
      added_.clear();
    }
    // A track nobody holds any more is closed here, on this thread.
    std::erase_if(feeds_, [](const Feed& feed) { return feed.audio.expired(); });
    bool busy = false;
    for (auto& feed : feeds_) {
      if (auto audio = feed.audio.lock()) busy = step(feed, *audio) || busy;
    }
    if (!busy) std::this_thread::sleep_for(kPollInterval);
  }
  feeds_.clear();
}

bool TrackFeeder::step(Feed& feed, TrackAudio& audio) {
  const auto at = cursor_chunk(audio);
  const auto last = std::min(audio.chunk_count(), at + kAheadChunks + 1);  // one past the window
  // The chunk before the cursor is kept while it is there (a small step back needs it) but not
  // decoded again: that would send a forward-only decoder back to the start.
  for (std::size_t c = 0; c < audio.chunk_count(); ++c) {
    if ((c + 1 < at || c >= last) && audio.has(c)) audio.evict(c);
  }
  for (auto c = at; c < last; ++c) {
    if (audio.has(c)) continue;
    std::vector<std::int16_t> samples(static_cast<std::size_t>(audio.chunk_frames(c) * kChannels));
    const auto error = feed.decoder->decode(static_cast<std::int64_t>(c) * TrackAudio::kChunkFrames, samples);
    if (!error.empty() && !feed.failed) {
      // Stored anyway (silent where decoding failed): the reader is not left waiting, and the
      // same error is not retried every round.
      spdlog::warn("{}: decoding failed at {} s: {} (silence there)", feed.name, c, error);
      feed.failed = true;
    }
    audio.store(c, std::move(samples));
    return true;
  }
  return false;
}

}  // namespace chorus::playback::detail
