#pragma once
// DeviceClock: the line through a sound device's own reports of when each block is heard.
//
// Before every block, a device output asks the device when the next frame it writes will be
// heard (ALSA: status timestamp + delay; PulseAudio: now + stream latency). Each answer is exact
// on average but scattered: the report is taken at a moment the scheduler chose, the device's
// pointer moves in steps of its own period, a sound server interpolates between timing updates.
// Fed straight to the sync engine, that scatter would become frames repeated and dropped. But
// the truth is a straight line — frame k is heard at t0 + k · (frame period of the device's
// crystal) — so the output follows an alpha-beta filter of the reports instead: the phase moves
// by a fraction of each residual, the device's rate by a smaller one. The engine then sees the
// device's true drift (which it slews, as for any clock) and little of the noise.
//
// A report further than `reset_us` from the line is a new timeline (an underrun restarted the
// stream, a sound server moved the stream): the phase restarts from it, the learnt rate is kept.
// Pure: no clock, no thread; time is passed in.

#include <cstdint>

#include "chorus/playback/format.hpp"

namespace chorus::playback {

struct DeviceClockTuning {
  /// Fraction of a residual taken into the phase: the line follows a change of the reports
  /// within about 1 / phase_gain blocks (20).
  double phase_gain = 0.05;
  /// Fraction of a residual (per frame elapsed) taken into the rate. Far below critical damping
  /// (phase_gain² / 4) on purpose: a crystal's rate changes over minutes, and a rate learnt as
  /// fast as the phase would turn the reports' scatter into a wandering rate (measured on a
  /// PulseAudio stream: ±70 ppm of wander at critical damping). The rate is learnt with a time
  /// constant of phase_gain / rate_gain blocks (25 s at 10 ms blocks); until then the phase
  /// absorbs the drift with a lag of (drift per block) / phase_gain: 20 µs at 100 ppm.
  double rate_gain = 0.00002;
  std::int64_t reset_us = 2000;  ///< a residual beyond this starts a new timeline
  double max_rate_ppm = 1000;    ///< a crystal is never further off than this; the rate is clamped
};

class DeviceClock {
 public:
  explicit DeviceClock(DeviceClockTuning tuning = {}) : tuning_(tuning) {}

  /// The device says frame `frame` (counted since the stream opened) is heard at local µs
  /// `reported_us`. Returns when the line puts that frame. Frames must not go backwards within
  /// a timeline.
  std::int64_t update(std::int64_t frame, std::int64_t reported_us);
  /// Forget the phase (the device's timeline restarted: an xrun, a reopen); keep the rate.
  void restart_timeline();

  /// Mean absolute residual of recent reports: how far a single report strays from the line.
  double jitter_us() const { return jitter_us_; }
  /// The device's clock against the local clock, in ppm (positive: the device runs fast).
  double rate_ppm() const;
  /// Reports that jumped away from the line and started a new timeline.
  std::uint64_t timeline_jumps() const { return jumps_; }

 private:
  void start_at(std::int64_t frame, std::int64_t reported_us);

  DeviceClockTuning tuning_;
  bool have_line_ = false;
  std::int64_t frame_ = 0;   ///< the frame the line was last evaluated at
  double at_us_ = 0;         ///< where the line puts frame_
  double frame_us_ = kFrameUs;  ///< µs per device frame, as learnt
  double jitter_us_ = 0;
  std::uint64_t jumps_ = 0;
};

}  // namespace chorus::playback
