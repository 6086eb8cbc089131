#pragma once
// Decoding whole files to 48 kHz stereo S16, and the one lock that serialises chorus's use of the
// SDL audio subsystem (SDL_InitSubSystem/QuitSubSystem, SDL_mixer, opening and closing devices).
// See docs/audio.md, "Decoding".

#include <cstdint>
#include <mutex>
#include <span>
#include <string>
#include <vector>

namespace chorus::playback::detail {

/// Held around every SDL audio subsystem init/quit, device open/close and all SDL_mixer calls.
/// Never taken on an audio thread.
std::mutex& sdl_audio_mutex();

/// Sets the process-wide SDL hints chorus relies on (no SDL signal handlers: SIGINT/SIGTERM stay
/// the node's). Call with sdl_audio_mutex() held, before initialising SDL audio.
void set_sdl_hints();

struct Decoded {
  std::vector<std::int16_t> samples;  ///< interleaved stereo at 48 kHz
  std::string error;
};

/// RIFF/WAVE through SDL_LoadWAV_RW, then SDL_AudioStream when the file is not 48 kHz stereo S16
/// (fed trailing silence so the resampler gives back its tail; cut to round(frames·48000/rate)).
/// Needs no audio device and no lock: any thread, concurrently.
Decoded decode_wav(std::span<const std::uint8_t> file);

/// Anything SDL2_mixer reads (FLAC, Ogg Vorbis, Opus, MP3, ...) through Mix_LoadWAV_RW on a
/// mixer opened only for this call at the file's own `rate` and `channels` (from the probe), S16,
/// allowed_changes = 0; then converted like decode_wav(). When SDL audio is not initialised yet,
/// it is initialised with the "dummy" driver for the call (no sound card needed) and shut down
/// again. Takes sdl_audio_mutex(): these decodes run one at a time.
Decoded decode_with_mixer(std::span<const std::uint8_t> file, int rate, int channels);

}  // namespace chorus::playback::detail
