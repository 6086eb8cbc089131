#pragma once
// The skew probe's view of a PulseAudio (or PipeWire pulse) server: it records a sink's monitor
// and stamps every block with when the sink played it, and it plays a numbered calibration track
// into a sink, noting when the server says each block will be heard.
//
// Stamps come from the server's timing updates, not from when bytes reach the probe: a null sink
// renders a few ms ahead of its clock and the monitor passes each chunk on when it is rendered, so
// arrival times would be early by a varying amount. Each update says how far the server had
// written the record stream at its timestamp and how far ahead of its clock the sink rendered
// (pulse_capture.cpp, played_at()); the frame we read next is placed from that. Neither libpulse's
// simple API (it reports a monitor's negative latency as 0, leaving the sink's render-ahead in
// every stamp) nor its interpolated latency (a smoother whose error after a stall fades over
// seconds) would do.
//
// Both run on threads of their own until the probe's end instant; blocks go to a callback on
// that thread.

#include <cstdint>
#include <functional>
#include <string>
#include <thread>

namespace skew_probe {

/// (block of S16LE stereo frames, number of frames, local µs at which its first frame was played)
using BlockSink = std::function<void(const unsigned char*, std::size_t, std::int64_t)>;

class PulseRecorder {
 public:
  /// Records `source` (e.g. "room1.monitor") until `end_us`, in the fragments the server hands
  /// over (about 2 ms each; `block_frames` is not used for recording).
  PulseRecorder(std::string source, std::size_t block_frames, std::int64_t end_us, BlockSink on_block);
  ~PulseRecorder();
  PulseRecorder(const PulseRecorder&) = delete;
  PulseRecorder& operator=(const PulseRecorder&) = delete;
  /// Empty if recording ran to the end; otherwise why it stopped.
  std::string join();

 private:
  void run(std::string source, std::size_t block_frames, std::int64_t end_us);
  BlockSink on_block_;
  std::string error_;
  std::thread thread_;
};

/// Plays frames numbered 1, 2, 3, ... (the probe's counting track) into `sink` until `end_us`,
/// and reports each block as it is written: its first frame number and the local µs at which
/// the server says that frame will be heard (now + stream latency).
class PulseCalibrationWriter {
 public:
  using OnWrite = std::function<void(std::int64_t first_frame, std::int64_t audible_us)>;
  PulseCalibrationWriter(std::string sink, std::size_t block_frames, std::int64_t end_us, OnWrite on_write);
  ~PulseCalibrationWriter();
  PulseCalibrationWriter(const PulseCalibrationWriter&) = delete;
  PulseCalibrationWriter& operator=(const PulseCalibrationWriter&) = delete;
  std::string join();

 private:
  void run(std::string sink, std::size_t block_frames, std::int64_t end_us);
  OnWrite on_write_;
  std::string error_;
  std::thread thread_;
};

}  // namespace skew_probe
