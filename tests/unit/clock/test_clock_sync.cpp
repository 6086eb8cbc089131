// ClockSync mechanics: sample validation, conversions, window bounds, reset, sampling policy.
// Accuracy against a path model is in test_clock_accuracy.cpp.

#include "clock/path_model.hpp"

#include <chorus/clock/clock_sync.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>

using chorus::clock::ClockSync;
using chorus::clock::ClockSyncConfig;
using chorus::clock::Sample;
using chorus::clock::SampleVerdict;
using chorus::clock::SamplingPolicy;
using chorus::clock::test::PathModel;
using chorus::clock::test::SimulatedPath;

namespace {

constexpr std::int64_t kBase = 1'000'000'000'000;  // a local steady clock after ~11 days

/// A round trip starting at local `t0` on a path with `offset` (leader − local), one-way delays
/// `forward` and `backward`, and the leader holding the request `hold` µs.
Sample round_trip(std::int64_t t0, std::int64_t offset, std::int64_t forward,
                  std::int64_t backward, std::int64_t hold = 30) {
  const std::int64_t t1 = t0 + forward + offset;
  return {t0, t1, t1 + hold, t0 + forward + hold + backward};
}

SampleVerdict add(ClockSync& sync, const Sample& s) {
  return sync.add_sample(s.t0_us, s.t1_us, s.t2_us, s.t3_us);
}

}  // namespace

TEST_CASE("a sample's offset and delay follow the four-timestamp formulas") {
  const Sample s{100, 5'150, 5'170, 240};
  CHECK(s.offset_us() == Approx(((5'150 - 100) + (5'170 - 240)) / 2.0));
  CHECK(s.delay_us() == (240 - 100) - (5'170 - 5'150));
}

TEST_CASE("a sample whose reply arrives before its request left is rejected and counted") {
  ClockSync sync;
  CHECK(sync.add_sample(kBase, kBase + 10, kBase + 20, kBase - 1) ==
        SampleVerdict::local_backwards);
  CHECK(sync.rejected().local_backwards == 1);
  CHECK(sync.rejected().total() == 1);
  CHECK(sync.sample_count() == 0);
}

TEST_CASE("a sample whose leader clock runs backwards is rejected and counted") {
  ClockSync sync;
  CHECK(sync.add_sample(kBase, kBase + 20, kBase + 10, kBase + 100) ==
        SampleVerdict::leader_backwards);
  CHECK(sync.rejected().leader_backwards == 1);
  CHECK(sync.sample_count() == 0);
}

TEST_CASE("a sample in which the leader held the request longer than the round trip is rejected") {
  ClockSync sync;
  CHECK(sync.add_sample(kBase, kBase + 10, kBase + 200, kBase + 100) ==
        SampleVerdict::negative_delay);
  CHECK(sync.rejected().negative_delay == 1);
  CHECK(sync.sample_count() == 0);
  CHECK_FALSE(sync.synced());
}

TEST_CASE("a sample with a negative timestamp is rejected and counted") {
  ClockSync sync;
  CHECK(sync.add_sample(-5, 10, 20, 30) == SampleVerdict::out_of_range);
  CHECK(sync.add_sample(5, 10, 20, -30) == SampleVerdict::out_of_range);
  CHECK(sync.rejected().out_of_range == 2);
  CHECK(sync.sample_count() == 0);
}

TEST_CASE("a round trip with zero delay is accepted") {
  ClockSync sync;
  CHECK(add(sync, round_trip(kBase, 7'000, 0, 0)) == SampleVerdict::accepted);
  CHECK(sync.min_delay_us() == 0);
  CHECK(sync.offset_us(kBase) == Approx(7'000));
}

TEST_CASE("an empty ClockSync converts by identity and is not synced") {
  const ClockSync sync;
  CHECK_FALSE(sync.synced());
  CHECK(sync.to_local(kBase) == kBase);
  CHECK(sync.to_leader(kBase) == kBase);
  CHECK(sync.offset_us(kBase) == 0);
  CHECK(sync.drift_ppm() == 0);
  CHECK(sync.error_us() == 0);
}

TEST_CASE("one sample's estimate is its own offset, with half its delay as the error bound") {
  ClockSync sync;
  add(sync, round_trip(kBase, -2'500'000, 300, 100));
  // θ = offset + (forward − backward)/2 = offset + 100; δ = 400.
  CHECK(sync.offset_us(kBase) == Approx(-2'500'000 + 100));
  CHECK(sync.min_delay_us() == 400);
  CHECK(sync.error_us() == Approx(200));
}

TEST_CASE("synced needs at least min_samples accepted samples") {
  ClockSync sync;
  for (int i = 0; i < 3; ++i) add(sync, round_trip(kBase + i * 30'000, 1'000, 50, 50));
  sync.add_sample(kBase, kBase, kBase + 10, kBase + 5);  // rejected: does not count
  CHECK_FALSE(sync.synced());
  add(sync, round_trip(kBase + 90'000, 1'000, 50, 50));
  CHECK(sync.synced());

  ClockSync strict(ClockSyncConfig{.min_samples = 8});
  for (int i = 0; i < 7; ++i) add(strict, round_trip(kBase + i * 30'000, 1'000, 50, 50));
  CHECK_FALSE(strict.synced());
}

TEST_CASE("the least-delay readings win: a slow round trip does not move the estimate") {
  ClockSync sync;
  for (int i = 0; i < 8; ++i) add(sync, round_trip(kBase + i * 30'000, 42'000, 60, 60));
  const double before = sync.offset_us(kBase);
  add(sync, round_trip(kBase + 300'000, 42'000, 50'060, 50'060));  // 50 ms late both ways
  add(sync, round_trip(kBase + 400'000, 42'000, 50'060, 60));      // 50 ms late one way
  CHECK(sync.offset_us(kBase) == before);
  CHECK(sync.offset_us(kBase) == Approx(42'000));
  CHECK(sync.min_delay_us() == 120);
}

TEST_CASE("the forward and backward floors are taken independently across samples") {
  ClockSync sync;
  add(sync, round_trip(kBase, 10'000, 100, 900));            // fast out, slow back
  add(sync, round_trip(kBase + 30'000, 10'000, 900, 100));   // slow out, fast back
  // Each sample alone is 400 µs off; together they pin the offset between 100 µs floors.
  CHECK(sync.offset_us(kBase) == Approx(10'000));
  // The bound: half the floors' gap, plus what an unfitted drift (≤ 1000 ppm) could have moved
  // them over the 30 ms between the samples.
  CHECK(sync.error_us() >= 100);
  CHECK(sync.error_us() <= 100 + 30);
  CHECK(sync.min_delay_us() == 1'000);
}

TEST_CASE("to_local and to_leader are inverses within 1 µs") {
  for (const std::int64_t offset : {std::int64_t{-1'000'000'000}, std::int64_t{0},
                                    std::int64_t{1'000'000'000}}) {
    for (const double drift : {-100.0, 0.0, 100.0}) {
      PathModel model;
      model.offset_us = offset;
      model.drift_ppm = drift;
      model.forward = {20, 120};
      model.backward = {20, 120};
      SimulatedPath path(model, 7);
      ClockSync sync;
      path.feed(sync, 40, 1'000'000);
      for (std::int64_t t = path.now_us() - 50'000'000; t < path.now_us() + 50'000'000;
           t += 999'983) {
        CAPTURE(offset, drift, t);
        CHECK(std::abs(sync.to_leader(sync.to_local(t)) - t) <= 1);
        CHECK(std::abs(sync.to_local(sync.to_leader(t)) - t) <= 1);
        CHECK(std::abs(static_cast<double>(sync.to_leader(t) - t) - sync.offset_us(t)) <= 0.5);
      }
    }
  }
}

TEST_CASE("the window keeps at most config.window samples, oldest dropped first") {
  ClockSync sync(ClockSyncConfig{.window = 16});
  add(sync, round_trip(kBase, 5'000, 10, 10));  // the best sample, soon dropped
  for (int i = 1; i < 40; ++i) add(sync, round_trip(kBase + i * 30'000, 5'000, 80, 80));
  CHECK(sync.sample_count() == 16);
  CHECK(sync.min_delay_us() == 160);
}

TEST_CASE("samples older than max_age are dropped, so a stale window is not trusted") {
  ClockSync sync(ClockSyncConfig{.max_age_us = 60'000'000});
  for (int i = 0; i < 10; ++i) add(sync, round_trip(kBase + i * 30'000, 5'000, 10, 10));
  CHECK(sync.synced());
  add(sync, round_trip(kBase + 120'000'000, 9'000, 80, 80));  // two minutes of silence
  CHECK(sync.sample_count() == 1);
  CHECK_FALSE(sync.synced());
  CHECK(sync.offset_us(kBase + 120'000'000) == Approx(9'000));
}

TEST_CASE("reset forgets the samples and the estimate but keeps the reject counts") {
  ClockSync sync;
  for (int i = 0; i < 10; ++i) add(sync, round_trip(kBase + i * 30'000, 5'000'000, 50, 50));
  sync.add_sample(kBase, kBase + 20, kBase + 10, kBase + 100);
  REQUIRE(sync.synced());
  sync.reset();
  CHECK(sync.sample_count() == 0);
  CHECK_FALSE(sync.synced());
  CHECK(sync.to_leader(kBase) == kBase);
  CHECK(sync.offset_us(kBase) == 0);
  CHECK(sync.min_delay_us() == 0);
  CHECK(sync.rejected().leader_backwards == 1);
}

TEST_CASE("after reset the estimate follows the new leader's clock alone") {
  ClockSync sync;
  for (int i = 0; i < 10; ++i) add(sync, round_trip(kBase + i * 30'000, 5'000'000, 50, 50));
  sync.reset();
  for (int i = 0; i < 4; ++i) {
    add(sync, round_trip(kBase + 1'000'000 + i * 30'000, -3'000'000, 50, 50));
  }
  CHECK(sync.synced());
  CHECK(sync.offset_us(kBase + 1'100'000) == Approx(-3'000'000));
  CHECK(sync.error_us() == Approx(50));
}

TEST_CASE("a prior drift slopes the estimate until the data show their own") {
  ClockSync sync;
  sync.set_prior_drift(100);
  // Two samples 60 ms apart of a clock with no drift: too short a span to fit one.
  add(sync, round_trip(kBase, 1'000, 50, 50));
  add(sync, round_trip(kBase + 60'000, 1'000, 50, 50));
  CHECK(sync.drift_ppm() == Approx(100));
  // 100 ppm over 1 s ahead of the newest reply: 100 µs more than now.
  CHECK(sync.offset_us(kBase + 1'060'130) - sync.offset_us(kBase + 60'130) == Approx(100).margin(0.01));
  // 30 s of exact samples of an undrifting clock refute the prior: the data's rate wins.
  for (int i = 2; i < 32; ++i) add(sync, round_trip(kBase + i * 1'000'000, 1'000, 50, 50));
  CHECK(sync.drift_ppm() == Approx(0).margin(0.01));
}

TEST_CASE("a prior drift is clamped to the fit's limit, ignored if not a number, and reset clears it") {
  ClockSyncConfig config;
  config.max_drift_ppm = 500;
  ClockSync sync(config);
  add(sync, round_trip(kBase, 1'000, 50, 50));
  sync.set_prior_drift(1e9);
  CHECK(sync.drift_ppm() == Approx(500));
  sync.set_prior_drift(-1e9);
  CHECK(sync.drift_ppm() == Approx(-500));
  sync.set_prior_drift(std::numeric_limits<double>::quiet_NaN());
  CHECK(sync.drift_ppm() == Approx(-500));
  sync.set_prior_drift(std::numeric_limits<double>::infinity());
  CHECK(sync.drift_ppm() == Approx(500));
  sync.reset();
  add(sync, round_trip(kBase + 100'000, 1'000, 50, 50));
  CHECK(sync.drift_ppm() == 0);
}

TEST_CASE("a window mixing two leaders' clocks shows as a huge error estimate") {
  ClockSync sync;
  for (int i = 0; i < 10; ++i) add(sync, round_trip(kBase + i * 30'000, 5'000'000, 50, 50));
  for (int i = 0; i < 10; ++i) {
    add(sync, round_trip(kBase + 1'000'000 + i * 30'000, -3'000'000, 50, 50));
  }
  // The forward floor comes from one leader, the backward floor from the other: the readings
  // contradict any single clock, and the bound says so. Resetting on leader change is the cure.
  CHECK(sync.error_us() > 1'000'000);
}

TEST_CASE("status reports the estimate, the bound, the jitter and the reject counts") {
  ClockSync sync;
  for (int i = 0; i < 6; ++i) {
    add(sync, round_trip(kBase + i * 30'000, 2'000, 40, i % 2 == 0 ? 40 : 90));
  }
  sync.add_sample(kBase, kBase + 10, kBase + 20, kBase - 1);
  const auto status = sync.status(kBase);
  CHECK(status.synced);
  CHECK(status.samples == 6);
  CHECK(status.offset_us == Approx(2'000));
  CHECK(status.drift_ppm == 0);
  CHECK(status.min_delay_us == 80);
  CHECK(status.error_us == Approx(40));
  CHECK(status.jitter_us == Approx(50));  // median 130 (upper middle of 80 ×3, 130 ×3) − 80
  CHECK(status.rejected.local_backwards == 1);
}

TEST_CASE("the sampling policy bursts until synced and ten samples, settles, then holds steady") {
  const SamplingPolicy policy;
  CHECK(policy.next_interval_us(0, false) == 30'000);
  CHECK(policy.next_interval_us(9, true) == 30'000);
  CHECK(policy.next_interval_us(50, false) == 30'000);  // lost sync: burst again
  CHECK(policy.next_interval_us(10, true) == 200'000);
  CHECK(policy.next_interval_us(239, true) == 200'000);
  CHECK(policy.next_interval_us(240, true) == 1'000'000);
  CHECK(policy.next_interval_us(512, true) == 1'000'000);
}

TEST_CASE("the sampling policy settles a jittery path faster and on more samples") {
  const SamplingPolicy policy;
  CHECK(policy.next_interval_us(10, true, false, 1'000) == 200'000);  // at the threshold: quiet
  CHECK(policy.next_interval_us(10, true, false, 1'001) == 100'000);
  CHECK(policy.next_interval_us(240, true, false, 5'000) == 100'000);
  CHECK(policy.next_interval_us(479, true, false, 5'000) == 100'000);
  CHECK(policy.next_interval_us(480, true, false, 5'000) == 1'000'000);
  CHECK(policy.next_interval_us(9, true, false, 5'000) == 30'000);    // the burst comes first
  CHECK(policy.next_interval_us(300, true, true, 5'000) == 30'000);   // and so does a held jump
  CHECK(policy.next_interval_us(300, false, false, 5'000) == 30'000);
}

TEST_CASE("the sampling policy settles no slower than the heartbeat interval, and no faster") {
  const SamplingPolicy policy;
  // The default heartbeat interval (200 ms): the settle phases already fit in it.
  const SamplingPolicy same = policy.within_heartbeat(200'000);
  CHECK(same.next_interval_us(10, true) == 200'000);
  CHECK(same.next_interval_us(10, true, false, 5'000) == 100'000);
  // Slower heartbeats leave the settle phases as they are: a request is never sent less often.
  const SamplingPolicy slow = policy.within_heartbeat(1'000'000);
  CHECK(slow.next_interval_us(10, true) == 200'000);
  CHECK(slow.next_interval_us(10, true, false, 5'000) == 100'000);
  // Faster heartbeats pull both settle phases to their interval; burst and steady keep theirs.
  const SamplingPolicy fast = policy.within_heartbeat(80'000);
  CHECK(fast.next_interval_us(10, true) == 80'000);
  CHECK(fast.next_interval_us(10, true, false, 5'000) == 80'000);
  CHECK(fast.next_interval_us(0, false) == 30'000);
  CHECK(fast.next_interval_us(240, true) == 1'000'000);
  // No interval (0 or less) changes nothing.
  CHECK(policy.within_heartbeat(0).next_interval_us(10, true) == 200'000);
  CHECK(policy.within_heartbeat(-5).next_interval_us(10, true) == 200'000);
}

TEST_CASE("requests go out on absolute deadlines, from now after a stall") {
  const SamplingPolicy policy;
  CHECK(policy.next_request_at_us(1'000, 1'005, 200, std::nullopt) == 1'200);  // woken late: no drift
  CHECK(policy.next_request_at_us(1'000, 1'199, 200, std::nullopt) == 1'200);
  CHECK(policy.next_request_at_us(1'000, 1'200, 200, std::nullopt) == 1'400);  // due already: from now
  CHECK(policy.next_request_at_us(1'000, 5'000, 200, std::nullopt) == 5'200);  // a stall: no catching up
}

TEST_CASE("a request moves onto the rounds of a shared wake-up before its deadline, never later") {
  const SamplingPolicy policy = SamplingPolicy{}.within_heartbeat(200'000);
  const std::int64_t last = 10'000'000;
  const std::int64_t now = last + 10;
  for (std::int64_t interval : {30'000, 200'000, 1'000'000}) {
    const std::int64_t due = last + interval;
    for (std::int64_t shared = last - 100'000; shared <= due + 100'000; shared += 1'000) {
      INFO("interval " << interval << " µs, shared wake-up at " << shared - last << " µs after the last");
      const auto at = policy.next_request_at_us(last, now, interval, shared);
      if (shared <= now || shared > due) {
        CHECK(at == due);  // none before the deadline: on schedule
        continue;
      }
      CHECK(at <= due);
      CHECK(at > due - std::min<std::int64_t>(interval, 200'000));  // early by less than either
      CHECK((at - shared) % 200'000 == 0);                          // on the shared wake-up's rounds
    }
  }
  CHECK(policy.next_request_at_us(0, 10, 1'000'000, 130'000) == 930'000);
  CHECK(policy.next_request_at_us(0, 10, 200'000, 130'000) == 130'000);
  CHECK(policy.next_request_at_us(0, 10, 30'000, 20'000) == 20'000);
}

TEST_CASE("requests fall into step with the heartbeat rounds and stay there") {
  // A follower's maintenance runs: heartbeat rounds every 200 ms at some phase. Requests at the
  // settle rate (200 ms) and then the steady one (1 s) start on another phase; each wake-up comes
  // a few µs late.
  const SamplingPolicy policy = SamplingPolicy{}.within_heartbeat(200'000);
  for (std::int64_t phase = 0; phase < 200'000; phase += 7'919) {
    for (std::int64_t start = 0; start < 200'000; start += 13'337) {
      // A round within the wake-up's lateness after the first deadline is not one to move onto.
      if (const auto lag = ((phase - start) % 200'000 + 200'000) % 200'000; lag > 0 && lag <= 40) continue;
      for (std::int64_t interval : {200'000, 1'000'000}) {
        INFO("rounds at " << phase << " µs, first request at " << start << " µs, every " << interval);
        auto next_round = [&](std::int64_t now) {  // the first round after now (a floor division)
          const std::int64_t since = now - phase;
          return phase + ((since >= 0 ? since : since - 199'999) / 200'000 + 1) * 200'000;
        };
        std::int64_t due = start;
        int on_rounds = 0;
        for (int k = 0; k < 20; ++k) {
          const std::int64_t previous = due;
          const std::int64_t now = due + 40;  // woken late
          due = policy.next_request_at_us(due, now, interval, next_round(now));
          CHECK(due - previous <= interval);  // never later than the policy's interval
          if (k > 1) CHECK(due - previous == interval);  // once in step, exactly on it
          if ((due - phase) % 200'000 == 0) ++on_rounds;
        }
        CHECK(on_rounds >= 19);  // from the first or second request on (when the first round after
                                 // a request comes after its deadline, the next one steps in)
      }
    }
  }
}

TEST_CASE("the sampling policy reads the window's own count, sync, held samples and jitter") {
  const SamplingPolicy policy;
  ClockSync quiet;
  ClockSync jittery;
  for (int i = 0; i < 20; ++i) {
    const std::int64_t t0 = kBase + i * 100'000;
    add(quiet, round_trip(t0, 2'000, 100 + (i % 2) * 50, 100));
    add(jittery, round_trip(t0, 2'000, 5'000 + (i % 2) * 4'000, 5'000 + (i % 3) * 2'000));
  }
  REQUIRE(quiet.synced());
  REQUIRE(jittery.synced());
  CAPTURE(quiet.jitter_us(), jittery.jitter_us());
  CHECK(policy.next_interval_us(quiet) == 200'000);
  CHECK(policy.next_interval_us(jittery) == 100'000);
  CHECK(policy.next_interval_us(ClockSync{}) == 30'000);
}

TEST_CASE("following the sampling policy a node is synced within a tenth of a second") {
  const SamplingPolicy policy;
  ClockSync sync;
  std::int64_t now = kBase;
  std::int64_t last_reply = kBase;
  while (!sync.synced()) {
    const Sample s = round_trip(now, 1'000, 100, 100);
    add(sync, s);
    last_reply = s.t3_us;
    now += policy.next_interval_us(sync.sample_count(), sync.synced());
  }
  CHECK(last_reply - kBase <= 100'000);
}
