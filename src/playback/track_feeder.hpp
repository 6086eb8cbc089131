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
  /// How often the thread looks at the cursors when it has nothing to decode. A relative sleep,
  /// not a timed wait: libfaketime (the tests' clock offsets) moves steady_clock but not the
  /// kernel's timers, so an absolute deadline could lie years away.
  static constexpr auto kPollInterval = std::chrono::milliseconds(20);

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
  };

  void run();
  /// Frees chunks outside the window, then decodes the missing chunk nearest the cursor. True
  /// if it decoded one (there may be more to do).
  bool step(Feed& feed, TrackAudio& audio);

  std::mutex mutex_;  // guards added_
  std::vector<Feed> added_;
  std::atomic<bool> stop_{false};
  std::vector<Feed> feeds_;  // the thread's own
  std::thread thread_;
};

}  // namespace chorus::playback::detail
