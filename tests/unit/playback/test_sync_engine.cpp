#include <algorithm>
#include <cmath>
#include <optional>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/sync_engine.hpp"

using namespace chorus::playback;

namespace {

constexpr std::int64_t kFramesPerSecond = kOutputRate;
constexpr std::int64_t kStart = 1'000'000'000;  // leader time of the first block, µs

using Audio = std::shared_ptr<const TrackAudio>;

/// A track whose every frame holds its own number: left = n % 30000, right = n / 30000. All of
/// it decoded, as if the decoder thread had filled it.
Audio counting_audio(std::int64_t frames) {
  auto audio = std::make_shared<TrackAudio>(frames);
  for (std::size_t c = 0; c < audio->chunk_count(); ++c) {
    const auto first = static_cast<std::int64_t>(c) * TrackAudio::kChunkFrames;
    std::vector<std::int16_t> samples(static_cast<std::size_t>(audio->chunk_frames(c)) * 2);
    for (std::size_t i = 0; i < samples.size() / 2; ++i) {
      const auto n = first + static_cast<std::int64_t>(i);
      samples[2 * i] = static_cast<std::int16_t>(n % 30000);
      samples[2 * i + 1] = static_cast<std::int16_t>(n / 30000);
    }
    audio->store(c, std::move(samples));
  }
  return audio;
}

/// The frame number a slot holds, or nullopt for silence (frame 0 is told apart by context).
std::optional<std::int64_t> frame_in(const std::vector<std::int16_t>& block, std::size_t slot) {
  auto left = block[2 * slot];
  auto right = block[2 * slot + 1];
  return std::int64_t{right} * 30000 + left;
}

Track track_of(std::int64_t frames) { return Track{0, "count", "c0ffee", frames, 0, ""}; }

ScheduledState playing(std::int64_t anchor_us, std::int64_t anchor_frame, const Audio& audio) {
  PlaybackState state;
  state.status = PlayStatus::playing;
  state.track = track_of(audio->frames());
  state.anchor_us = anchor_us;
  state.anchor_frame = anchor_frame;
  return {state, audio};
}

/// Drives the engine like an output whose clock runs at `rate` × real time: each block of
/// `block` frames is audible `block / (48 kHz · rate)` after the previous one.
struct FakeOutput {
  SyncEngine& engine;
  double rate = 1.0;
  std::size_t block = 480;
  double audible_at = kStart;  // local µs (local clock == leader clock in these tests)
  /// Moves each block by the engine's timing error, as the paced (null, file) outputs do.
  bool steered = false;

  /// Renders one block; returns it with the local time of each slot.
  std::vector<std::int16_t> next(std::vector<double>* slot_times = nullptr) {
    std::vector<std::int16_t> out(block * 2);
    engine.render(out, std::llround(audible_at));
    if (steered) audible_at += std::clamp(engine.timing_error_us(), -kFrameUs, kFrameUs);
    double slot_us = 1e6 / (static_cast<double>(kFramesPerSecond) * rate);
    if (slot_times) {
      slot_times->clear();
      for (std::size_t i = 0; i < block; ++i) slot_times->push_back(audible_at + slot_us * i);
    }
    audible_at += slot_us * static_cast<double>(block);
    return out;
  }
};

/// Largest |slot time − time the schedule wants that frame| over `seconds` of output, in µs.
double worst_error_us(double rate, double seconds, bool steered = false) {
  auto audio = counting_audio(kFramesPerSecond * (static_cast<std::int64_t>(seconds) + 2));
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine, rate};
  output.steered = steered;
  double worst = 0;
  std::vector<double> times;
  auto blocks = static_cast<int>(seconds * kFramesPerSecond / 480);
  for (int b = 0; b < blocks; ++b) {
    auto out = output.next(&times);
    for (std::size_t i = 0; i < output.block; ++i) {
      double wanted_us = kStart + static_cast<double>(*frame_in(out, i)) * 1e6 / kFramesPerSecond;
      worst = std::max(worst, std::abs(times[i] - wanted_us));
    }
  }
  return worst;
}

}  // namespace

TEST_CASE("a slow output drops single frames spread out, never a jump") {
  auto audio = counting_audio(kFramesPerSecond * 12);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine, 0.999};
  for (int b = 0; b < 1000; ++b) {
    auto out = output.next();
    for (std::size_t i = 1; i < output.block; ++i) {
      auto step = *frame_in(out, i) - *frame_in(out, i - 1);
      REQUIRE((step == 1 || step == 2));
    }
  }
  CHECK(engine.stats().frames_dropped == Approx(480).margin(3));
  CHECK(engine.stats().jumps == 0);
}

TEST_CASE("the engine is silent before anything is published") {
  SyncEngine engine;
  std::vector<std::int16_t> out(960, 7);
  engine.render(out, kStart);
  CHECK(std::all_of(out.begin(), out.end(), [](auto s) { return s == 0; }));
  CHECK_FALSE(engine.position().playing);
}

TEST_CASE("a track starts on the output slot nearest its scheduled instant") {
  auto audio = counting_audio(kFramesPerSecond);
  SyncEngine engine;
  // Frame 0 is due 100 frames plus a third into the block.
  std::int64_t start = kStart + 100 * 1'000'000 / kFramesPerSecond + 7;
  engine.publish({{}, {}, playing(start, 0, audio)});
  std::vector<std::int16_t> out(960);
  engine.render(out, kStart);
  for (std::size_t slot = 0; slot < 100; ++slot) CHECK(out[2 * slot] == 0);
  for (std::size_t slot = 100; slot < 480; ++slot) CHECK(*frame_in(out, slot) == std::int64_t(slot) - 100);
}

TEST_CASE("the engine reports the part of a frame by which a start falls between two slots") {
  auto audio = counting_audio(kFramesPerSecond);
  SyncEngine engine;
  // Frame 0 is due 2090 µs into the block: slot 100.32, so slot 100 plays it 0.32 frames early.
  engine.publish({{}, {}, playing(kStart + 2090, 0, audio)});
  std::vector<std::int16_t> out(960);
  engine.render(out, kStart);
  CHECK(*frame_in(out, 100) == 0);
  // Leader instants are whole µs (the block is split at slot 100 = 2083 µs): within 0.5 µs.
  CHECK(engine.timing_error_us() == Approx(2090 - 100 * kFrameUs).margin(0.5));
}

TEST_CASE("the timing error is zero once a block ends in silence") {
  auto audio = counting_audio(kFramesPerSecond);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart + 2090, 0, audio)});
  std::vector<std::int16_t> out(960);
  engine.render(out, kStart);
  REQUIRE(engine.timing_error_us() != 0);
  PlaybackState stopped;
  stopped.anchor_us = kStart;
  engine.publish({{}, {}, {stopped, nullptr}});
  engine.render(out, kStart + 10'000);
  CHECK(engine.timing_error_us() == 0);
}

TEST_CASE("an output moved by the timing error follows a 100 ppm clock with no corrections") {
  // Unsteered, such an output repeats a frame every ~200 ms and is off by up to half a frame.
  CHECK(worst_error_us(1.0001, 30, true) < 1.0);
  auto audio = counting_audio(kFramesPerSecond * 32);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine, 1.0001};
  output.steered = true;
  for (int b = 0; b < 3000; ++b) output.next();
  CHECK(engine.stats().frames_inserted == 0);
  CHECK(engine.stats().frames_dropped == 0);
  CHECK(engine.stats().jumps == 0);
}

TEST_CASE("an unsteered output on a 100 ppm clock needs single-frame corrections") {
  CHECK(worst_error_us(1.0001, 30) > 5.0);
  auto audio = counting_audio(kFramesPerSecond * 32);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine, 1.0001};
  for (int b = 0; b < 3000; ++b) output.next();  // 30 s: 144 frames of drift
  CHECK(engine.stats().frames_inserted == Approx(144).margin(2));
}

TEST_CASE("a late start begins at the frame the schedule has reached") {
  auto audio = counting_audio(kFramesPerSecond);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart - 250'000, 0, audio)});  // started 250 ms ago
  std::vector<std::int16_t> out(960);
  engine.render(out, kStart);
  CHECK(*frame_in(out, 0) == 12'000);
  CHECK(*frame_in(out, 479) == 12'479);
  CHECK(engine.position().frame == 12'480);
  CHECK(engine.position().local_us == kStart + 10'000);
}

TEST_CASE("an output whose clock runs 1 percent fast stays within a millisecond of schedule") {
  double worst = worst_error_us(1.01, 30);
  INFO("worst error " << worst << " us");
  CHECK(worst < 1000);
}

TEST_CASE("an output whose clock runs 1 percent slow stays within a millisecond of schedule") {
  double worst = worst_error_us(0.99, 30);
  INFO("worst error " << worst << " us");
  CHECK(worst < 1000);
}

TEST_CASE("an exact output needs no corrections at all") {
  auto audio = counting_audio(kFramesPerSecond * 12);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine, 1.0, 500};  // 500 frames: blocks that are not whole µs apart
  for (int b = 0; b < 1000; ++b) output.next();
  auto stats = engine.stats();
  CHECK(stats.frames_inserted + stats.frames_dropped <= 1);
  CHECK(stats.jumps == 0);
}

TEST_CASE("a fast output repeats single frames spread out, never a jump") {
  auto audio = counting_audio(kFramesPerSecond * 12);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine, 1.001};  // 1000 ppm
  for (int b = 0; b < 1000; ++b) {
    auto out = output.next();
    for (std::size_t i = 1; i < output.block; ++i) {
      auto step = *frame_in(out, i) - *frame_in(out, i - 1);
      REQUIRE((step == 0 || step == 1));
    }
  }
  auto stats = engine.stats();
  CHECK(stats.jumps == 0);
  CHECK(stats.frames_inserted == Approx(480).margin(3));  // 10 s × 48 frames/s
  CHECK(stats.frames_dropped == 0);
}

TEST_CASE("a pause lands on its frame within the block and holds silence after it") {
  auto audio = counting_audio(kFramesPerSecond);
  auto before = playing(kStart, 0, audio);
  ScheduledState paused = before;
  paused.state.status = PlayStatus::paused;
  paused.state.anchor_us = kStart + 5'000;  // 240 frames in
  paused.state.anchor_frame = 240;
  SyncEngine engine;
  engine.publish({{}, before, paused});
  std::vector<std::int16_t> out(960);
  engine.render(out, kStart);
  CHECK(*frame_in(out, 239) == 239);
  for (std::size_t slot = 240; slot < 480; ++slot) CHECK(out[2 * slot] == 0);
  CHECK_FALSE(engine.position().playing);
}

TEST_CASE("a large error is corrected by one jump") {
  auto audio = counting_audio(kFramesPerSecond * 4);
  SyncEngine engine;
  engine.publish({{}, {}, playing(kStart, 0, audio)});
  FakeOutput output{engine};
  for (int b = 0; b < 10; ++b) output.next();
  // The leader clock estimate moves by 50 ms (e.g. a first, rough estimate was replaced).
  chorus::clock::ClockMapping moved{0, 50'000, 0};
  engine.publish({moved, {}, playing(kStart, 0, audio)});
  auto out = output.next();
  CHECK(engine.stats().jumps == 1);
  CHECK(*frame_in(out, 0) == 4800 + 2400);
}

TEST_CASE("the mailbox hands the newest snapshot to the consumer") {
  SnapshotMailbox<int> mailbox;
  CHECK(mailbox.latest() == nullptr);
  mailbox.publish(std::make_unique<const int>(1));
  mailbox.publish(std::make_unique<const int>(2));  // 1 was never seen: freed by the producer
  CHECK(*mailbox.latest() == 2);
  CHECK(*mailbox.latest() == 2);
  mailbox.publish(std::make_unique<const int>(3));
  CHECK(*mailbox.latest() == 3);
  mailbox.collect();
  CHECK(*mailbox.latest() == 3);
}
