// ClockSync accuracy against a simulated path (clock/path_model.hpp): offsets, drift, jitter,
// outliers and asymmetric paths, each over many seeded runs. The bounds asserted here are the
// ones docs/clock.md quotes; the measured values there come from the same scenarios.

#include "clock/path_model.hpp"

#include <chorus/clock/clock_sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <optional>
#include <vector>

using chorus::clock::ClockSync;
using chorus::clock::SamplingPolicy;
using chorus::clock::test::kJittery;
using chorus::clock::test::kLoopback;
using chorus::clock::test::Leg;
using chorus::clock::test::PathModel;
using chorus::clock::test::SimulatedPath;

namespace {


/// Feeds samples into one run.
using Feed = std::function<void(SimulatedPath&, ClockSync&)>;

/// `count` samples, one every `interval_us`.
Feed every(std::int64_t interval_us, int count) {
  return [=](SimulatedPath& path, ClockSync& sync) { path.feed(sync, count, interval_us); };
}

/// Samples as `policy` spaces them, for `seconds`.
Feed by_policy(int seconds, const SamplingPolicy& policy = {}) {
  return [=](SimulatedPath& path, ClockSync& sync) {
    const std::int64_t end = path.now_us() + std::int64_t{seconds} * 1'000'000;
    while (path.now_us() < end) {
      path.feed(sync, 1, policy.next_interval_us(sync));
    }
  };
}

/// What the runs of one scenario measured.
struct Runs {
  std::vector<double> errors;        ///< |estimated − true offset|, µs
  std::vector<double> drift_errors;  ///< |estimated − true drift|, ppm
  std::vector<double> offsets;       ///< estimated offset, µs (signed)
  int bound_misses = 0;              ///< runs whose error exceeded error_us()
  int drift_fits = 0;                ///< runs that fitted a drift

  double worst() const { return *std::max_element(errors.begin(), errors.end()); }
  double p95() const { return percentile95(errors); }
  double worst_drift() const { return *std::max_element(drift_errors.begin(), drift_errors.end()); }
  double p95_drift() const { return percentile95(drift_errors); }

  static double percentile95(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    return values[(values.size() * 95 + 99) / 100 - 1];
  }
};

/// Runs `model` with seeds 1…`seeds`, measuring `ahead_us` after the last reply.
Runs run(const PathModel& model, int seeds, const Feed& feed, std::int64_t ahead_us = 0) {
  Runs runs;
  for (int seed = 1; seed <= seeds; ++seed) {
    SimulatedPath path(model, static_cast<std::uint64_t>(seed));
    ClockSync sync;
    feed(path, sync);
    const std::int64_t at = path.now_us() + ahead_us;
    const double error = path.error_us(sync, at);
    runs.errors.push_back(std::abs(error));
    runs.offsets.push_back(sync.offset_us(at));
    runs.drift_errors.push_back(std::abs(sync.drift_ppm() - model.drift_ppm));
    runs.bound_misses += std::abs(error) > sync.error_us() ? 1 : 0;
    runs.drift_fits += sync.drift_ppm() != 0 ? 1 : 0;
  }
  return runs;
}

PathModel path(Leg both, std::int64_t offset_us = 0, double drift_ppm = 0) {
  PathModel model;
  model.forward = both;
  model.backward = both;
  model.offset_us = offset_us;
  model.drift_ppm = drift_ppm;
  return model;
}

}  // namespace

TEST_CASE("with 0-200 us symmetric jitter the offset is within 20 us once 30 s are sampled") {
  const Runs runs = run(path(kLoopback, 2'500'000), 50, by_policy(30));
  CAPTURE(runs.p95(), runs.worst());
  CHECK(runs.worst() <= 20);
  CHECK(runs.bound_misses == 0);
}

TEST_CASE("with 0-200 us symmetric jitter the join burst alone gives the offset within 50 us") {
  const Runs runs = run(path(kLoopback, -2'500'000), 50, every(30'000, 10));
  CAPTURE(runs.p95(), runs.worst());
  CHECK(runs.p95() <= 35);
  CHECK(runs.worst() <= 50);
  CHECK(runs.bound_misses == 0);
}

TEST_CASE("with 10 ms +- 5 ms jitter the offset is within 100 us once 60 s are sampled") {
  const Runs runs = run(path(kJittery, 1'000'000), 30, by_policy(60));
  CAPTURE(runs.p95(), runs.worst());
  CHECK(runs.worst() <= 100);
  CHECK(runs.bound_misses == 0);
}

TEST_CASE("with 10 ms +- 5 ms jitter the offset is within 100 us at p95 after 30 s") {
  const Runs runs = run(path(kJittery, 1'000'000), 40, by_policy(30));
  CAPTURE(runs.p95(), runs.worst());
  CHECK(runs.p95() <= 100);
}

TEST_CASE("a jittery path settled at the faster rate has under half the error after 30 s") {
  SamplingPolicy quiet_rate;  // the settle rate of a quiet path, whatever the jitter
  quiet_rate.jittery_path_us = std::numeric_limits<double>::infinity();
  const Runs slower = run(path(kJittery, 1'000'000), 40, by_policy(30, quiet_rate));
  const Runs faster = run(path(kJittery, 1'000'000), 40, by_policy(30));
  CAPTURE(slower.p95(), faster.p95());
  CHECK(faster.p95() <= slower.p95() / 2);
}

TEST_CASE("a drift below the noise of a jittery path is not fitted") {
  const Runs runs = run(path(kJittery), 40, by_policy(60));
  CAPTURE(runs.drift_fits);
  CHECK(runs.drift_fits <= 2);
}

TEST_CASE("an asymmetric path biases the offset by exactly half the asymmetry") {
  PathModel model = path(kLoopback, 3'000'000);
  model.forward = {20'000, 20'000};
  model.backward = {5'000, 5'000};
  const Runs runs = run(model, 10, by_policy(30));
  for (const double offset : runs.offsets) {
    // θ̂ = θ + (forward − backward)/2: no round trip can tell a slow request from a fast clock.
    CHECK(offset == Approx(3'000'000 + 7'500).margin(1));
  }
}

TEST_CASE("with jitter on an asymmetric path the bias is half the difference of the floors") {
  PathModel model = path(kLoopback, -3'000'000);
  model.forward = {18'000, 22'000};
  model.backward = {3'000, 7'000};
  const Runs runs = run(model, 20, by_policy(60));
  for (const double offset : runs.offsets) {
    CHECK(offset == Approx(-3'000'000 + (18'000 - 3'000) / 2).margin(100));
  }
}

TEST_CASE("outliers delayed 50 ms on a tenth of the round trips barely move the estimate") {
  // Same seeds, same base delays: the only difference is the outliers (their own RNG stream).
  // Without drift the floors keep their samples (≤ 1 µs); with a fitted drift a hull vertex may
  // be one of the delayed round trips and the next one takes its place (≤ 10 µs).
  const auto [drift, allowed] = GENERATE(table<double, double>({{0.0, 1.0}, {50.0, 10.0}}));
  const PathModel clean = path(kLoopback, 1'000'000, drift);
  PathModel noisy = clean;
  noisy.outlier_rate = 0.1;
  const Runs without = run(clean, 30, by_policy(60), 1'000'000);
  const Runs with = run(noisy, 30, by_policy(60), 1'000'000);
  for (std::size_t i = 0; i < with.offsets.size(); ++i) {
    CAPTURE(drift, i);
    CHECK(std::abs(with.offsets[i] - without.offsets[i]) <= allowed);
  }
  CHECK(with.worst() <= 20);
}

TEST_CASE("outliers on a jittery path leave the offset within 200 us") {
  PathModel model = path(kJittery, 1'000'000);
  model.outlier_rate = 0.1;
  const Runs runs = run(model, 30, by_policy(60));
  CAPTURE(runs.p95(), runs.worst());
  CHECK(runs.worst() <= 200);
}

TEST_CASE("a 100 ppm drift is followed: 60 s of samples predict 2 s ahead within 20 us") {
  const double drift = GENERATE(100.0, -100.0);
  const std::int64_t offset = GENERATE(std::int64_t{-1'000'000'000}, std::int64_t{1'000'000'000});
  const Runs runs = run(path({20, 120}, offset, drift), 30, every(1'000'000, 60), 2'000'000);
  CAPTURE(drift, offset, runs.p95(), runs.worst(), runs.worst_drift());
  CHECK(runs.worst() <= 20);
  CHECK(runs.worst_drift() <= 1);
}

TEST_CASE("a 100 ppm drift is fitted within 5 s of joining") {
  const Runs runs = run(path(kLoopback, 0, 100), 40, by_policy(5), 1'000'000);
  CAPTURE(runs.p95(), runs.p95_drift());
  CHECK(runs.drift_fits == 40);
  CHECK(runs.p95_drift() <= 15);
  CHECK(runs.p95() <= 60);  // 1 s ahead; ignoring the drift would be ≥ 100 µs off
}

TEST_CASE("a 100 ppm drift on a 10 ms +- 5 ms path is followed within 200 us at p95 after 300 s") {
  const Runs runs = run(path(kJittery, 0, -100), 20, by_policy(300), 1'000'000);
  CAPTURE(runs.p95(), runs.p95_drift());
  CHECK(runs.p95() <= 200);
  CHECK(runs.p95_drift() <= 2);
}

namespace {

/// The worst |error| 100 ms ahead of each reply (where the engine schedules) from 3 s to 60 s of
/// policy sampling after a leader change, per seed: the new leader runs 100 ppm fast behind
/// 1–3 ms legs (test_sync_failover's path), and the window starts with `prior_ppm`, if any.
std::vector<double> worst_after_leader_change(std::optional<double> prior_ppm, int seeds) {
  std::vector<double> worst;
  for (int seed = 1; seed <= seeds; ++seed) {
    SimulatedPath link(path({1'000, 3'000}, 5'000'000, 100), static_cast<std::uint64_t>(seed));
    ClockSync sync;
    if (prior_ppm) sync.set_prior_drift(*prior_ppm);
    const SamplingPolicy policy;
    const std::int64_t start = link.now_us();
    double seed_worst = 0;
    while (link.now_us() < start + 60'000'000) {
      link.feed(sync, 1, policy.next_interval_us(sync));
      if (link.now_us() < start + 3'000'000) continue;
      seed_worst = std::max(seed_worst, std::abs(link.error_us(sync, link.now_us() + 100'000)));
    }
    worst.push_back(seed_worst);
  }
  return worst;
}

}  // namespace

TEST_CASE("a new leader's rate derived from the old one's keeps the estimate on it from the start") {
  // With no prior the flat estimate lags the new leader until a drift is fitted, then steps.
  const double without = Runs::percentile95(worst_after_leader_change(std::nullopt, 40));
  // The prior is two estimates' difference, each off by a few ppm.
  const double prior_off = GENERATE(-5.0, 0.0, 5.0);
  const double with = Runs::percentile95(worst_after_leader_change(100 + prior_off, 40));
  CAPTURE(prior_off, without, with);
  CHECK(with <= 250);
  CHECK(without >= 2 * with);
}

TEST_CASE("offsets of a billion microseconds on a decades-old steady clock lose no precision") {
  const std::int64_t offset =
      GENERATE(std::int64_t{-1'000'000'000}, std::int64_t{1'000'000'000});
  PathModel model = path({20, 120}, offset, 100);
  model.local_start_us = 1'000'000'000'000'000;  // ~31 years of uptime
  const Runs runs = run(model, 10, every(1'000'000, 60), 2'000'000);
  CAPTURE(runs.worst());
  CHECK(runs.worst() <= 20);
}

namespace {

/// The worst |error| 100 ms ahead of each reply in the 10 s after a leader change, per seed, on
/// test_sync_failover's path (the new leader 100 ppm fast behind 1–3 ms legs): for a window
/// sampled since `kept_s` before the change (the heir's, 0: a new window started at the change
/// with the exact prior rate).
std::vector<double> worst_in_10_s_after_change(int kept_s, int seeds) {
  std::vector<double> worst;
  for (int seed = 1; seed <= seeds; ++seed) {
    SimulatedPath link(path({1'000, 3'000}, 5'000'000, 100), static_cast<std::uint64_t>(seed));
    ClockSync sync;
    if (kept_s == 0) sync.set_prior_drift(100);
    const SamplingPolicy policy;
    const std::int64_t change = link.now_us() + std::int64_t{kept_s} * 1'000'000;
    double seed_worst = 0;
    while (link.now_us() < change + 10'000'000) {
      link.feed(sync, 1, policy.next_interval_us(sync));
      if (link.now_us() < change || !sync.synced()) continue;
      seed_worst = std::max(seed_worst, std::abs(link.error_us(sync, link.now_us() + 100'000)));
    }
    worst.push_back(seed_worst);
  }
  return worst;
}

}  // namespace

TEST_CASE("the heir's window, kept from before the change, beats a new one even at the exact rate") {
  // A new window's first seconds rest on a few round trips of a jittery path; the heir's window
  // has had them all along: 10 s of them in test_sync_failover's run-up, a minute in a cluster
  // that has played one.
  const double fresh = Runs::percentile95(worst_in_10_s_after_change(0, 40));
  const double kept_10_s = Runs::percentile95(worst_in_10_s_after_change(10, 40));
  const double kept_60_s = Runs::percentile95(worst_in_10_s_after_change(60, 40));
  CAPTURE(fresh, kept_10_s, kept_60_s);
  CHECK(1.5 * kept_10_s <= fresh);
  CHECK(kept_60_s <= 100);
  CHECK(4 * kept_60_s <= fresh);
}
