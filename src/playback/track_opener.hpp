#pragma once
// TrackOpener: the audio player's opener thread. Opening a track re-hashes its file (about 0.1 s
// for 40 MB) and decodes the second it starts in, far too long for the thread that runs the
// playback rules; the opens run here instead, one at a time, in the order asked.

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace chorus::playback::detail {

class TrackOpener {
 public:
  using Job = std::function<void()>;

  TrackOpener();   ///< starts the thread
  ~TrackOpener();  ///< stop()
  TrackOpener(const TrackOpener&) = delete;
  TrackOpener& operator=(const TrackOpener&) = delete;

  /// Runs `job` on the thread after the jobs queued before it; dropped once stopped. Any thread.
  void run(Job job);
  /// The job under way finishes, queued ones are dropped; returns once the thread has ended.
  /// Idempotent.
  void stop();

 private:
  void loop();

  std::mutex mutex_;  // guards jobs_ and stopping_
  std::condition_variable wake_;
  std::deque<Job> jobs_;
  bool stopping_ = false;
  std::thread thread_;  // last: starts once the members above exist
};

}  // namespace chorus::playback::detail
