// make_output(): "auto", "alsa[:DEVICE]", "pulse[:SINK]", "sdl", "null" or "file:PATH" → an
// AudioOutput.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/playback/audio_output.hpp"
#include "output_impl.hpp"

namespace chorus::playback {

namespace {
constexpr int kMinBlockFrames = 16;     // 1/3 ms
constexpr int kMaxBlockFrames = 48000;  // 1 s (SDL takes at most 65535)
/// How long `auto` waits for a sound server to answer before trying ALSA.
constexpr auto kServerProbeTimeout = std::chrono::milliseconds(500);

/// The part after "NAME:" of `spec` when spec is NAME or NAME:ARG; nullopt for other names.
std::optional<std::string> argument_of(std::string_view spec, std::string_view name) {
  if (spec == name) return std::string();
  if (spec.size() > name.size() && spec.starts_with(name) && spec[name.size()] == ':') {
    return std::string(spec.substr(name.size() + 1));
  }
  return std::nullopt;
}

MakeOutputResult sdl_or_null(int block_frames, std::chrono::microseconds extra_latency) {
  auto sdl = detail::open_sdl_output(block_frames, extra_latency);
  if (sdl.output) return {std::move(sdl.output), {}};
  spdlog::warn("sdl output: {}; falling back to the null output{}", sdl.error, sdl.advice);
  return {detail::make_null_output(block_frames, extra_latency, "fallback: " + sdl.fallback), {}};
}

/// `auto`: the output that knows best when its audio is heard, among those this machine has.
MakeOutputResult choose_output(int block_frames, std::chrono::microseconds extra_latency) {
  if (detail::pulse_server_answers(kServerProbeTimeout)) {
    spdlog::info("output auto: a PulseAudio/PipeWire server answers; using pulse (its default sink)");
    return {detail::make_device_output(detail::make_pulse_backend({}), block_frames, extra_latency), {}};
  }
  if (detail::alsa_device_opens("default")) {
    spdlog::info("output auto: no sound server; ALSA's default device opens; using alsa:default");
    return {detail::make_device_output(detail::make_alsa_backend("default"), block_frames, extra_latency), {}};
  }
  spdlog::info("output auto: no sound server and no ALSA default device; trying sdl");
  return sdl_or_null(block_frames, extra_latency);
}

}  // namespace

MakeOutputResult make_output(std::string_view spec, int block_frames, std::chrono::microseconds extra_latency) {
  if (block_frames < kMinBlockFrames || block_frames > kMaxBlockFrames) {
    return {nullptr, fmt::format("audio block size {} frames is out of range ({}..{})", block_frames,
                                 kMinBlockFrames, kMaxBlockFrames)};
  }
  if (spec == "auto") return choose_output(block_frames, extra_latency);
  if (spec == "null") return {detail::make_null_output(block_frames, extra_latency), {}};
  if (spec == "sdl") return sdl_or_null(block_frames, extra_latency);
  if (auto device = argument_of(spec, "alsa")) {
    if (device->empty()) *device = "default";
    return {detail::make_device_output(detail::make_alsa_backend(std::move(*device)), block_frames, extra_latency), {}};
  }
  if (auto sink = argument_of(spec, "pulse")) {
    return {detail::make_device_output(detail::make_pulse_backend(std::move(*sink)), block_frames, extra_latency), {}};
  }
  if (auto path = argument_of(spec, "file")) {
    if (path->empty()) return {nullptr, "output 'file:' needs a path: file:PATH"};
    return {detail::make_file_output(std::move(*path), block_frames, extra_latency), {}};
  }
  return {nullptr, fmt::format("unknown output '{}': expected auto, alsa[:DEVICE], pulse[:SINK], sdl, null or "
                               "file:PATH",
                               spec)};
}

}  // namespace chorus::playback
