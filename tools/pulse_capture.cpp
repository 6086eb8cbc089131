#include "pulse_capture.hpp"

#include <pulse/error.h>
#include <pulse/pulseaudio.h>

#include <time.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/time_base.hpp"

namespace skew_probe {
namespace {

constexpr std::uint32_t kRate = 48'000;
constexpr std::size_t kBytesPerFrame = 4;
/// Neither stream's timing is stamped during its first second: a new record stream on a monitor
/// reports latencies that are off by up to a quarter of a second while the sink settles its own
/// latency (seen: 220 ms falling to 0 over 0.2 s), and a new playback stream prebuffers.
constexpr std::int64_t kSettleUs = 1'000'000;

pa_sample_spec probe_format() { return pa_sample_spec{PA_SAMPLE_S16LE, kRate, 2}; }

std::int64_t bytes_to_us(std::int64_t bytes) {
  return bytes / static_cast<std::int64_t>(kBytesPerFrame) * 1'000'000 / kRate;
}

std::int64_t timeval_us(const timeval& t) { return static_cast<std::int64_t>(t.tv_sec) * 1'000'000 + t.tv_usec; }

/// The wall clock minus the steady clock, from reads side by side (the closest of three pairs).
std::int64_t wall_minus_steady_us() {
  std::int64_t best_spread = INT64_MAX;
  std::int64_t difference = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    const std::int64_t before = chorus::now_us();
    timespec wall{};
    ::clock_gettime(CLOCK_REALTIME, &wall);
    const std::int64_t after = chorus::now_us();
    if (after - before < best_spread) {
      best_spread = after - before;
      difference = static_cast<std::int64_t>(wall.tv_sec) * 1'000'000 + wall.tv_nsec / 1000 - (before + after) / 2;
    }
  }
  return difference;
}


}  // namespace

PulseRecorder::PulseRecorder(std::string source, std::size_t block_frames, std::int64_t end_us, BlockSink on_block)
    : on_block_(std::move(on_block)),
      thread_([this, source = std::move(source), block_frames, end_us] { run(source, block_frames, end_us); }) {}

PulseRecorder::~PulseRecorder() {
  if (thread_.joinable()) thread_.join();
}

std::string PulseRecorder::join() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

namespace {

/// One record stream on a mainloop run by the recorder's own thread (pa_mainloop: no locks,
/// every callback runs inside iterate()).
struct Recording {
  BlockSink* on_block = nullptr;
  std::int64_t settled_at = 0;
  pa_stream* stream = nullptr;
  std::string error;

  /// Everything readable now, each fragment stamped with when its first frame was played (see
  /// played_at()).
  static void on_readable(pa_stream* stream, std::size_t, void* user) {
    auto* self = static_cast<Recording*>(user);
    while (pa_stream_readable_size(stream) > 0) {
      const auto played = played_at(stream);
      const void* data = nullptr;
      std::size_t bytes = 0;
      if (pa_stream_peek(stream, &data, &bytes) < 0) {
        self->error = "reading the record stream failed";
        return;
      }
      if (bytes == 0) break;
      if (data != nullptr && played && *played >= self->settled_at) {
        (*self->on_block)(static_cast<const unsigned char*>(data), bytes / kBytesPerFrame, *played);
      }
      pa_stream_drop(stream);
    }
  }

  /// When the next frame to be read was played, from the server's last timing update: at its
  /// `timestamp` the server had written the stream up to write_index; that audio left the source
  /// source_usec earlier, and a monitor source hands a sink's audio over when the sink renders
  /// it, sink_usec before the sink's instant for it. So the frame at write_index was played at
  /// timestamp − source_usec + sink_usec, and the one at read_index (ours) that many frames
  /// before. (The timestamp is on the wall clock: moved to the steady clock by the two clocks'
  /// difference read now.) libpulse's interpolated latency is not used: its smoother carries an
  /// error of milliseconds for seconds after the platform stalls a CPU.
  static std::optional<std::int64_t> played_at(pa_stream* stream) {
    const pa_timing_info* timing = pa_stream_get_timing_info(stream);
    if (timing == nullptr || timing->read_index_corrupt != 0 || timing->write_index_corrupt != 0) return std::nullopt;
    const std::int64_t write_index_played = timeval_us(timing->timestamp) - wall_minus_steady_us() -
                                            static_cast<std::int64_t>(timing->source_usec) +
                                            static_cast<std::int64_t>(timing->sink_usec);
    return write_index_played + bytes_to_us(timing->read_index - timing->write_index);
  }
};

struct MainloopCloser {
  void operator()(pa_mainloop* m) const { pa_mainloop_free(m); }
};

/// Connects to the default server, makes one stream, lets `connect` set its callbacks and connect
/// it, and runs the main loop on the calling thread (every callback runs inside it, so nothing
/// needs a lock) until `end_us`, a failure, or `callback_error` is set by a callback. Returns why it
/// stopped early, or an empty string.
std::string run_stream(const std::string& what, const std::function<int(pa_stream*)>& connect, std::int64_t end_us,
                       const std::string& callback_error) {
  std::unique_ptr<pa_mainloop, MainloopCloser> loop(pa_mainloop_new());
  pa_context* context = pa_context_new(pa_mainloop_get_api(loop.get()), "skew_probe");
  pa_stream* stream = nullptr;
  const auto failed = [&](const std::string& why) { return why + ": " + pa_strerror(pa_context_errno(context)); };
  /// Runs the loop until `ready` or 5 s.
  const auto wait_for = [&](auto ready) {
    const std::int64_t give_up = chorus::now_us() + 5'000'000;
    while (!ready()) {
      if (pa_mainloop_iterate(loop.get(), 0, nullptr) < 0 || chorus::now_us() > give_up) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
  };
  std::string error;
  pa_context_connect(context, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr);
  if (!wait_for([&] { return !PA_CONTEXT_IS_GOOD(pa_context_get_state(context)) ||
                             pa_context_get_state(context) == PA_CONTEXT_READY; }) ||
      pa_context_get_state(context) != PA_CONTEXT_READY) {
    error = failed("cannot connect to the sound server");
  } else {
    const auto format = probe_format();
    stream = pa_stream_new(context, "skew_probe", &format, nullptr);
    if (connect(stream) < 0 ||
        !wait_for([&] { return pa_stream_get_state(stream) != PA_STREAM_CREATING; }) ||
        pa_stream_get_state(stream) != PA_STREAM_READY) {
      error = failed("cannot " + what);
    }
  }
  // Block in poll for at most 20 ms at a time, so that the end instant is kept.
  while (error.empty() && callback_error.empty() && chorus::now_us() < end_us) {
    if (pa_mainloop_prepare(loop.get(), 20'000) < 0 || pa_mainloop_poll(loop.get()) < 0 ||
        pa_mainloop_dispatch(loop.get()) < 0 || pa_stream_get_state(stream) != PA_STREAM_READY) {
      error = failed(what + " ended");
    }
  }
  if (error.empty()) error = callback_error;
  if (stream != nullptr) {
    pa_stream_disconnect(stream);
    pa_stream_unref(stream);
  }
  pa_context_disconnect(context);
  pa_context_unref(context);
  return error;
}

constexpr auto kStreamFlags = static_cast<pa_stream_flags_t>(PA_STREAM_INTERPOLATE_TIMING | PA_STREAM_AUTO_TIMING_UPDATE |
                                                             PA_STREAM_ADJUST_LATENCY);

/// Plays the counting track block by block as the server asks for it.
struct CalibrationPlayback {
  PulseCalibrationWriter::OnWrite* on_write = nullptr;
  std::int64_t settled_at = 0;
  std::vector<unsigned char> block;
  std::int64_t next_frame = 0;
  std::string error;

  static void on_writable(pa_stream* stream, std::size_t, void* user) {
    auto* self = static_cast<CalibrationPlayback*>(user);
    while (pa_stream_writable_size(stream) >= self->block.size()) {
      const auto audible = next_frame_heard_at(stream);
      const std::size_t frames = self->block.size() / kBytesPerFrame;
      for (std::size_t i = 0; i < frames; ++i) {
        const auto value = static_cast<std::uint32_t>(self->next_frame + static_cast<std::int64_t>(i) + 1);
        for (std::size_t b = 0; b < kBytesPerFrame; ++b) self->block[i * kBytesPerFrame + b] = (value >> (8 * b)) & 0xff;
      }
      if (pa_stream_write(stream, self->block.data(), self->block.size(), nullptr, 0, PA_SEEK_RELATIVE) < 0) {
        self->error = "writing the calibration track failed";
        return;
      }
      if (audible && *audible >= self->settled_at) (*self->on_write)(self->next_frame, *audible);
      self->next_frame += static_cast<std::int64_t>(frames);
    }
  }

  /// As the chorus pulse output reckons it (src/playback/output_pulse.cpp): at the server's last
  /// timing update it had read the stream up to read_index and its sink held sink_usec more.
  static std::optional<std::int64_t> next_frame_heard_at(pa_stream* stream) {
    const pa_timing_info* timing = pa_stream_get_timing_info(stream);
    if (timing == nullptr || timing->playing == 0 || timing->read_index_corrupt != 0 ||
        timing->write_index_corrupt != 0 || timing->write_index <= timing->read_index) {
      return std::nullopt;
    }
    return timeval_us(timing->timestamp) - wall_minus_steady_us() + static_cast<std::int64_t>(timing->sink_usec) +
           bytes_to_us(timing->write_index - timing->read_index);
  }
};

}  // namespace

void PulseRecorder::run(std::string source, std::size_t, std::int64_t end_us) {
  Recording recording;
  recording.on_block = &on_block_;
  recording.settled_at = chorus::now_us() + kSettleUs;
  error_ = run_stream(
      "record " + source,
      [&](pa_stream* stream) {
        pa_stream_set_read_callback(stream, &Recording::on_readable, &recording);
        // Small fragments: the server hands over what the sink rendered within about 2 ms.
        pa_buffer_attr attr{};
        attr.maxlength = static_cast<std::uint32_t>(-1);
        attr.fragsize = static_cast<std::uint32_t>(96 * kBytesPerFrame);
        return pa_stream_connect_record(stream, source.c_str(), &attr, kStreamFlags);
      },
      end_us, recording.error);
}

PulseCalibrationWriter::PulseCalibrationWriter(std::string sink, std::size_t block_frames, std::int64_t end_us,
                                               OnWrite on_write)
    : on_write_(std::move(on_write)),
      thread_([this, sink = std::move(sink), block_frames, end_us] { run(sink, block_frames, end_us); }) {}

PulseCalibrationWriter::~PulseCalibrationWriter() {
  if (thread_.joinable()) thread_.join();
}

std::string PulseCalibrationWriter::join() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

void PulseCalibrationWriter::run(std::string sink, std::size_t block_frames, std::int64_t end_us) {
  CalibrationPlayback playback;
  playback.on_write = &on_write_;
  playback.settled_at = chorus::now_us() + kSettleUs;
  playback.block.resize(block_frames * kBytesPerFrame);
  error_ = run_stream(
      "play into " + sink,
      [&](pa_stream* stream) {
        pa_stream_set_write_callback(stream, &CalibrationPlayback::on_writable, &playback);
        // As the chorus pulse output asks: about four blocks queued, one at a time.
        pa_buffer_attr attr{};
        attr.maxlength = static_cast<std::uint32_t>(-1);
        attr.tlength = static_cast<std::uint32_t>(4 * block_frames * kBytesPerFrame);
        attr.prebuf = static_cast<std::uint32_t>(block_frames * kBytesPerFrame);
        attr.minreq = static_cast<std::uint32_t>(block_frames * kBytesPerFrame);
        attr.fragsize = static_cast<std::uint32_t>(-1);
        return pa_stream_connect_playback(stream, sink.c_str(), &attr, kStreamFlags, nullptr, nullptr);
      },
      end_us, playback.error);
}

}  // namespace skew_probe
