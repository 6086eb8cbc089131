#pragma once
// A simulated follower ↔ leader path for ClockSync tests: the leader's clock is the follower's
// plus an offset and a drift; each direction has its own delay range; some round trips are
// delayed further (outliers). Deterministic: a seeded mt19937_64 and integer arithmetic.

#include <chorus/clock/clock_sync.hpp>

#include <cmath>
#include <cstdint>
#include <random>

namespace chorus::clock::test {

/// One direction's one-way delay: uniform in [min_us, max_us].
struct Leg {
  std::int64_t min_us = 40;
  std::int64_t max_us = 40;
};

/// The two paths the clock tests run on.
inline constexpr Leg kLoopback{20, 220};       // 0–200 µs of jitter on a 20 µs floor
inline constexpr Leg kJittery{5'000, 15'000};  // 10 ms ± 5 ms

struct PathModel {
  std::int64_t local_start_us = 1'000'000'000'000;  ///< a steady clock after ~11 days of uptime
  std::int64_t offset_us = 0;                       ///< leader − local at local_start_us
  double drift_ppm = 0;                             ///< leader rate − local rate
  Leg forward;                                      ///< request: follower → leader
  Leg backward;                                     ///< reply: leader → follower
  Leg hold{20, 200};                                ///< leader's time between t1 and t2
  double outlier_rate = 0;                          ///< share of round trips delayed further
  std::int64_t outlier_us = 50'000;                 ///< the extra delay, on one or both legs
};

class SimulatedPath {
 public:
  /// Outliers draw from their own stream, so the same seed with and without outliers gives the
  /// same base delays: the outliers' effect can be measured exactly.
  explicit SimulatedPath(PathModel model, std::uint64_t seed = 1)
      : model_(model), rng_(seed), outlier_rng_(~seed), now_us_(model.local_start_us) {}

  /// The leader's clock reading at local instant `local_us`.
  std::int64_t leader_at(std::int64_t local_us) const {
    return local_us + std::llround(true_offset_us(local_us));
  }
  /// leader − local at local instant `local_us`, exactly.
  double true_offset_us(std::int64_t local_us) const {
    return static_cast<double>(model_.offset_us) +
           model_.drift_ppm * 1e-6 * static_cast<double>(local_us - model_.local_start_us);
  }

  /// One round trip starting now; the local clock then stands at its t3.
  Sample exchange() {
    std::int64_t forward = draw(model_.forward);
    std::int64_t backward = draw(model_.backward);
    if (chance(model_.outlier_rate)) {
      const std::uint64_t legs = outlier_rng_() % 3;  // 0 forward, 1 backward, 2 both
      if (legs != 1) forward += model_.outlier_us;
      if (legs != 0) backward += model_.outlier_us;
    }
    const std::int64_t hold = draw(model_.hold);
    Sample s;
    s.t0_us = now_us_;
    s.t1_us = leader_at(now_us_ + forward);
    s.t2_us = s.t1_us + hold;
    s.t3_us = now_us_ + forward + hold + backward;
    now_us_ = s.t3_us;
    return s;
  }

  /// Feeds `count` round trips, one every `interval_us` (start to start), into `sync`.
  void feed(ClockSync& sync, int count, std::int64_t interval_us) {
    for (int i = 0; i < count; ++i) {
      const std::int64_t start = now_us_;
      const Sample s = exchange();
      sync.add_sample(s.t0_us, s.t1_us, s.t2_us, s.t3_us);
      now_us_ = std::max(now_us_, start + interval_us);
    }
  }

  std::int64_t now_us() const { return now_us_; }
  void advance(std::int64_t us) { now_us_ += us; }

  /// ClockSync's error at local instant `at_us`: estimated minus true offset.
  double error_us(const ClockSync& sync, std::int64_t at_us) const {
    return sync.offset_us(at_us) - true_offset_us(at_us);
  }

 private:
  std::int64_t draw(Leg leg) {
    const auto range = static_cast<std::uint64_t>(leg.max_us - leg.min_us + 1);
    return leg.min_us + static_cast<std::int64_t>(rng_() % range);
  }
  bool chance(double p) { return static_cast<double>(outlier_rng_() >> 11) * 0x1p-53 < p; }

  PathModel model_;
  std::mt19937_64 rng_;
  std::mt19937_64 outlier_rng_;
  std::int64_t now_us_;
};

}  // namespace chorus::clock::test
