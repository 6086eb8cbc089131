// The device output: a sound device (alsa, pulse) driven from a thread of our own, which asks
// the device before every block when that block will be heard.
//
//   loop: reported = device.next_frame_audible_us()        (the device's own timing)
//         if the device runs:  render(block, line(frames written, reported) + extra)
//         else (prebuffering): silence, not rendered
//         device.write(block)                               (waits for room: the device paces us)
//
// `line` is a DeviceClock: the device's reports smoothed along a straight line, so the engine
// sees the device's drift, which it slews, and little of the reports' scatter. An underrun
// restarts the device's timeline (the line's phase restarts from the next report; the sync
// engine jumps or slews to the schedule as after any start). A device that goes away (a USB card
// unplugged, a sound server restarted, a sink removed) is closed and opened again every second;
// the node keeps its schedule meanwhile, and the first block after the reopen is rendered for
// its measured instant, so the room comes back in sync.
//
// The output thread is the only caller of the backend. What other threads read (stats(),
// describe(), fill_ahead_us()) is published through atomics, except the device's one-line
// description, which changes only when the device is opened or lost and is guarded by a mutex
// that the thread takes only then, never while rendering or writing.

#include <algorithm>
#include <atomic>
#include <cmath>
#include <condition_variable>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "audio_thread_priority.hpp"
#include "chorus/playback/device_clock.hpp"
#include "chorus/thread_name.hpp"
#include "chorus/time_base.hpp"
#include "output_format.hpp"
#include "output_impl.hpp"

namespace chorus::playback::detail {
namespace {

/// How long the thread waits before opening a device again after it failed or went away.
constexpr auto kReopenInterval = std::chrono::seconds(1);
/// The blocks a device is assumed to hold before its latency has been measured, for
/// fill_ahead_us() (which the leader's command lead time takes into account).
constexpr int kAssumedBlocksQueued = 5;

class DeviceOutput final : public AudioOutput {
 public:
  DeviceOutput(std::unique_ptr<DeviceBackend> backend, int block_frames, std::chrono::microseconds extra)
      : backend_(std::move(backend)), requested_frames_(block_frames), extra_us_(extra.count()) {
    fill_ahead_us_.store(frames_to_us(kAssumedBlocksQueued * block_frames) + extra_us_);
    block_frames_.store(block_frames);
    device_text_ = backend_->describe();
  }
  ~DeviceOutput() override { stop(); }
  DeviceOutput(const DeviceOutput&) = delete;
  DeviceOutput& operator=(const DeviceOutput&) = delete;

  bool start(Renderer& renderer) override {
    if (thread_.joinable()) {
      spdlog::warn("{}: start() while running ignored", describe());
      return false;
    }
    stop_.store(false, std::memory_order_release);
    try {
      thread_ = std::thread([this, &renderer] { run(renderer); });
    } catch (const std::system_error& e) {
      spdlog::error("{}: cannot start its thread: {}", describe(), e.what());
      return false;
    }
    return true;
  }

  void stop() override {
    {
      std::lock_guard lock(wake_mutex_);
      stop_.store(true, std::memory_order_release);
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  std::string describe() const override {
    std::lock_guard lock(text_mutex_);
    return fmt::format("{}, extra latency {:+.1f} ms", device_text_, static_cast<double>(extra_us_) / 1000.0);
  }
  std::int64_t fill_ahead_us() const override { return fill_ahead_us_.load(std::memory_order_relaxed); }
  int block_frames() const override { return block_frames_.load(std::memory_order_relaxed); }
  OutputStats stats() const override {
    OutputStats s;
    s.blocks = blocks_.load(std::memory_order_relaxed);
    s.frames = frames_.load(std::memory_order_relaxed);
    s.realtime_given_up = realtime_given_up_.load(std::memory_order_relaxed);
    s.realtime_long_blocks = realtime_long_blocks_.load(std::memory_order_relaxed);
    s.latency_measured = latency_measured_.load(std::memory_order_relaxed);
    s.latency_us = latency_us_.load(std::memory_order_relaxed);
    s.latency_jitter_us = jitter_us_.load(std::memory_order_relaxed);
    s.device_rate_ppm = rate_ppm_.load(std::memory_order_relaxed);
    s.xruns = xruns_.load(std::memory_order_relaxed);
    s.device_lost = lost_.load(std::memory_order_relaxed);
    s.timeline_jumps = timeline_jumps_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  void run(Renderer& renderer) {
    name_this_thread("chorus-output");
    const auto tuning = tune_audio_thread();
    spdlog::debug("device output thread runs with {}", tuning.text);
    RealtimeBudget budget(tuning.realtime);
    bool open = false;
    bool failure_logged = false;
    while (!stop_.load(std::memory_order_acquire)) {
      if (!open) {
        open = open_device(failure_logged);
        if (!open && !wait_before_reopening()) break;
        continue;
      }
      if (!play_one_block(renderer)) {
        backend_->close();
        open = false;
        latency_measured_.store(false, std::memory_order_relaxed);
        set_device_text(backend_->describe() + " [device lost: reopening every second]");
        if (!wait_before_reopening()) break;
        continue;
      }
      if (budget.over_budget(std::chrono::steady_clock::now())) {
        realtime_given_up_.store(true, std::memory_order_relaxed);
        spdlog::warn("{}: the output thread used more than {:.0f} % of a core; it leaves real-time priority "
                     "so that the rest of the node keeps running",
                     describe(), RealtimeBudget::kMostRealtimeShare * 100);
      }
      realtime_long_blocks_.store(budget.long_blocks(), std::memory_order_relaxed);
    }
    if (open) backend_->close();
  }

  /// Opens the device and sizes the block to its period. Logs the first failure of a series
  /// (and the recovery), not every retry.
  bool open_device(bool& failure_logged) {
    const std::string error = backend_->open(requested_frames_);
    if (!error.empty()) {
      if (!failure_logged) {
        spdlog::warn("output: {}; the node keeps its schedule and retries every second", error);
        failure_logged = true;
      }
      set_device_text(backend_->describe() + " [cannot open: " + error + "]");
      return false;
    }
    failure_logged = false;
    const int frames = std::max(1, backend_->block_frames());
    block_frames_.store(frames, std::memory_order_relaxed);
    // Sized here, when the device is opened, never while playing.
    block_.assign(static_cast<std::size_t>(frames) * kChannels, 0);
    frames_written_ = 0;
    running_logged_ = false;
    line_.restart_timeline();
    set_device_text(backend_->describe());
    spdlog::info("output: {}", backend_->describe());
    return true;
  }

  /// Renders (or, while the device prebuffers, silences) one block and queues it. False when
  /// the device is lost.
  bool play_one_block(Renderer& renderer) {
    const std::span<std::int16_t> block(block_);
    const auto reported = backend_->next_frame_audible_us();
    if (reported) {
      const std::int64_t audible = line_.update(frames_written_, *reported);
      renderer.render(block, audible + extra_us_);
      note_latency(audible);
      if (!running_logged_) log_running();
    } else {
      std::fill(block.begin(), block.end(), std::int16_t{0});
    }
    switch (backend_->write(block)) {
      case WriteOutcome::written:
        break;
      case WriteOutcome::recovered:
        xruns_.fetch_add(1, std::memory_order_relaxed);
        line_.restart_timeline();
        break;
      case WriteOutcome::lost:
        lost_.fetch_add(1, std::memory_order_relaxed);
        spdlog::warn("output: {} went away; the node keeps its schedule and reopens it every second",
                     backend_->describe());
        return false;
    }
    const auto frames = static_cast<std::int64_t>(block.size() / kChannels);
    frames_written_ += frames;
    blocks_.fetch_add(1, std::memory_order_relaxed);
    frames_.fetch_add(static_cast<std::uint64_t>(frames), std::memory_order_relaxed);
    return true;
  }

  /// Once per open, when the device first reports its timing: what its latency is made of.
  void log_running() {
    running_logged_ = true;
    const DeviceLatency latency = backend_->latency();
    spdlog::info("output: {} runs; latency {:.1f} ms{}", backend_->describe(),
                 static_cast<double>(latency.total_us) / 1000.0,
                 latency.detail.empty() ? std::string() : " (" + latency.detail + ")");
  }

  void note_latency(std::int64_t audible_us) {
    const std::int64_t latency = audible_us - now_us();
    latency_us_.store(latency, std::memory_order_relaxed);
    latency_measured_.store(true, std::memory_order_relaxed);
    jitter_us_.store(line_.jitter_us(), std::memory_order_relaxed);
    rate_ppm_.store(line_.rate_ppm(), std::memory_order_relaxed);
    timeline_jumps_.store(line_.timeline_jumps(), std::memory_order_relaxed);
    // Rendered now, heard `latency` from now, and the block waits for room of one more block.
    fill_ahead_us_.store(latency + frames_to_us(block_frames_.load(std::memory_order_relaxed)) + extra_us_,
                         std::memory_order_relaxed);
  }

  /// False if stop() was called while waiting.
  bool wait_before_reopening() {
    std::unique_lock lock(wake_mutex_);
    return !wake_.wait_for(lock, kReopenInterval, [this] { return stop_.load(std::memory_order_acquire); });
  }

  void set_device_text(std::string text) {
    std::lock_guard lock(text_mutex_);
    device_text_ = std::move(text);
  }

  const std::unique_ptr<DeviceBackend> backend_;
  const int requested_frames_;
  const std::int64_t extra_us_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::mutex wake_mutex_;
  std::condition_variable wake_;

  // output thread only
  std::vector<std::int16_t> block_;
  std::int64_t frames_written_ = 0;  ///< since the device was opened: the frame the next write starts with
  bool running_logged_ = false;
  DeviceClock line_;

  mutable std::mutex text_mutex_;
  std::string device_text_;  ///< guarded by text_mutex_

  std::atomic<int> block_frames_{0};
  std::atomic<std::int64_t> fill_ahead_us_{0};
  std::atomic<std::uint64_t> blocks_{0}, frames_{0}, xruns_{0}, lost_{0}, timeline_jumps_{0};
  std::atomic<bool> realtime_given_up_{false}, latency_measured_{false};
  std::atomic<std::uint64_t> realtime_long_blocks_{0};
  std::atomic<std::int64_t> latency_us_{0};
  std::atomic<double> jitter_us_{0}, rate_ppm_{0};
};

}  // namespace

std::unique_ptr<AudioOutput> make_device_output(std::unique_ptr<DeviceBackend> backend, int block_frames,
                                                std::chrono::microseconds extra_latency) {
  return std::make_unique<DeviceOutput>(std::move(backend), block_frames, extra_latency);
}

}  // namespace chorus::playback::detail
