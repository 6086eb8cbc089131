#include "chorus/playback/volume.hpp"

#include <algorithm>
#include <cmath>

namespace chorus::playback {

float volume_gain(int volume) {
  const auto fraction = static_cast<float>(std::clamp(volume, kMinVolume, kMaxVolume)) / kMaxVolume;
  return fraction * fraction * fraction;
}

float room_gain(int volume, bool muted) { return muted ? 0.0f : volume_gain(volume); }

std::int16_t scale_sample(std::int16_t sample, float gain) {
  // |sample · gain| ≤ 32768 for a gain in 0..1, so the result is a sample again.
  return static_cast<std::int16_t>(std::lround(static_cast<float>(sample) * gain));
}

float apply_gain(std::span<std::int16_t> interleaved, float applied, float target) {
  if (applied == target) {
    if (target == 1.0f) return target;  // volume 100: the samples as the engine made them
    if (target == 0.0f) {
      std::fill(interleaved.begin(), interleaved.end(), std::int16_t{0});
      return target;
    }
    for (auto& sample : interleaved) sample = scale_sample(sample, target);
    return target;
  }
  for (std::size_t i = 0; i + 1 < interleaved.size(); i += 2) {
    applied = step_towards(applied, target);
    interleaved[i] = scale_sample(interleaved[i], applied);
    interleaved[i + 1] = scale_sample(interleaved[i + 1], applied);
  }
  return applied;
}

}  // namespace chorus::playback
