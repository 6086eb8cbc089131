// The device output's thread (src/playback/device_output.cpp) over a scripted device: the layer
// below it (alsa-lib, libpulse) is replaced by a fake that plays in real time on the test's
// clock, so what the output does with the device's reports, underruns and disappearance can be
// checked exactly. The real backends have tests of their own (test_output_alsa.cpp,
// test_output_pulse.cpp).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/format.hpp"
#include "chorus/time_base.hpp"
#include "playback/output_impl.hpp"
#include "playback/eventually.hpp"

using namespace std::chrono_literals;
using chorus::now_us;
using chorus::playback::kChannels;
using chorus::playback::kFrameUs;
using chorus::playback::Renderer;
using chorus::playback::detail::DeviceBackend;
using chorus::playback::detail::DeviceLatency;
using chorus::playback::detail::WriteOutcome;
using chorus::test::eventually;

namespace {

constexpr int kBlock = 480;

/// What the test tells the fake device to do next; shared between the test and the output thread.
struct Script {
  std::atomic<bool> can_open{true};
  std::atomic<int> opens{0};
  std::atomic<int> closes{0};
  std::atomic<bool> lose_next_write{false};
  std::atomic<bool> underrun_next_write{false};
  std::atomic<std::int64_t> report_shift_us{0};  ///< added to every report from now on
};

/// Plays in real time: frame k of an open is heard at start + latency + k / 48 kHz, where start
/// is when it first ran. It holds 4 blocks; write() waits for room. It prebuffers one block.
class FakeDevice final : public DeviceBackend {
 public:
  static constexpr std::int64_t kLatencyUs = 30'000;
  explicit FakeDevice(Script& script) : script_(script) {}

  std::string open(int block_frames) override {
    if (!script_.can_open) return "fake device unplugged";
    ++script_.opens;
    frames_ = block_frames;
    written_ = 0;
    start_us_.reset();
    return {};
  }
  int block_frames() const override { return frames_; }
  std::optional<std::int64_t> next_frame_audible_us() override {
    if (!start_us_) return std::nullopt;
    return *start_us_ + kLatencyUs + frame_offset_us(written_) + script_.report_shift_us.load();
  }
  WriteOutcome write(std::span<const std::int16_t> block) override {
    if (script_.lose_next_write.exchange(false)) return WriteOutcome::lost;
    const bool underrun = script_.underrun_next_write.exchange(false);
    if (underrun) {  // the device ran dry and restarts its timeline from now
      start_us_.reset();
      written_ = 0;
    }
    if (!start_us_) start_us_ = now_us();
    // room for 4 blocks: wait until the device has played all but 3 of what was written
    const std::int64_t room_at = *start_us_ + frame_offset_us(written_ - 3 * frames_);
    while (now_us() < room_at) std::this_thread::sleep_for(200us);
    written_ += static_cast<std::int64_t>(block.size() / kChannels);
    return underrun ? WriteOutcome::recovered : WriteOutcome::written;
  }
  void close() override { ++script_.closes; }
  DeviceLatency latency() const override { return {kLatencyUs, "fake"}; }
  std::string describe() const override { return "fake:device"; }

 private:
  static std::int64_t frame_offset_us(std::int64_t frames) {
    return static_cast<std::int64_t>(static_cast<double>(frames) * kFrameUs);
  }
  Script& script_;
  int frames_ = kBlock;
  std::int64_t written_ = 0;
  std::optional<std::int64_t> start_us_;
};

/// Records the audible instants it is asked to render (preallocated: the output thread must
/// not wait on the test).
class RecordingRenderer final : public Renderer {
 public:
  RecordingRenderer() { instants_.resize(20'000); }
  void render(std::span<std::int16_t> block, std::int64_t audible_at_local_us) override {
    std::fill(block.begin(), block.end(), std::int16_t{1});
    const auto n = count_.load(std::memory_order_relaxed);
    if (n < instants_.size()) instants_[n] = audible_at_local_us;
    count_.store(n + 1, std::memory_order_release);
  }
  std::size_t count() const { return count_.load(std::memory_order_acquire); }
  /// After stop(), or for indices below count().
  std::int64_t instant(std::size_t n) const { return instants_[n]; }

 private:
  std::vector<std::int64_t> instants_;
  std::atomic<std::size_t> count_{0};
};

std::unique_ptr<chorus::playback::AudioOutput> make(Script& script, std::chrono::microseconds extra = 0us) {
  return chorus::playback::detail::make_device_output(std::make_unique<FakeDevice>(script), kBlock, extra);
}

}  // namespace

TEST_CASE("device output: renders for the device's reported instants, one block apart, extra latency added") {
  Script script;
  RecordingRenderer renderer;
  auto output = make(script, 5ms);
  REQUIRE(output->start(renderer));
  REQUIRE(eventually([&] { return renderer.count() >= 50; }));
  output->stop();
  // exact reports pass the line unchanged (to the µs of rounding), 10 ms apart, +5 ms
  for (std::size_t n = 1; n < 50; ++n) {
    CHECK(std::abs(renderer.instant(n) - renderer.instant(n - 1) - 10'000) <= 1);
  }
  const auto stats = output->stats();
  CHECK(stats.latency_measured);
  // rendered a block ahead of the 4 the device holds: latency between 3 and 5 blocks + 30 ms
  CHECK(stats.latency_us > 30'000);
  CHECK(stats.latency_us < 30'000 + 5 * 10'000 + 5'000);
  CHECK(stats.xruns == 0);
  CHECK(stats.device_lost == 0);
  // the first block (prebuffering, no report yet) was silence, not rendered
  CHECK(stats.blocks >= renderer.count() + 1);
  CHECK(output->fill_ahead_us() > stats.latency_us);
  CHECK(output->describe().find("fake:device") != std::string::npos);
}

TEST_CASE("device output: an underrun restarts the device's timeline and is counted") {
  Script script;
  RecordingRenderer renderer;
  auto output = make(script);
  REQUIRE(output->start(renderer));
  REQUIRE(eventually([&] { return renderer.count() >= 20; }));
  script.underrun_next_write = true;
  REQUIRE(eventually([&] { return output->stats().xruns == 1; }));
  const auto after = renderer.count();
  REQUIRE(eventually([&] { return renderer.count() >= after + 20; }));
  output->stop();
  CHECK(output->stats().xruns == 1);
  CHECK(output->stats().timeline_jumps == 0);  // a restart the device announced is not a jump
}

TEST_CASE("device output: a report that jumps is followed at once and counted") {
  Script script;
  RecordingRenderer renderer;
  auto output = make(script);
  REQUIRE(output->start(renderer));
  REQUIRE(eventually([&] { return renderer.count() >= 20; }));
  script.report_shift_us = 7'000;  // e.g. a sound server that moved the stream to another sink
  REQUIRE(eventually([&] { return output->stats().timeline_jumps == 1; }));
  const auto jumped = renderer.count();
  REQUIRE(eventually([&] { return renderer.count() >= jumped + 3; }));
  output->stop();
  // the block after the jump is 7 ms later than one block on
  bool seen = false;
  for (std::size_t n = 1; n < renderer.count(); ++n) {
    if (std::abs(renderer.instant(n) - renderer.instant(n - 1) - 17'000) <= 1) seen = true;
  }
  CHECK(seen);
}

TEST_CASE("device output: a lost device is closed, reopened a second later, and playing resumes") {
  Script script;
  RecordingRenderer renderer;
  auto output = make(script);
  REQUIRE(output->start(renderer));
  REQUIRE(eventually([&] { return renderer.count() >= 10; }));
  script.can_open = false;
  script.lose_next_write = true;
  REQUIRE(eventually([&] { return output->stats().device_lost == 1; }));
  REQUIRE(eventually([&] { return output->describe().find("cannot open: fake device unplugged") != std::string::npos; }));
  CHECK(script.closes == 1);
  const auto before = renderer.count();
  script.can_open = true;
  REQUIRE(eventually([&] { return script.opens == 2 && renderer.count() >= before + 10; }));
  output->stop();
  CHECK(script.closes == 2);
  CHECK(output->stats().device_lost == 1);
  CHECK(output->describe().find("cannot open") == std::string::npos);
}

TEST_CASE("device output: stop() returns while the device cannot be opened") {
  Script script;
  script.can_open = false;
  RecordingRenderer renderer;
  auto output = make(script);
  REQUIRE(output->start(renderer));
  REQUIRE(eventually([&] { return output->describe().find("cannot open") != std::string::npos; }));
  const auto before = std::chrono::steady_clock::now();
  output->stop();
  // it was waiting a second before the next try: stop() interrupts that wait
  CHECK(std::chrono::steady_clock::now() - before < 900ms);
  CHECK(renderer.count() == 0);
  CHECK(script.opens == 0);
}
