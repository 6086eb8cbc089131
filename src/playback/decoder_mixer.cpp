#include "decoder_mixer.hpp"

#include <SDL.h>
#include <SDL_mixer.h>

#include <algorithm>
#include <climits>
#include <cstring>

#include <fmt/format.h>

#include "library_probe.hpp"
#include "output_format.hpp"

namespace chorus::playback::detail {

std::mutex& sdl_audio_mutex() {
  static std::mutex mutex;
  return mutex;
}

void set_sdl_hints() {
  // SDL_INIT_AUDIO brings up SDL's event subsystem, which by default installs SIGINT/SIGTERM
  // handlers that turn the signals into SDL_QUIT events nobody reads: Ctrl-C would stop working.
  SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
  SDL_SetHint(SDL_HINT_AUDIO_DEVICE_APP_NAME, "chorus");
}

namespace {

constexpr SDL_AudioFormat kFormat = AUDIO_S16LSB;

/// SDL keeps per-thread state (the SDL_GetError() buffer) that it frees only for threads it
/// created. Decodes run on the caller's threads, so free it before returning: a decode worker
/// that exits would otherwise leak it.
struct ReleaseSdlThreadState {
  ReleaseSdlThreadState() = default;
  ReleaseSdlThreadState(const ReleaseSdlThreadState&) = delete;
  ReleaseSdlThreadState& operator=(const ReleaseSdlThreadState&) = delete;
  ~ReleaseSdlThreadState() { SDL_TLSCleanup(); }
};

std::string sdl_error(const char* what) {
  const char* e = SDL_GetError();
  return fmt::format("{}: {}", what, (e != nullptr && *e != '\0') ? e : "unknown SDL error");
}

SDL_RWops* open_memory(std::span<const std::uint8_t> file, std::string& error) {
  if (file.size() > static_cast<std::size_t>(INT_MAX)) {
    error = "file too large to decode (over 2 GiB)";
    return nullptr;
  }
  SDL_RWops* rw = SDL_RWFromConstMem(file.data(), static_cast<int>(file.size()));
  if (rw == nullptr) error = sdl_error("cannot wrap the file for SDL");
  return rw;
}

/// Converts `len` bytes of `format`/`channels`/`rate` audio to 48 kHz stereo S16, returning
/// round(frames · 48000 / rate) frames.
///
/// SDL 2.26's SDL_AudioStream keeps the start of the signal in place but, when it resamples and
/// the whole input came in one put, does not return the last few ms even after a flush (64 ms of
/// 1 s of 8 kHz audio, 12 ms from 44.1 kHz). So we feed 200 ms of silence after the audio, then
/// cut the output to the exact converted length: the real tail always comes out.
Decoded convert(SDL_AudioFormat format, int channels, int rate, const Uint8* data, Uint32 len) {
  Decoded out;
  const int frame_bytes = static_cast<int>(SDL_AUDIO_BITSIZE(format) / 8) * channels;
  if (frame_bytes <= 0 || rate <= 0) {
    out.error = fmt::format("cannot convert audio of {} channels at {} Hz", channels, rate);
    return out;
  }
  const std::uint32_t in_frames = len / static_cast<std::uint32_t>(frame_bytes);
  if (format == kFormat && channels == kChannels && rate == kSampleRate) {
    out.samples.resize(static_cast<std::size_t>(in_frames) * kChannels);
    if (!out.samples.empty()) std::memcpy(out.samples.data(), data, out.samples.size() * sizeof(std::int16_t));
    return out;
  }
  const auto want_frames = static_cast<std::size_t>(frames_at_output_rate(in_frames, rate));
  SDL_AudioStream* stream = SDL_NewAudioStream(format, static_cast<Uint8>(channels), rate, kFormat,
                                               static_cast<Uint8>(kChannels), kSampleRate);
  if (stream == nullptr) {
    out.error = sdl_error("cannot convert the audio format");
    return out;
  }
  const std::vector<Uint8> padding(static_cast<std::size_t>(rate / 5 + 64) * static_cast<std::size_t>(frame_bytes),
                                   format == AUDIO_U8 ? Uint8{0x80} : Uint8{0});
  const int put_len = static_cast<int>(in_frames) * frame_bytes;
  if ((put_len > 0 && SDL_AudioStreamPut(stream, data, put_len) != 0) ||
      SDL_AudioStreamPut(stream, padding.data(), static_cast<int>(padding.size())) != 0 ||
      SDL_AudioStreamFlush(stream) != 0) {
    out.error = sdl_error("audio conversion failed");
    SDL_FreeAudioStream(stream);
    return out;
  }
  const int available = SDL_AudioStreamAvailable(stream);
  out.samples.resize(static_cast<std::size_t>(available) / sizeof(std::int16_t));
  const int got = available > 0 ? SDL_AudioStreamGet(stream, out.samples.data(), available) : 0;
  SDL_FreeAudioStream(stream);
  if (got < 0) {
    out.samples.clear();
    out.error = sdl_error("audio conversion failed");
    return out;
  }
  const std::size_t got_frames = static_cast<std::size_t>(got) / sizeof(std::int16_t) / kChannels;
  out.samples.resize(std::min(got_frames, want_frames) * kChannels);
  return out;
}

}  // namespace

Decoded decode_wav(std::span<const std::uint8_t> file) {
  const ReleaseSdlThreadState release;
  Decoded out;
  SDL_RWops* rw = open_memory(file, out.error);
  if (rw == nullptr) return out;
  SDL_AudioSpec spec{};
  Uint8* buffer = nullptr;
  Uint32 length = 0;
  if (SDL_LoadWAV_RW(rw, 1, &spec, &buffer, &length) == nullptr) {
    out.error = sdl_error("cannot decode WAV");
    return out;
  }
  out = convert(spec.format, spec.channels, spec.freq, buffer, length);
  SDL_FreeWAV(buffer);
  return out;
}

Decoded decode_with_mixer(std::span<const std::uint8_t> file, int rate, int channels) {
  const ReleaseSdlThreadState release;  // destroyed last: after every SDL call below
  Decoded out;
  if (rate <= 0 || channels <= 0) {
    out.error = fmt::format("cannot decode audio of {} channels at {} Hz", channels, rate);
    return out;
  }
  std::lock_guard lock(sdl_audio_mutex());

  // Mix_LoadWAV_RW needs an open mixer, and an open mixer needs an audio device. Without an SDL
  // audio user in this process we bring SDL audio up on the "dummy" driver (no hardware, whatever
  // SDL_AUDIODRIVER says) just for this call. With the sdl output running, SDL audio is already
  // up on the real driver and the mixer opens a second, silent device next to the output's.
  bool own_init = false;
  if (SDL_WasInit(SDL_INIT_AUDIO) == 0) {
    set_sdl_hints();
    SDL_SetHintWithPriority(SDL_HINT_AUDIODRIVER, "dummy", SDL_HINT_OVERRIDE);
    const int rc = SDL_InitSubSystem(SDL_INIT_AUDIO);
    SDL_ResetHint(SDL_HINT_AUDIODRIVER);
    if (rc != 0) {
      out.error = sdl_error("cannot start SDL audio (dummy driver) for decoding");
      return out;
    }
    own_init = true;
  }
  const char* driver = SDL_GetCurrentAudioDriver();
  const std::string driver_name = driver != nullptr ? driver : "?";

  // The mixer is opened at the file's own rate and channel count, S16, with allowed_changes = 0
  // (plain Mix_OpenAudio would let the device change them): SDL_mixer's decoders then deliver the
  // samples unconverted, and convert() does the one conversion to 48 kHz stereo, tail included.
  // A channel layout SDL refuses for a device falls back to stereo (SDL_mixer downmixes; that
  // changes no lengths). The buffer size only sets the decode fragment size.
  int mix_channels = channels;
  int opened = Mix_OpenAudioDevice(rate, kFormat, mix_channels, 4096, nullptr, 0);
  if (opened != 0 && channels != kChannels) {
    mix_channels = kChannels;
    opened = Mix_OpenAudioDevice(rate, kFormat, mix_channels, 4096, nullptr, 0);
  }
  if (opened != 0) {
    out.error = fmt::format("cannot open SDL_mixer for decoding on audio driver '{}': {}", driver_name,
                            Mix_GetError());
  } else {
    int got_rate = 0;
    Uint16 got_format = 0;
    int got_channels = 0;
    Mix_QuerySpec(&got_rate, &got_format, &got_channels);
    if (got_rate != rate || got_format != kFormat || got_channels != mix_channels) {
      out.error = fmt::format("SDL_mixer opened at {} Hz, format 0x{:x}, {} channels instead of {} Hz S16, {} channels",
                              got_rate, got_format, got_channels, rate, mix_channels);
    } else if (SDL_RWops* rw = open_memory(file, out.error); rw != nullptr) {
      // Decodes the whole file into memory (freesrc = 1 closes rw in every case).
      if (Mix_Chunk* chunk = Mix_LoadWAV_RW(rw, 1); chunk != nullptr) {
        out = convert(kFormat, mix_channels, rate, chunk->abuf, chunk->alen);
        Mix_FreeChunk(chunk);
      } else {
        out.error = fmt::format("cannot decode: {}", Mix_GetError());
      }
    }
    Mix_CloseAudio();
  }
  if (own_init) SDL_QuitSubSystem(SDL_INIT_AUDIO);
  return out;
}

}  // namespace chorus::playback::detail
