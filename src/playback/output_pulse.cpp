// The pulse backend: a playback stream on a PulseAudio (or PipeWire pulse) server, through
// libpulse's asynchronous API driven by a pa_threaded_mainloop.
//
// Threads. libpulse runs its mainloop on a thread of its own; every callback below runs there,
// with the mainloop lock held. The device output's thread takes the same lock around each call
// into libpulse and sleeps on the mainloop's condition (pa_threaded_mainloop_wait) when it waits
// for the server. Every callback only notes what happened and signals that condition.
//
// Bounded waits. pa_threaded_mainloop_wait has no timeout, so each wait arms a timer event on the
// mainloop at its deadline; the timer signals the condition like any other callback, and the
// waiter gives up once the deadline has passed. The timer runs on our process's mainloop thread,
// so it fires even when the server is frozen. close() sends its goodbyes without waiting for any
// answer (libpulse's sockets are non-blocking) and then stops the mainloop thread, so it cannot
// hang on a dead or frozen server either.
//
// When is the next frame heard? From the server's raw timing updates (PA_STREAM_AUTO_TIMING_UPDATE:
// libpulse asks 10 ms after the stream starts, then doubles the interval up to 1.5 s), as
// pulse_timing.hpp reckons: when the stream's first byte is heard, plus what has been written.
// Each update is checked against the last one trusted before it is used, and one that disagrees
// is confirmed or dropped by another update asked for at once (heard_anchor.hpp: a single bad
// update used to steer the output for up to 1.5 s). A step of the wall clock between
// an update and its use shows as a jump the device output follows at once.
//
// Not playing: before the first start (prebuffering), after an underrun until the server starts
// the stream again (its STARTED message, or a timing update that says so), and while the server
// has read past what we wrote (an underrun it has not reported yet), the instant is unknown and
// next_frame_audible_us() says so.
//
// Buffer. tlength = 4 blocks, minreq = 1 block: the server asks for audio a block at a time and
// keeps about 4 queued. With PA_STREAM_ADJUST_LATENCY the server counts the sink's own buffer in
// that total and sets the sink's latency accordingly (it may change tlength and minreq; describe()
// shows what was granted: on PulseAudio 16.1 with a null sink, sink 10 ms + tlength 30 ms, and a
// measured latency of 39.8 ms). prebuf = 1 block: the stream starts (and restarts after an
// underrun) as soon as one block is queued, instead of the server's default tlength − minreq.
// With the device output writing as fast as there is room, both measured the same (running again
// 5 blocks after an underrun: the buffer fills at once either way); with a writer that falls
// behind after an underrun, one block gets the audio back soonest.
//
// Measured (tests/unit/playback/test_output_pulse.cpp, PulseAudio 16.1 null sink, 2-core VM):
// successive audible instants step by the block length within ±20 µs; the sink's monitor hands
// over each chunk a median 0.06–0.23 ms after the instant predicted for its first frame (its own
// wake-up and the trip to us), never more than 0.13 ms before it; an unloaded sink is lost at the
// next write; a frozen server after kMaxDeviceWait.

#include <pulse/pulseaudio.h>

#include <algorithm>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"
#include "output_format.hpp"
#include "output_impl.hpp"
#include "pulse_connection.hpp"
#include "pulse_timing.hpp"

namespace chorus::playback::detail {
namespace {

/// Blocks of audio the stream keeps queued (tlength), counting the sink's own buffer.
constexpr std::uint32_t kQueuedBlocks = 4;
double bytes_to_ms(std::uint64_t bytes) {
  return static_cast<double>(frames_to_us(static_cast<std::int64_t>(bytes) / kBytesPerFrame)) / 1000.0;
}

/// What the server says about itself and its sinks, asked for at open (messages, describe()).
struct ServerFacts {
  std::string name;                     ///< e.g. "pulseaudio 16.1"
  std::string default_sink;
  std::vector<std::string> sink_names;
  int pending = 0;                      ///< answers not yet received
};

class PulseBackend final : public DeviceBackend {
 public:
  explicit PulseBackend(std::string sink) : sink_(std::move(sink)) {}
  ~PulseBackend() override { close(); }
  PulseBackend(const PulseBackend&) = delete;
  PulseBackend& operator=(const PulseBackend&) = delete;

  std::string open(int block_frames) override {
    close();
    block_frames_ = block_frames;
    const pa_usec_t deadline = pa_rtclock_now() + to_pa_usec(kMaxDeviceWait);
    std::string error = connection_.connect(deadline);
    if (!error.empty()) {
      close();
      return error;
    }
    {
      MainloopLock lock(connection_.loop());
      error = ask_server_facts(deadline);
      if (error.empty()) error = connect_stream(deadline);
    }
    if (!error.empty()) close();
    return error;
  }

  int block_frames() const override { return block_frames_; }

  std::optional<std::int64_t> next_frame_audible_us() override {
    if (stream_ == nullptr) return std::nullopt;
    MainloopLock lock(connection_.loop());
    if (broken() || !playing()) return std::nullopt;
    // No update of this timeline trusted yet, or the stream ran dry (next_frame_heard_from).
    const pa_timing_info* timing = pa_stream_get_timing_info(stream_);
    const auto audible = next_frame_heard_from(anchor_, timing);
    if (!audible) return std::nullopt;
    last_sink_us_ = static_cast<std::int64_t>(timing->sink_usec);
    last_latency_us_ = *audible - now_us();
    return audible;
  }

  WriteOutcome write(std::span<const std::int16_t> block) override {
    if (stream_ == nullptr) return WriteOutcome::lost;
    MainloopLock lock(connection_.loop());
    const std::size_t bytes = block.size_bytes();
    const pa_usec_t deadline = pa_rtclock_now() + to_pa_usec(kMaxDeviceWait);
    const bool room = connection_.wait_until([&] { return broken() || writable_bytes() >= bytes; }, deadline);
    if (broken() || !room) return WriteOutcome::lost;
    if (pa_stream_write(stream_, block.data(), bytes, nullptr, 0, PA_SEEK_RELATIVE) < 0) return WriteOutcome::lost;
    if (underflows_ == underflows_reported_) return WriteOutcome::written;
    underflows_reported_ = underflows_;
    return WriteOutcome::recovered;
  }

  void close() override {
    if (connection_.loop() != nullptr && stream_ != nullptr) {
      MainloopLock lock(connection_.loop());
      pa_stream_set_state_callback(stream_, nullptr, nullptr);
      pa_stream_set_write_callback(stream_, nullptr, nullptr);
      pa_stream_set_underflow_callback(stream_, nullptr, nullptr);
      pa_stream_set_started_callback(stream_, nullptr, nullptr);
      pa_stream_set_latency_update_callback(stream_, nullptr, nullptr);
      pa_stream_disconnect(stream_);
      pa_stream_unref(stream_);
    }
    stream_ = nullptr;
    connection_.close();
    underflows_ = underflows_reported_ = 0;
    waiting_for_start_ = true;
    anchor_.restart();
  }

  DeviceLatency latency() const override {
    // The sink's part as of the server's last timing update; the rest is queued in the stream.
    const auto sink_us = last_sink_us_;
    return {last_latency_us_, fmt::format("sink {:.1f} ms + buffer {:.1f} ms", static_cast<double>(sink_us) / 1000.0,
                                          static_cast<double>(last_latency_us_ - sink_us) / 1000.0)};
  }

  std::string describe() const override {
    const std::string name = sink_.empty() ? "pulse" : "pulse:" + sink_;
    if (granted_.tlength == 0) return fmt::format("{} (not open)", name);
    const std::string sink = sink_.empty() ? fmt::format("default sink '{}', ", opened_sink_) : std::string();
    return fmt::format("{} ({}server '{}', tlength {:.1f} ms, minreq {:.1f} ms, prebuf {:.1f} ms)", name, sink,
                       server_.name, bytes_to_ms(granted_.tlength), bytes_to_ms(granted_.minreq),
                       bytes_to_ms(granted_.prebuf));
  }

 private:
  // ------------------------------------------------------------------ open, lock held

  /// The server's name and version, default sink and sinks.
  std::string ask_server_facts(pa_usec_t deadline) {
    server_ = ServerFacts{};
    server_.pending = 2;
    pa_context* context = connection_.context();
    pa_operation* info = pa_context_get_server_info(context, &PulseBackend::on_server_info, this);
    pa_operation* sinks = pa_context_get_sink_info_list(context, &PulseBackend::on_sink_info, this);
    const bool answered = connection_.wait_until([&] { return server_.pending <= 0 || context_broken(context); },
                                                 deadline);
    for (pa_operation* op : {info, sinks}) {
      if (op == nullptr) continue;
      // Unanswered (timed out): a late answer must not call into us once we have moved on.
      if (pa_operation_get_state(op) == PA_OPERATION_RUNNING) pa_operation_cancel(op);
      pa_operation_unref(op);
    }
    if (answered && !context_broken(context)) return {};
    return fmt::format("the sound server at {} stopped answering", server_address(context));
  }

  static void on_server_info(pa_context*, const pa_server_info* info, void* user) {
    auto* self = static_cast<PulseBackend*>(user);
    if (info != nullptr) {
      self->server_.name = fmt::format("{} {}", info->server_name ? info->server_name : "?",
                                       info->server_version ? info->server_version : "?");
      self->server_.default_sink = info->default_sink_name ? info->default_sink_name : "";
    }
    --self->server_.pending;
    self->connection_.signal();
  }

  static void on_sink_info(pa_context*, const pa_sink_info* info, int eol, void* user) {
    auto* self = static_cast<PulseBackend*>(user);
    if (eol == 0 && info != nullptr && info->name != nullptr) self->server_.sink_names.emplace_back(info->name);
    if (eol == 0) return;
    --self->server_.pending;
    self->connection_.signal();
  }

  std::string connect_stream(pa_usec_t deadline) {
    if (!sink_.empty() && std::find(server_.sink_names.begin(), server_.sink_names.end(), sink_) ==
                              server_.sink_names.end()) {
      return no_such_sink();
    }
    const pa_sample_spec spec{PA_SAMPLE_S16LE, static_cast<std::uint32_t>(kSampleRate),
                              static_cast<std::uint8_t>(kChannels)};
    stream_ = pa_stream_new(connection_.context(), "chorus playback", &spec, nullptr);
    if (stream_ == nullptr) return fmt::format("cannot create a stream: {}", last_error());
    pa_stream_set_state_callback(stream_, &PulseBackend::on_stream_state, this);
    pa_stream_set_write_callback(stream_, &PulseBackend::on_writable, this);
    pa_stream_set_underflow_callback(stream_, &PulseBackend::on_underflow, this);
    pa_stream_set_started_callback(stream_, &PulseBackend::on_started, this);
    pa_stream_set_latency_update_callback(stream_, &PulseBackend::on_timing_update, this);

    const auto block_bytes = static_cast<std::uint32_t>(block_frames_ * kBytesPerFrame);
    pa_buffer_attr attr{};
    attr.maxlength = static_cast<std::uint32_t>(-1);
    attr.tlength = kQueuedBlocks * block_bytes;
    attr.prebuf = block_bytes;
    attr.minreq = block_bytes;
    attr.fragsize = static_cast<std::uint32_t>(-1);
    auto flags = static_cast<pa_stream_flags_t>(PA_STREAM_INTERPOLATE_TIMING | PA_STREAM_AUTO_TIMING_UPDATE |
                                                PA_STREAM_ADJUST_LATENCY);
    // A named sink is a room's: if it goes away the stream must fail (and be reopened on that
    // sink when it is back), not move to another room's sink.
    if (!sink_.empty()) flags = static_cast<pa_stream_flags_t>(flags | PA_STREAM_DONT_MOVE);
    if (pa_stream_connect_playback(stream_, sink_.empty() ? nullptr : sink_.c_str(), &attr, flags, nullptr,
                                   nullptr) < 0) {
      return stream_refused();
    }
    const bool settled = connection_.wait_until(
        [this] { return pa_stream_get_state(stream_) == PA_STREAM_READY || broken(); }, deadline);
    if (pa_stream_get_state(stream_) == PA_STREAM_READY) {
      note_granted();
      return {};
    }
    if (!settled) return fmt::format("the sound server at {} did not set up the stream in time",
                                     server_address(connection_.context()));
    return stream_refused();
  }

  void note_granted() {
    if (const pa_buffer_attr* granted = pa_stream_get_buffer_attr(stream_)) granted_ = *granted;
    const char* device = pa_stream_get_device_name(stream_);
    opened_sink_ = device != nullptr ? device : "?";
  }

  std::string no_such_sink() const {
    std::string known;
    for (const auto& name : server_.sink_names) known += (known.empty() ? "" : ", ") + name;
    return fmt::format("no sink named '{}' on the server '{}' at {} (its sinks: {})", sink_, server_.name,
                       server_address(connection_.context()), known.empty() ? "none" : known);
  }

  std::string stream_refused() const {
    const int error = pa_context_errno(connection_.context());
    if (error == PA_ERR_NOENTITY && !sink_.empty()) return no_such_sink();
    if (context_broken(connection_.context())) {
      return fmt::format("the sound server at {} went away ({})", server_address(connection_.context()),
                         pa_strerror(error));
    }
    const std::string sink = sink_.empty() ? "the default sink" : fmt::format("sink '{}'", sink_);
    return fmt::format("{} refuses a 48000 Hz s16le stereo stream: {}", sink, pa_strerror(error));
  }

  std::string last_error() const { return pa_strerror(pa_context_errno(connection_.context())); }

  // ------------------------------------------------------------------ running, lock held

  bool broken() const {
    return context_broken(connection_.context()) || !PA_STREAM_IS_GOOD(pa_stream_get_state(stream_));
  }

  /// The server plays the stream: started after prebuffering, no underrun since, not corked.
  bool playing() const {
    if (waiting_for_start_ || pa_stream_is_corked(stream_) != 0) return false;
    const pa_timing_info* timing = pa_stream_get_timing_info(stream_);
    return timing != nullptr && timing->playing != 0;
  }

  std::size_t writable_bytes() const {
    const std::size_t writable = pa_stream_writable_size(stream_);
    return writable == static_cast<std::size_t>(-1) ? 0 : writable;
  }

  // ------------------------------------------------------------------ callbacks: mainloop thread, lock held

  static void on_stream_state(pa_stream*, void* user) { static_cast<PulseBackend*>(user)->connection_.signal(); }
  static void on_writable(pa_stream*, std::size_t, void* user) { static_cast<PulseBackend*>(user)->connection_.signal(); }
  static void on_started(pa_stream*, void* user) {
    auto* self = static_cast<PulseBackend*>(user);
    self->waiting_for_start_ = false;
    self->connection_.signal();
  }
  /// Every timing update: vetted (heard_anchor.hpp), another asked for when it is held or starts
  /// a timeline. A server that sends no STARTED still says, in the timing update libpulse asks
  /// for right after an underflow and in the following ones, when the stream plays again.
  static void on_timing_update(pa_stream* stream, void* user) {
    auto* self = static_cast<PulseBackend*>(user);
    const pa_timing_info* timing = pa_stream_get_timing_info(stream);
    if (timing == nullptr || timing->playing == 0) return;
    self->waiting_for_start_ = false;
    const auto first_byte = first_byte_heard_at(*timing);
    if (!vet_timing_update(stream, self->anchor_, first_byte) || !self->anchor_.holding()) return;
    spdlog::debug("pulse: a timing update places the stream {:+.2f} ms from the last one trusted; held, another asked for",
                  static_cast<double>(*first_byte - *self->anchor_.trusted_us()) / 1000.0);
  }
  static void on_underflow(pa_stream*, void* user) {
    auto* self = static_cast<PulseBackend*>(user);
    ++self->underflows_;
    self->waiting_for_start_ = true;  // with prebuf > 0 the server waits for data, then sends STARTED
    self->anchor_.restart();          // it starts again later than the last update says
    self->connection_.signal();
  }

  const std::string sink_;
  int block_frames_ = 0;
  PulseConnection connection_;
  pa_stream* stream_ = nullptr;
  ServerFacts server_;
  pa_buffer_attr granted_{};
  std::string opened_sink_;
  // Written by the callbacks and read by our thread, both with the mainloop lock held.
  bool waiting_for_start_ = true;
  std::uint64_t underflows_ = 0;
  std::uint64_t underflows_reported_ = 0;
  HeardAnchor anchor_;
  // The last measurement, for latency().
  std::int64_t last_latency_us_ = 0;
  std::int64_t last_sink_us_ = 0;
};

}  // namespace

std::unique_ptr<DeviceBackend> make_pulse_backend(std::string sink) {
  return std::make_unique<PulseBackend>(std::move(sink));
}

bool pulse_server_answers(std::chrono::milliseconds timeout) {
  PulseConnection connection;
  return connection.connect(pa_rtclock_now() + to_pa_usec(timeout)).empty();
}

}  // namespace chorus::playback::detail
