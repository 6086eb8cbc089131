#pragma once
// The skew probe's view of a PulseAudio (or PipeWire pulse) server: it records a sink's monitor
// and stamps every block with when the sink played it, and it plays a numbered calibration track
// into a sink, noting when the server says each block will be heard.
//
// Stamps come from the server's timing updates, not from when bytes reach the probe: a null sink
// renders a few ms ahead of its clock and the monitor passes each chunk on when it is rendered, so
// arrival times would be early by a varying amount. Each update says how far the server had
// written the record stream at its timestamp and how far ahead of its clock the sink rendered
// (src/playback/pulse_timing.hpp); the frame we read next is placed from that. Neither libpulse's
// simple API (it reports a monitor's negative latency as 0, leaving the sink's render-ahead in
// every stamp) nor its interpolated latency (a smoother whose error after a stall fades over
// seconds) would do.
//
// Both run on threads of their own until the probe's end instant; blocks go to a callback on
// that thread.

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>

namespace skew_probe {

/// (block of S16LE stereo frames, number of frames, local µs at which its first frame was played)
using BlockSink = std::function<void(const unsigned char*, std::size_t, std::int64_t)>;
/// (first frame number of a block just written, local µs at which the server says it is heard)
using WriteSink = std::function<void(std::int64_t, std::int64_t)>;

/// A thread running one stream until the probe's end instant; join() says why it stopped early.
class StreamThread {
 public:
  /// Runs `body` on a thread of its own; its return value is join()'s (empty: ran to the end).
  explicit StreamThread(std::function<std::string()> body);
  ~StreamThread();
  StreamThread(const StreamThread&) = delete;
  StreamThread& operator=(const StreamThread&) = delete;
  std::string join();

 private:
  std::string error_;
  std::thread thread_;
};

/// Records `source` (e.g. "room1.monitor") until `end_us`, in the fragments the server hands
/// over (about 2 ms each), each passed to `on_block` with when its first frame was played.
std::unique_ptr<StreamThread> record(std::string source, std::int64_t end_us, BlockSink on_block);

/// Plays frames numbered 1, 2, 3, ... (the probe's counting track) into `sink` until `end_us` in
/// blocks of `block_frames`, passing each block to `on_write` with its first frame number and
/// when the server says that frame will be heard, and calling `on_underflow` for each underrun
/// after the settling time (the predictions around one are the least certain).
std::unique_ptr<StreamThread> play_counting_track(std::string sink, std::size_t block_frames, std::int64_t end_us,
                                                  WriteSink on_write, std::function<void()> on_underflow);

}  // namespace skew_probe
