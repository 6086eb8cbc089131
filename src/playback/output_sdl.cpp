// The sdl output: an SDL2 audio device opened with the core API (SDL_OpenAudioDevice and a
// callback). We mix nothing: the renderer writes the final samples straight into SDL's buffer.
// The device is opened at exactly 48 kHz stereo S16 (SDL converts if the hardware differs); only
// the buffer size may change, so the callback gets the device's real period.

#include <SDL.h>

#include <atomic>
#include <cstring>
#include <mutex>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "output_format.hpp"
#include "output_impl.hpp"

namespace chorus::playback::detail {
namespace {

/// Held around SDL audio subsystem init/quit and device open/close (several outputs may open
/// and close concurrently, e.g. in tests). Never taken on SDL's audio thread.
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

  /// Opens the default device, paused. Returns why it could not, or "".
  std::string open() {
    std::lock_guard lock(sdl_audio_mutex());
    if (device_ != 0) return {};
    set_sdl_hints();
    if (SDL_InitSubSystem(SDL_INIT_AUDIO) != 0) return fmt::format("SDL audio init failed: {}", SDL_GetError());
    SDL_AudioSpec want{};
    want.freq = kSampleRate;
    want.format = AUDIO_S16LSB;
    want.channels = static_cast<Uint8>(kChannels);
    want.samples = static_cast<Uint16>(requested_frames_);
    want.callback = &SdlOutput::callback;
    want.userdata = this;
    SDL_AudioSpec have{};
    const SDL_AudioDeviceID device = SDL_OpenAudioDevice(nullptr, 0, &want, &have, SDL_AUDIO_ALLOW_SAMPLES_CHANGE);
    if (device == 0) {
      std::string error = fmt::format("cannot open an audio device: {}", SDL_GetError());
      SDL_QuitSubSystem(SDL_INIT_AUDIO);
      return error;
    }
    const char* driver = SDL_GetCurrentAudioDriver();
    driver_ = driver != nullptr ? driver : "?";
    buffer_frames_ = have.samples;
    buffer_us_.store(frames_to_us(have.samples), std::memory_order_relaxed);
    device_ = device;
    return {};
  }

  bool start(Renderer& renderer) override {
    if (device_ == 0) {
      if (std::string error = open(); !error.empty()) {
        if (!warned_) spdlog::warn("sdl output: {}", error);
        warned_ = true;
        return false;
      }
    }
    if (running_) {
      spdlog::warn("sdl output: start() while running ignored");
      return false;
    }
    renderer_.store(&renderer, std::memory_order_release);
    SDL_PauseAudioDevice(device_, 0);
    running_ = true;
    return true;
  }

  void stop() override {
    if (!running_) return;
    SDL_PauseAudioDevice(device_, 1);
    // SDL runs the callback with the device lock held: once we hold it, no render() is running,
    // and a paused device calls no more.
    SDL_LockAudioDevice(device_);
    renderer_.store(nullptr, std::memory_order_release);
    SDL_UnlockAudioDevice(device_);
    running_ = false;
  }

  std::string describe() const override {
    return fmt::format("sdl (driver '{}', {}-frame buffer = {:.1f} ms, extra latency {:+.1f} ms; audible time "
                       "estimated as now + one buffer)",
                       driver_, buffer_frames_, static_cast<double>(frames_to_us(buffer_frames_)) / 1000.0,
                       static_cast<double>(extra_us_) / 1000.0);
  }
  std::int64_t fill_ahead_us() const override {
    return buffer_us_.load(std::memory_order_relaxed) + extra_us_;
  }
  int block_frames() const override { return buffer_frames_; }
  OutputStats stats() const override {
    OutputStats s;
    s.blocks = blocks_.load(std::memory_order_relaxed);
    s.frames = frames_.load(std::memory_order_relaxed);
    return s;
  }

 private:
  /// SDL's audio thread. No lock, no allocation, no logging.
  static void SDLCALL callback(void* user, Uint8* stream, int len) {
    auto* self = static_cast<SdlOutput*>(user);
    Renderer* renderer = self->renderer_.load(std::memory_order_acquire);
    if (renderer == nullptr || len <= 0) {
      if (len > 0) std::memset(stream, 0, static_cast<std::size_t>(len));
      return;
    }
    // SDL asks for the next buffer when the device has room for it: it is heard after what is
    // queued ahead of it, about one buffer from now. Driver and hardware latency beyond that is
    // unknown to SDL 2 (see docs/audio.md); --latency-ms covers it.
    const std::int64_t audible_at =
        steady_now_us() + self->buffer_us_.load(std::memory_order_relaxed) + self->extra_us_;
    const std::size_t samples = static_cast<std::size_t>(len) / sizeof(std::int16_t);
    renderer->render(std::span<std::int16_t>(reinterpret_cast<std::int16_t*>(stream), samples), audible_at);
    self->blocks_.fetch_add(1, std::memory_order_relaxed);
    self->frames_.fetch_add(samples / kChannels, std::memory_order_relaxed);
  }

  void close() {
    std::lock_guard lock(sdl_audio_mutex());
    if (device_ == 0) return;
    SDL_CloseAudioDevice(device_);  // joins SDL's audio thread
    SDL_QuitSubSystem(SDL_INIT_AUDIO);
    device_ = 0;
  }

  const int requested_frames_;
  int buffer_frames_;
  const std::int64_t extra_us_;
  std::atomic<std::int64_t> buffer_us_{0};
  std::string driver_;
  SDL_AudioDeviceID device_ = 0;
  bool running_ = false;
  bool warned_ = false;
  std::atomic<Renderer*> renderer_{nullptr};
  std::atomic<std::uint64_t> blocks_{0};
  std::atomic<std::uint64_t> frames_{0};
};

}  // namespace

SdlOpenResult open_sdl_output(int block_frames, std::chrono::microseconds extra_latency) {
  auto output = std::make_unique<SdlOutput>(block_frames, extra_latency);
  if (std::string error = output->open(); !error.empty()) return {nullptr, std::move(error)};
  return {std::move(output), {}};
}

}  // namespace chorus::playback::detail
