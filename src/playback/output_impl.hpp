#pragma once
// Constructors of the outputs, for make_output() (output_factory.cpp).

#include <chrono>
#include <memory>
#include <string>

#include "chorus/playback/audio_output.hpp"
#include "device_backend.hpp"

namespace chorus::playback::detail {

/// Paced by steady_clock, discards the samples. `note` is appended to describe() (e.g. why it
/// replaced the sdl output).
std::unique_ptr<AudioOutput> make_null_output(int block_frames, std::chrono::microseconds extra_latency,
                                              std::string note = {});

/// Paced by steady_clock, writes raw S16LE to `path` (regular file or FIFO), opened on the
/// output's thread.
std::unique_ptr<AudioOutput> make_file_output(std::string path, int block_frames,
                                              std::chrono::microseconds extra_latency);

struct SdlOpenResult {
  std::unique_ptr<AudioOutput> output;  ///< device open (playing silence until start()), or nullptr
  std::string error;
  std::string fallback;  ///< without a device: why the null output stands in, for its describe()
  std::string advice;    ///< without a device: added to the log line
};

/// Opens the default audio device through SDL2_mixer at 48 kHz stereo S16 (silent until start()).
/// One per process: while one is open, another is refused.
SdlOpenResult open_sdl_output(int block_frames, std::chrono::microseconds extra_latency);

/// alsa-lib: the PCM `device` ("default", "hw:1", "plughw:CARD=Device", "pulse:SINK", ...).
/// Nothing is opened until DeviceBackend::open().
std::unique_ptr<DeviceBackend> make_alsa_backend(std::string device);

/// libpulse (PulseAudio, or PipeWire's pulse server): a playback stream on `sink` (empty: the
/// server's default sink). The server is the one libpulse finds (PULSE_SERVER, the user's
/// runtime directory). Nothing is connected until DeviceBackend::open().
std::unique_ptr<DeviceBackend> make_pulse_backend(std::string sink);

/// True when a PulseAudio-compatible server answers within `timeout` (no autospawn).
bool pulse_server_answers(std::chrono::milliseconds timeout);

/// True when ALSA's `device` opens for playback (opened non-blocking and closed at once).
bool alsa_device_opens(const std::string& device);

/// Runs `backend` on a thread of its own (device_output.cpp): the output for alsa and pulse.
std::unique_ptr<AudioOutput> make_device_output(std::unique_ptr<DeviceBackend> backend, int block_frames,
                                                std::chrono::microseconds extra_latency);

}  // namespace chorus::playback::detail
