// make_output(): "sdl", "null" or "file:PATH" → an AudioOutput.

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/playback/audio_output.hpp"
#include "output_impl.hpp"

namespace chorus::playback {

namespace {
constexpr int kMinBlockFrames = 16;     // 1/3 ms
constexpr int kMaxBlockFrames = 48000;  // 1 s (SDL takes at most 65535)
}  // namespace

MakeOutputResult make_output(std::string_view spec, int block_frames, std::chrono::microseconds extra_latency) {
  if (block_frames < kMinBlockFrames || block_frames > kMaxBlockFrames) {
    return {nullptr, fmt::format("audio block size {} frames is out of range ({}..{})", block_frames,
                                 kMinBlockFrames, kMaxBlockFrames)};
  }
  if (spec == "null") return {detail::make_null_output(block_frames, extra_latency), {}};
  if (spec == "sdl") {
    auto sdl = detail::open_sdl_output(block_frames, extra_latency);
    if (sdl.output) return {std::move(sdl.output), {}};
    spdlog::warn("sdl output: {}; falling back to the null output{}", sdl.error, sdl.advice);
    return {detail::make_null_output(block_frames, extra_latency, "fallback: " + sdl.fallback), {}};
  }
  constexpr std::string_view kFilePrefix = "file:";
  if (spec.starts_with(kFilePrefix)) {
    const std::string_view path = spec.substr(kFilePrefix.size());
    if (path.empty()) return {nullptr, "output 'file:' needs a path: file:PATH"};
    return {detail::make_file_output(std::string(path), block_frames, extra_latency), {}};
  }
  return {nullptr, fmt::format("unknown output '{}': expected sdl, null or file:PATH", spec)};
}

}  // namespace chorus::playback
