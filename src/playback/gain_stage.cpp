#include "chorus/playback/gain_stage.hpp"

#include "chorus/playback/volume.hpp"

namespace chorus::playback {

void GainStage::render(std::span<std::int16_t> interleaved, std::int64_t audible_at_local_us) {
  source_.render(interleaved, audible_at_local_us);
  const float target = target_.load(std::memory_order_relaxed);
  if (!primed_) {
    applied_ = target;
    primed_ = true;
  }
  applied_ = apply_gain(interleaved, applied_, target);
  applied_seen_.store(applied_, std::memory_order_relaxed);
}

}  // namespace chorus::playback
