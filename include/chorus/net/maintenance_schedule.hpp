#pragma once
// When the network manager's maintenance runs, and which links get a heartbeat in a run. Pure:
// every time is passed in.
//
// Maintenance runs on a grid of interval/4 (50 ms at the default interval), but only at the grid
// points where something falls due, rather than at every one of them: an idle io thread then
// sleeps until the next heartbeat instead of waking 20 times a second to find nothing to do.
// Each check still happens at the first grid point past its limit, as it did on a fixed tick:
//
//   connected peer   heartbeat due: nothing sent for an interval         last_sent + interval
//                    RTT heartbeat due: no heartbeat for rtt_refresh      last_heartbeat + rtt_refresh
//                    silence past the suspect limit (while up)           last_heard + suspect
//                    silence past the down limit                         last_heard + down_after
//   unlinked member  redial: back-off over, state down, a dial slot free  next_dial
//                    forgotten: never reached, or gone too long          learned / down_since + limit
//   (the manager adds: a connection's handshake timeout, the bootstrap's redial)
//
// Heartbeats share wake-ups, on links that carry nothing else. Once one such link's heartbeat is
// due, every other one sent by a run and idle for half an interval gets one too: they fall into
// step and their heartbeats leave in one wake-up, not each on its own phase. And a heartbeat read
// from a peer is answered at once when the link back carries nothing else and has been idle for
// half an interval: the answer leaves in the wake-up the read took, the answers to a node's run
// come back together, and in a larger cluster many runs find their links answered already (a
// third fewer wake-ups for heartbeats with 8 nodes, in the simulation of
// tests/unit/net/test_maintenance_schedule.cpp). A link still hears from this node at least once
// an interval (plus one grid step), as before, and as often as before: about one heartbeat an
// interval on a link that carries nothing else, and none while other frames keep it busy, but
// for one every rtt_refresh (1 s at the default interval) that measures its RTT. Those fall into
// step too: once one link's is due, every busy link whose own is due within an interval joins.

#include <chrono>
#include <optional>

#include "chorus/net/liveness.hpp"

namespace chorus::net {

using Clock = std::chrono::steady_clock;

/// The points maintenance may run at: origin + k·step.
class MaintenanceGrid {
 public:
  /// `step` must be positive.
  MaintenanceGrid(Clock::time_point origin, Clock::duration step);

  /// The run that handles something due at `due`: the first grid point at or after `due` that is
  /// also after `now`. Never `now` itself, so work that cannot be done yet (a link whose send
  /// queue is not empty) is looked at again one step later, not in a loop.
  Clock::time_point next_run(Clock::time_point due, Clock::time_point now) const;

  Clock::duration step() const { return step_; }

 private:
  Clock::time_point origin_;
  Clock::duration step_;
};

/// What the failure detector knows of one connected link.
struct LinkTimes {
  Clock::time_point last_heard;  ///< the last frame read from the peer (or when reading paused)
  Clock::time_point last_sent;   ///< the last frame queued to the peer
  PeerState state = PeerState::up;
  std::optional<std::chrono::microseconds> rtt;
  /// This node's last heartbeat on the link (long ago if none yet).
  Clock::time_point last_heartbeat;
};

/// When the link next needs maintenance: its heartbeat or its RTT heartbeat falls due, its
/// silence passes the suspect limit (while up) or the down limit, whichever comes first.
Clock::time_point link_due(const LivenessPolicy& policy, const LinkTimes& link);

/// The link's own heartbeat is due: nothing was sent to it for an interval.
bool heartbeat_due(const LivenessPolicy& policy, Clock::time_point last_sent, Clock::time_point now);

/// The link needs a heartbeat for its RTT, busy or not: none was sent on it for rtt_refresh.
bool rtt_heartbeat_due(const LivenessPolicy& policy, Clock::time_point last_heartbeat, Clock::time_point now);

/// In a run that sends heartbeats, a link gets its RTT heartbeat early: it would be due within an
/// interval. The links' RTT heartbeats then leave in one run, not each on its own phase.
bool joins_rtt_round(const LivenessPolicy& policy, Clock::time_point last_heartbeat, Clock::time_point now);

/// What a link last carried from this node.
enum class LastFrame {
  other,          ///< anything but a heartbeat: the link may be busy, its heartbeats wait
  run_heartbeat,  ///< a heartbeat sent by a maintenance run
  answer,         ///< a heartbeat answering the peer's: the link is paced by the peer's heartbeats
};

/// A run in which a link that carries only heartbeats is due is a heartbeat round (others join it).
bool starts_heartbeat_round(const LivenessPolicy& policy, LastFrame last, Clock::time_point idle_since,
                            Clock::time_point now);

/// In a heartbeat round, a link gets its heartbeat early: its last frame was a run's heartbeat and
/// it has been idle for half an interval. Not a link that carries other frames: an early
/// heartbeat there would add frames (its own come only when it is idle for a whole interval, and
/// none while other frames keep it busy), and the peer would hear from this node more often than
/// before, which would also change how soon after a freeze of this node its silence limit passes.
/// Not an answered link either: the peer's heartbeats pace it.
bool joins_heartbeat_round(const LivenessPolicy& policy, LastFrame last, Clock::time_point idle_since,
                           Clock::time_point now);

/// A heartbeat read from the peer is answered at once: the link back carries only heartbeats and
/// has been idle for half an interval.
bool answers_heartbeat(const LivenessPolicy& policy, LastFrame last, Clock::time_point idle_since,
                       Clock::time_point now);

/// What the heartbeat rules look at on one link whose send queue is empty.
struct LinkHeartbeat {
  LastFrame last = LastFrame::other;
  Clock::time_point idle_since;      ///< since when it carried nothing (heartbeat_counted_from)
  Clock::time_point last_heartbeat;  ///< this node's last heartbeat on it
};

/// A run in which this link is due makes a heartbeat round: it carries only heartbeats and its
/// heartbeat is due, or its RTT heartbeat is due.
bool starts_round(const LivenessPolicy& policy, const LinkHeartbeat& link, Clock::time_point now);

/// The link gets a heartbeat in this run: its own or its RTT heartbeat is due, or `round` (some
/// link started one) and it joins: a run's heartbeat idle for half an interval, or an RTT
/// heartbeat due within an interval.
bool gets_heartbeat(const LivenessPolicy& policy, const LinkHeartbeat& link, Clock::time_point now,
                    bool round);

/// The instant a heartbeat counts as sent, from which the link's idleness is measured until
/// anything else is sent on it. A run's heartbeat counts from the run's grid point: it was queued
/// a little after it, and counted from then the next one would fall due just past a grid point
/// and wait a whole step more. An answer counts from a step after it was queued: the peer it
/// answered is then due again first, and its next heartbeat is answered too, rather than the two
/// ends' runs racing to send the next one.
Clock::time_point heartbeat_counted_from(LastFrame kind, Clock::time_point queued,
                                         Clock::time_point run, Clock::duration step);

/// What maintenance knows of a member without a link.
struct UnlinkedMember {
  PeerState state = PeerState::down;
  bool dialing = false;
  bool ever_up = false;
  Clock::time_point next_dial;   ///< its back-off ends
  Clock::time_point learned;     ///< first heard of
  Clock::time_point down_since;  ///< down or left since
};

/// How long members without a link are kept.
struct ForgetLimits {
  Clock::duration unreached;  ///< never reached, since learned
  Clock::duration gone;       ///< was up, down or left since
};

/// When the member is forgotten (once that instant has passed): never reached, since it was
/// learned; was up, since it went down or left. None while a dial of it is in flight.
std::optional<Clock::time_point> forget_at(const UnlinkedMember& member, const ForgetLimits& limits);

/// When the member is next redialled or forgotten; none while a dial of it is in flight (its
/// end reschedules). `may_dial`: a dial slot is free (when none is, the end of a dial reschedules).
std::optional<Clock::time_point> unlinked_due(const UnlinkedMember& member,
                                              const ForgetLimits& limits, bool may_dial);

}  // namespace chorus::net
