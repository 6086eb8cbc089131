// DeviceClock: the smoothed line through a device's reports of when each block is heard.

#include <catch2/catch.hpp>

#include <cmath>
#include <cstdint>
#include <random>

#include "chorus/playback/device_clock.hpp"

using chorus::playback::DeviceClock;
using chorus::playback::kFrameUs;

namespace {

constexpr std::int64_t kBlock = 480;
constexpr std::int64_t kStartUs = 1'000'000'000;

/// When a device whose crystal runs `ppm` fast really plays frame `frame`.
double true_instant(std::int64_t frame, double ppm) {
  return static_cast<double>(kStartUs) + static_cast<double>(frame) * kFrameUs / (1.0 + ppm * 1e-6);
}

struct Run {
  double worst_error_us = 0;  ///< |line − truth| after settling
  double rms_error_us = 0;
};

/// Feeds `blocks` reports of a device `ppm` fast, scattered uniformly by ±`noise_us`; measures
/// the line against the truth from block `settle` on.
Run feed(DeviceClock& clock, int blocks, double ppm, double noise_us, int settle, std::int64_t first_frame = 0) {
  std::mt19937 random(7);
  std::uniform_real_distribution<double> scatter(-noise_us, noise_us);
  Run run;
  double sum_sq = 0;
  int counted = 0;
  for (int n = 0; n < blocks; ++n) {
    const std::int64_t frame = first_frame + n * kBlock;
    const double truth = true_instant(frame, ppm);
    const auto reported = static_cast<std::int64_t>(std::llround(truth + (noise_us > 0 ? scatter(random) : 0)));
    const double error = static_cast<double>(clock.update(frame, reported)) - truth;
    if (n >= settle) {
      run.worst_error_us = std::max(run.worst_error_us, std::abs(error));
      sum_sq += error * error;
      ++counted;
    }
  }
  run.rms_error_us = counted > 0 ? std::sqrt(sum_sq / counted) : 0;
  return run;
}

}  // namespace

TEST_CASE("device clock: exact reports of a nominal device are passed through") {
  DeviceClock clock;
  const auto run = feed(clock, 1000, 0, 0, 0);
  CHECK(run.worst_error_us <= 1.0);  // rounding to whole µs only
  CHECK(std::abs(clock.rate_ppm()) < 0.5);
  CHECK(clock.jitter_us() < 1.0);
  CHECK(clock.timeline_jumps() == 0);
}

TEST_CASE("device clock: a drifting device is followed closely while its rate is learnt") {
  for (double ppm : {-300.0, -50.0, 80.0, 500.0}) {
    INFO("device " << ppm << " ppm");
    DeviceClock clock;
    // The phase absorbs the unlearnt drift with a lag of (drift per block) / phase gain:
    // 10 ms · ppm / 0.05, e.g. 20 µs at 100 ppm, shrinking as the rate is learnt.
    const double lag_bound_us = 10'000 * std::abs(ppm) * 1e-6 / 0.05 + 1;
    const auto early = feed(clock, 2000, ppm, 0, 100);
    CHECK(early.worst_error_us <= lag_bound_us);
    // After 2 minutes (about 5 time constants of the rate) the rate is known and the lag gone.
    DeviceClock settled;
    const auto late = feed(settled, 12'000, ppm, 0, 11'000);
    CHECK(settled.rate_ppm() == Approx(ppm).margin(std::abs(ppm) * 0.02 + 0.5));
    CHECK(late.worst_error_us <= lag_bound_us * 0.05 + 1);
    CHECK(settled.timeline_jumps() == 0);
  }
}

TEST_CASE("device clock: scattered reports are smoothed to a fraction of their scatter") {
  DeviceClock clock;
  const double noise = 500;  // ±500 µs: a sound server's interpolated latency at its worst seen
  const auto run = feed(clock, 12'000, 120, noise, 1000);
  // A phase gain of 0.05 passes √(0.05 / 1.95) ≈ a sixth of white scatter (rms 289 µs)
  CHECK(run.rms_error_us < 289.0 / 4);
  CHECK(run.worst_error_us < noise / 2);
  // and the scatter does not make the rate wander
  CHECK(clock.rate_ppm() == Approx(120).margin(10));
  // the mean absolute scatter of uniform ±500 µs is 250 µs
  CHECK(clock.jitter_us() == Approx(250).margin(60));
  CHECK(clock.timeline_jumps() == 0);
}

TEST_CASE("device clock: a jump beyond the reset threshold starts a new timeline at once, keeping the rate") {
  DeviceClock clock;
  feed(clock, 12'000, 200, 0, 0);
  REQUIRE(clock.rate_ppm() == Approx(200).margin(5));
  // The device restarted (an underrun): its reports now lie 5 ms later than the old line
  const std::int64_t frame = 12'000 * kBlock;
  const auto later = static_cast<std::int64_t>(std::llround(true_instant(frame, 200))) + 5000;
  const double rate_before = clock.rate_ppm();
  CHECK(clock.update(frame, later) == later);
  CHECK(clock.timeline_jumps() == 1);
  CHECK(clock.rate_ppm() == rate_before);
  // and the next reports on the new line pass through
  const auto next = static_cast<std::int64_t>(std::llround(true_instant(frame + kBlock, 200))) + 5000;
  CHECK(std::abs(clock.update(frame + kBlock, next) - next) <= 1);
}

TEST_CASE("device clock: a small step is followed smoothly, not jumped") {
  DeviceClock clock;
  feed(clock, 500, 0, 0, 0);
  // the reports move 1 ms later (a sound server changed its latency): below the reset threshold
  std::int64_t out = 0;
  std::int64_t last_step = 0;
  int blocks_to_follow = -1;
  for (int n = 500; n < 1000; ++n) {
    const std::int64_t frame = n * kBlock;
    const auto reported = static_cast<std::int64_t>(std::llround(true_instant(frame, 0))) + 1000;
    out = clock.update(frame, reported);
    const std::int64_t step_taken = out - static_cast<std::int64_t>(std::llround(true_instant(frame, 0)));
    // overdamped: the step is followed, hardly overshot
    CHECK(step_taken <= 1010);
    if (blocks_to_follow < 0 && std::abs(step_taken - 1000) < 50) blocks_to_follow = n - 500;
    last_step = step_taken;
  }
  CHECK(std::abs(last_step - 1000) < 20);  // settled after 5 s
  CHECK(clock.timeline_jumps() == 0);
  CHECK(blocks_to_follow > 5);    // not at once: the engine slews it
  CHECK(blocks_to_follow < 100);  // but within a second
  // The step leaves a small false rate behind (it decays over the rate's time constant); what
  // it does to the line, (rate · block) / phase gain, stays under 10 µs.
  CHECK(std::abs(clock.rate_ppm()) < 50);
}

TEST_CASE("device clock: a rate beyond any real crystal is clamped") {
  DeviceClock clock;
  feed(clock, 20'000, 20'000, 0, 0);  // 2 % off: a broken report, not a crystal
  CHECK(clock.rate_ppm() == Approx(1000).margin(0.5));
}

TEST_CASE("device clock: frames going backwards start a new timeline") {
  DeviceClock clock;
  feed(clock, 100, 0, 0, 0);
  const auto reported = kStartUs + 123;
  CHECK(clock.update(0, reported) == reported);
  CHECK(clock.timeline_jumps() == 1);
}

TEST_CASE("device clock: restart_timeline() takes the next report as it is") {
  DeviceClock clock;
  feed(clock, 100, 0, 0, 0);
  clock.restart_timeline();
  const std::int64_t frame = 100 * kBlock;
  const auto reported = static_cast<std::int64_t>(std::llround(true_instant(frame, 0))) + 1500;  // below reset
  CHECK(clock.update(frame, reported) == reported);
  CHECK(clock.timeline_jumps() == 0);  // a restart asked for is not counted as a jump
}
