// metronome: a writer that is in sync by construction, for measuring the platform floor of the
// skew benchmark (bench/skew.py, docs/benchmarks.md "Limits of the method").
//
//   metronome --output file:FIFO --t0-us T0 [--phase-us P]
//
// It plays the counting track (skew_probe make-track: frame k holds k + 1) as if the track had
// started at steady-clock instant T0: the block due at instant D holds the frames from position
// (D − T0) · 48 kHz on, silence before T0. Several metronomes given the same T0 therefore write
// the same frames at the same instants, with no network, no clock estimate and no engine between
// them: they share this machine's one kernel clock.
//
// Why this is a fair floor for the nodes' skew: the block goes out through the product's own
// output, made by make_output() from the same `file:PATH` spec a node's `--output` takes: the
// same paced thread, SCHED_FIFO priority, timer slack, relative sleeps, non-blocking FIFO writes,
// and the same steering of each block onto the frame grid by the renderer's timing error. What
// skew_probe then sees between metronomes is only when the platform let those threads write and
// let the probe read: the part of a node's skew no synchronisation can remove on this machine.
//
// --phase-us P starts the output at the next instant that is P µs into a 10 ms period of the steady
// clock. A paced output takes its phase within the period from its start, and how often writers
// wake at the same instant (and take turns on few cores) depends on those phases; the benchmark
// gives the metronomes the phases the nodes they are compared with had (or random ones), rather
// than whatever the metronomes' process start-up would give them.
//
// Runs until SIGTERM or SIGINT, then stops the output and exits 0.

#include <signal.h>

#include <chrono>
#include <cmath>
#include <cstdint>
#include <iostream>
#include <span>
#include <string>
#include <thread>

#include <CLI/CLI.hpp>

#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/audio_player.hpp"
#include "chorus/playback/format.hpp"
#include "chorus/time_base.hpp"
#include "playback/audio_thread_priority.hpp"

namespace {

using chorus::playback::kChannels;
using chorus::playback::kFrameUs;
using chorus::playback::kOutputRate;

/// The counting track, started at T0 on the local steady clock.
class CountingRenderer final : public chorus::playback::Renderer {
 public:
  explicit CountingRenderer(std::int64_t t0_us) : t0_us_(t0_us) {}

  void render(std::span<std::int16_t> interleaved, std::int64_t audible_at_local_us) override {
    const double exact = static_cast<double>(audible_at_local_us - t0_us_) * static_cast<double>(kOutputRate) / 1e6;
    const std::int64_t first = std::llround(exact);
    // As the sync engine does: the block's frames belong on the grid of T0; a paced output moves
    // the block by this much so that they come out there.
    timing_error_us_ = (static_cast<double>(first) - exact) * kFrameUs;
    const auto frames = interleaved.size() / kChannels;
    for (std::size_t i = 0; i < frames; ++i) {
      const std::int64_t frame = first + static_cast<std::int64_t>(i);
      // skew_probe's encoding: frame + 1 (0 is silence), low 16 bits left, high 16 bits right.
      const auto value = frame < 0 ? 0U : static_cast<std::uint32_t>(frame + 1);
      interleaved[2 * i] = static_cast<std::int16_t>(value & 0xffffU);
      interleaved[2 * i + 1] = static_cast<std::int16_t>(value >> 16);
    }
  }
  double timing_error_us() const override { return timing_error_us_; }

 private:
  const std::int64_t t0_us_;
  double timing_error_us_ = 0;
};

/// The first instant at least 1 ms from now that lies `phase_us` (mod `period_us`) into a period
/// of `period_us`, on the steady clock (µs).
std::int64_t next_instant_at_phase(std::int64_t phase_us, std::int64_t period_us) {
  const std::int64_t earliest = chorus::now_us() + 1'000;
  const std::int64_t into = ((phase_us - earliest) % period_us + period_us) % period_us;
  return earliest + into;
}

/// Blocks the stop signals on this thread (the output's thread, started later, inherits that)
/// and returns them, for sigwait().
sigset_t block_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"Plays the counting track from a given steady-clock instant through a node's paced output"};
  std::string output;
  std::int64_t t0_us = 0;
  std::int64_t phase_us = -1;
  app.add_option("--output", output, "Output spec, as a node's --output (file:FIFO)")->required();
  app.add_option("--t0-us", t0_us, "Steady-clock µs at which frame 0 is heard")->required();
  app.add_option("--phase-us", phase_us, "Start the output this many µs into a block period of the steady clock")
      ->check(CLI::Range(std::int64_t{0}, std::int64_t{1'000'000}));
  CLI11_PARSE(app, argc, argv);

  const sigset_t stop_signals = block_stop_signals();
  // A node's block size and no extra latency, as a node started without --latency-ms.
  const chorus::playback::PlayerConfig node_defaults;
  auto made = chorus::playback::make_output(output, node_defaults.block_frames, std::chrono::microseconds(0));
  if (!made.output) {
    std::cerr << "metronome: " << made.error << "\n";
    return 2;
  }
  // Real-time from the wake-up at the phase until the output's thread is created, which inherits
  // it: other load on the machine then cannot delay that thread's start, which sets its phase, by
  // milliseconds. The output thread then tunes itself as always.
  chorus::playback::detail::tune_audio_thread();
  if (phase_us >= 0) {
    const std::int64_t period_us = std::int64_t{made.output->block_frames()} * 1'000'000 / kOutputRate;
    std::this_thread::sleep_until(chorus::from_us(next_instant_at_phase(phase_us, period_us)));
  }
  CountingRenderer renderer(t0_us);
  const bool started = made.output->start(renderer);
  chorus::playback::detail::leave_realtime();
  if (!started) {
    std::cerr << "metronome: " << made.output->describe() << " did not start\n";
    return 1;
  }
  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  made.output->stop();
  return 0;
}
