#pragma once
// The calling thread given, for the scope, the priority the device output's thread gives itself
// (tune_audio_thread(): SCHED_FIFO where allowed), so that a test drives a backend as the product
// does. Created before the backend's open(): the threads a plugin starts there (the pulse
// plugin's mainloop) inherit the priority, as they do under the device output.
//
// At normal priority a test that streams through a device with a 40 ms buffer underruns whenever
// other work on the machine (a build, another test run) keeps it or the plugin's thread off the
// CPU for longer than that; the product's own thread would not have waited.
//
// Children spawned by the thread inherit its policy: start servers and recorders before this.

#include <string>

#include "playback/audio_thread_priority.hpp"

namespace chorus::test {

class OutputThreadPriority {
 public:
  OutputThreadPriority() : tuning_(playback::detail::tune_audio_thread()) {}
  ~OutputThreadPriority() { playback::detail::leave_realtime(); }
  OutputThreadPriority(const OutputThreadPriority&) = delete;
  OutputThreadPriority& operator=(const OutputThreadPriority&) = delete;

  /// What was obtained, for a failure's message: e.g. "SCHED_FIFO 10, timer slack 1 ns".
  const std::string& text() const { return tuning_.text; }

 private:
  playback::detail::AudioThreadTuning tuning_;
};

}  // namespace chorus::test
