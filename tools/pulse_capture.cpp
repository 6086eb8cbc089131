#include "pulse_capture.hpp"

#include <pulse/error.h>
#include <pulse/pulseaudio.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/time_base.hpp"
#include "playback/pulse_timing.hpp"

namespace skew_probe {
namespace {

using chorus::playback::detail::first_byte_heard_at;
using chorus::playback::detail::first_byte_played_at;
using chorus::playback::detail::HeardAnchor;
using chorus::playback::detail::next_frame_heard_from;
using chorus::playback::detail::next_unread_frame_played_from;
using chorus::playback::detail::vet_timing_update;

constexpr std::uint32_t kRate = 48'000;
constexpr std::size_t kBytesPerFrame = 4;
/// Neither stream's timing is stamped during its first second: a new record stream on a monitor
/// reports latencies that are off by up to a quarter of a second while the sink settles its own
/// latency (seen: 220 ms falling to 0 over 0.2 s), and a new playback stream prebuffers.
constexpr std::int64_t kSettleUs = 1'000'000;

pa_sample_spec probe_format() { return pa_sample_spec{PA_SAMPLE_S16LE, kRate, 2}; }

}  // namespace

StreamThread::StreamThread(std::function<std::string()> body)
    : thread_([this, body = std::move(body)] { error_ = body(); }) {}

StreamThread::~StreamThread() { join(); }

std::string StreamThread::join() {
  if (thread_.joinable()) thread_.join();
  return error_;
}

namespace {

/// One record stream on a mainloop run by the recorder's own thread (pa_mainloop: no locks,
/// every callback runs inside iterate()).
struct Recording {
  BlockSink on_block;
  std::int64_t settled_at = 0;
  std::string error;
  // Vets the record stream's timing updates as the pulse output vets its own: the probe's stamps
  // are the measurement's truth, and a single bad update must not misplace 1.5 s of them.
  HeardAnchor anchor;

  static void on_timing_update(pa_stream* stream, void* user) {
    const pa_timing_info* timing = pa_stream_get_timing_info(stream);
    if (timing != nullptr) vet_timing_update(stream, static_cast<Recording*>(user)->anchor, first_byte_played_at(*timing));
  }

  /// Everything readable now, each fragment stamped with when its first frame was played
  /// (pulse_timing.hpp: from the server's last trusted timing update).
  static void on_readable(pa_stream* stream, std::size_t, void* user) {
    auto* self = static_cast<Recording*>(user);
    while (pa_stream_readable_size(stream) > 0) {
      const auto played = next_unread_frame_played_from(self->anchor, pa_stream_get_timing_info(stream));
      const void* data = nullptr;
      std::size_t bytes = 0;
      if (pa_stream_peek(stream, &data, &bytes) < 0) {
        self->error = "reading the record stream failed";
        return;
      }
      if (bytes == 0) break;
      if (data != nullptr && played && *played >= self->settled_at) {
        self->on_block(static_cast<const unsigned char*>(data), bytes / kBytesPerFrame, *played);
      }
      pa_stream_drop(stream);
    }
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
  WriteSink on_write;
  std::function<void()> on_underflow_seen;
  std::int64_t settled_at = 0;
  std::vector<unsigned char> block;
  std::int64_t next_frame = 0;
  std::string error;
  HeardAnchor anchor;

  static void on_timing_update(pa_stream* stream, void* user) {
    const pa_timing_info* timing = pa_stream_get_timing_info(stream);
    if (timing != nullptr && timing->playing != 0) {
      vet_timing_update(stream, static_cast<CalibrationPlayback*>(user)->anchor, first_byte_heard_at(*timing));
    }
  }
  static void on_underflow(pa_stream*, void* user) {
    auto* self = static_cast<CalibrationPlayback*>(user);
    self->anchor.restart();
    if (chorus::now_us() >= self->settled_at) self->on_underflow_seen();
  }

  /// As the chorus pulse output reckons it (output_pulse.cpp), once the stream plays.
  std::optional<std::int64_t> next_frame_audible_at(const pa_timing_info* timing) const {
    if (timing == nullptr || timing->playing == 0) return std::nullopt;
    return next_frame_heard_from(anchor, timing);
  }

  static void on_writable(pa_stream* stream, std::size_t, void* user) {
    auto* self = static_cast<CalibrationPlayback*>(user);
    while (pa_stream_writable_size(stream) >= self->block.size()) {
      const auto audible = self->next_frame_audible_at(pa_stream_get_timing_info(stream));
      const std::size_t frames = self->block.size() / kBytesPerFrame;
      for (std::size_t i = 0; i < frames; ++i) {
        const auto value = static_cast<std::uint32_t>(self->next_frame + static_cast<std::int64_t>(i) + 1);
        for (std::size_t b = 0; b < kBytesPerFrame; ++b) self->block[i * kBytesPerFrame + b] = (value >> (8 * b)) & 0xff;
      }
      if (pa_stream_write(stream, self->block.data(), self->block.size(), nullptr, 0, PA_SEEK_RELATIVE) < 0) {
        self->error = "writing the calibration track failed";
        return;
      }
      if (audible && *audible >= self->settled_at) self->on_write(self->next_frame, *audible);
      self->next_frame += static_cast<std::int64_t>(frames);
    }
  }
};

}  // namespace

std::unique_ptr<StreamThread> record(std::string source, std::int64_t end_us, BlockSink on_block) {
  return std::make_unique<StreamThread>([source = std::move(source), end_us, on_block = std::move(on_block)] {
    Recording recording{on_block, chorus::now_us() + kSettleUs, {}, {}};
    return run_stream(
        "record " + source,
        [&](pa_stream* stream) {
          pa_stream_set_read_callback(stream, &Recording::on_readable, &recording);
          pa_stream_set_latency_update_callback(stream, &Recording::on_timing_update, &recording);
          // Small fragments: the server hands over what the sink rendered within about 2 ms.
          pa_buffer_attr attr{};
          attr.maxlength = static_cast<std::uint32_t>(-1);
          attr.fragsize = static_cast<std::uint32_t>(96 * kBytesPerFrame);
          return pa_stream_connect_record(stream, source.c_str(), &attr, kStreamFlags);
        },
        end_us, recording.error);
  });
}

std::unique_ptr<StreamThread> play_counting_track(std::string sink, std::size_t block_frames, std::int64_t end_us,
                                                  WriteSink on_write, std::function<void()> on_underflow) {
  return std::make_unique<StreamThread>([sink = std::move(sink), block_frames, end_us, on_write = std::move(on_write),
                                         on_underflow = std::move(on_underflow)] {
    CalibrationPlayback playback{on_write, on_underflow, chorus::now_us() + kSettleUs,
                                 std::vector<unsigned char>(block_frames * kBytesPerFrame), 0, {}, {}};
    return run_stream(
        "play into " + sink,
        [&](pa_stream* stream) {
          pa_stream_set_write_callback(stream, &CalibrationPlayback::on_writable, &playback);
          pa_stream_set_latency_update_callback(stream, &CalibrationPlayback::on_timing_update, &playback);
          pa_stream_set_underflow_callback(stream, &CalibrationPlayback::on_underflow, &playback);
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
  });
}

}  // namespace skew_probe
