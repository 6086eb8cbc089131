#pragma once
// Room volume in the audio path: the curve from a volume (0..100, as users set it) to a gain, and
// the ramp that moves the gain the audio thread applies towards a new target without a click.
// Pure and allocation-free: apply_gain() runs on the audio thread.
//
// Curve: gain = (volume / 100)³. Loudness follows the logarithm of the gain, and a cubic spends
// the slider's travel evenly enough (50 is −18 dB, 25 is −36 dB, 10 is −60 dB) while 0 is exact
// silence and 100 exact unity (a dB curve needs a special case at 0). The gain never exceeds 1:
// a room can only be quieter than the track, so nothing clips.
//
// Ramp: the applied gain moves by at most 1/960 per frame, so a full swing (mute, unmute, 0 to
// 100) takes 960 frames = 20 ms and a smaller change proportionally less. A step in gain scales
// every later sample at once, which is heard as a click; spread over 10 ms or more the same
// change is heard as a fade. 20 ms keeps a margin above that and stays short enough that a mute
// feels immediate (well under the ~50 ms at which a delay after a key press is noticed). The
// largest change one frame of gain can make to a full-scale sample is 32768/960 ≈ 34 of 32768.

#include <cstdint>
#include <span>

namespace chorus::playback {

inline constexpr int kMinVolume = 0;
inline constexpr int kMaxVolume = 100;

/// Frames a full ramp (gain 0 to 1) takes: 20 ms at 48 kHz.
inline constexpr int kRampFrames = 960;
/// The most the applied gain moves from one frame to the next.
inline constexpr float kRampStep = 1.0f / static_cast<float>(kRampFrames);

/// The gain of `volume` (clamped to 0..100): (volume / 100)³; exactly 0 at 0 and 1 at 100.
float volume_gain(int volume);

/// What a room plays at: its volume's gain, or 0 while muted.
float room_gain(int volume, bool muted);

/// The applied gain one frame later: `applied` moved towards `target` by at most kRampStep,
/// landing exactly on `target` when within reach.
constexpr float step_towards(float applied, float target) {
  if (applied < target) return target - applied <= kRampStep ? target : applied + kRampStep;
  if (applied > target) return applied - target <= kRampStep ? target : applied - kRampStep;
  return target;
}

/// One sample scaled by `gain` (0..1), rounded to nearest.
std::int16_t scale_sample(std::int16_t sample, float gain);

/// Scales interleaved stereo frames in place, both channels of a frame by the same gain, which
/// steps from `applied` towards `target` frame by frame (step_towards). Returns the gain applied
/// to the last frame (`applied` for an empty block). At unity with the target at unity the block
/// is left untouched: playback at volume 100 is bit-exact.
float apply_gain(std::span<std::int16_t> interleaved, float applied, float target);

}  // namespace chorus::playback
