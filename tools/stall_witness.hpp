#pragma once
// StallWitness: one real-time thread per CPU that records when the platform did not let it run
// on time. Used by skew_probe (to leave the windows a stall spoiled out of the skew) and by the
// unit tests that time a sound server (to tell a stalled machine from a wrong prediction).
//
// A stall is seen only if a wake-up falls due inside it: waking every 5 ms missed most stalls
// of 1-4 ms (a busy host held these CPUs for 1-4 ms several times a second, and buckets with
// several such late blocks of one node were judged as skew of 2.8-3.4 ms). Every 1 ms, a stall
// longer than 2 ms is always seen. At priority 1 the extra wake-ups never delay an output.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "chorus/time_base.hpp"

namespace chorus::tools {

class StallWitness {
 public:
  static constexpr std::int64_t kPeriodUs = 1'000;
  static constexpr std::int64_t kLateUs = 1'000;

  struct Stall {
    std::int64_t due_us;
    std::int64_t late_us;
    int cpu;
    std::int64_t waited_us;  ///< of late_us, spent runnable on the run queue (-1: unknown)

    /// Of late_us, what the host held: the part not spent waiting on the run queue. A thread of
    /// this machine that holds the CPU keeps the woken witness waiting there; the host holding
    /// the virtual CPU delays the wake-up itself.
    std::int64_t host_held_us() const { return late_us - queued_us(); }
    /// Of late_us, what this machine's threads held: the time spent on the run queue.
    std::int64_t queued_us() const { return std::max<std::int64_t>(waited_us, 0); }
  };

  /// Watches until steady-clock instant `end_us`, or until stop().
  explicit StallWitness(std::int64_t end_us) {
    const int cpus = static_cast<int>(std::max(1L, ::sysconf(_SC_NPROCESSORS_ONLN)));
    // Every CPU's list exists before any thread starts: a thread holds a reference to its own,
    // which growing found_ afterwards would move away under it (a crash, once in a while).
    found_.resize(static_cast<std::size_t>(cpus));
    for (auto& found : found_) found.reserve(4096);
    for (int cpu = 0; cpu < cpus; ++cpu) {
      threads_.emplace_back([this, cpu, end_us] { watch(cpu, end_us); });
    }
  }
  ~StallWitness() { stop(); }
  StallWitness(const StallWitness&) = delete;
  StallWitness& operator=(const StallWitness&) = delete;

  /// Waits for the end instant; the stalls seen, every CPU's.
  std::vector<Stall> join() {
    std::vector<Stall> all;
    for (std::size_t i = 0; i < threads_.size(); ++i) {
      if (!threads_[i].joinable()) continue;
      threads_[i].join();
      all.insert(all.end(), found_[i].begin(), found_[i].end());
    }
    return all;
  }

  /// Ends the watch now (within a period); the stalls seen so far.
  std::vector<Stall> stop() {
    stopping_.store(true, std::memory_order_relaxed);
    return join();
  }

 private:
  void watch(int cpu, std::int64_t end_us) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    ::pthread_setaffinity_np(::pthread_self(), sizeof set, &set);
    ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    sched_param param{};
    // Below the nodes' output threads (10) and the probe (20): above every normal thread, so only
    // the platform or a real-time thread can delay it, and those run for microseconds; above the
    // outputs it would itself delay their writes (seen: 12-node skew p95 151 µs at 15, 42 µs
    // without the witness).
    param.sched_priority = 1;
    ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param);
    timespec next{};
    ::clock_gettime(CLOCK_MONOTONIC, &next);
    auto& found = found_[static_cast<std::size_t>(cpu)];
    RunQueueWait waits;
    for (std::int64_t wake = 0; !stopping_.load(std::memory_order_relaxed); ++wake) {
      next.tv_nsec += kPeriodUs * 1000;
      if (next.tv_nsec >= 1'000'000'000) {
        next.tv_nsec -= 1'000'000'000;
        ++next.tv_sec;
      }
      ::clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, nullptr);
      const std::int64_t due = next.tv_sec * 1'000'000LL + next.tv_nsec / 1000;
      const std::int64_t late = now_us() - due;
      if (due >= end_us) return;
      if (late > kLateUs && found.size() < found.capacity()) {
        found.push_back({due, late, cpu, waits.since_last()});
      } else if (wake % kWaitReadEvery == 0) {
        waits.since_last();  // keeps the baseline recent: on-time wake-ups wait microseconds
      }
    }
  }

  /// This thread's time spent runnable but not running, from /proc/thread-self/schedstat.
  class RunQueueWait {
   public:
    RunQueueWait() : fd_(::open("/proc/thread-self/schedstat", O_RDONLY | O_CLOEXEC)) { since_last(); }
    ~RunQueueWait() {
      if (fd_ >= 0) ::close(fd_);
    }
    RunQueueWait(const RunQueueWait&) = delete;
    RunQueueWait& operator=(const RunQueueWait&) = delete;

    /// Microseconds waited since the last call (-1 if schedstat cannot be read).
    std::int64_t since_last() {
      char text[96];
      const ssize_t n = fd_ < 0 ? -1 : ::pread(fd_, text, sizeof text - 1, 0);
      if (n <= 0) return -1;
      text[n] = '\0';
      unsigned long long run_ns = 0, waited_ns = 0;
      if (std::sscanf(text, "%llu %llu", &run_ns, &waited_ns) != 2) return -1;
      const auto waited = static_cast<std::int64_t>(waited_ns / 1000);
      const std::int64_t delta = last_us_ < 0 ? 0 : waited - last_us_;
      last_us_ = waited;
      return delta;
    }

   private:
    int fd_;
    std::int64_t last_us_ = -1;
  };

  // The wait is read every 10 ms between stalls (and at each stall), not at every wake-up: a
  // stall's reading then includes at most ten on-time wake-ups' microseconds of waiting.
  static constexpr std::int64_t kWaitReadEvery = 10;

  std::vector<std::vector<Stall>> found_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stopping_{false};
};

}  // namespace chorus::tools
