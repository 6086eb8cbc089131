// The pulse backend (src/playback/output_pulse.cpp) against a private PulseAudio server with null
// sinks (pulse_server.hpp): the measured audible instants, the samples and their timing as the
// sink's monitor sees them, a sink or server that goes away or freezes, and the server probe.
//
// These tests drive the backend as the device output's thread does: measure, then write, block
// after block; write() itself paces the loop (it waits for the server to ask for audio). Waits for
// another process go through polling with a deadline, never a bare sleep.

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <pulse/pulseaudio.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/time_base.hpp"
#include "playback/env_guard.hpp"
#include "playback/eventually.hpp"
#include "playback/output_impl.hpp"
#include "playback/pulse_monitor.hpp"
#include "playback/pulse_server.hpp"
#include "playback/still_machine.hpp"
#include "playback/temp_dir.hpp"

using namespace std::chrono_literals;
using chorus::now_us;
using chorus::playback::detail::DeviceBackend;
using chorus::playback::detail::kMaxDeviceWait;
using chorus::playback::detail::make_pulse_backend;
using chorus::playback::detail::pulse_server_answers;
using chorus::playback::detail::WriteOutcome;
using chorus::test::arrival_minus_predicted;
using chorus::test::eventually;
using chorus::test::frame_number;
using chorus::test::MonitorRecorder;
using chorus::test::put_frame_number;
using chorus::test::EnvGuard;
using chorus::test::PulseServer;
using chorus::test::stats_of;
using chorus::test::TempDir;

namespace {

constexpr int kBlock = 480;  // 10 ms
constexpr std::int64_t kBlockUs = 10'000;
constexpr std::int64_t kMaxWaitUs = std::chrono::duration_cast<std::chrono::microseconds>(kMaxDeviceWait).count();

std::int64_t frames_us(std::int64_t frames) { return frames * 1'000'000 / 48'000; }

std::vector<std::int16_t> silence() { return std::vector<std::int16_t>(kBlock * 2, 0); }

/// Writes silence until the backend reports an audible instant; at most 2 s of blocks.
bool play_silence_until_running(DeviceBackend& backend) {
  const auto block = silence();
  for (int i = 0; i < 200; ++i) {
    if (backend.next_frame_audible_us()) return true;
    if (backend.write(block) == WriteOutcome::lost) return false;
  }
  return false;
}

/// Thaws a frozen server at scope exit, whatever the test's outcome.
struct ThawAtExit {
  const PulseServer& server;
  ~ThawAtExit() { server.thaw(); }
};


/// Measures and writes silence until write() says `lost`, at most `limit`; the time it took.
std::optional<std::chrono::microseconds> time_until_lost(DeviceBackend& backend, std::chrono::milliseconds limit,
                                                         std::int64_t* longest_call_us = nullptr) {
  const auto block = silence();
  const std::int64_t start = now_us();
  while (now_us() - start < std::chrono::duration_cast<std::chrono::microseconds>(limit).count()) {
    const std::int64_t t0 = now_us();
    backend.next_frame_audible_us();
    const auto outcome = backend.write(block);
    if (longest_call_us != nullptr) *longest_call_us = std::max(*longest_call_us, now_us() - t0);
    if (outcome == WriteOutcome::lost) return std::chrono::microseconds(now_us() - start);
  }
  return std::nullopt;
}

}  // namespace

TEST_CASE("pulse: the audible instant advances by one block per block written", "[pulse]") {
  PulseServer server({"room1"});
  struct Steps {
    std::vector<double> steps;
    std::vector<std::int64_t> totals;
    int underruns = 0;
    std::string latency_detail;
  };
  const auto measured = chorus::test::measure_outside_storms("pulse: audible steps", [&] {
    auto backend = make_pulse_backend("room1");
    REQUIRE(backend->open(kBlock) == "");
    INFO(backend->describe());
    CHECK(backend->describe().find("pulse:room1 (server 'pulseaudio") == 0);
    REQUIRE(play_silence_until_running(*backend));

    // A loaded machine may hold this thread for longer than the buffer (an underrun: the timeline
    // restarts); steps are not taken across one.
    const auto block = silence();
    Steps m;
    std::int64_t previous = 0;  // 0: none
    for (int k = 0; k < 1000 && m.steps.size() < 300; ++k) {
      const std::int64_t at = backend->next_frame_audible_us().value_or(0);
      if (at != 0 && previous != 0) m.steps.push_back(static_cast<double>(at - previous - kBlockUs));
      if (at != 0) m.totals.push_back(backend->latency().total_us);
      previous = at;
      const auto outcome = backend->write(block);
      REQUIRE(outcome != WriteOutcome::lost);
      if (outcome == WriteOutcome::recovered) {
        ++m.underruns;
        previous = 0;
      }
    }
    REQUIRE(m.steps.size() == 300);
    m.latency_detail = backend->latency().detail;
    backend->close();
    return m;
  });
  if (!measured) return;
  CHECK(measured->underruns <= 3);
  const auto step = stats_of(measured->steps);
  const auto total = stats_of(std::vector<double>(measured->totals.begin(), measured->totals.end()));
  WARN("pulse: audible step − 10 ms over 300 blocks: median " << step.median << " µs, min " << step.min << ", max "
                                                               << step.max << ", 95% within ±" << step.p95_abs
                                                               << " µs; latency total median " << total.median
                                                               << " µs (" << measured->latency_detail << ")");
  // Measured on a 2-core VM (10 runs): every step within ±20 µs of 10 ms, 95 % within ±2 µs. The limits
  // leave room for a loaded machine (a preempted reading is retried, see output_pulse.cpp).
  CHECK(std::abs(step.median) < 20);
  CHECK(step.p95_abs < 100);
  CHECK(std::abs(step.max) < 1000);
  CHECK(std::abs(step.min) < 1000);
  // Requested tlength is 4 blocks including the sink's latency (ADJUST_LATENCY); allow a block of
  // rounding plus 10 ms.
  CHECK(total.min > 0);
  CHECK(total.max < 5 * kBlockUs + 10'000);
}

TEST_CASE("pulse: the samples reach the sink unchanged, at the predicted instant", "[pulse]") {
  PulseServer server({"room1"});
  struct Heard {
    std::vector<double> early_or_late;  // per chunk: monitor arrival − predicted instant
    std::size_t silent_frames_inside = 0;
  };
  const auto measured = chorus::test::measure_outside_storms("pulse: predicted instants", [&] {
    MonitorRecorder monitor("room1.monitor");
    auto backend = make_pulse_backend("room1");
    REQUIRE(backend->open(kBlock) == "");

    constexpr int kBlocks = 300;
    std::vector<std::int16_t> block(kBlock * 2);
    std::vector<std::optional<std::int64_t>> audible;  // of block k's first frame, 1 + k·kBlock
    for (int k = 0; k < kBlocks; ++k) {
      for (int f = 0; f < kBlock; ++f) put_frame_number(&block[2 * f], static_cast<std::uint32_t>(1 + k * kBlock + f));
      audible.push_back(backend->next_frame_audible_us());
      // An underrun (this thread held up by a loaded machine) only inserts silence at the sink.
      REQUIRE(backend->write(block) != WriteOutcome::lost);
    }
    const auto last = static_cast<std::uint32_t>(kBlocks * kBlock);
    REQUIRE(eventually([&] { return monitor.has_seen(last); }));
    backend->close();

    // Content: every frame, in order, unchanged, with only silence (before the start, or where an
    // underrun paused the stream) in between.
    Heard heard;
    const auto samples = monitor.samples();
    const std::size_t frames = samples.size() / 2;
    std::size_t start = 0;
    while (start < frames && frame_number(&samples[2 * start]) == 0) ++start;
    std::uint32_t expected = 1;
    std::size_t mismatches = 0;
    for (std::size_t i = start; i < frames && expected <= last; ++i) {
      const std::uint32_t n = frame_number(&samples[2 * i]);
      if (n == 0) {
        ++heard.silent_frames_inside;
        continue;
      }
      mismatches += n != expected;
      expected = n + 1;
    }
    CHECK(expected == last + 1);
    CHECK(mismatches == 0);

    // Timing: the monitor hands over a chunk when its first frame is played.
    heard.early_or_late = arrival_minus_predicted(monitor, [&](std::uint32_t n) -> std::optional<std::int64_t> {
      const auto k = static_cast<std::size_t>((n - 1) / kBlock);
      if (k >= audible.size() || !audible[k]) return std::nullopt;
      return *audible[k] + frames_us(static_cast<std::int64_t>(n - 1) % kBlock);
    });
    return heard;
  });
  if (!measured) return;
  CHECK(measured->silent_frames_inside < 10u * kBlock);  // a few underruns at most
  const auto delta = stats_of(measured->early_or_late);
  WARN("pulse: monitor arrival − predicted audible instant over " << measured->early_or_late.size()
                                                                  << " chunks: median " << delta.median << " µs, min "
                                                                  << delta.min << ", max " << delta.max
                                                                  << ", 95% within ±" << delta.p95_abs << " µs");
  // Measured on a 2-core VM (10 runs): median +60..+230 µs (the sink thread's wake-up and the
  // trip to this process), minimum −131..+91 µs, a few late outliers (up to 11 ms: this process
  // not scheduled). A chunk cannot arrive before it is played, so the minimum bounds how late a
  // prediction can be.
  REQUIRE(measured->early_or_late.size() > 100);
  CHECK(delta.median > 0);
  CHECK(delta.median < 1000);
  CHECK(delta.min > -1000);
}

TEST_CASE("pulse: an unloaded sink is lost, not replaced by another room's sink", "[pulse]") {
  PulseServer server({"room1", "room2"});
  auto backend = make_pulse_backend("room1");
  REQUIRE(backend->open(kBlock) == "");
  REQUIRE(play_silence_until_running(*backend));
  const std::int64_t unload_start = now_us();
  REQUIRE(server.unload_sink("room1"));  // pactl: tens of ms
  const std::int64_t unloaded = now_us();
  const auto lost_after = time_until_lost(*backend, 3 * kMaxDeviceWait);
  REQUIRE(lost_after.has_value());
  WARN("pulse: sink unloaded (pactl took " << unloaded - unload_start << " µs) → lost " << lost_after->count()
                                           << " µs after pactl returned");
  CHECK(lost_after->count() < kMaxWaitUs + 100'000);
  backend->close();

  const std::string error = backend->open(kBlock);
  CHECK(error.find("no sink named 'room1' on the server 'pulseaudio") == 0);
  CHECK(error.find("room2") != std::string::npos);  // the sinks there are
}

TEST_CASE("pulse: after an underrun the first write says recovered and the stream runs again", "[pulse]") {
  PulseServer server({"room1"});
  auto backend = make_pulse_backend("room1");
  REQUIRE(backend->open(kBlock) == "");
  REQUIRE(play_silence_until_running(*backend));
  // Stop writing: the queued 40 ms run out, the server reports the underrun, and the stream
  // waits for prebuf again.
  const std::int64_t stopped = now_us();
  REQUIRE(eventually([&] { return !backend->next_frame_audible_us(); }));
  const std::int64_t noticed = now_us();
  const auto block = silence();
  // The server's underflow notice may arrive after the stream is seen to run dry: one of the next
  // few writes says recovered.
  int writes_until_recovered = 1;
  while (backend->write(block) != WriteOutcome::recovered && writes_until_recovered < 50) ++writes_until_recovered;
  CHECK(writes_until_recovered < 50);
  int blocks_until_running = 1;
  while (!backend->next_frame_audible_us() && blocks_until_running < 100) {
    REQUIRE(backend->write(block) == WriteOutcome::written);
    ++blocks_until_running;
  }
  WARN("pulse: writes stopped → underrun seen after " << noticed - stopped << " µs; recovered reported by write "
                                                      << writes_until_recovered << "; running again after "
                                                      << blocks_until_running << " blocks");
  CHECK(blocks_until_running < 100);
  CHECK(backend->write(block) == WriteOutcome::written);
}

TEST_CASE("pulse: opening an unknown sink says so in one line", "[pulse]") {
  PulseServer server({"room1"});
  auto backend = make_pulse_backend("nowhere");
  const std::string error = backend->open(kBlock);
  INFO(error);
  CHECK(error.find("no sink named 'nowhere' on the server 'pulseaudio") == 0);
  CHECK(error.find("room1") != std::string::npos);
  CHECK(error.find('\n') == std::string::npos);
  CHECK(backend->describe() == "pulse:nowhere (not open)");
}

TEST_CASE("pulse: the default sink is used when none is named", "[pulse]") {
  PulseServer server({"room1"});
  auto backend = make_pulse_backend("");
  REQUIRE(backend->open(kBlock) == "");
  CHECK(backend->describe().find("pulse (default sink 'room1', server 'pulseaudio") == 0);
  CHECK(play_silence_until_running(*backend));
}

TEST_CASE("pulse: a killed server is lost, and a new open() works once it is back", "[pulse]") {
  PulseServer server({"room1"});
  auto backend = make_pulse_backend("room1");
  REQUIRE(backend->open(kBlock) == "");
  REQUIRE(play_silence_until_running(*backend));
  server.restart();  // kills it, then starts a new one with the same sinks
  const auto lost_after = time_until_lost(*backend, 3 * kMaxDeviceWait);
  REQUIRE(lost_after.has_value());
  backend->close();
  REQUIRE(backend->open(kBlock) == "");
  CHECK(play_silence_until_running(*backend));
}

TEST_CASE("pulse: without a server, open() fails at once with a clear error", "[pulse]") {
  TempDir dir;
  EnvGuard server("PULSE_SERVER", "unix:" + (dir.path / "nobody").string());
  auto backend = make_pulse_backend("room1");
  const std::int64_t start = now_us();
  const std::string error = backend->open(kBlock);
  CHECK(now_us() - start < 100'000);
  CHECK(error.find("no sound server answers at unix:") == 0);
}

TEST_CASE("pulse: a frozen server is lost within about kMaxDeviceWait and close() does not hang", "[pulse]") {
  PulseServer server({"room1"});
  auto backend = make_pulse_backend("room1");
  REQUIRE(backend->open(kBlock) == "");
  REQUIRE(play_silence_until_running(*backend));
  server.freeze();
  ThawAtExit thaw{server};
  std::int64_t longest_call = 0;
  const auto lost_after = time_until_lost(*backend, 3 * kMaxDeviceWait, &longest_call);
  REQUIRE(lost_after.has_value());
  WARN("pulse: server frozen → lost after " << lost_after->count() << " µs (longest call " << longest_call << " µs)");
  // The buffer (tlength) drains first, then write() waits kMaxDeviceWait.
  CHECK(lost_after->count() < kMaxWaitUs + 5 * kBlockUs + 100'000);
  CHECK(longest_call < kMaxWaitUs + 100'000);
  const std::int64_t close_start = now_us();
  backend->close();
  CHECK(now_us() - close_start < 100'000);

  // Opening against the frozen server gives up within kMaxDeviceWait too.
  const std::int64_t open_start = now_us();
  CHECK(backend->open(kBlock) != "");
  CHECK(now_us() - open_start < kMaxWaitUs + 100'000);
}

TEST_CASE("pulse: pulse_server_answers tells a live server from none", "[pulse]") {
  PulseServer server({"room1"});
  CHECK(pulse_server_answers(500ms));

  // A socket that exists but where nobody listens: refused at once.
  TempDir dir;
  const auto path = (dir.path / "deaf").string();
  const int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof(address.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
  {
    EnvGuard deaf("PULSE_SERVER", "unix:" + path);
    const std::int64_t start = now_us();
    CHECK_FALSE(pulse_server_answers(500ms));
    CHECK(now_us() - start < 100'000);
  }
  ::close(fd);

  // A frozen server: no answer within the timeout.
  server.freeze();
  ThawAtExit thaw{server};
  const std::int64_t start = now_us();
  CHECK_FALSE(pulse_server_answers(200ms));
  CHECK(now_us() - start < 300'000);
}
