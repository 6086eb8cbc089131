#include "audio_thread_priority.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>

#include <system_error>

#include <fmt/format.h>

namespace chorus::playback::detail {

namespace {

/// Low among real-time priorities: above every normal thread, below the kernel's own and any
/// sound server's (PipeWire and JACK use 20 and up).
constexpr int kRealtimePriority = 10;

}  // namespace

AudioThreadTuning tune_audio_thread() {
  const bool slack_ok = ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL) == 0;
  sched_param param{};
  param.sched_priority = kRealtimePriority;
  const int rc = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param);
  const std::string priority =
      rc == 0 ? fmt::format("SCHED_FIFO {}", kRealtimePriority)
              : fmt::format("normal priority (real-time refused: {})", std::error_code(rc, std::generic_category()).message());
  return {rc == 0, fmt::format("{}, timer slack {}", priority, slack_ok ? "1 ns" : "default")};
}

void leave_realtime() {
  sched_param param{};
  ::pthread_setschedparam(::pthread_self(), SCHED_OTHER, &param);
}

}  // namespace chorus::playback::detail
