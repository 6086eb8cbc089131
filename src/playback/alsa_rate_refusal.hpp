#pragma once
// The line the alsa output logs when a device cannot play 48 kHz, with the device to use instead.
// A pure function, so that its advice is tested without a sound card.

#include <string>
#include <string_view>

#include <fmt/format.h>

namespace chorus::playback::detail {

/// The rates `device` offers are [min_hz, max_hz] and exclude 48000. A `hw:` device talks to the
/// card directly and converts nothing; the same card behind ALSA's plug layer (`plughw:`) or the
/// `default` device resamples for us.
inline std::string alsa_rate_refusal(std::string_view device, unsigned min_hz, unsigned max_hz) {
  const std::string offers = min_hz == max_hz ? fmt::format("it offers only {} Hz", min_hz)
                                              : fmt::format("it offers {}–{} Hz", min_hz, max_hz);
  constexpr std::string_view kDirect = "hw:";
  const std::string instead = device.substr(0, kDirect.size()) == kDirect
                                  ? fmt::format("use plughw:{} or default", device.substr(kDirect.size()))
                                  : fmt::format("use plug:'{}' or default", device);
  return fmt::format("ALSA device '{}' refuses 48000 Hz ({}); {}", device, offers, instead);
}

}  // namespace chorus::playback::detail
