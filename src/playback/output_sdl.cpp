// The sdl output: the default audio device, opened and driven by SDL2_mixer.
//
// Who does what: SDL2 core chooses the driver (its own choice, or SDL_AUDIODRIVER) and runs the
// device's audio thread. SDL2_mixer opens the device (Mix_OpenAudioDevice) and, for every buffer
// the device wants, runs its mixing pass: it silences the buffer, calls the music hook, then mixes
// its channels and effects. Our block callback is that music hook (Mix_HookMusic): the renderer
// writes the final samples straight into the device's buffer. We load no chunk, play no channel
// and register no effect, so what the renderer wrote is what the device plays.
//
// The device is opened at exactly 48 kHz stereo S16LSB (SDL converts if the hardware differs);
// only the buffer size may change (SDL_AUDIO_ALLOW_SAMPLES_CHANGE), so each hook call fills one
// whole period of the real device, which is what makes "now + one buffer" the audible instant.
// SDL2_mixer's API does not report the granted buffer size, so open() learns it from the first
// hook call.
//
// SDL2_mixer holds one device per process: a second Mix_OpenAudioDevice opens nothing new but
// counts a second user of the same device, and its music hook is a single global that a second
// output would silently take over. So there is one sdl output per process: opening another while
// one is open is refused with an error (make_output then falls back to the null output).

#include <SDL.h>
#include <SDL_mixer.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <semaphore>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/playback/device_clock.hpp"
#include "chorus/time_base.hpp"
#include "output_format.hpp"
#include "output_impl.hpp"
#include "sdl_pulse_latency.hpp"

namespace chorus::playback::detail {
namespace {

/// The name of SDL's stream on a sound server (pulseaudio driver), by which the latency sampler
/// finds it.
constexpr const char* kStreamName = "chorus sdl output";

/// How long open() waits for the device's first buffer request, which tells the buffer size.
/// Real devices ask within one period, SDL's dummy and disk drivers at once.
constexpr auto kFirstBufferTimeout = std::chrono::seconds(2);

/// Held around SDL audio subsystem init/quit and SDL2_mixer's device open/close (several outputs
/// may be created and destroyed concurrently, e.g. in tests), and so around the check that
/// SDL2_mixer's device is free. Never taken on SDL's audio thread.
std::mutex& sdl_audio_mutex() {
  static std::mutex mutex;
  return mutex;
}

/// Process-wide SDL hints, set before SDL audio starts. SDL_INIT_AUDIO brings up SDL's event
/// subsystem, which by default installs SIGINT/SIGTERM handlers that turn the signals into
/// SDL_QUIT events nobody reads: Ctrl-C would stop working.
void set_sdl_hints() {
  SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
  SDL_SetHint(SDL_HINT_AUDIO_DEVICE_APP_NAME, "chorus");
  SDL_SetHint(SDL_HINT_AUDIO_DEVICE_STREAM_NAME, kStreamName);
}

/// True while SDL2_mixer has a device open in this process (ours or anyone's).
bool mixer_device_open() { return Mix_QuerySpec(nullptr, nullptr, nullptr) != 0; }

/// The device's format as SDL2_mixer obtained it, or why it is not ours. No format change is
/// allowed at open, so SDL converts instead and this should never fail; if a future SDL2_mixer
/// did otherwise, the renderer's samples would be misread, so refuse the device.
std::string check_obtained_format() {
  int rate = 0;
  Uint16 format = 0;
  int channels = 0;
  if (Mix_QuerySpec(&rate, &format, &channels) == 0) return "SDL2_mixer reports no open device";
  if (rate == kSampleRate && format == AUDIO_S16LSB && channels == kChannels) return {};
  return fmt::format("the device opened at {} Hz, format {:#06x}, {} channels; the sdl output needs {} Hz, "
                     "S16LSB ({:#06x}), {} channels",
                     rate, format, channels, kSampleRate, AUDIO_S16LSB, kChannels);
}

/// When the first frame of a buffer SDL asks for now becomes audible. On the pulseaudio driver,
/// `server_latency_us` is what the sound server says (sdl_pulse_latency.cpp: the stream's queue
/// plus the sink, as of the instant SDL calls back), −1 when unknown. Otherwise: SDL asks for the
/// next buffer when the device has room for it, so it is heard after the one queued ahead of it,
/// one buffer from now; driver and hardware latency beyond that is unknown to SDL 2
/// (docs/audio.md). `extra_us` (--latency-ms) is added to either.
std::int64_t audible_instant_us(std::int64_t callback_now_us, int buffer_bytes, std::int64_t server_latency_us,
                                std::int64_t extra_us) {
  const std::int64_t latency = server_latency_us >= 0 ? server_latency_us : frames_to_us(buffer_bytes / kBytesPerFrame);
  return callback_now_us + latency + extra_us;
}

/// The sdl output's line: its estimates scatter by a few ms (±1.5–1.9 ms p95 at 10 ms buffers on
/// the pulseaudio driver, ±6 ms at 43 ms), so a new timeline is only assumed beyond 20 ms.
DeviceClockTuning sdl_line_tuning() {
  DeviceClockTuning tuning;
  tuning.reset_us = 20'000;
  return tuning;
}

class SdlOutput final : public AudioOutput {
 public:
  SdlOutput(int block_frames, std::chrono::microseconds extra)
      : requested_frames_(block_frames), buffer_frames_(block_frames), extra_us_(extra.count()) {}
  ~SdlOutput() override {
    stop();
    close();
  }
  SdlOutput(const SdlOutput&) = delete;
  SdlOutput& operator=(const SdlOutput&) = delete;

  /// Opens the default device through SDL2_mixer and learns its buffer size. The device runs
  /// from here on, playing SDL2_mixer's silence until start(). Returns why it could not (and what
  /// stands in for it), or an empty error. Called once, by open_sdl_output().
  SdlOpenResult open() {
    std::lock_guard lock(sdl_audio_mutex());
    if (mixer_device_open()) {
      return {nullptr,
              "SDL2_mixer's audio device is already open in this process (SDL2_mixer drives one device per "
              "process, so only one sdl output can exist at a time)",
              "the sdl output is already open", ""};
    }
    const auto no_device = [](std::string error) {
      return SdlOpenResult{nullptr, std::move(error), "no SDL audio device",
                           " (set SDL_AUDIODRIVER to choose a driver)"};
    };
    set_sdl_hints();
    if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) {
      return no_device(fmt::format("SDL audio init failed: {}", SDL_GetError()));
    }
    if (Mix_OpenAudioDevice(kSampleRate, AUDIO_S16LSB, kChannels, requested_frames_, nullptr,
                            SDL_AUDIO_ALLOW_SAMPLES_CHANGE) != 0) {
      std::string error = fmt::format("cannot open an audio device: {}", Mix_GetError());
      SDL_QuitSubSystem(SDL_INIT_AUDIO);
      return no_device(std::move(error));
    }
    std::string error = check_obtained_format();
    if (error.empty()) error = learn_buffer_frames();
    if (!error.empty()) {
      close_device();
      return no_device(std::move(error));
    }
    const char* driver = SDL_GetCurrentAudioDriver();
    driver_ = driver != nullptr ? driver : "?";
    device_open_ = true;
    if (driver_ == "pulseaudio") start_latency_sampler();
    follow_line_ = driver_ != "dummy" && driver_ != "disk";
    return {};
  }

  bool start(Renderer& renderer) override {
    if (running_) {
      spdlog::warn("sdl output: start() while running ignored");
      return false;
    }
    renderer_.store(&renderer, std::memory_order_release);
    // The device played SDL2_mixer's silence while we were stopped: a new timeline. (Written
    // before the hook is installed, which takes the device lock: the audio thread sees it.)
    line_.restart_timeline();
    line_frames_ = 0;
    Mix_HookMusic(&SdlOutput::render_block, this);
    running_ = true;
    return true;
  }

  void stop() override {
    if (!running_) return;
    // SDL runs SDL2_mixer's mixing pass, and so our hook, with the device lock held, and
    // Mix_HookMusic takes that lock to swap the hook: once it returns, no render() is running and
    // none will start. SDL2_mixer 2.6 cannot pause its device, so it keeps playing silence.
    Mix_HookMusic(nullptr, nullptr);
    renderer_.store(nullptr, std::memory_order_release);
    running_ = false;
  }

  std::string describe() const override {
    return fmt::format("sdl (SDL2_mixer, driver '{}', {}-frame buffer = {:.1f} ms, extra latency {:+.1f} ms; "
                       "audible time estimated as {})",
                       driver_, buffer_frames_, static_cast<double>(frames_to_us(buffer_frames_)) / 1000.0,
                       static_cast<double>(extra_us_) / 1000.0, estimate_text());
  }
  std::int64_t fill_ahead_us() const override {
    const std::int64_t server = server_latency_us();
    return (server >= 0 ? server : frames_to_us(buffer_frames_)) + extra_us_;
  }
  int block_frames() const override { return buffer_frames_; }
  OutputStats stats() const override {
    OutputStats s;
    s.blocks = blocks_.load(std::memory_order_relaxed);
    s.frames = frames_.load(std::memory_order_relaxed);
    // On a sound server, the latency the server reports for SDL's stream (sampled, not per block)
    if (const std::int64_t server = server_latency_us(); server >= 0) {
      s.latency_measured = true;
      s.latency_us = server;
      s.latency_jitter_us = jitter_us_.load(std::memory_order_relaxed);
    }
    return s;
  }

 private:
  /// On the pulseaudio driver: samples the latency of SDL's stream on the server. Without it (no
  /// server of our own to reach, stream not found) the one-buffer estimate stays, and describe()
  /// says why.
  void start_latency_sampler() {
    std::string why;
    server_latency_ = SdlPulseLatency::start(kStreamName, std::chrono::microseconds(frames_to_us(buffer_frames_)), why);
    if (!server_latency_) {
      no_server_latency_ = why;
      spdlog::info("sdl output: the sound server's latency is not available ({}); audible times are estimated as "
                   "now + one buffer",
                   why);
    }
  }

  /// −1 when unknown. Any thread.
  std::int64_t server_latency_us() const { return server_latency_ ? server_latency_->latency_us() : -1; }

  std::string estimate_text() const {
    if (server_latency_) {
      const std::int64_t latency = server_latency_->latency_us();
      if (latency >= 0) {
        return fmt::format("now + the sound server's latency for its stream ({}: {:.1f} ms, sampled twice a second)",
                           server_latency_->describe(), static_cast<double>(latency) / 1000.0);
      }
      return fmt::format("now + one buffer (the sound server's latency for {} is not known now)",
                         server_latency_->describe());
    }
    if (!no_server_latency_.empty()) return fmt::format("now + one buffer (server latency: {})", no_server_latency_);
    return "now + one buffer";
  }

  /// Installs a hook that only notes the size of the first buffer the device asks for, waits for
  /// it, and removes the hook again. Called with the device just opened (and running).
  std::string learn_buffer_frames() {
    Mix_HookMusic(&SdlOutput::note_first_buffer, this);
    const bool seen = first_buffer_seen_.try_acquire_for(kFirstBufferTimeout);
    Mix_HookMusic(nullptr, nullptr);
    if (!seen) {
      return fmt::format("the audio device opened but asked for no audio within {} s",
                         kFirstBufferTimeout.count());
    }
    const int bytes = first_buffer_bytes_.load(std::memory_order_acquire);
    if (bytes <= 0 || bytes % kBytesPerFrame != 0) {
      return fmt::format("the audio device asked for {} bytes, not a whole number of frames", bytes);
    }
    buffer_frames_ = bytes / kBytesPerFrame;
    return {};
  }

  /// SDL's audio thread, during open() only: SDL2_mixer has silenced the buffer; leave it so.
  static void SDLCALL note_first_buffer(void* user, Uint8*, int len) {
    auto* self = static_cast<SdlOutput*>(user);
    if (self->first_buffer_bytes_.load(std::memory_order_relaxed) != 0) return;
    self->first_buffer_bytes_.store(len > 0 ? len : -1, std::memory_order_release);
    self->first_buffer_seen_.release();
  }

  /// SDL's audio thread, while running: SDL2_mixer's music hook. No lock, no allocation, no
  /// logging. `stream` is the whole buffer the device plays next; SDL2_mixer mixes nothing into
  /// it after us.
  static void SDLCALL render_block(void* user, Uint8* stream, int len) {
    const std::int64_t now = now_us();
    auto* self = static_cast<SdlOutput*>(user);
    Renderer* renderer = self->renderer_.load(std::memory_order_acquire);
    if (renderer == nullptr || len <= 0) return;  // the buffer stays silent
    const std::int64_t estimate = audible_instant_us(now, len, self->server_latency_us(), 0);
    const std::int64_t audible_at =
        (self->follow_line_ ? self->line_.update(self->line_frames_, estimate) : estimate) + self->extra_us_;
    const std::size_t samples = static_cast<std::size_t>(len) / sizeof(std::int16_t);
    renderer->render(std::span<std::int16_t>(reinterpret_cast<std::int16_t*>(stream), samples), audible_at);
    self->line_frames_ += static_cast<std::int64_t>(samples / kChannels);
    self->jitter_us_.store(self->line_.jitter_us(), std::memory_order_relaxed);
    self->blocks_.fetch_add(1, std::memory_order_relaxed);
    self->frames_.fetch_add(samples / kChannels, std::memory_order_relaxed);
  }

  void close() {
    std::lock_guard lock(sdl_audio_mutex());
    if (!device_open_) return;
    server_latency_.reset();
    close_device();
    device_open_ = false;
  }

  /// With sdl_audio_mutex() held.
  static void close_device() {
    Mix_CloseAudio();  // the last user: closes the device, joining SDL's audio thread
    SDL_QuitSubSystem(SDL_INIT_AUDIO);
  }

  const int requested_frames_;
  int buffer_frames_;  ///< granted by the device; set by open(), read on the control thread
  const std::int64_t extra_us_;
  std::string driver_;
  /// Set in open(), before the audio thread can read it through server_latency_us(); reset in
  /// close(), after stop().
  std::unique_ptr<SdlPulseLatency> server_latency_;
  std::string no_server_latency_;  ///< why there is no server latency on the pulseaudio driver
  bool device_open_ = false;
  bool running_ = false;
  std::atomic<int> first_buffer_bytes_{0};
  std::binary_semaphore first_buffer_seen_{0};
  std::atomic<Renderer*> renderer_{nullptr};
  std::atomic<std::uint64_t> blocks_{0};
  std::atomic<std::uint64_t> frames_{0};
  /// SDL's audio thread (and start(), before the hook is installed): the estimates smoothed along
  /// the device's own timeline. The device consumes one buffer per callback, so buffer k is heard
  /// exactly k buffers after the first; the callbacks themselves come late or early by up to a
  /// few ms (when the driver's requests arrive), and so does "now + latency". A jump is only
  /// taken for a new timeline beyond 20 ms (sdl_line_tuning()), well above that scatter.
  DeviceClock line_{sdl_line_tuning()};
  /// SDL's dummy and disk drivers pace themselves with sleeps, 0.2–14 % off real time: no device
  /// clock for a line to follow, so their estimates are used as they are. Set by open().
  bool follow_line_ = true;
  std::int64_t line_frames_ = 0;  ///< frames rendered since start(): the next buffer's first frame
  std::atomic<double> jitter_us_{0};
};

}  // namespace

SdlOpenResult open_sdl_output(int block_frames, std::chrono::microseconds extra_latency) {
  auto output = std::make_unique<SdlOutput>(block_frames, extra_latency);
  auto opened = output->open();
  if (opened.error.empty()) opened.output = std::move(output);
  return opened;
}

}  // namespace chorus::playback::detail
