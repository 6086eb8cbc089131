// The null and file outputs: a thread of our own, paced by steady_clock absolute deadlines.
//
// Block n is due at deadline(n) = t0 + n·block/48 kHz. The thread renders block n right after it
// consumed block n−1 (so about one block ahead), sleeps until deadline(n), then consumes it
// (discards it, or writes it to the file). Deadlines are computed from n, never accumulated, so
// the pace is the system clock's (TOOLCHAIN.md: 0.99998 of real time) and a late wake-up does not
// shift later blocks. Falling behind by more than kLateBlocks blocks (a stalled renderer, a frozen
// process) resets t0 to now instead of rendering a burst to catch up; resyncs are counted.
//
// A timed sleep ends tens of µs late (timer and vCPU wake-up latency, different per writer), so
// the thread asks to be woken that much before each deadline, learnt from its own wake-ups
// (WakeLead: the median latency), and writes as soon as it wakes: its writes land on their
// deadlines on average, without spinning on the clock.
//
// Every block consumed more than 1 ms after its deadline is counted (status --json: output_timing).
// Measured on a 2-core virtual machine: such late writes coincide, to the millisecond, with late
// wake-ups of an unrelated real-time process, so they are the platform holding the CPU, not this
// thread's own work (render and write take a few microseconds); the count tells an operator how
// often the platform moved this room's audio.
//
// A file or null output has no device clock: when a block is written is ours to choose. So each
// block is moved by the renderer's timing_error_us() (under a frame), and the pace with it: the
// frames are then written on the schedule's own grid instead of up to half a frame (±10.4 µs) off
// it, and a drifting clock is followed by moving the pace, smoothly, rather than by repeating or
// dropping a frame every ~200 ms (100 ppm). Larger errors are still the renderer's to slew.
//
// The thread runs at real-time priority (audio_thread_priority.cpp) so that other load cannot
// delay it, within a RealtimeBudget: over it, it goes back to normal priority rather than starve
// the network thread's heartbeats, and says so once.

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <time.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio_thread_priority.hpp"
#include "chorus/playback/wake_lead.hpp"
#include "chorus/thread_name.hpp"
#include "chorus/time_base.hpp"
#include "output_format.hpp"
#include "output_impl.hpp"

namespace chorus::playback {

namespace detail {
namespace {

using Clock = std::chrono::steady_clock;

/// Falling further behind than this many blocks resets the pacing instead of catching up.
constexpr std::int64_t kLateBlocks = 4;
/// Longest single sleep, so that stop() is noticed promptly even with large blocks.
constexpr auto kSleepSlice = std::chrono::milliseconds(20);
/// A block consumed later than this after its deadline is counted as a late write.
constexpr auto kLateWrite = std::chrono::milliseconds(1);
/// How far a paced output moves a block for the renderer's timing error: at most one frame,
/// so that a larger error (a clock step) is slewed by the renderer, not turned into a gap.
std::chrono::nanoseconds steering(double timing_error_us) {
  const double us = std::clamp(timing_error_us, -kFrameUs, kFrameUs);
  return std::chrono::nanoseconds(std::llround(us * 1000.0));
}

std::string latency_text(int block_frames, std::chrono::microseconds extra) {
  return fmt::format("{}-frame blocks = {:.1f} ms, extra latency {:+.1f} ms", block_frames,
                     static_cast<double>(frames_to_us(block_frames)) / 1000.0, static_cast<double>(extra.count()) / 1000.0);
}

/// Sleeps until `deadline` with relative sleeps of at most kSleepSlice (robust under libfaketime,
/// which shifts steady_clock but not the kernel's timers). False if `stop` was set meanwhile.
bool sleep_until(Clock::time_point deadline, const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_acquire)) {
    const auto now = Clock::now();
    if (now >= deadline) return true;
    std::this_thread::sleep_for(std::min<Clock::duration>(deadline - now, kSleepSlice));
  }
  return false;
}

/// Where a paced output's blocks go. All calls but describe() come from the output's thread.
class Sink {
 public:
  virtual ~Sink() = default;
  virtual void on_thread_start() {}
  /// Consumes one block at its deadline. False if the block was not delivered (dropped).
  virtual bool consume(std::span<const std::int16_t> block, Clock::time_point next_deadline,
                       const std::atomic<bool>& stop) = 0;
  virtual void on_thread_stop() {}
  virtual std::string describe() const = 0;  // any thread
};

class PacedOutput final : public AudioOutput {
 public:
  PacedOutput(std::unique_ptr<Sink> sink, int block_frames, std::chrono::microseconds extra)
      : sink_(std::move(sink)), block_frames_(block_frames), extra_(extra) {}
  ~PacedOutput() override { stop(); }
  PacedOutput(const PacedOutput&) = delete;
  PacedOutput& operator=(const PacedOutput&) = delete;

  bool start(Renderer& renderer) override {
    if (thread_.joinable()) {
      spdlog::warn("{}: start() while running ignored", sink_->describe());
      return false;
    }
    buffer_.assign(static_cast<std::size_t>(block_frames_) * kChannels, 0);
    stop_.store(false, std::memory_order_release);
    try {
      thread_ = std::thread([this, &renderer] { run(renderer); });
    } catch (const std::system_error& e) {
      spdlog::error("{}: cannot start its thread: {}", sink_->describe(), e.what());
      return false;
    }
    return true;
  }

  void stop() override {
    stop_.store(true, std::memory_order_release);
    if (thread_.joinable()) thread_.join();
  }

  std::string describe() const override {
    return fmt::format("{} ({})", sink_->describe(), latency_text(block_frames_, extra_));
  }
  std::int64_t fill_ahead_us() const override { return frames_to_us(block_frames_) + extra_.count(); }
  int block_frames() const override { return block_frames_; }
  OutputStats stats() const override {
    OutputStats s;
    s.blocks = blocks_.load(std::memory_order_relaxed);
    s.frames = s.blocks * static_cast<std::uint64_t>(block_frames_);
    s.resyncs = resyncs_.load(std::memory_order_relaxed);
    s.dropped = dropped_.load(std::memory_order_relaxed);
    s.late_writes = late_writes_.load(std::memory_order_relaxed);
    s.worst_late_us = worst_late_us_.load(std::memory_order_relaxed);
    s.wake_lead_us = wake_lead_us_.load(std::memory_order_relaxed);
    s.realtime_given_up = realtime_given_up_.load(std::memory_order_relaxed);
    s.realtime_long_blocks = realtime_long_blocks_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  void run(Renderer& renderer) {
    name_this_thread("chorus-output");
    const auto tuning = tune_audio_thread();
    spdlog::debug("{}: output thread runs with {}", sink_->describe(), tuning.text);
    RealtimeBudget budget(tuning.realtime);
    sink_->on_thread_start();
    const std::span<std::int16_t> block(buffer_);
    const auto block_duration = std::chrono::nanoseconds(frames_to_ns(block_frames_));
    const auto late_limit = kLateBlocks * block_duration;
    WakeLead wake_lead;
    auto t0 = Clock::now() + block_duration;
    std::int64_t n = 0;
    while (!stop_.load(std::memory_order_acquire)) {
      auto deadline = t0 + std::chrono::nanoseconds(frames_to_ns(n * block_frames_));
      const auto now = Clock::now();
      if (now > deadline + late_limit) {
        if (resyncs_.fetch_add(1, std::memory_order_relaxed) == 0) {
          spdlog::warn("{}: fell {} ms behind; restarting the pace (further resyncs are only counted)",
                       sink_->describe(),
                       std::chrono::duration_cast<std::chrono::milliseconds>(now - deadline).count());
        }
        t0 = now + block_duration;
        n = 0;
        deadline = t0;
      }
      renderer.render(block, to_us(deadline) + extra_.count());
      const auto steer = steering(renderer.timing_error_us());
      t0 += steer;
      deadline += steer;
      // Asks to be woken early by the learnt wake-up latency, so that the write lands on time.
      const auto asked = deadline - wake_lead.lead();
      const bool sleeps = Clock::now() < asked;  // a thread already late learns nothing
      if (!sleep_until(asked, stop_)) break;  // stopping: the rendered block is dropped
      if (sleeps) {
        wake_lead.observe(Clock::now() - asked);
        wake_lead_us_.store(std::chrono::duration_cast<std::chrono::microseconds>(wake_lead.lead()).count(),
                            std::memory_order_relaxed);
      }
      if (sink_->consume(block, deadline + block_duration, stop_)) {
        blocks_.fetch_add(1, std::memory_order_relaxed);
      } else {
        dropped_.fetch_add(1, std::memory_order_relaxed);
      }
      const auto consumed = Clock::now();
      count_lateness(consumed - deadline);
      if (budget.over_budget(consumed)) {
        realtime_given_up_.store(true, std::memory_order_relaxed);
        spdlog::warn("{}: the output thread used more than {:.0f} % of a core; it leaves real-time "
                     "priority so that the rest of the node keeps running",
                     sink_->describe(), RealtimeBudget::kMostRealtimeShare * 100);
      }
      realtime_long_blocks_.store(budget.long_blocks(), std::memory_order_relaxed);
      ++n;
    }
    sink_->on_thread_stop();
  }

  void count_lateness(Clock::duration late) {
    if (late <= kLateWrite) return;
    late_writes_.fetch_add(1, std::memory_order_relaxed);
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(late).count();
    if (us > worst_late_us_.load(std::memory_order_relaxed)) worst_late_us_.store(us, std::memory_order_relaxed);
  }

  std::unique_ptr<Sink> sink_;
  const int block_frames_;
  const std::chrono::microseconds extra_;
  std::vector<std::int16_t> buffer_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<std::uint64_t> blocks_{0};
  std::atomic<std::uint64_t> resyncs_{0};
  std::atomic<std::uint64_t> dropped_{0};
  std::atomic<std::uint64_t> late_writes_{0};
  std::atomic<std::int64_t> worst_late_us_{0};
  std::atomic<std::int64_t> wake_lead_us_{0};
  std::atomic<bool> realtime_given_up_{false};
  std::atomic<std::uint64_t> realtime_long_blocks_{0};
};

// ------------------------------------------------------------------------------------ null

class NullSink final : public Sink {
 public:
  explicit NullSink(std::string note) : note_(std::move(note)) {}
  bool consume(std::span<const std::int16_t>, Clock::time_point, const std::atomic<bool>&) override { return true; }
  std::string describe() const override { return note_.empty() ? "null" : fmt::format("null [{}]", note_); }

 private:
  std::string note_;
};

// ------------------------------------------------------------------------------------ file

/// Raw S16LE to a regular file or a FIFO. The descriptor is non-blocking: opening a FIFO without
/// a reader fails with ENXIO instead of hanging (we retry while pacing on), and a full pipe (a
/// reader slower than real time) drops the block instead of stalling the pace, as a sound card
/// overrun would. SIGPIPE is blocked on the output thread, so a reader that goes away shows up
/// as EPIPE.
class FileSink final : public Sink {
 public:
  FileSink(std::string path, int block_frames)
      : path_(std::move(path)),
        // Retry a FIFO without a reader about every 100 ms.
        retry_blocks_(std::max(1, kSampleRate / 10 / block_frames)) {}

  void on_thread_start() override {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    try_open();
  }

  bool consume(std::span<const std::int16_t> block, Clock::time_point next_deadline,
               const std::atomic<bool>& stop) override {
    if (state_.load(std::memory_order_relaxed) == State::waiting && --retry_countdown_ <= 0) {
      retry_countdown_ = retry_blocks_;
      try_open();
    }
    if (state_.load(std::memory_order_relaxed) != State::open) return false;

    const auto* p = reinterpret_cast<const std::uint8_t*>(block.data());
    const std::size_t size = block.size_bytes();
    std::size_t done = 0;
    while (done < size) {
      const ssize_t w = ::write(fd_, p + done, size - done);
      if (w > 0) {
        done += static_cast<std::size_t>(w);
        continue;
      }
      const int e = w < 0 ? errno : EIO;
      if (e == EINTR) continue;
      if (e == EAGAIN || e == EWOULDBLOCK) {
        if (done == 0) return false;  // pipe full: the reader is behind; drop this block
        // Part of the block is in the pipe: finish it so the reader stays frame-aligned, but
        // never past the next deadline.
        if (stop.load(std::memory_order_acquire) || Clock::now() >= next_deadline) return false;
        pollfd pfd{fd_, POLLOUT, 0};
        ::poll(&pfd, 1, 5);
        continue;
      }
      if (e == EPIPE) {
        clear_pending_sigpipe();
        spdlog::warn("file output: the reader of {} went away; pacing on without writing until a reader opens it",
                     path_);
        close_fd();
        state_.store(State::waiting, std::memory_order_relaxed);
        retry_countdown_ = retry_blocks_;
        return false;
      }
      spdlog::error("file output: cannot write to {}: {}; pacing on without writing", path_,
                    std::error_code(e, std::generic_category()).message());
      close_fd();
      state_.store(State::failed, std::memory_order_relaxed);
      return false;
    }
    return true;
  }

  void on_thread_stop() override { close_fd(); }

  std::string describe() const override {
    switch (state_.load(std::memory_order_relaxed)) {
      case State::open: return fmt::format("file:{}", path_);
      case State::waiting: return fmt::format("file:{} [waiting for a reader]", path_);
      case State::failed: return fmt::format("file:{} [not writing: error]", path_);
      case State::idle: break;
    }
    return fmt::format("file:{} [not started]", path_);
  }

 private:
  enum class State { idle, waiting, open, failed };

  void try_open() {
    // The first open truncates; a reopen (restart, new FIFO reader) appends.
    const int mode = opened_once_ ? O_APPEND : O_TRUNC;
    int fd;
    do {
      fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | mode | O_NONBLOCK | O_CLOEXEC, 0644);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
      if (errno == ENXIO) {  // a FIFO nobody reads yet
        if (!waiting_logged_) {
          spdlog::info("file output: waiting for a reader to open the FIFO {} (pacing on meanwhile)", path_);
          waiting_logged_ = true;
        }
        state_.store(State::waiting, std::memory_order_relaxed);
        return;
      }
      spdlog::error("file output: cannot open {}: {}; pacing on without writing", path_,
                    std::error_code(errno, std::generic_category()).message());
      state_.store(State::failed, std::memory_order_relaxed);
      return;
    }
    struct stat st {};
    const bool fifo = ::fstat(fd, &st) == 0 && S_ISFIFO(st.st_mode);
    spdlog::info("file output: writing raw S16LE 48 kHz stereo to {}{}", fifo ? "the FIFO " : "", path_);
    fd_ = fd;
    opened_once_ = true;
    state_.store(State::open, std::memory_order_relaxed);
  }

  void close_fd() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

  static void clear_pending_sigpipe() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGPIPE);
    const timespec zero{0, 0};
    while (sigtimedwait(&set, nullptr, &zero) > 0) {
    }
  }

  const std::string path_;
  const int retry_blocks_;
  int retry_countdown_ = 0;
  int fd_ = -1;
  bool waiting_logged_ = false;
  bool opened_once_ = false;
  std::atomic<State> state_{State::idle};
};

}  // namespace

std::unique_ptr<AudioOutput> make_null_output(int block_frames, std::chrono::microseconds extra_latency,
                                              std::string note) {
  return std::make_unique<PacedOutput>(std::make_unique<NullSink>(std::move(note)), block_frames, extra_latency);
}

std::unique_ptr<AudioOutput> make_file_output(std::string path, int block_frames,
                                              std::chrono::microseconds extra_latency) {
  return std::make_unique<PacedOutput>(std::make_unique<FileSink>(std::move(path), block_frames), block_frames,
                                       extra_latency);
}

}  // namespace detail
}  // namespace chorus::playback
