#pragma once
// Failure detection policy: how long a silent peer stays up, becomes suspect, then down. Pure.

#include <chrono>
#include <optional>
#include <string_view>

namespace chorus::net {

enum class PeerState { up, suspect, down, left };

std::string_view to_string(PeerState state);

/// Heartbeat interval and the silences, in intervals, that make a peer suspect and then down.
struct LivenessPolicy {
  std::chrono::microseconds interval{200'000};
  int suspect_after_intervals = 2;
  int down_after_intervals = 3;

  /// Silence after which a connected peer is declared down: a few intervals plus its RTT,
  /// so a peer on a slow path is not declared dead for its path's sake.
  std::chrono::microseconds down_after(std::optional<std::chrono::microseconds> rtt) const;

  /// The state a connected peer is in after `silence` without any frame from it.
  PeerState assess(std::chrono::microseconds silence,
                   std::optional<std::chrono::microseconds> rtt) const;
};

/// Exponential reconnect backoff: first, first·2, … capped at max; reset after a success.
class Backoff {
 public:
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max);
  /// The delay before the next attempt; each call doubles the following one.
  std::chrono::milliseconds next();
  void reset();

 private:
  std::chrono::milliseconds first_;
  std::chrono::milliseconds max_;
  std::chrono::milliseconds current_;
};

}  // namespace chorus::net
