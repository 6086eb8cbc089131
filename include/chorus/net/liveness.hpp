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
  /// Only heartbeats measure a link's RTT (their echoes), and a link busy with other frames gets
  /// none while it is busy: at the default interval, a follower's clock-sync requests and their
  /// answers keep its link to the leader busy for most of a minute after every join. So a link
  /// still gets a heartbeat at least once in this many intervals, busy or not: the RTT sizes the
  /// leader's command lead and the election's timeouts.
  int rtt_refresh_intervals = 5;

  /// The longest a link goes without a heartbeat of this node's, busy or not.
  std::chrono::microseconds rtt_refresh() const { return interval * rtt_refresh_intervals; }

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
