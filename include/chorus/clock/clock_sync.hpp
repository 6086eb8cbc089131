#pragma once
// ClockSync: estimates the leader's clock (offset and rate) from four-timestamp round trips and
// converts between leader time and local time. Pure: it owns no clock, no socket, no thread;
// every time is passed in (integer microseconds of a steady clock). docs/clock.md explains the
// estimator and the bounds the tests prove.
//
// Contract with the shell that owns it:
//   - t0/t3 are the follower's steady clock, t1/t2 the leader's, each stamped where the bytes
//     meet the socket.
//   - Call reset() whenever the leader changes (or the leader's process restarts): a window that
//     mixes two leaders' clocks is meaningless, and the estimator cannot detect it by itself.
//     If the new leader's rate is known from elsewhere, hand it over with set_prior_drift().
//   - Ask SamplingPolicy when to send the next TIME_REQUEST; the shell owns the timer. While a
//     sample is held back (held_samples() > 0) it should re-measure at the burst rate.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>

#include "chorus/clock/clock_mapping.hpp"

namespace chorus::clock {

/// One round trip: t0 request sent (local), t1 request received (leader), t2 reply sent (leader),
/// t3 reply received (local).
struct Sample {
  std::int64_t t0_us = 0;
  std::int64_t t1_us = 0;
  std::int64_t t2_us = 0;
  std::int64_t t3_us = 0;

  /// θ = ((t1 − t0) + (t2 − t3)) / 2: leader minus local, as this sample alone sees it.
  double offset_us() const;
  /// δ = (t3 − t0) − (t2 − t1): the round trip's time on the wire.
  std::int64_t delay_us() const;
  friend bool operator==(const Sample&, const Sample&) = default;
};

/// What add_sample did with a sample.
enum class SampleVerdict {
  accepted,
  out_of_range,      ///< a negative timestamp (steady clocks and the wire are ≥ 0)
  local_backwards,   ///< t3 < t0: the local clock ran backwards
  leader_backwards,  ///< t2 < t1: the leader's clock ran backwards
  negative_delay,    ///< δ < 0: the leader held the request longer than the round trip took
  held,              ///< valid, but its offset contradicts the estimate beyond both their
                     ///< uncertainties: kept aside, the estimate unchanged (a jump to re-measure)
  step,              ///< held, and it confirmed the held departure: the window restarted from the
                     ///< held samples (a step of the leader's clock, adopted)
};

/// Rejected samples by reason, counted since construction (reset() keeps them: diagnostics).
struct RejectCounts {
  std::uint64_t out_of_range = 0;
  std::uint64_t local_backwards = 0;
  std::uint64_t leader_backwards = 0;
  std::uint64_t negative_delay = 0;

  std::uint64_t total() const {
    return out_of_range + local_backwards + leader_backwards + negative_delay;
  }
  friend bool operator==(const RejectCounts&, const RejectCounts&) = default;
};

/// What became of samples that contradicted the estimate, counted since construction (reset()
/// keeps them: diagnostics).
struct JumpCounts {
  std::uint64_t held_back = 0;  ///< samples held back, whatever became of them
  std::uint64_t outliers = 0;   ///< held samples dropped: refuted before they were confirmed
  std::uint64_t steps = 0;      ///< departures confirmed and adopted as a step of the leader's clock
  double last_step_us = 0;      ///< how far the last adopted step moved the offset
  friend bool operator==(const JumpCounts&, const JumpCounts&) = default;
};

/// Tuning of the estimator; the defaults are what docs/clock.md measures.
struct ClockSyncConfig {
  std::size_t window = 512;                   ///< samples kept (oldest dropped first)
  std::int64_t max_age_us = 600'000'000;      ///< samples older than this, vs the newest, dropped
  std::size_t min_samples = 4;                ///< synced() once the window holds this many
  std::int64_t min_drift_span_us = 2'000'000; ///< a drift may be fitted once the window spans this
  double max_drift_ppm = 1000.0;              ///< fitted drift is clamped to ± this
  /// A sample whose offset departs from the estimate by more than the estimate's error, the
  /// sample's own half round trip, what max_drift_ppm allows since the reference instant and this
  /// margin is held back rather than used (docs/clock.md).
  double jump_margin_us = 1'000.0;
  std::size_t step_samples = 5;                ///< held samples that confirm a step...
  std::int64_t step_span_us = 1'000'000;       ///< ...spanning at least this long, all consistent
};

/// A snapshot for `status` / `debug`.
struct ClockStatus {
  bool synced = false;
  std::size_t samples = 0;
  double offset_us = 0;       ///< at the instant asked for
  double drift_ppm = 0;
  std::int64_t min_delay_us = 0;
  double error_us = 0;        ///< see ClockSync::error_us
  double jitter_us = 0;       ///< see ClockSync::jitter_us
  RejectCounts rejected;
  std::size_t held = 0;       ///< samples held back now (a departure being re-measured)
  JumpCounts jumps;
};

/// Leader-clock estimate from round-trip samples: the forward and backward minimum-delay floors
/// over a bounded window, sloped by a drift (rate) fit once the data show a drift beyond their
/// noise. Samples are expected in reply order; the newest reply is the reference instant.
///
/// A sample that contradicts the estimate (its offset departs by more than both uncertainties
/// allow) does not move it: it is held back. Held samples that stay consistent with each other
/// for config.step_samples samples over config.step_span_us are a step of the leader's clock, and
/// the window restarts from them; a held sample that a later consistent sample refutes is dropped
/// as an outlier.
class ClockSync {
 public:
  explicit ClockSync(ClockSyncConfig config = {});

  /// Adds one round trip and re-estimates; an impossible sample is counted and not used, one that
  /// contradicts the estimate is held back (see the class comment).
  SampleVerdict add_sample(std::int64_t t0_us, std::int64_t t1_us, std::int64_t t2_us,
                           std::int64_t t3_us);
  /// Forgets every sample, held ones included, the estimate and the prior drift (leader change);
  /// reject and jump counts are kept.
  void reset();
  /// The rate to assume until the window shows its own beyond its noise, instead of none: a new
  /// leader's rate derived from the old one's (docs/clock.md, "Staleness and leader changes").
  /// Clamped to ± config.max_drift_ppm; a value that is not a number is ignored.
  void set_prior_drift(double ppm);

  /// True once the window holds at least config.min_samples samples.
  bool synced() const;
  /// Samples in the window.
  std::size_t sample_count() const;

  /// The estimate: local → leader time, referred to the newest reply (identity while empty).
  const ClockMapping& mapping() const;
  /// Local time at which the leader's clock reads `leader_us` (identity while empty).
  std::int64_t to_local(std::int64_t leader_us) const;
  /// Leader time when the local clock reads `local_us`; to_local's inverse within 1 µs.
  std::int64_t to_leader(std::int64_t local_us) const;
  /// Leader minus local at local instant `at_local_us`: offset + drift · (at − reference).
  double offset_us(std::int64_t at_local_us) const;
  /// Leader rate minus local rate, in parts per million; the prior (0 unless set) until the window
  /// spans config.min_drift_span_us and the data show another drift beyond their noise.
  double drift_ppm() const;
  /// Least round-trip delay in the window (0 while empty).
  std::int64_t min_delay_us() const;
  /// Error estimate, a bound if the path's two one-way floors are equal and the clock model is
  /// right: half the gap between the forward and backward floors at the reference instant (about
  /// min_delay/2), plus the model's doubt (what an unfitted drift could move, or the floors'
  /// disagreement on a fitted one times the lever arm). Typical errors are far smaller, about
  /// jitter/samples (docs/clock.md); a path asymmetry adds to any of this undetected. While
  /// samples are held back it widens to cover them too: the estimate may be the wrong one.
  double error_us() const;
  /// Median minus least round-trip delay in the window: the path's queueing jitter.
  double jitter_us() const;
  /// Rejected samples by reason.
  const RejectCounts& rejected() const;
  /// Samples held back now, awaiting confirmation or refutation.
  std::size_t held_samples() const;
  /// Held-back samples, outliers dropped and steps adopted.
  const JumpCounts& jumps() const;
  /// Everything above in one value, offset taken at `at_local_us`.
  ClockStatus status(std::int64_t at_local_us) const;

 private:
  struct Estimate {
    ClockMapping mapping;  ///< referred to the newest reply
    double error_us = 0;
    std::int64_t min_delay_us = 0;
    double jitter_us = 0;
  };

  void evict();
  void refit();
  bool may_fit_drift() const;
  /// How far `s`'s offset is from the estimate, beyond what the uncertainties allow (> 0: it
  /// contradicts the estimate).
  double excess_departure(const Sample& s) const;
  /// True if `s` and every held sample can be readings of one offset.
  bool consistent_with_held(const Sample& s) const;
  void hold(const Sample& s);
  void drop_held();
  void adopt_held();

  ClockSyncConfig config_;
  std::deque<Sample> window_;
  std::deque<Sample> held_;  ///< consecutive samples contradicting the estimate, oldest first
  Estimate estimate_;
  double prior_drift_ = 0;  ///< as a fraction (ppm · 1e-6)
  RejectCounts rejected_;
  JumpCounts jumps_;
};

/// When to send the next TIME_REQUEST: a quick burst on join or leader change, a settling phase,
/// then a slow steady rate.
struct SamplingPolicy {
  std::size_t burst_samples = 10;
  std::int64_t burst_interval_us = 30'000;
  std::size_t settle_samples = 240;
  /// At most the heartbeat interval (see within_heartbeat): requests and answers that come that
  /// often stand in for the link's heartbeats in both directions.
  std::int64_t settle_interval_us = 200'000;
  /// A path whose jitter (ClockSync::jitter_us) is above this settles faster and on more samples:
  /// the error falls like jitter / N, so a jittery path needs more samples for the same error.
  double jittery_path_us = 1'000;
  std::size_t jittery_settle_samples = 480;
  std::int64_t jittery_settle_interval_us = 100'000;
  std::int64_t steady_interval_us = 1'000'000;
  /// The node's heartbeat interval: the settle phases keep within it (within_heartbeat), and a
  /// request may move this much early onto a wake-up the io thread has anyway (next_request_at_us).
  std::int64_t heartbeat_interval_us = 200'000;

  /// Delay from now to the next request, given the samples in the window, synced(), whether
  /// samples are held back (then re-measure at the burst rate, to settle the question quickly)
  /// and the window's jitter.
  std::int64_t next_interval_us(std::size_t samples, bool synced, bool holding = false,
                                double jitter_us = 0) const;
  /// The same, read off the window itself.
  std::int64_t next_interval_us(const ClockSync& window) const;

  /// This policy for a node whose heartbeat interval is `interval_us`, its settle
  /// phases no slower than that. A link that carries a frame at least once per heartbeat interval
  /// gets no heartbeat (net/maintenance_schedule.hpp); a slower sampling rate would leave the
  /// leader one wake-up for each request and another for each heartbeat in its gaps, from every
  /// follower.
  SamplingPolicy within_heartbeat(std::int64_t interval_us) const;

  /// The instant (µs) to send the next request `interval_us` after the last one was due at
  /// `last_due_us`: on absolute deadlines, so that a late wake-up does not push every later
  /// request later (from `now_us` if that deadline has passed already, after a stall: no catching
  /// up). When the io thread wakes anyway at `shared_us` (the network's next maintenance run)
  /// before that deadline, the request moves to the last instant a whole number of heartbeat
  /// intervals after it and not past the deadline: a follower's maintenance runs are its
  /// heartbeat rounds, one every heartbeat interval, so the request then shares a round's
  /// wake-up, steps onto the rounds at once and, on absolute deadlines, stays there. Never later
  /// than the deadline, and earlier by less than a heartbeat interval (or the interval itself).
  std::int64_t next_request_at_us(std::int64_t last_due_us, std::int64_t now_us, std::int64_t interval_us,
                                  std::optional<std::int64_t> shared_us) const;
};

}  // namespace chorus::clock
