#include "track_feeder.hpp"

#include <sys/eventfd.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "chorus/thread_name.hpp"
#include "output_format.hpp"

namespace chorus::playback::detail {

namespace {

/// The chunk the cursor is in.
std::size_t cursor_chunk(const TrackAudio& audio) {
  const auto cursor = std::clamp<std::int64_t>(audio.cursor(), 0, std::max<std::int64_t>(audio.frames() - 1, 0));
  return static_cast<std::size_t>(cursor / TrackAudio::kChunkFrames);
}

/// How long until `audio`'s cursor, read at the real-time rate, enters its next chunk: then the
/// window moves on and the decoder has a chunk to decode and one to free.
std::chrono::milliseconds until_next_chunk(const TrackAudio& audio) {
  const auto into_chunk = std::max<std::int64_t>(audio.cursor(), 0) % TrackAudio::kChunkFrames;
  const auto frames_left = TrackAudio::kChunkFrames - into_chunk;
  return std::chrono::milliseconds(frames_left * 1000 / kSampleRate + 1);
}

}  // namespace

TrackFeeder::WakeSignal::WakeSignal() : fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

TrackFeeder::WakeSignal::~WakeSignal() {
  if (fd_ >= 0) ::close(fd_);
}

void TrackFeeder::WakeSignal::notify() const {
  if (fd_ < 0) return;
  const std::uint64_t one = 1;
  [[maybe_unused]] auto written = ::write(fd_, &one, sizeof one);  // a full counter is a wake too
}

// A relative wait (poll), not a timed wait on a condition variable: libfaketime (the tests' clock
// offsets) moves steady_clock but not the kernel's timers, so an absolute deadline could lie
// years away.
void TrackFeeder::WakeSignal::wait(std::chrono::milliseconds longest) const {
  if (fd_ < 0) {  // no eventfd (the fd table was full): look again soon
    std::this_thread::sleep_for(std::min(longest, std::chrono::milliseconds(20)));
    return;
  }
  pollfd pfd{fd_, POLLIN, 0};
  if (::poll(&pfd, 1, static_cast<int>(longest.count())) > 0) {
    std::uint64_t count = 0;
    [[maybe_unused]] auto drained = ::read(fd_, &count, sizeof count);
  }
}

TrackFeeder::~TrackFeeder() {
  stop_.store(true, std::memory_order_release);
  wake_->notify();
  if (thread_.joinable()) thread_.join();
}

void TrackFeeder::add(const std::shared_ptr<TrackAudio>& audio, std::unique_ptr<TrackDecoder> decoder,
                      std::string name) {
  audio->on_hint([wake = wake_] { wake->notify(); });
  {
    std::lock_guard lock(mutex_);
    added_.push_back(Feed{audio, std::move(decoder), std::move(name)});
    if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
  }
  wake_->notify();
}

void TrackFeeder::run() {
  name_this_thread("chorus-decoder");
  while (!stop_.load(std::memory_order_acquire)) {
    {
      std::lock_guard lock(mutex_);
      for (auto& feed : added_) feeds_.push_back(std::move(feed));
      added_.clear();
    }
    // A track nobody holds any more is closed here, on this thread.
    std::erase_if(feeds_, [](const Feed& feed) { return feed.audio.expired(); });
    bool busy = false;
    starved_ = false;
    auto rest = kLongestIdle;
    for (auto& feed : feeds_) {
      auto audio = feed.audio.lock();
      if (!audio) continue;
      busy = step(feed, *audio) || busy;
      rest = std::min(rest, until_next_chunk(*audio));
    }
    // A file still arriving is tried again soon, not at once: its reads already waited.
    if (starved_) rest = std::min(rest, kStarvedRetry);
    if (!busy) wake_->wait(rest);
  }
  feeds_.clear();
}

bool TrackFeeder::step(Feed& feed, TrackAudio& audio) {
  const auto at = cursor_chunk(audio);
  const auto last = std::min(audio.chunk_count(), at + kAheadChunks + 1);  // one past the window
  // A pending hint (a seek about to happen) has a window of its own, decoded first.
  const auto hinted = audio.hinted();
  const auto hint_at = hinted >= 0 ? std::min(static_cast<std::size_t>(hinted / TrackAudio::kChunkFrames),
                                              audio.chunk_count())
                                   : audio.chunk_count();
  const auto hint_last = std::min(audio.chunk_count(), hint_at + kAheadChunks + 1);
  // The chunk before the cursor is kept while it is there (a small step back needs it) but not
  // decoded again: that would send a forward-only decoder back to the start.
  for (std::size_t c = 0; c < audio.chunk_count(); ++c) {
    const bool in_reader_window = c + 1 >= at && c < last;
    const bool in_hint_window = c >= hint_at && c < hint_last;
    if (!in_reader_window && !in_hint_window && audio.has(c)) audio.evict(c, spare_.capacity() == 0 ? &spare_ : nullptr);
  }
  if (hint_at < hint_last && decode_first_missing(feed, audio, hint_at, hint_last)) return true;
  return decode_first_missing(feed, audio, at, last);
}

bool TrackFeeder::decode_first_missing(Feed& feed, TrackAudio& audio, std::size_t from, std::size_t to) {
  for (auto c = from; c < to; ++c) {
    if (audio.has(c)) continue;
    auto samples = take_storage(static_cast<std::size_t>(audio.chunk_frames(c) * kChannels));
    const auto error = feed.decoder->decode(static_cast<std::int64_t>(c) * TrackAudio::kChunkFrames, samples);
    if (!error.empty() && feed.decoder->starved()) {
      // The file is still being fetched: leave the chunk for a later round (the reader hears
      // silence there meanwhile) rather than keeping silence in its place.
      if (!feed.waiting) spdlog::info("{}: waiting for the file's bytes at {} s ({})", feed.name, c, error);
      feed.waiting = true;
      starved_ = true;
      spare_ = std::move(samples);
      return false;
    }
    feed.waiting = false;
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

std::vector<std::int16_t> TrackFeeder::take_storage(std::size_t values) {
  auto storage = std::exchange(spare_, {});
  storage.resize(values);  // within its capacity when it held a chunk: no new mapping
  return storage;
}

}  // namespace chorus::playback::detail
