#pragma once
// A sound device seen from the device output's thread (device_output.cpp): opened, written block
// by block, and asked before every block when the next frame written will be heard. The alsa and
// pulse outputs are backends; the thread, the retry after a lost device, the smoothing of the
// measured times and the counters are the device output's, shared by both.
//
// Every call comes from the device output's one thread, in this order:
//   open() → { next_frame_audible() → write() }* → close() → open() ...
// None may block for longer than about kMaxDeviceWait: a frozen sound server or a driver that
// stops answering must not keep stop() from returning.

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace chorus::playback::detail {

/// The longest a backend call may block.
inline constexpr auto kMaxDeviceWait = std::chrono::milliseconds(500);

enum class WriteOutcome {
  written,    ///< the block is queued on the device
  recovered,  ///< an underrun (xrun) happened before or during this write; the backend recovered
              ///< and the block is queued, but the device's timeline restarted
  lost,       ///< the device or server went away (or did not answer within kMaxDeviceWait):
              ///< close() and open() again later
};

/// What the device said about its own latency, logged once when it starts running.
struct DeviceLatency {
  std::int64_t total_us = 0;  ///< audible − now for the next frame written, as last measured
  std::string detail;         ///< e.g. "buffer 40.0 ms, sink 2.1 ms" (empty if nothing more)
};

class DeviceBackend {
 public:
  virtual ~DeviceBackend() = default;
  /// Opens the device at 48 kHz, 2 channels, S16LE, with periods of about `block_frames`.
  /// Returns the reason when it cannot (one line for the log, e.g. "device 'hw:3' refuses
  /// 48000 Hz (nearest 44100)"), empty on success.
  virtual std::string open(int block_frames) = 0;
  /// Frames per write() the device wants (its period, or the requested block when it has none).
  virtual int block_frames() const = 0;
  /// The steady-clock µs (chorus::now_us()) at which the next frame written will be heard,
  /// measured from the device's own timing (delay and timestamp). nullopt while the device is not
  /// running yet (prebuffering): the output then writes silence without rendering.
  virtual std::optional<std::int64_t> next_frame_audible_us() = 0;
  /// Queues one block (block_frames() frames, interleaved), waiting for room at most about
  /// kMaxDeviceWait.
  virtual WriteOutcome write(std::span<const std::int16_t> block) = 0;
  virtual void close() = 0;
  /// The last measured latency (valid after a next_frame_audible_us() that returned a value).
  virtual DeviceLatency latency() const = 0;
  /// The device as the user named it and as it was opened, e.g. "alsa:default (pulse plugin,
  /// period 480, buffer 1920)". Called on the output's thread only.
  virtual std::string describe() const = 0;
};

}  // namespace chorus::playback::detail
