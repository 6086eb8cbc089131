#pragma once
// Configuration of the Bully election core: timeouts in ticks, preemption, injected randomness.

#include <cstdint>
#include <functional>

namespace chorus::election {

/// Timeouts, all counted in ticks (one tick = one call of BullyElection::tick()). The core takes
/// them as given; the shell derives them from measured RTT and applies its own floors
/// (docs/election.md, "Timeouts"). Each must be at least 1.
struct Timeouts {
  /// How long a node with no leader waits to hear a COORDINATOR before it holds an election
  /// itself (at start without --leader, and after stalled()).
  std::int64_t discovery = 10;
  /// How long a candidate waits for any ELECTION_ANSWER before declaring itself leader.
  std::int64_t answer = 2;
  /// How long an answered candidate waits for a COORDINATOR before starting again.
  std::int64_t coordinator = 4;
  /// Largest random extra delay added to the discovery and coordinator timeouts, to
  /// desynchronise nodes that started waiting together. 0 = none. Needs a RandomSource.
  std::int64_t jitter = 0;

  friend bool operator==(const Timeouts&, const Timeouts&) = default;
};

/// Election behaviour.
struct Config {
  Timeouts timeouts;
  /// false (default): stable leadership, a higher-ranked node that meets a live leader follows
  /// it. true: classic Bully, a higher-ranked node takes over from a lower-ranked leader.
  bool preempt = false;
  /// Whether a fresh node holds the cluster's state and may stand for election at once. The
  /// shell passes false (a joiner has no playback state until its leader's STATE_SYNC) and
  /// reports the state with BullyElection::set_eligible(); true suits cores with no state.
  bool eligible_at_start = true;
};

/// Random source for the jitter: called with n > 0, must return a value in [0, n).
/// Tests pass a seeded generator; the shell may pass one seeded from its incarnation.
using RandomSource = std::function<std::int64_t(std::int64_t n)>;

}  // namespace chorus::election
