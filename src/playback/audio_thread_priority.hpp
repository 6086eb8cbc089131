#pragma once
// Scheduling for the threads that wake on audio deadlines.

#include <string>

namespace chorus::playback::detail {

/// Called by a paced output's own thread when it starts. Linux lets an ordinary thread's timed
/// sleep end up to its "timer slack" late (50 µs by default) so wake-ups can be batched; an output
/// that writes each block at its deadline would carry that lateness into what it plays. So the
/// slack is set to the minimum, and real-time (SCHED_FIFO) priority is requested so that other
/// work on a busy core does not delay the wake-up either. Without the privilege for it
/// (CAP_SYS_NICE or an rtprio limit) the thread keeps normal priority. Returns what was obtained,
/// for the log: e.g. "SCHED_FIFO 10, timer slack 1 ns".
struct AudioThreadTuning {
  bool realtime = false;  ///< SCHED_FIFO was granted
  std::string text;
};
AudioThreadTuning tune_audio_thread();

/// Returns the calling thread to normal priority (it keeps its timer slack).
void leave_realtime();

}  // namespace chorus::playback::detail
