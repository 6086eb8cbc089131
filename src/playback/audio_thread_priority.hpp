#pragma once
// Scheduling for the threads that wake on audio deadlines.

#include <chrono>
#include <cstdint>
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

/// CPU time the calling thread has used.
std::chrono::nanoseconds thread_cpu_time();

/// Keeps a real-time output thread from starving the rest of the node. Real-time threads run
/// before every normal thread of their core, the node's network thread included, whose
/// heartbeats keep it in the cluster. So the thread measures its own CPU time: using more than
/// kMostRealtimeShare of a core over a second (an instrumented build on a loaded machine, a far
/// too slow machine), it returns to normal priority.
///
/// It also counts the blocks in which it ran at real-time priority for kLongBlock or more of CPU
/// at a stretch: that long, every normal thread of its core waited, and anyone timing wake-ups
/// there (a stall witness) was held back by this node rather than by the platform.
class RealtimeBudget {
 public:
  static constexpr double kMostRealtimeShare = 0.5;
  static constexpr std::chrono::milliseconds kLongBlock{1};

  explicit RealtimeBudget(bool realtime);
  /// Call once per block. True the one time the thread has just left real-time priority.
  bool over_budget(std::chrono::steady_clock::time_point now);
  /// Blocks (spans between two over_budget() calls) that used kLongBlock or more of CPU at
  /// real-time priority.
  std::uint64_t long_blocks() const { return long_blocks_; }

 private:
  bool realtime_;
  std::chrono::steady_clock::time_point window_start_;
  std::chrono::nanoseconds cpu_at_start_;
  std::chrono::nanoseconds cpu_at_last_block_;
  std::uint64_t long_blocks_ = 0;
};

}  // namespace chorus::playback::detail
