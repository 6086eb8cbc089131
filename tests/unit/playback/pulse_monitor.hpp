#pragma once
// What a PulseAudio sink played and when: a recorder of its monitor source (libpulse, a mainloop
// of its own), frames numbered so that they can be found again, and the comparison of each
// chunk's arrival with the instant an output predicted for it. For tests against PulseServer.

#include <pulse/pulseaudio.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "chorus/time_base.hpp"
#include "playback/eventually.hpp"

namespace chorus::test {

/// Frame number `n` as a stereo frame: L = low 16 bits, R = high 16 bits. Frame 0 would read as
/// silence, so numbering starts at 1.
inline void put_frame_number(std::int16_t* frame, std::uint32_t n) {
  frame[0] = static_cast<std::int16_t>(static_cast<std::uint16_t>(n & 0xffffu));
  frame[1] = static_cast<std::int16_t>(static_cast<std::uint16_t>(n >> 16));
}
inline std::uint32_t frame_number(const std::int16_t* frame) {
  return static_cast<std::uint16_t>(frame[0]) | static_cast<std::uint32_t>(static_cast<std::uint16_t>(frame[1])) << 16;
}

struct Stats {
  double median = 0, min = 0, max = 0, p95_abs = 0;
};
inline Stats stats_of(std::vector<double> v) {
  Stats s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.median = v[v.size() / 2];
  s.min = v.front();
  s.max = v.back();
  std::vector<double> a(v.size());
  std::transform(v.begin(), v.end(), a.begin(), [&](double x) { return std::abs(x - s.median); });
  std::sort(a.begin(), a.end());
  s.p95_abs = a[a.size() * 95 / 100];
  return s;
}

/// Records a source (a sink's monitor) with libpulse on a mainloop of its own, noting when each
/// piece of audio arrives in this process. The record stream asks for 2 ms fragments; through the
/// monitor that also sets the null sink's latency to about 2 ms, so the sink hands over, and the
/// monitor delivers, audio in 2 ms chunks at the instant each chunk's first frame is played.
class MonitorRecorder {
 public:
  struct Arrival {
    std::int64_t at_us;     ///< now_us() when the read callback ran
    std::size_t first;      ///< index of its first frame in samples()
    bool first_in_callback; ///< the first piece read by that callback
  };

  /// Runs `f` with the mainloop locked (the read callback appends under the same lock).
  template <typename F>
  auto locked(F f) {
    pa_threaded_mainloop_lock(loop_);
    auto result = f();
    pa_threaded_mainloop_unlock(loop_);
    return result;
  }

  explicit MonitorRecorder(const std::string& source) {
    loop_ = pa_threaded_mainloop_new();
    REQUIRE(loop_ != nullptr);
    pa_threaded_mainloop_lock(loop_);
    context_ = pa_context_new(pa_threaded_mainloop_get_api(loop_), "chorus-test-recorder");
    pa_context_connect(context_, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr);
    pa_threaded_mainloop_start(loop_);
    pa_threaded_mainloop_unlock(loop_);
    REQUIRE(eventually([&] { return locked([&] { return pa_context_get_state(context_) == PA_CONTEXT_READY; }); }));
    locked([&] {
      const pa_sample_spec spec{PA_SAMPLE_S16LE, 48000, 2};
      stream_ = pa_stream_new(context_, "monitor", &spec, nullptr);
      pa_stream_set_read_callback(stream_, &MonitorRecorder::on_read, this);
      pa_buffer_attr attr{};
      attr.maxlength = static_cast<std::uint32_t>(-1);
      attr.fragsize = 96 * 4;  // 2 ms
      attr.tlength = attr.prebuf = attr.minreq = static_cast<std::uint32_t>(-1);
      pa_stream_connect_record(stream_, source.c_str(), &attr, PA_STREAM_ADJUST_LATENCY);
      return true;
    });
    REQUIRE(eventually([&] { return locked([&] { return pa_stream_get_state(stream_) == PA_STREAM_READY; }); }));
  }
  ~MonitorRecorder() {
    pa_threaded_mainloop_lock(loop_);
    if (stream_ != nullptr) {
      pa_stream_disconnect(stream_);
      pa_stream_unref(stream_);
    }
    pa_context_disconnect(context_);
    pa_context_unref(context_);
    pa_threaded_mainloop_unlock(loop_);
    pa_threaded_mainloop_stop(loop_);
    pa_threaded_mainloop_free(loop_);
  }
  MonitorRecorder(const MonitorRecorder&) = delete;
  MonitorRecorder& operator=(const MonitorRecorder&) = delete;

  std::vector<std::int16_t> samples() {
    return locked([&] { return samples_; });
  }
  std::vector<Arrival> arrivals() {
    return locked([&] { return arrivals_; });
  }
  /// True once a frame numbered `n` has been recorded.
  bool has_seen(std::uint32_t n) {
    return locked([&] {
      for (std::size_t i = samples_.size() / 2; i-- > 0;) {
        if (frame_number(&samples_[2 * i]) == n) return true;
      }
      return false;
    });
  }

 private:
  static void on_read(pa_stream* stream, std::size_t, void* user) {
    auto* self = static_cast<MonitorRecorder*>(user);
    const std::int64_t at = now_us();
    bool first = true;
    while (pa_stream_readable_size(stream) > 0) {
      const void* data = nullptr;
      std::size_t bytes = 0;
      if (pa_stream_peek(stream, &data, &bytes) < 0 || bytes == 0) break;
      self->arrivals_.push_back({at, self->samples_.size() / 2, first});
      first = false;
      const auto* samples = static_cast<const std::int16_t*>(data);
      if (data == nullptr) {
        self->samples_.insert(self->samples_.end(), bytes / 2, 0);  // a hole
      } else {
        self->samples_.insert(self->samples_.end(), samples, samples + bytes / 2);
      }
      pa_stream_drop(stream);
    }
  }

  pa_threaded_mainloop* loop_ = nullptr;
  pa_context* context_ = nullptr;
  pa_stream* stream_ = nullptr;
  std::vector<std::int16_t> samples_;
  std::vector<Arrival> arrivals_;
};

/// For each chunk the monitor handed over (the first piece read by each callback, which starts a
/// chunk the sink rendered at the instant its first frame was played), its arrival minus the
/// instant `predicted(n)` gave for its first frame n (frames numbered by put_frame_number; those
/// without a prediction are skipped).
inline std::vector<double> arrival_minus_predicted(MonitorRecorder& monitor,
                                                   const std::function<std::optional<std::int64_t>(std::uint32_t)>& predicted) {
  const auto samples = monitor.samples();
  std::vector<double> result;
  for (const auto& a : monitor.arrivals()) {
    if (!a.first_in_callback || 2 * a.first >= samples.size()) continue;
    const std::uint32_t n = frame_number(&samples[2 * a.first]);
    if (n == 0) continue;
    if (const auto at = predicted(n)) result.push_back(static_cast<double>(a.at_us - *at));
  }
  return result;
}

}  // namespace chorus::test
