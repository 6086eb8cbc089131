#pragma once
// When the next frame written to an ALSA PCM will be heard, from one status read: the reasoning
// is in output_alsa.cpp's header. Pure functions, so that the choice between the device's
// timestamp and our own clock reads is tested without a device that stamps badly.

#include <cstdint>
#include <optional>

#include "output_format.hpp"

namespace chorus::playback::detail {

/// A device timestamp older than this at the end of the status call is taken to be on another
/// clock. A real stamp is from within the call (the kernel refreshes hw_ptr there).
inline constexpr std::int64_t kOldestDeviceStampUs = 1'000'000;
/// How far a device timestamp may lie after our own read that ends the status call: none on the
/// same clock, so only rounding to whole µs.
inline constexpr std::int64_t kDeviceStampAfterCallSlackUs = 1'000;

/// `stamp_us` (the status's htstamp, in µs) when it is on the steady clock: not zero, not after
/// the call ended at `after_us`, not implausibly older than its start at `before_us`.
constexpr std::optional<std::int64_t> steady_device_stamp_us(std::int64_t stamp_us, std::int64_t before_us,
                                                             std::int64_t after_us) {
  if (stamp_us == 0) return std::nullopt;
  if (stamp_us > after_us + kDeviceStampAfterCallSlackUs) return std::nullopt;
  if (stamp_us < before_us - kOldestDeviceStampUs) return std::nullopt;
  return stamp_us;
}

/// The steady-clock µs at which the next frame written is heard: `delay_frames` after the instant
/// the status describes, which is the device's stamp when it is usable and otherwise the middle of
/// the status call.
constexpr std::int64_t audible_instant_us(std::optional<std::int64_t> steady_stamp_us, std::int64_t before_us,
                                          std::int64_t after_us, std::int64_t delay_frames) {
  const std::int64_t measured_at = steady_stamp_us ? *steady_stamp_us : before_us + (after_us - before_us) / 2;
  return measured_at + frames_to_us(delay_frames);
}

}  // namespace chorus::playback::detail
