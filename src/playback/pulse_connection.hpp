#pragma once
// A libpulse connection of our own: a pa_threaded_mainloop and a context on the default server
// (PULSE_SERVER, or the user's), with waits bounded by a timer event, since
// pa_threaded_mainloop_wait has none. Used by the pulse backend (output_pulse.cpp) and by the sdl
// output's latency probe (sdl_pulse_latency.cpp). See output_pulse.cpp for the threading.

#include <pulse/pulseaudio.h>

#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/format.h>

namespace chorus::playback::detail {

inline pa_usec_t to_pa_usec(std::chrono::milliseconds d) { return static_cast<pa_usec_t>(d.count()) * PA_USEC_PER_MSEC; }

inline bool context_broken(pa_context* context) { return !PA_CONTEXT_IS_GOOD(pa_context_get_state(context)); }

/// The server libpulse was asked to reach, for messages.
inline std::string server_address(pa_context* context) {
  if (const char* server = pa_context_get_server(context)) return server;
  if (const char* env = std::getenv("PULSE_SERVER")) return env;
  return "the user's default server";
}

/// Holds the mainloop lock of `loop` for a scope.
class MainloopLock {
 public:
  explicit MainloopLock(pa_threaded_mainloop* loop) : loop_(loop) { pa_threaded_mainloop_lock(loop_); }
  ~MainloopLock() { pa_threaded_mainloop_unlock(loop_); }
  MainloopLock(const MainloopLock&) = delete;
  MainloopLock& operator=(const MainloopLock&) = delete;

 private:
  pa_threaded_mainloop* loop_;
};

/// A threaded mainloop and a context connected to the default server, with a bounded wait.
class PulseConnection {
 public:
  PulseConnection() = default;
  ~PulseConnection() { close(); }
  PulseConnection(const PulseConnection&) = delete;
  PulseConnection& operator=(const PulseConnection&) = delete;

  /// Starts the mainloop and connects (no autospawn); waits for READY until `deadline`
  /// (pa_rtclock µs). Returns why not, empty once connected.
  std::string connect(pa_usec_t deadline) {
    loop_ = pa_threaded_mainloop_new();
    if (loop_ == nullptr) return "cannot create a PulseAudio mainloop";
    pa_threaded_mainloop_set_name(loop_, "chorus-pulse");
    MainloopLock lock(loop_);
    context_ = pa_context_new(pa_threaded_mainloop_get_api(loop_), "chorus");
    if (context_ == nullptr) return "cannot create a PulseAudio context";
    pa_context_set_state_callback(context_, &PulseConnection::signal_context, this);
    deadline_timer_ = pa_context_rttime_new(context_, PA_USEC_INVALID, &PulseConnection::signal_timer, this);
    if (pa_context_connect(context_, nullptr, PA_CONTEXT_NOAUTOSPAWN, nullptr) < 0) {
      return fmt::format("no sound server answers at {} ({})", server_address(context_),
                         pa_strerror(pa_context_errno(context_)));
    }
    if (pa_threaded_mainloop_start(loop_) < 0) return "cannot start the PulseAudio mainloop thread";
    const bool settled = wait_until(
        [this] { return pa_context_get_state(context_) == PA_CONTEXT_READY || context_broken(context_); }, deadline);
    if (pa_context_get_state(context_) == PA_CONTEXT_READY) return {};
    if (!settled) return fmt::format("the sound server at {} did not answer in time", server_address(context_));
    return fmt::format("no sound server answers at {} ({})", server_address(context_),
                       pa_strerror(pa_context_errno(context_)));
  }

  /// Disconnects and stops the mainloop thread; waits for nothing the server would have to send.
  void close() {
    if (loop_ == nullptr) return;
    {
      MainloopLock lock(loop_);
      if (deadline_timer_ != nullptr) pa_threaded_mainloop_get_api(loop_)->time_free(deadline_timer_);
      deadline_timer_ = nullptr;
      if (context_ != nullptr) {
        pa_context_set_state_callback(context_, nullptr, nullptr);
        pa_context_disconnect(context_);
        pa_context_unref(context_);
        context_ = nullptr;
      }
    }
    pa_threaded_mainloop_stop(loop_);  // does nothing if it never started
    pa_threaded_mainloop_free(loop_);
    loop_ = nullptr;
  }

  /// With the mainloop lock held: sleeps until `done()` holds or `deadline` (pa_rtclock µs)
  /// passes. True when done.
  template <typename Done>
  bool wait_until(Done done, pa_usec_t deadline) {
    if (done()) return true;
    pa_context_rttime_restart(context_, deadline_timer_, deadline);
    while (!done()) {
      if (pa_rtclock_now() >= deadline) return false;
      pa_threaded_mainloop_wait(loop_);
    }
    return true;
  }

  /// Wakes wait_until(): for callbacks (mainloop thread, lock held).
  void signal() const { pa_threaded_mainloop_signal(loop_, 0); }

  pa_threaded_mainloop* loop() const { return loop_; }
  pa_context* context() const { return context_; }

 private:
  static void signal_context(pa_context*, void* self) { static_cast<PulseConnection*>(self)->signal(); }
  static void signal_timer(pa_mainloop_api*, pa_time_event*, const struct timeval*, void* self) {
    static_cast<PulseConnection*>(self)->signal();
  }

  pa_threaded_mainloop* loop_ = nullptr;
  pa_context* context_ = nullptr;
  pa_time_event* deadline_timer_ = nullptr;
};

}  // namespace chorus::playback::detail
