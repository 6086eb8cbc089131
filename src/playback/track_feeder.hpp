#pragma once
// TrackFeeder: the library's decoder thread. It keeps every open TrackAudio filled from its
// cursor on (the chunk being read and kAheadChunks after it; the one before it is kept while
// there) and frees the chunks outside that window. Work goes nearest the cursor first, one chunk
// per track per round, so one track's seek does not starve another that is playing. See
// docs/audio.md, "Streaming".

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "chorus/playback/track_audio.hpp"
#include "track_decoder.hpp"

namespace chorus::playback::detail {

class TrackFeeder {
 public:
  static constexpr std::size_t kAheadChunks = 10;
  /// Longest sleep with nothing to decode: a paused track's window never moves, and a playing
  /// one moves by a chunk a second, with kAheadChunks seconds in hand. A hint or a new track
  /// wakes the thread at once.
  static constexpr auto kLongestIdle = std::chrono::milliseconds(1000);
  /// How soon a decode that starved for a fetched file's bytes is tried again.
  static constexpr auto kStarvedRetry = std::chrono::milliseconds(20);

  TrackFeeder() = default;
  ~TrackFeeder();  ///< stops and joins the thread
  TrackFeeder(const TrackFeeder&) = delete;
  TrackFeeder& operator=(const TrackFeeder&) = delete;

  /// Keeps `audio` filled from `decoder` until every other owner of `audio` has let it go.
  /// Starts the thread on first use. Any thread.
  /// `name` is for the log.
  void add(const std::shared_ptr<TrackAudio>& audio, std::unique_ptr<TrackDecoder> decoder, std::string name);

 private:
  struct Feed {
    std::weak_ptr<TrackAudio> audio;
    std::unique_ptr<TrackDecoder> decoder;
    std::string name;
    bool failed = false;  ///< a decode error was logged; later ones are not
    bool waiting = false;  ///< its last decode starved for bytes still being fetched
  };

  void run();

  /// An eventfd that ends the current or next idle(); shared with the tracks' hint callbacks,
  /// so a track that outlives its library never calls into a destroyed feeder.
  class WakeSignal {
   public:
    WakeSignal();
    ~WakeSignal();
    WakeSignal(const WakeSignal&) = delete;
    WakeSignal& operator=(const WakeSignal&) = delete;
    void notify() const;  ///< any thread; never blocks
    /// Waits for notify() or `longest`, whichever comes first, and clears the signal.
    void wait(std::chrono::milliseconds longest) const;

   private:
    int fd_ = -1;
  };
  /// Frees chunks outside the window, then decodes the missing chunk nearest the cursor. True
  /// if it decoded one (there may be more to do).
  bool step(Feed& feed, TrackAudio& audio);
  /// Decodes the first chunk of [from, to) not decoded yet. True if it decoded one; false if all
  /// are there, or the one it tried starved for a fetched file's bytes (then tried again soon).
  bool decode_first_missing(Feed& feed, TrackAudio& audio, std::size_t from, std::size_t to);
  /// Storage for `values` samples: the spare if there is one, else new.
  std::vector<std::int16_t> take_storage(std::size_t values);

  std::mutex mutex_;  // guards added_
  std::vector<Feed> added_;
  std::atomic<bool> stop_{false};
  std::vector<Feed> feeds_;  // the thread's own
  bool starved_ = false;     // the thread's own: a decode this round starved
  /// The thread's own: an evicted chunk's storage, decoded into next. A chunk (192 KB) is above
  /// glibc's mmap threshold, so a fresh one would be mapped, faulted in page by page and unmapped
  /// again every second of playback (measured: 4 % of a playing node's CPU).
  std::vector<std::int16_t> spare_;
  std::shared_ptr<const WakeSignal> wake_ = std::make_shared<const WakeSignal>();
  std::thread thread_;
};

}  // namespace chorus::playback::detail
