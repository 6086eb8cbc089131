#pragma once
// The one output format every node plays: 48 kHz, stereo, signed 16-bit little-endian.

#include <cstdint>

namespace chorus::playback {

/// Output frames per second; frame numbers and frame counts on the wire are at this rate.
inline constexpr std::int64_t kOutputRate = 48'000;
/// One frame's duration at kOutputRate, in µs (20.83).
inline constexpr double kFrameUs = 1e6 / static_cast<double>(kOutputRate);
/// Interleaved channels per frame.
inline constexpr int kChannels = 2;
/// Bytes per sample (S16LE).
inline constexpr int kBytesPerSample = 2;
/// Bytes per frame: one sample per channel.
inline constexpr int kBytesPerFrame = kChannels * kBytesPerSample;

}  // namespace chorus::playback
