#pragma once
// The latency of the sdl output's own stream as the sound server sees it, when SDL plays through
// its pulseaudio driver (sdl_pulse_latency.cpp says what is measured and why).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace chorus::playback::detail {

class SdlPulseLatency {
 public:
  /// Connects a libpulse context of its own and finds this process's playback stream named
  /// `stream_name`; from then on samples its latency on libpulse's mainloop thread. `buffer` is
  /// SDL's buffer. Returns nullptr and sets `why` when the server or the stream cannot be found.
  static std::unique_ptr<SdlPulseLatency> start(const std::string& stream_name, std::chrono::microseconds buffer,
                                                std::string& why);
  virtual ~SdlPulseLatency() = default;

  /// How long after SDL's callback the first frame it fills is heard, in µs, as last sampled;
  /// −1 while unknown. Lock-free: read on SDL's audio thread.
  std::int64_t latency_us() const { return latency_us_.load(std::memory_order_relaxed); }
  /// E.g. "sink input #3 'chorus'": what is sampled.
  virtual std::string describe() const = 0;

 protected:
  SdlPulseLatency() = default;
  std::atomic<std::int64_t> latency_us_{-1};
};

}  // namespace chorus::playback::detail
