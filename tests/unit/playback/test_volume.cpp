#include <algorithm>
#include <cstdlib>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/gain_stage.hpp"
#include "chorus/playback/sync_engine.hpp"
#include "chorus/playback/volume.hpp"

using namespace chorus::playback;

namespace {

constexpr std::size_t kBlockFrames = 480;

/// The most a frame's gain step can move a full-scale sample, plus rounding.
const int kMaxStepChange = static_cast<int>(32768.0f * kRampStep) + 1;

/// A block of `frames` frames whose every sample is `value`: the worst case for a click.
std::vector<std::int16_t> constant_block(std::int16_t value, std::size_t frames = kBlockFrames) {
  return std::vector<std::int16_t>(frames * 2, value);
}

/// Largest |difference| between consecutive samples of one channel over `samples`.
int largest_step(const std::vector<std::int16_t>& samples, std::size_t channel) {
  int largest = 0;
  for (std::size_t i = channel + 2; i < samples.size(); i += 2) {
    largest = std::max(largest, std::abs(samples[i] - samples[i - 2]));
  }
  return largest;
}

/// Renders `blocks` constant full-scale blocks, ramping from `from` to `to`; all the samples.
std::vector<std::int16_t> ramp_output(float from, float to, int blocks, std::int16_t value = 32767) {
  std::vector<std::int16_t> all;
  float applied = from;
  for (int b = 0; b < blocks; ++b) {
    auto block = constant_block(value);
    applied = apply_gain(block, applied, to);
    all.insert(all.end(), block.begin(), block.end());
  }
  return all;
}

/// A decoded track whose frame n holds left = n % 30000, right = n / 30000 + 1000.
std::shared_ptr<const TrackAudio> counting_audio(std::int64_t frames) {
  auto audio = std::make_shared<TrackAudio>(frames);
  for (std::size_t c = 0; c < audio->chunk_count(); ++c) {
    const auto first = static_cast<std::int64_t>(c) * TrackAudio::kChunkFrames;
    std::vector<std::int16_t> samples(static_cast<std::size_t>(audio->chunk_frames(c)) * 2);
    for (std::size_t i = 0; i < samples.size() / 2; ++i) {
      const auto n = first + static_cast<std::int64_t>(i);
      samples[2 * i] = static_cast<std::int16_t>(n % 30000);
      samples[2 * i + 1] = static_cast<std::int16_t>(n / 30000 + 1000);
    }
    audio->store(c, std::move(samples));
  }
  return audio;
}

Snapshot playing_from_zero(const std::shared_ptr<const TrackAudio>& audio, std::int64_t at_us) {
  Snapshot snapshot;
  snapshot.current.state.status = PlayStatus::playing;
  snapshot.current.state.track = Track{0, "count", "c0ffee", audio->frames(), 0, ""};
  snapshot.current.state.anchor_us = at_us;
  snapshot.current.state.anchor_frame = 0;
  snapshot.current.audio = audio;
  return snapshot;
}

}  // namespace

TEST_CASE("the volume curve is silent at 0, unity at 100, cubic between and never above unity") {
  CHECK(volume_gain(0) == 0.0f);
  CHECK(volume_gain(100) == 1.0f);
  CHECK(volume_gain(50) == Approx(0.125f));
  CHECK(volume_gain(40) == Approx(0.064f));
  CHECK(volume_gain(-5) == 0.0f);
  CHECK(volume_gain(250) == 1.0f);
  for (int v = 1; v <= 100; ++v) {
    CHECK(volume_gain(v) > volume_gain(v - 1));
    CHECK(volume_gain(v) <= 1.0f);
  }
  CHECK(room_gain(80, true) == 0.0f);
  CHECK(room_gain(80, false) == volume_gain(80));
}

TEST_CASE("a ramp step moves at most one step and lands exactly on its target") {
  CHECK(step_towards(0.0f, 1.0f) == kRampStep);
  CHECK(step_towards(1.0f, 0.0f) == 1.0f - kRampStep);
  CHECK(step_towards(0.5f, 0.5f + kRampStep / 2) == 0.5f + kRampStep / 2);
  CHECK(step_towards(0.5f, 0.5f) == 0.5f);
  float gain = 0.0f;
  int frames = 0;
  while (gain != 1.0f && frames < 10 * kRampFrames) {
    gain = step_towards(gain, 1.0f);
    ++frames;
  }
  CHECK(gain == 1.0f);
  CHECK(frames >= kRampFrames - 1);
  CHECK(frames <= kRampFrames + 1);
}

TEST_CASE("volume 100 passes every sample through bit for bit") {
  std::mt19937 random(7);
  std::uniform_int_distribution<int> sample(-32768, 32767);
  std::vector<std::int16_t> block(kBlockFrames * 2);
  for (auto& s : block) s = static_cast<std::int16_t>(sample(random));
  auto copy = block;
  CHECK(apply_gain(copy, 1.0f, 1.0f) == 1.0f);
  CHECK(copy == block);
}

TEST_CASE("muting ramps a full-scale signal to silence within 20 ms, never faster than a step per frame") {
  const auto out = ramp_output(1.0f, 0.0f, 4);
  CHECK(largest_step(out, 0) <= kMaxStepChange);
  CHECK(largest_step(out, 1) <= kMaxStepChange);
  // Reached: silence from frame kRampFrames on.
  for (std::size_t i = static_cast<std::size_t>(kRampFrames) * 2; i < out.size(); ++i) {
    REQUIRE(out[i] == 0);
  }
  // Not a jump: the first frame is still almost full scale.
  CHECK(out[0] >= 32767 - kMaxStepChange);
}

TEST_CASE("unmuting and a volume change ramp without a click and reach the target") {
  SECTION("unmute to 100") {
    const auto out = ramp_output(0.0f, 1.0f, 4, -32768);
    CHECK(largest_step(out, 0) <= kMaxStepChange);
    CHECK(out.back() == -32768);
    CHECK(std::abs(out[0]) <= kMaxStepChange);
  }
  SECTION("100 to 40") {
    const float target = volume_gain(40);
    const auto out = ramp_output(1.0f, target, 4);
    CHECK(largest_step(out, 1) <= kMaxStepChange);
    CHECK(out.back() == scale_sample(32767, target));
  }
  SECTION("a change of mind half way turns back without a step") {
    float applied = 1.0f;
    auto block = constant_block(32767);
    applied = apply_gain(block, applied, 0.0f);  // half way down
    auto back = constant_block(32767);
    applied = apply_gain(back, applied, 1.0f);
    block.insert(block.end(), back.begin(), back.end());
    CHECK(largest_step(block, 0) <= kMaxStepChange);
    CHECK(applied > 0.5f);
  }
}

TEST_CASE("a steady gain below unity scales every sample by it") {
  auto block = constant_block(10000);
  const float gain = volume_gain(50);
  CHECK(apply_gain(block, gain, gain) == gain);
  CHECK(std::all_of(block.begin(), block.end(), [](std::int16_t s) { return s == 1250; }));
}

TEST_CASE("the gain stage starts at its first target, with no ramp from full volume") {
  SyncEngine engine;  // nothing published: silence; the stage is what is tested
  GainStage stage(engine);
  stage.set_target(volume_gain(40));
  std::vector<std::int16_t> block(kBlockFrames * 2);
  stage.render(block, 0);
  CHECK(stage.applied() == volume_gain(40));
}

TEST_CASE("at volume 100 the gain stage renders exactly what the engine renders") {
  const auto audio = counting_audio(48000 * 3);
  SyncEngine plain;
  SyncEngine scaled_engine;
  GainStage stage(scaled_engine);
  plain.publish(playing_from_zero(audio, 1'000'000));
  scaled_engine.publish(playing_from_zero(audio, 1'000'000));
  std::int64_t at = 1'000'000;
  for (int b = 0; b < 100; ++b, at += 10'000) {
    std::vector<std::int16_t> expected(kBlockFrames * 2), got(kBlockFrames * 2);
    plain.render(expected, at);
    stage.render(got, at);
    REQUIRE(got == expected);
  }
}

TEST_CASE("muting never changes which frame plays: after unmute the output is the unmuted one") {
  const auto audio = counting_audio(48000 * 4);
  SyncEngine reference;
  SyncEngine muted_engine;
  GainStage stage(muted_engine);
  reference.publish(playing_from_zero(audio, 1'000'000));
  muted_engine.publish(playing_from_zero(audio, 1'000'000));
  std::int64_t at = 1'000'000;
  std::vector<std::int16_t> all_muted, all_reference;
  for (int b = 0; b < 300; ++b, at += 10'000) {
    if (b == 50) stage.set_target(0.0f);   // mute at 0.5 s
    if (b == 150) stage.set_target(1.0f);  // unmute at 1.5 s
    std::vector<std::int16_t> expected(kBlockFrames * 2), got(kBlockFrames * 2);
    reference.render(expected, at);
    stage.render(got, at);
    REQUIRE(muted_engine.position().frame == reference.position().frame);
    REQUIRE(muted_engine.position().local_us == reference.position().local_us);
    if (b < 50 || b >= 153) REQUIRE(got == expected);  // the 20 ms ramp: 2 blocks, and a frame
    if (b >= 53 && b < 150) REQUIRE(std::all_of(got.begin(), got.end(), [](std::int16_t s) { return s == 0; }));
    all_muted.insert(all_muted.end(), got.begin(), got.end());
    all_reference.insert(all_reference.end(), expected.begin(), expected.end());
  }
  // The ramps are clicks no larger than the track's own steps plus a step of gain.
  CHECK(largest_step(all_muted, 1) <= largest_step(all_reference, 1) + kMaxStepChange);
}
