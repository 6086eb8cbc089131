// The alsa backend: a PCM of alsa-lib ("default", "hw:1", "plughw:CARD=Device", "pulse:SINK"...)
// opened non-blocking at 48 kHz, S16_LE, stereo, and asked before every block when the next frame
// written will be heard.
//
// Measuring the audible instant. snd_pcm_status() reports, among others:
//   delay   — frames between the next frame written and the one being heard now: what is queued
//             in the ring buffer (appl_ptr − hw_ptr) plus what the driver says lies beyond it
//             (a codec's FIFO, a USB packet queue; a sound server's own buffer for a plugin);
//   htstamp — when hw_ptr was last read, on the clock chosen in the sw params.
// The kernel refreshes hw_ptr inside the status call and stamps that refresh, and delay is counted
// from the same hw_ptr, so the pair belongs together however old the stamp: the frame written next
// is heard at htstamp + delay / 48 kHz. We ask for CLOCK_MONOTONIC timestamps, which is
// std::chrono::steady_clock on Linux and so chorus::now_us(): no conversion.
//
// Plugins compute their own status. alsa-lib's ioplug, on which the pulse plugin is built, stamps
// the status with the time of the status call itself, on the clock the sw params chose (measured
// with alsa-lib 1.2.8: within 2 µs of the middle of the call; left at its default it is the wall
// clock, 56 years off), and takes delay from the plugin: for pulse, libpulse's latency of the
// stream interpolated to that moment (the ring buffer, what the server holds, the sink's own
// latency). Other plugins may leave htstamp zero or stamp on another clock. A stamp that is zero,
// later than the end of the status call, or older than kOldestDeviceStampUs is therefore not used:
// we take instead the midpoint of two steady-clock reads around the status call, which is the
// instant an interpolated delay describes, within half the call's duration (a few µs).
//
// Never blocking. The PCM is opened with SND_PCM_NONBLOCK, so a device busy with another program
// is an error at once rather than a wait, and a full buffer is -EAGAIN; write() then waits with
// snd_pcm_wait() for at most kMaxDeviceWait in all and declares the device lost when no room came
// (a frozen sound server, a driver that stopped). snd_pcm_close() would first drop the stream,
// which the pulse plugin does by waiting for the server's answer: after such a timeout, close()
// frees the hardware setup first so that alsa-lib skips the drop, and nothing waits.
//
// Nothing on the write and measure path allocates or locks beyond what alsa-lib and its plugin do
// (the pulse plugin takes its mainloop's lock): the status object is allocated at open(), and
// latency() and describe() format their text only when asked. The one exception is the log line
// that says why a device is lost, after which the stream is over anyway.
//
// alsa-lib prints its errors to stderr by default, which would interleave with the node's prompt.
// Its one process-wide error handler is pointed, once, at spdlog's debug level, and silenced
// entirely on the thread of alsa_device_opens(), whose failures are expected answers.

#include <alsa/asoundlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "alsa_audible_instant.hpp"
#include "alsa_rate_refusal.hpp"
#include "chorus/time_base.hpp"
#include "output_format.hpp"
#include "output_impl.hpp"

namespace chorus::playback::detail {
namespace {

/// Periods in the device's buffer: room for the output thread to wake up late by up to three
/// blocks without an underrun, and 40 ms of latency with 10 ms blocks.
constexpr snd_pcm_uframes_t kPeriodsPerBuffer = 4;
/// Between two attempts to resume a device that is still waking up from a system suspend.
constexpr auto kResumeRetry = std::chrono::milliseconds(2);

// ------------------------------------------------------------------- alsa-lib's error printing

thread_local bool t_alsa_errors_silenced = false;

__attribute__((format(printf, 5, 6))) void log_alsa_error(const char* file, int line, const char* function,
                                                          int err, const char* format, ...) {
  if (t_alsa_errors_silenced) return;
  if (!spdlog::default_logger_raw()->should_log(spdlog::level::debug)) return;
  char text[512];
  va_list args;
  va_start(args, format);
  std::vsnprintf(text, sizeof text, format, args);
  va_end(args);
  spdlog::debug("alsa-lib: {}{}{} ({}:{} {})", text, err != 0 ? ": " : "", err != 0 ? snd_strerror(err) : "",
                file != nullptr ? file : "?", line, function != nullptr ? function : "?");
}

/// Sends alsa-lib's error messages to the log instead of stderr, from the first use on.
void route_alsa_errors_to_log() {
  static const bool routed = [] {
    snd_lib_error_set_handler(&log_alsa_error);
    return true;
  }();
  (void)routed;
}

/// While it lives, alsa-lib's errors raised on this thread are dropped.
class SilencedAlsaErrors {
 public:
  SilencedAlsaErrors() : previous_(std::exchange(t_alsa_errors_silenced, true)) { route_alsa_errors_to_log(); }
  ~SilencedAlsaErrors() { t_alsa_errors_silenced = previous_; }
  SilencedAlsaErrors(const SilencedAlsaErrors&) = delete;
  SilencedAlsaErrors& operator=(const SilencedAlsaErrors&) = delete;

 private:
  bool previous_;
};

std::int64_t stamp_to_us(const snd_htimestamp_t& t) {
  return static_cast<std::int64_t>(t.tv_sec) * 1'000'000 + static_cast<std::int64_t>(t.tv_nsec) / 1'000;
}

class AlsaBackend final : public DeviceBackend {
 public:
  explicit AlsaBackend(std::string device) : device_(std::move(device)) {}
  ~AlsaBackend() override { close(); }
  AlsaBackend(const AlsaBackend&) = delete;
  AlsaBackend& operator=(const AlsaBackend&) = delete;

  std::string open(int block_frames) override {
    close();
    route_alsa_errors_to_log();
    requested_frames_ = block_frames;
    snd_pcm_t* pcm = nullptr;
    if (const int err = snd_pcm_open(&pcm, device_.c_str(), SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK); err < 0) {
      return failure("cannot be opened for playback", err);
    }
    pcm_ = pcm;
    std::string error = set_hw_params(block_frames);
    if (error.empty()) error = set_sw_params();
    if (error.empty()) error = allocate_status();
    if (!error.empty()) {
      close();
      return error;
    }
    reset_measurements();
    spdlog::debug("{}", describe());
    if (snd_pcm_type(pcm_) == SND_PCM_TYPE_IOPLUG && !plugin_hint_logged_) {
      plugin_hint_logged_ = true;
      spdlog::info("alsa:{} is a plugin PCM, timed only by the plugin's own delay report; ALSA's pulse "
                   "plugin reports libpulse's interpolated latency, measured several ms off for seconds "
                   "at a time: on a sound server, --output pulse:SINK is timed by the server itself",
                   device_);
    }
    return {};
  }

  int block_frames() const override {
    return pcm_ != nullptr ? static_cast<int>(period_frames_) : requested_frames_;
  }

  std::optional<std::int64_t> next_frame_audible_us() override {
    if (pcm_ == nullptr) return std::nullopt;
    const std::int64_t before = now_us();
    const int err = snd_pcm_status(pcm_, status_);
    const std::int64_t after = now_us();
    if (err < 0) return std::nullopt;  // the next write() meets the same error and reports it
    switch (snd_pcm_status_get_state(status_)) {
      case SND_PCM_STATE_RUNNING: break;
      case SND_PCM_STATE_XRUN: recover_now(-EPIPE); return std::nullopt;
      case SND_PCM_STATE_SUSPENDED: recover_now(-ESTRPIPE); return std::nullopt;
      default: return std::nullopt;  // PREPARED: not started yet; DISCONNECTED: write() says lost
    }
    snd_htimestamp_t stamp{};
    snd_pcm_status_get_htstamp(status_, &stamp);
    const std::optional<std::int64_t> steady_stamp = steady_device_stamp_us(stamp_to_us(stamp), before, after);
    timing_ = steady_stamp ? Timing::device_stamps : Timing::system_clock;
    last_delay_frames_ = snd_pcm_status_get_delay(status_);
    const std::int64_t audible = audible_instant_us(steady_stamp, before, after, last_delay_frames_);
    last_total_us_ = audible - after;
    return audible;
  }

  WriteOutcome write(std::span<const std::int16_t> block) override {
    if (pcm_ == nullptr) return WriteOutcome::lost;
    const auto give_up = SteadyClock::now() + kMaxDeviceWait;
    const auto frames = static_cast<snd_pcm_uframes_t>(block.size() / kChannels);
    bool xrun = std::exchange(xrun_pending_, false);
    snd_pcm_uframes_t done = 0;
    while (done < frames) {
      const snd_pcm_sframes_t written = snd_pcm_writei(pcm_, block.data() + done * kChannels, frames - done);
      if (written >= 0) {
        done += static_cast<snd_pcm_uframes_t>(written);
        continue;
      }
      const int err = static_cast<int>(written);
      if (err == -EINTR) continue;
      if (err == -EAGAIN) {
        if (!wait_for_room(give_up)) return lose("no room in its buffer", -ETIMEDOUT);
        continue;
      }
      if (err == -EPIPE || err == -ESTRPIPE) {
        ++xruns_;
        xrun = true;
        if (const int failed = recover(err, give_up); failed < 0) {
          return lose("cannot restart it after an underrun", failed);
        }
        done = 0;  // the restarted device holds nothing: the whole block goes first
        continue;
      }
      return lose("write failed", err);
    }
    return xrun ? WriteOutcome::recovered : WriteOutcome::written;
  }

  void close() override {
    if (pcm_ != nullptr) {
      // snd_pcm_close() drops the stream first; the pulse plugin waits for the server to confirm
      // that, forever if the server is frozen. With the hardware setup freed, alsa-lib skips it.
      if (unresponsive_) {
        snd_pcm_hw_free(pcm_);
      } else {
        snd_pcm_drop(pcm_);
      }
      snd_pcm_close(pcm_);
      pcm_ = nullptr;
    }
    unresponsive_ = false;
    if (status_ != nullptr) {
      snd_pcm_status_free(status_);
      status_ = nullptr;
    }
  }

  DeviceLatency latency() const override {
    return {last_total_us_, fmt::format("delay {} frames (period {}, buffer {})", last_delay_frames_,
                                        period_frames_, buffer_frames_)};
  }

  std::string describe() const override {
    if (pcm_ == nullptr) return fmt::format("alsa:{} (not open)", device_);
    return fmt::format("alsa:{} (period {}, buffer {} frames, PCM type {}{}{})", device_, period_frames_,
                       buffer_frames_, snd_pcm_type_name(snd_pcm_type(pcm_)), timing_text(),
                       xruns_ > 0 ? fmt::format(", underruns: {}", xruns_) : std::string());
  }

 private:
  enum class Timing { not_measured, device_stamps, system_clock };

  const char* timing_text() const {
    switch (timing_) {
      case Timing::device_stamps: return ", timed by the device's timestamps";
      case Timing::system_clock: return ", timed by the system clock around each status read";
      case Timing::not_measured: break;
    }
    return "";
  }

  std::string failure(std::string_view what, int err) const {
    return fmt::format("ALSA device '{}' {}: {}", device_, what, snd_strerror(err));
  }

  std::string set_hw_params(int block_frames) {
    snd_pcm_hw_params_t* p = nullptr;
    snd_pcm_hw_params_alloca(&p);
    if (const int err = snd_pcm_hw_params_any(pcm_, p); err < 0) return failure("reports no hardware parameters", err);
    if (snd_pcm_hw_params_test_rate(pcm_, p, kSampleRate, 0) != 0) return rate_refusal(p);
    if (const int err = snd_pcm_hw_params_set_access(pcm_, p, SND_PCM_ACCESS_RW_INTERLEAVED); err < 0) {
      return failure("refuses interleaved read/write access", err);
    }
    if (const int err = snd_pcm_hw_params_set_format(pcm_, p, SND_PCM_FORMAT_S16_LE); err < 0) {
      return failure("refuses 16-bit little-endian samples (S16_LE)", err);
    }
    if (const int err = snd_pcm_hw_params_set_channels(pcm_, p, kChannels); err < 0) {
      return failure(fmt::format("refuses {} channels", kChannels), err);
    }
    if (const int err = snd_pcm_hw_params_set_rate(pcm_, p, kSampleRate, 0); err < 0) {
      return failure(fmt::format("refuses {} Hz in S16_LE stereo", kSampleRate), err);
    }
    auto period = static_cast<snd_pcm_uframes_t>(block_frames);
    int dir = 0;
    if (const int err = snd_pcm_hw_params_set_period_size_near(pcm_, p, &period, &dir); err < 0) {
      return failure(fmt::format("refuses periods of about {} frames", block_frames), err);
    }
    snd_pcm_uframes_t buffer = period * kPeriodsPerBuffer;
    if (const int err = snd_pcm_hw_params_set_buffer_size_near(pcm_, p, &buffer); err < 0) {
      return failure(fmt::format("refuses a buffer of about {} frames", period * kPeriodsPerBuffer), err);
    }
    if (const int err = snd_pcm_hw_params(pcm_, p); err < 0) {
      return failure(fmt::format("refuses 48 kHz S16_LE stereo with periods of {} and a buffer of {} frames",
                                 period, buffer),
                     err);
    }
    snd_pcm_hw_params_get_period_size(p, &period_frames_, &dir);
    snd_pcm_hw_params_get_buffer_size(p, &buffer_frames_);
    return {};
  }

  std::string rate_refusal(const snd_pcm_hw_params_t* p) const {
    unsigned min_hz = 0;
    unsigned max_hz = 0;
    int dir = 0;
    snd_pcm_hw_params_get_rate_min(p, &min_hz, &dir);
    snd_pcm_hw_params_get_rate_max(p, &max_hz, &dir);
    return alsa_rate_refusal(device_, min_hz, max_hz);
  }

  /// Starts the device once one period is queued, wakes the writer when a period is free, and
  /// stamps status reads on the steady clock.
  std::string set_sw_params() {
    snd_pcm_sw_params_t* p = nullptr;
    snd_pcm_sw_params_alloca(&p);
    if (const int err = snd_pcm_sw_params_current(pcm_, p); err < 0) {
      return failure("reports no software parameters", err);
    }
    // Without timestamps the device is still usable: the audible instant is then timed by the
    // system clock around each status read.
    if (const int err = snd_pcm_sw_params_set_tstamp_mode(pcm_, p, SND_PCM_TSTAMP_ENABLE); err < 0) {
      spdlog::debug("ALSA device '{}' refuses timestamps: {}", device_, snd_strerror(err));
    }
    if (const int err = snd_pcm_sw_params_set_tstamp_type(pcm_, p, SND_PCM_TSTAMP_TYPE_MONOTONIC); err < 0) {
      spdlog::debug("ALSA device '{}' refuses CLOCK_MONOTONIC timestamps: {}", device_, snd_strerror(err));
    }
    if (const int err = snd_pcm_sw_params_set_avail_min(pcm_, p, period_frames_); err < 0) {
      return failure("refuses a wake-up every period", err);
    }
    if (const int err = snd_pcm_sw_params_set_start_threshold(pcm_, p, period_frames_); err < 0) {
      return failure("refuses to start after one period", err);
    }
    if (const int err = snd_pcm_sw_params(pcm_, p); err < 0) return failure("refuses its software parameters", err);
    return {};
  }

  std::string allocate_status() {
    if (status_ != nullptr) return {};
    if (snd_pcm_status_malloc(&status_) < 0) return failure("cannot be measured", -ENOMEM);
    return {};
  }

  void reset_measurements() {
    xrun_pending_ = false;
    timing_ = Timing::not_measured;
    last_delay_frames_ = 0;
    last_total_us_ = 0;
  }

  /// Waits until the device has room or `give_up`. False when the time is up.
  bool wait_for_room(SteadyClock::time_point give_up) {
    const auto left = std::chrono::ceil<std::chrono::milliseconds>(give_up - SteadyClock::now());
    if (left.count() <= 0) return false;
    // An error here (an underrun, a device gone) is met again by the next write, which reports it.
    snd_pcm_wait(pcm_, static_cast<int>(left.count()));
    return true;
  }

  /// An underrun or suspend seen by a status read: recovered now, reported by the next write.
  void recover_now(int err) {
    ++xruns_;
    xrun_pending_ = true;
    recover(err, SteadyClock::now() + kMaxDeviceWait);
  }

  /// Brings the device back to PREPARED after an underrun (-EPIPE) or a system suspend
  /// (-ESTRPIPE), by `give_up`: 0, or why it could not. (snd_pcm_recover() would retry a resume
  /// once a second for as long as the driver asks.)
  int recover(int err, SteadyClock::time_point give_up) {
    if (SteadyClock::now() >= give_up) return -ETIMEDOUT;
    if (err == -ESTRPIPE) {
      int resumed;
      while ((resumed = snd_pcm_resume(pcm_)) == -EAGAIN && SteadyClock::now() < give_up) {
        std::this_thread::sleep_for(kResumeRetry);
      }
      if (resumed == 0) return 0;
    }
    return std::min(snd_pcm_prepare(pcm_), 0);
  }

  /// The device went away or stopped answering: logged once, and the output reopens it later.
  WriteOutcome lose(std::string_view what, int err) {
    if (err == -ETIMEDOUT) unresponsive_ = true;
    spdlog::warn("alsa:{}: {} ({}); the device is lost", device_, what,
                 err == -ETIMEDOUT ? fmt::format("nothing within {} ms", kMaxDeviceWait.count())
                                   : std::string(snd_strerror(err)));
    return WriteOutcome::lost;
  }

  const std::string device_;
  int requested_frames_ = 0;
  snd_pcm_t* pcm_ = nullptr;
  snd_pcm_status_t* status_ = nullptr;
  snd_pcm_uframes_t period_frames_ = 0;
  snd_pcm_uframes_t buffer_frames_ = 0;
  std::uint64_t xruns_ = 0;
  bool plugin_hint_logged_ = false;  ///< the plugin PCM's timing caveat, logged once per node
  bool xrun_pending_ = false;   ///< an underrun recovered by a status read, for the next write()
  bool unresponsive_ = false;   ///< lost by a timeout: close() must not wait for the device
  Timing timing_ = Timing::not_measured;  ///< how the last audible instant was measured
  snd_pcm_sframes_t last_delay_frames_ = 0;
  std::int64_t last_total_us_ = 0;
};

}  // namespace

std::unique_ptr<DeviceBackend> make_alsa_backend(std::string device) {
  return std::make_unique<AlsaBackend>(std::move(device));
}

bool alsa_device_opens(const std::string& device) {
  const SilencedAlsaErrors quiet;
  snd_pcm_t* pcm = nullptr;
  if (snd_pcm_open(&pcm, device.c_str(), SND_PCM_STREAM_PLAYBACK, SND_PCM_NONBLOCK) < 0) return false;
  snd_pcm_close(pcm);
  return true;
}

}  // namespace chorus::playback::detail
