#pragma once
// GainStage: the room's volume and mute, applied to every block the sync engine renders, between
// the engine and the output. The io thread sets a target gain (an atomic); the audio thread
// ramps the gain it applies towards it frame by frame (playback/volume.hpp). It never locks,
// waits, allocates or frees, and it changes only sample values: the engine's position, and so
// which frame is heard when, is the same at any gain.

#include <atomic>
#include <cstdint>
#include <span>

#include "chorus/playback/audio_output.hpp"

namespace chorus::playback {

class GainStage final : public Renderer {
 public:
  /// Scales what `source` renders. `source` must outlive this stage.
  explicit GainStage(Renderer& source) : source_(source) {}

  /// Any thread (the io thread): the gain to ramp to, 0..1. Before the first block, the stage
  /// starts at this gain without a ramp (a room restarted at 40 does not begin at full volume).
  void set_target(float gain) { target_.store(gain, std::memory_order_relaxed); }
  float target() const { return target_.load(std::memory_order_relaxed); }
  /// Any thread: the gain applied to the last frame of the last block rendered.
  float applied() const { return applied_seen_.load(std::memory_order_relaxed); }

  /// Audio thread: the source's block, scaled.
  void render(std::span<std::int16_t> interleaved, std::int64_t audible_at_local_us) override;
  double timing_error_us() const override { return source_.timing_error_us(); }

 private:
  static_assert(std::atomic<float>::is_always_lock_free);

  Renderer& source_;
  std::atomic<float> target_{1.0f};
  std::atomic<float> applied_seen_{1.0f};
  // audio thread only
  float applied_ = 1.0f;
  bool primed_ = false;
};

}  // namespace chorus::playback
