#include "audio_thread_priority.hpp"

#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>

#include <system_error>

#include <fmt/format.h>

namespace chorus::playback::detail {

namespace {

/// Low among real-time priorities: above every normal thread, below the kernel's own and any
/// sound server's (PipeWire and JACK use 20 and up).
constexpr int kRealtimePriority = 10;

/// The window over which RealtimeBudget measures the thread's share of a core.
constexpr auto kDutyWindow = std::chrono::seconds(1);

}  // namespace

std::chrono::nanoseconds thread_cpu_time() {
  timespec t{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return std::chrono::seconds(t.tv_sec) + std::chrono::nanoseconds(t.tv_nsec);
}

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

RealtimeBudget::RealtimeBudget(bool realtime)
    : realtime_(realtime),
      window_start_(std::chrono::steady_clock::now()),
      cpu_at_start_(thread_cpu_time()),
      cpu_at_last_block_(cpu_at_start_) {}

bool RealtimeBudget::over_budget(std::chrono::steady_clock::time_point now) {
  if (!realtime_) return false;
  const auto cpu = thread_cpu_time();
  if (cpu - cpu_at_last_block_ >= kLongBlock) ++long_blocks_;
  cpu_at_last_block_ = cpu;
  if (now - window_start_ < kDutyWindow) return false;
  const double share = std::chrono::duration<double>(cpu - cpu_at_start_).count() /
                       std::chrono::duration<double>(now - window_start_).count();
  window_start_ = now;
  cpu_at_start_ = cpu;
  if (share <= kMostRealtimeShare) return false;
  leave_realtime();
  realtime_ = false;
  return true;
}

}  // namespace chorus::playback::detail
