#pragma once
// Private helpers around the output format (include/chorus/playback/format.hpp): 48 kHz,
// 2 channels, signed 16-bit little-endian, interleaved.

#include <cstdint>

#include "chorus/playback/format.hpp"

namespace chorus::playback::detail {

/// kOutputRate as the int that SDL's APIs take.
inline constexpr int kSampleRate = static_cast<int>(kOutputRate);

/// frames → µs, truncated, without overflow for any realistic count.
constexpr std::int64_t frames_to_us(std::int64_t frames) {
  return frames / kOutputRate * 1'000'000 + frames % kOutputRate * 1'000'000 / kOutputRate;
}

/// frames → ns, truncated to whole ns, without overflow for any realistic count. Callers compute
/// every deadline from a total frame count, so the truncation never accumulates.
constexpr std::int64_t frames_to_ns(std::int64_t frames) {
  return frames / kOutputRate * 1'000'000'000 + frames % kOutputRate * 1'000'000'000 / kOutputRate;
}

}  // namespace chorus::playback::detail
