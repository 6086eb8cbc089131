#pragma once
// Audio outputs: where rendered PCM goes. One interface, implementations chosen with
// `--output auto|alsa[:DEVICE]|pulse[:SINK]|sdl|null|file:PATH` through make_output():
//
//   alsa       an ALSA PCM through alsa-lib, own thread; each block's audible instant from the
//              device's status (timestamp + delay)
//   pulse      a PulseAudio (or PipeWire pulse server) stream through libpulse, own thread; each
//              block's audible instant from the stream's timing (latency)
//   sdl        the default audio device, opened by SDL2_mixer; render() is called from its music
//              hook on SDL's audio thread. One per process (SDL2_mixer has one device).
//   null       own thread, paced by steady_clock absolute deadlines; discards the samples
//   file:PATH  same pacing; writes raw S16LE block by block to a regular file or a FIFO
//   auto       pulse when a server answers, else ALSA's default device, else sdl, else null
//
// All of them ask a Renderer for blocks of 48 kHz stereo S16 and tell it when the first frame of
// each block will be audible, in local steady_clock µs. Nothing on their hot path takes a lock or
// allocates. See docs/audio.md.

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace chorus::playback {

/// Produces the audio. Implemented by the sync engine.
struct Renderer {
  virtual ~Renderer() = default;
  /// Fill `interleaved` (L,R,L,R... 48 kHz S16; size = 2 × frames) completely. The first frame
  /// becomes audible at `audible_at_local_us` (steady-clock µs, chorus/time_base.hpp). Called
  /// from the output's own thread (or SDL's audio thread), one call at a time; must never block.
  virtual void render(std::span<std::int16_t> interleaved, std::int64_t audible_at_local_us) = 0;
  /// Right after render(), on the same thread: how much later than `audible_at_local_us` the
  /// block's frames would ideally be heard (the part of a frame the schedule falls between two
  /// output slots). An output that picks its own write instants (null, file) moves the block by
  /// that much; a device, whose clock it cannot move, ignores it and the renderer slews instead.
  virtual double timing_error_us() const { return 0; }
};

/// Counters, readable from any thread while the output runs.
struct OutputStats {
  std::uint64_t blocks = 0;    ///< render() calls whose block was consumed
  std::uint64_t frames = 0;    ///< frames consumed
  std::uint64_t resyncs = 0;   ///< paced outputs: fell behind by more than a few blocks, t0 reset
  std::uint64_t dropped = 0;   ///< file: blocks rendered but not written (no reader, full pipe)
  std::uint64_t late_writes = 0;     ///< paced outputs: blocks consumed more than 1 ms after their instant
  std::int64_t worst_late_us = 0;    ///< paced outputs: the latest of them
  std::int64_t wake_lead_us = 0;     ///< paced outputs: how early the thread asks to wake (WakeLead)
  bool realtime_given_up = false;    ///< left real-time priority (see audio_thread_priority.hpp)
  std::uint64_t realtime_long_blocks = 0;  ///< blocks that ran 1 ms or more of CPU at real-time priority

  // What a device says of itself (alsa, pulse; sdl on a pulse server measures its latency too).
  bool latency_measured = false;     ///< latency_us was measured on the device, not estimated
  std::int64_t latency_us = 0;       ///< from rendering a block to hearing its first frame
  double latency_jitter_us = 0;      ///< how far single measurements stray from the smoothed line
  double device_rate_ppm = 0;        ///< the device's clock against the local clock
  std::uint64_t xruns = 0;           ///< underruns the device recovered from
  std::uint64_t device_lost = 0;     ///< times the device went away (and was reopened, or is awaited)
  std::uint64_t timeline_jumps = 0;  ///< measurements more than 2 ms off the line, followed at once
};

class AudioOutput {
 public:
  virtual ~AudioOutput() = default;
  /// Starts calling renderer.render() from the output's thread. `renderer` must outlive stop().
  /// Returns false (and logs once) if the output cannot run, e.g. no SDL audio device.
  /// Call from a control thread (not from render()); start/stop may alternate.
  virtual bool start(Renderer& renderer) = 0;
  /// Stops and waits until render() is no longer running; idempotent. A block rendered but not
  /// yet consumed is dropped. Called by the destructor.
  virtual void stop() = 0;
  /// One line for logs and `status`, e.g. "file:/tmp/x.raw (480-frame blocks, +20 ms)".
  virtual std::string describe() const = 0;
  /// How long before its audible time a block is requested: audible_at − now at the render call,
  /// extra latency included. An estimate for sdl (see docs/audio.md).
  virtual std::int64_t fill_ahead_us() const = 0;
  /// Frames per render() call (sdl: the buffer size the device granted).
  virtual int block_frames() const = 0;
  virtual OutputStats stats() const = 0;
};

struct MakeOutputResult {
  std::unique_ptr<AudioOutput> output;  ///< nullptr exactly when error is set
  std::string error;
};

/// Parses `spec` (see the top of this file) and builds the output. `block_frames` is the render
/// block (e.g. 480 = 10 ms; sdl, alsa, pulse: the requested device period), `extra_latency` is
/// added to every audible time (per-node `--latency-ms`, may be negative). alsa and pulse open
/// their device on their own thread, at start(), and keep retrying every second while it cannot
/// be opened or after it went away; `auto` asks a sound server (at most 0.5 s) and ALSA which
/// one to use and logs its choice. "sdl" opens the device here;
/// when no device can be opened, or another sdl output in this process holds SDL2_mixer's one
/// device, it logs one line and returns a null output instead (no error).
/// A bad spec or block size returns an error and no output. null and file do not block (a FIFO is
/// opened later, on the output's thread); sdl waits for the device's first buffer request, which
/// tells its buffer size (one period, at most 2 s).
MakeOutputResult make_output(std::string_view spec, int block_frames,
                             std::chrono::microseconds extra_latency);

}  // namespace chorus::playback
