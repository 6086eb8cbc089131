// The sdl output's audible instant from the sound server, when SDL's driver is "pulseaudio".
//
// SDL 2 reports no output latency, so the sdl output's default estimate is "now + one buffer".
// Through PulseAudio (or PipeWire's pulse server) the server knows better: for every sink input
// (playback stream) it reports buffer_usec, the audio queued in the stream, and sink_usec, the
// sink's own latency; their sum is how long until the last frame written so far is heard.
//
// Where SDL's callback sits in that cycle (SDL 2.26, src/audio/pulseaudio): SDL's audio thread
// calls the callback, then writes the buffer it filled piece by piece, each piece as soon as the
// server asks for it (PlayDevice), and calls the callback again right after the last piece. So the
// callback runs just after a write, when the stream's queue is at its fullest, and the first
// frame it fills is the next one written: it is heard (buffer_usec + sink_usec, as of that
// instant) after the callback. Between writes the sum falls at one second per second while the
// sink plays, and every write (one minreq, e.g. 2.5 ms with a 10 ms buffer) tops it up again: a
// sawtooth whose tops are the value we want. One query lands anywhere on it, up to a minreq low.
// So a sample is the largest of a burst of queries spanning one SDL buffer (which holds at least
// one write): the top, within the spacing of the queries.
//
// What it leaves: SDL writes only what the server asked for, so the buffer's last piece may be
// smaller than the last request; the callback then runs with the queue short of its top by the
// rest of that request (0 to one request, a quarter buffer with SDL's tlength of one buffer), and
// the frames are heard that much earlier than estimated. Measured against a PulseAudio 16.1 null
// sink's monitor (test_output_sdl_pulse.cpp), median error of the audible instant:
//   480-frame buffer:  now + one buffer −1.9 ms, now + server latency −0.55 ms
//   2048-frame buffer: now + one buffer −14.8 ms, now + server latency −5.7 ms
// (the second with another client holding the sink at 2 ms, below the 10.7 ms SDL asked for: one
// buffer then misses by the difference). The spread around the median, ±1.5 ms and ±6 ms (95 %),
// is the same with either estimate: SDL calls back when the server's requests arrive, and they
// come as the sink consumes audio in chunks; the renderer smooths that.
//
// Sampling: a burst every kSamplePeriod, all on libpulse's mainloop thread (a timer event starts a
// burst; each answer asks again, kQuerySpacingUsec later, until the burst is over). Nothing runs on SDL's audio thread but
// one relaxed atomic load. The sink's latency changes only when the server reconfigures it, and a
// clock drift of 100 ppm moves nothing measurable in half a second.
//
// Our stream is found by this process's id and the stream name the sdl output gives SDL
// (SDL_HINT_AUDIO_DEVICE_STREAM_NAME), with application.name "chorus": the pulse backend's streams
// in the same process have another name.

#include "sdl_pulse_latency.hpp"

#include <unistd.h>

#include <algorithm>
#include <string_view>

#include <fmt/format.h>

#include "device_backend.hpp"
#include "pulse_connection.hpp"

namespace chorus::playback::detail {
namespace {

/// How often the latency is sampled.
constexpr auto kSamplePeriod = std::chrono::milliseconds(500);
/// A burst lasts at least this long, and at least one SDL buffer.
constexpr std::chrono::microseconds kShortestBurst(5'000);
/// Between the answer to one query of a burst and the next query: enough to find the sawtooth's
/// top within a quarter of a millisecond, about 40 queries for a 10 ms buffer.
constexpr pa_usec_t kQuerySpacingUsec = 250;

class PulseSampler final : public SdlPulseLatency {
 public:
  PulseSampler(std::string stream_name, std::chrono::microseconds buffer)
      : stream_name_(std::move(stream_name)),
        burst_usec_(static_cast<pa_usec_t>(std::max(buffer, kShortestBurst).count()) + 1'000),
        pid_(std::to_string(::getpid())) {}

  ~PulseSampler() override {
    if (connection_.loop() != nullptr) {
      MainloopLock lock(connection_.loop());
      stopping_ = true;
      pa_mainloop_api* api = pa_threaded_mainloop_get_api(connection_.loop());
      for (pa_time_event* timer : {period_timer_, query_timer_}) {
        if (timer != nullptr) api->time_free(timer);
      }
      period_timer_ = query_timer_ = nullptr;
    }
    connection_.close();
  }

  /// Connects, finds our stream and takes the first sample, all within kMaxDeviceWait.
  std::string start() {
    const pa_usec_t deadline = pa_rtclock_now() + to_pa_usec(kMaxDeviceWait);
    std::string error = connection_.connect(deadline);
    if (!error.empty()) return error;
    MainloopLock lock(connection_.loop());
    query_timer_ = pa_context_rttime_new(connection_.context(), PA_USEC_INVALID, &PulseSampler::on_query_time, this);
    begin_burst();
    const bool answered = connection_.wait_until([this] { return bursts_done_ > 0; }, deadline);
    if (!answered) return "the sound server did not answer in time";
    if (index_.load(std::memory_order_relaxed) == PA_INVALID_INDEX) {
      return fmt::format("no stream '{}' of this process (pid {}) on the sound server", stream_name_, pid_);
    }
    period_timer_ = pa_context_rttime_new(connection_.context(), pa_rtclock_now() + to_pa_usec(kSamplePeriod),
                                          &PulseSampler::on_period, this);
    return {};
  }

  std::string describe() const override {
    return fmt::format("sink input #{} '{}'", index_.load(std::memory_order_relaxed), stream_name_);
  }

 private:
  // Everything below runs on libpulse's mainloop thread, or with its lock held.

  void begin_burst() {
    burst_end_ = pa_rtclock_now() + burst_usec_;
    burst_top_us_ = -1;
    query();
  }

  void query() {
    pa_operation* op = pa_context_get_sink_input_info_list(connection_.context(), &PulseSampler::on_info, this);
    if (op == nullptr) {
      end_burst();  // the context failed: nothing more to learn
      return;
    }
    pa_operation_unref(op);
  }

  bool is_ours(const pa_sink_input_info& info) const {
    const char* pid = pa_proplist_gets(info.proplist, PA_PROP_APPLICATION_PROCESS_ID);
    const char* app = pa_proplist_gets(info.proplist, PA_PROP_APPLICATION_NAME);
    return info.name != nullptr && stream_name_ == info.name && pid != nullptr && pid_ == pid && app != nullptr &&
           std::string_view(app) == "chorus";
  }

  static void on_info(pa_context*, const pa_sink_input_info* info, int eol, void* user) {
    auto* self = static_cast<PulseSampler*>(user);
    if (eol == 0 && info != nullptr) {
      if (self->is_ours(*info)) {
        self->index_.store(info->index, std::memory_order_relaxed);
        const auto latency = static_cast<std::int64_t>(info->buffer_usec + info->sink_usec);
        self->burst_top_us_ = std::max(self->burst_top_us_, latency);
      }
      return;
    }
    // The end of the list (eol > 0), or an error (eol < 0).
    if (eol > 0 && !self->stopping_ && pa_rtclock_now() < self->burst_end_) {
      pa_context_rttime_restart(self->connection_.context(), self->query_timer_, pa_rtclock_now() + kQuerySpacingUsec);
      return;
    }
    self->end_burst();
  }

  void end_burst() {
    // A burst that did not see our stream (gone, or the server failed) makes the value unknown.
    latency_us_.store(burst_top_us_, std::memory_order_relaxed);
    if (burst_top_us_ < 0) index_.store(PA_INVALID_INDEX, std::memory_order_relaxed);
    ++bursts_done_;
    connection_.signal();
    if (period_timer_ != nullptr && !stopping_) {
      pa_context_rttime_restart(connection_.context(), period_timer_, pa_rtclock_now() + to_pa_usec(kSamplePeriod));
    }
  }

  static void on_query_time(pa_mainloop_api*, pa_time_event*, const struct timeval*, void* user) {
    auto* self = static_cast<PulseSampler*>(user);
    if (!self->stopping_) self->query();
  }

  static void on_period(pa_mainloop_api*, pa_time_event*, const struct timeval*, void* user) {
    auto* self = static_cast<PulseSampler*>(user);
    if (!self->stopping_ && !context_broken(self->connection_.context())) self->begin_burst();
  }

  const std::string stream_name_;
  const pa_usec_t burst_usec_;
  const std::string pid_;
  PulseConnection connection_;
  pa_time_event* period_timer_ = nullptr;  ///< starts a burst
  pa_time_event* query_timer_ = nullptr;   ///< spaces the queries of a burst
  bool stopping_ = false;
  std::atomic<std::uint32_t> index_{PA_INVALID_INDEX};  ///< read by describe() on any thread
  pa_usec_t burst_end_ = 0;
  std::int64_t burst_top_us_ = -1;
  int bursts_done_ = 0;
};

}  // namespace

std::unique_ptr<SdlPulseLatency> SdlPulseLatency::start(const std::string& stream_name,
                                                        std::chrono::microseconds buffer, std::string& why) {
  auto sampler = std::make_unique<PulseSampler>(stream_name, buffer);
  why = sampler->start();
  if (!why.empty()) return nullptr;
  return sampler;
}

}  // namespace chorus::playback::detail
