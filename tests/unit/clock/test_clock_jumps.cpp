// ClockSync's sanity check of what the leader answers: a sample whose offset contradicts the
// estimate beyond both their uncertainties is held back, an isolated one is dropped as an outlier,
// a persistent one is adopted as a step of the leader's clock once confirmed; nothing in normal
// operation (jitter, queueing bursts, drift, asymmetry) trips it.

#include "clock/path_model.hpp"

#include <chorus/clock/clock_sync.hpp>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>

using chorus::clock::ClockSync;
using chorus::clock::ClockSyncConfig;
using chorus::clock::Sample;
using chorus::clock::SampleVerdict;
using chorus::clock::SamplingPolicy;
using chorus::clock::test::kJittery;
using chorus::clock::test::kLoopback;
using chorus::clock::test::Leg;
using chorus::clock::test::PathModel;
using chorus::clock::test::SimulatedPath;

namespace {

constexpr std::int64_t kJump = 300'000;  // what a misbehaving leader adds to its answers

PathModel path(Leg both, std::int64_t offset_us = 0, double drift_ppm = 0) {
  PathModel model;
  model.forward = both;
  model.backward = both;
  model.offset_us = offset_us;
  model.drift_ppm = drift_ppm;
  return model;
}

SampleVerdict add(ClockSync& sync, const Sample& s) {
  return sync.add_sample(s.t0_us, s.t1_us, s.t2_us, s.t3_us);
}

/// The leader's answer to the next round trip, its two stamps moved by `shift`.
Sample answer(SimulatedPath& path, std::int64_t shift = 0) {
  Sample s = path.exchange();
  s.t1_us += shift;
  s.t2_us += shift;
  return s;
}

/// Waits for the next request the way the shell does: the policy's interval from the request's
/// start, at the burst rate while a jump is held back.
void wait_policy(SimulatedPath& path, const ClockSync& sync, std::int64_t start) {
  const SamplingPolicy policy;
  const std::int64_t due = start + policy.next_interval_us(sync);
  if (due > path.now_us()) path.advance(due - path.now_us());
}

/// Samples by the policy until `until`; every answer shifted by `shift(t0)`.
void run_policy(SimulatedPath& path, ClockSync& sync, std::int64_t until,
                const std::function<std::int64_t(std::int64_t)>& shift = {}) {
  while (path.now_us() < until) {
    const std::int64_t start = path.now_us();
    add(sync, answer(path, shift ? shift(start) : 0));
    wait_policy(path, sync, start);
  }
}

/// A ClockSync settled on `model` by 30 s of policy sampling.
struct Settled {
  SimulatedPath path;
  ClockSync sync;

  explicit Settled(const PathModel& model, std::uint64_t seed = 1) : path(model, seed) {
    run_policy(path, sync, path.now_us() + 30'000'000);
    REQUIRE(sync.jumps().held_back == 0);
  }
  void next(std::int64_t shift = 0, std::optional<SampleVerdict> expected = std::nullopt) {
    const std::int64_t start = path.now_us();
    const SampleVerdict verdict = add(sync, answer(path, shift));
    if (expected) CHECK(verdict == *expected);
    wait_policy(path, sync, start);
  }
};

bool same_mapping(const ClockSync& a, const chorus::clock::ClockMapping& b) {
  return a.mapping().ref_local_us == b.ref_local_us && a.mapping().offset_us == b.offset_us &&
         a.mapping().drift == b.drift;
}

}  // namespace

TEST_CASE("one +300 ms answer never moves the estimate, and the next good one drops it as an outlier") {
  // as<>: with an lvalue first, Catch2 would generate references to a temporary.
  const std::int64_t jump = GENERATE(as<std::int64_t>{}, kJump, -kJump);
  Settled s(path(kLoopback, 2'500'000));
  const auto before = s.sync.mapping();
  const double error_before = s.sync.error_us();

  s.next(jump, SampleVerdict::held);
  CHECK(same_mapping(s.sync, before));
  CHECK(s.sync.held_samples() == 1);
  CHECK(s.sync.jumps().held_back == 1);
  // While held, the bound says the estimate may be the wrong one.
  CHECK(s.sync.error_us() >= 0.99 * kJump);
  const auto status = s.sync.status(s.path.now_us());
  CHECK(status.held == 1);
  CHECK(status.jumps.held_back == 1);
  CHECK(status.error_us == s.sync.error_us());

  s.next(0, SampleVerdict::accepted);
  CHECK(s.sync.held_samples() == 0);
  CHECK(s.sync.jumps().outliers == 1);
  CHECK(s.sync.jumps().steps == 0);
  CHECK(s.sync.error_us() <= error_before + 20);
  CHECK(std::abs(s.path.error_us(s.sync, s.path.now_us())) <= 20);
}

TEST_CASE("a burst of +300 ms answers shorter than the confirmation span never moves the estimate") {
  // 20 answers at the burst rate span 0.6 s: more than step_samples, less than step_span_us.
  const int forged = GENERATE(1, 4, 5, 20);
  Settled s(path(kLoopback, -7'000'000));
  const auto before = s.sync.mapping();
  for (int i = 0; i < forged; ++i) {
    s.next(kJump, SampleVerdict::held);
    CHECK(same_mapping(s.sync, before));
  }
  CHECK(s.sync.held_samples() == static_cast<std::size_t>(forged));
  s.next(0, SampleVerdict::accepted);
  CHECK(s.sync.jumps().outliers == static_cast<std::uint64_t>(forged));
  CHECK(s.sync.jumps().steps == 0);
  CHECK(std::abs(s.path.error_us(s.sync, s.path.now_us())) <= 20);
}

TEST_CASE("fewer than step_samples answers never confirm a step, however long they span") {
  ClockSyncConfig config;
  Settled s(path(kLoopback, 1'000'000));
  const auto before = s.sync.mapping();
  for (std::size_t i = 0; i + 1 < config.step_samples; ++i) {
    const std::int64_t start = s.path.now_us();
    CHECK(add(s.sync, answer(s.path, kJump)) == SampleVerdict::held);
    s.path.advance(start + 2'000'000 - s.path.now_us());  // 2 s apart
  }
  CHECK(same_mapping(s.sync, before));
  CHECK(s.sync.jumps().steps == 0);
}

TEST_CASE("a leader forging every other answer for a minute never moves the estimate") {
  Settled s(path(kLoopback, 4'000'000));
  std::uint64_t forged = 0;
  const std::int64_t end = s.path.now_us() + 60'000'000;
  for (int i = 0; s.path.now_us() < end; ++i) {
    if (i % 2 == 0) {
      s.next(kJump, SampleVerdict::held);
      ++forged;
    } else {
      s.next(0, SampleVerdict::accepted);
    }
  }
  CHECK(s.sync.jumps().steps == 0);
  CHECK(s.sync.jumps().held_back == forged);
  CHECK(s.sync.jumps().outliers + s.sync.held_samples() == forged);
  CHECK(std::abs(s.path.error_us(s.sync, s.path.now_us())) <= 20);
}

TEST_CASE("answers off in opposite directions are not one departure: the older is an outlier") {
  Settled s(path(kLoopback));
  s.next(kJump, SampleVerdict::held);
  s.next(-kJump, SampleVerdict::held);
  CHECK(s.sync.held_samples() == 1);
  CHECK(s.sync.jumps().outliers == 1);
  CHECK(s.sync.jumps().held_back == 2);
}

TEST_CASE("a persistent step is adopted once confirmed, within about a second at the burst rate") {
  const auto [leg, jump, accuracy] = GENERATE(table<Leg, std::int64_t, double>({
      {kLoopback, kJump, 50.0},
      {kLoopback, -kJump, 50.0},
      {kLoopback, 5'000, 50.0},  // 5 ms: far beyond a loopback path's uncertainty
      {kJittery, kJump, 1'000.0},
      {kJittery, -kJump, 1'000.0},
      {kJittery, 30'000, 1'000.0},
  }));
  for (std::uint64_t seed = 1; seed <= 10; ++seed) {
    CAPTURE(leg.min_us, jump, seed);
    Settled s(path(leg, 3'000'000, 20), seed);
    const auto before = s.sync.mapping();
    const std::int64_t stepped_at = s.path.now_us();
    std::optional<std::int64_t> adopted_at;
    std::size_t held_when_adopted = 0;
    while (!adopted_at) {
      const std::int64_t start = s.path.now_us();
      const std::size_t held = s.sync.held_samples();
      const SampleVerdict verdict = add(s.sync, answer(s.path, jump));
      if (verdict == SampleVerdict::step) {
        adopted_at = s.path.now_us();
        held_when_adopted = held + 1;
      } else {
        REQUIRE(verdict == SampleVerdict::held);
        REQUIRE(same_mapping(s.sync, before));  // not one sample moved it before confirmation
      }
      wait_policy(s.path, s.sync, start);
      REQUIRE(s.path.now_us() - stepped_at < 3'000'000);
    }
    CHECK(*adopted_at - stepped_at >= ClockSyncConfig{}.step_span_us);
    CHECK(*adopted_at - stepped_at <= 1'200'000);
    CHECK(s.sync.jumps().steps == 1);
    CHECK(s.sync.jumps().outliers == 0);
    CHECK(s.sync.jumps().held_back == held_when_adopted);
    CHECK(s.sync.jumps().last_step_us == Approx(static_cast<double>(jump)).margin(2 * accuracy));
    // The window restarted from the held samples: the estimate is the new clock's alone.
    CHECK(s.sync.sample_count() == held_when_adopted);
    CHECK(s.sync.held_samples() == 0);
    CHECK(std::abs(s.path.error_us(s.sync, *adopted_at) - static_cast<double>(jump)) <= accuracy);
    // And it keeps following the new clock like any other.
    run_policy(s.path, s.sync, s.path.now_us() + 10'000'000, [jump](std::int64_t) { return jump; });
    CHECK(s.sync.jumps().held_back == held_when_adopted);
    CHECK(std::abs(s.path.error_us(s.sync, s.path.now_us()) - static_cast<double>(jump)) <= accuracy);
  }
}

TEST_CASE("a step is adopted on the sample that makes both step_samples and step_span_us") {
  ClockSync sync;
  std::int64_t t = 1'000'000'000'000;
  const auto round_trip = [&](std::int64_t offset) {
    const Sample s{t, t + 50 + offset, t + 80 + offset, t + 130};
    t += 300'000;
    return add(sync, s);
  };
  for (int i = 0; i < 10; ++i) REQUIRE(round_trip(0) == SampleVerdict::accepted);
  // At 300 ms apart, 4 samples span 0.9 s, the 5th 1.2 s.
  for (int i = 0; i < 4; ++i) CHECK(round_trip(kJump) == SampleVerdict::held);
  CHECK(round_trip(kJump) == SampleVerdict::step);
  CHECK(sync.sample_count() == 5);
  CHECK(sync.offset_us(t) == Approx(kJump));
  CHECK(sync.error_us() == Approx(50).margin(1));
}

TEST_CASE("a departure within the sample's own uncertainty is not a jump") {
  ClockSync sync;
  std::int64_t t = 1'000'000'000'000;
  // Every request and reply takes 50 µs, the leader holds the request 30 µs.
  const auto next = [&](std::int64_t forward, std::int64_t backward) {
    const Sample s{t, t + forward, t + forward + 30, t + forward + 30 + backward};
    t = std::max(t + 30'000, s.t3_us + 1'000);  // one request at a time
    return s;
  };
  for (int i = 0; i < 10; ++i) add(sync, next(50, 50));
  REQUIRE(sync.error_us() == Approx(50));
  // A request queued 400 ms on its way: its offset is 200 ms off, and so is its half round trip.
  CHECK(add(sync, next(400'050, 50)) == SampleVerdict::accepted);
  CHECK(add(sync, next(50, 900'050)) == SampleVerdict::accepted);
  CHECK(sync.jumps().held_back == 0);
  CHECK(sync.offset_us(t) == Approx(0).margin(1));

  // Just inside and just outside what the uncertainties allow, from the same estimate.
  const Sample base = next(50, 50);
  const std::int64_t mid = base.t0_us + (base.t3_us - base.t0_us) / 2;
  const double allowed = sync.error_us() + static_cast<double>(base.delay_us()) / 2 +
                         ClockSyncConfig{}.jump_margin_us +
                         1e-3 * std::abs(static_cast<double>(mid - sync.mapping().ref_local_us));
  const double predicted = sync.offset_us(mid);
  const auto shifted = [&](double departure) {
    const auto by = static_cast<std::int64_t>(std::llround(predicted + departure));
    return Sample{base.t0_us, base.t1_us + by, base.t2_us + by, base.t3_us};
  };
  for (const double sign : {1.0, -1.0}) {
    ClockSync inside = sync;
    CHECK(add(inside, shifted(sign * (allowed - 2))) == SampleVerdict::accepted);
    ClockSync outside = sync;
    CHECK(add(outside, shifted(sign * (allowed + 2))) == SampleVerdict::held);
  }
}

TEST_CASE("nothing in normal operation is held back: jitter, queueing bursts, drift, asymmetry") {
  struct Scenario {
    const char* name;
    PathModel model;
    int seconds;
  };
  PathModel bursty = path(kLoopback, 1'000'000);
  bursty.outlier_rate = 0.1;
  PathModel bursty_jittery = path(kJittery, -1'000'000, 100);
  bursty_jittery.outlier_rate = 0.1;
  PathModel long_queues = path(kLoopback, 0, -50);
  long_queues.outlier_rate = 0.05;
  long_queues.outlier_us = 2'000'000;  // 2 s stuck in a queue
  PathModel asymmetric = path(kLoopback, 3'000'000, 100);
  asymmetric.forward = {18'000, 22'000};
  asymmetric.backward = {3'000, 7'000};
  const Scenario scenarios[] = {
      {"loopback", path(kLoopback, 2'500'000), 60},
      {"jittery", path(kJittery, 1'000'000'000), 60},
      {"loopback +100 ppm", path(kLoopback, 0, 100), 60},
      {"loopback -300 ppm", path({20, 120}, -1'000'000'000, -300), 60},
      {"loopback +500 ppm", path(kLoopback, 0, 500), 60},
      {"loopback +1000 ppm", path(kLoopback, 0, 1000), 30},
      {"jittery -100 ppm", path(kJittery, 0, -100), 300},
      {"jittery +500 ppm", path(kJittery, 0, 500), 120},
      {"loopback, 10 % delayed 50 ms", bursty, 60},
      {"jittery +100 ppm, 10 % delayed 50 ms", bursty_jittery, 60},
      {"loopback -50 ppm, 5 % delayed 2 s", long_queues, 60},
      {"asymmetric 18-22 / 3-7 ms +100 ppm", asymmetric, 60},
  };
  for (const Scenario& scenario : scenarios) {
    for (std::uint64_t seed = 1; seed <= 20; ++seed) {
      CAPTURE(scenario.name, seed);
      SimulatedPath p(scenario.model, seed);
      ClockSync sync;
      run_policy(p, sync, p.now_us() + std::int64_t{scenario.seconds} * 1'000'000);
      CHECK(sync.jumps().held_back == 0);
    }
  }
}

TEST_CASE("samples at a steady 1 s over ten minutes with a drift are never held back") {
  for (const double drift : {-200.0, 100.0, 400.0}) {
    for (std::uint64_t seed = 1; seed <= 5; ++seed) {
      CAPTURE(drift, seed);
      SimulatedPath p(path(kJittery, 5'000'000, drift), seed);
      ClockSync sync;
      p.feed(sync, 600, 1'000'000);
      CHECK(sync.jumps().held_back == 0);
    }
  }
}

TEST_CASE("reset clears the hold and keeps the counts") {
  Settled s(path(kLoopback, 2'000'000));
  s.next(kJump, SampleVerdict::held);
  REQUIRE(s.sync.held_samples() == 1);
  s.sync.reset();
  CHECK(s.sync.held_samples() == 0);
  CHECK(s.sync.error_us() == 0);
  CHECK(s.sync.status(s.path.now_us()).held == 0);
  CHECK(s.sync.jumps().held_back == 1);
  CHECK(s.sync.jumps().outliers == 0);
  // A new leader's clock, however far from the old one, starts a fresh window.
  s.next(-50'000'000, SampleVerdict::accepted);
  CHECK(s.sync.sample_count() == 1);
  CHECK(s.sync.offset_us(s.path.now_us()) == Approx(2'000'000 - 50'000'000).margin(200));
}

TEST_CASE("after a silence longer than max_age a departed sample starts a fresh window") {
  ClockSync sync(ClockSyncConfig{.max_age_us = 60'000'000});
  std::int64_t t = 1'000'000'000'000;
  for (int i = 0; i < 10; ++i, t += 30'000) add(sync, Sample{t, t + 50, t + 80, t + 130});
  t += 120'000'000;
  CHECK(add(sync, Sample{t, t + 50 + kJump, t + 80 + kJump, t + 130}) == SampleVerdict::accepted);
  CHECK(sync.sample_count() == 1);
  CHECK(sync.jumps().held_back == 0);
}

TEST_CASE("while a jump is held back the policy re-measures at the burst rate") {
  const SamplingPolicy policy;
  CHECK(policy.next_interval_us(512, true, true) == 30'000);
  CHECK(policy.next_interval_us(100, true, true) == 30'000);
  CHECK(policy.next_interval_us(512, true, false) == 1'000'000);
  CHECK(policy.next_interval_us(512, true) == 1'000'000);
}
