#include "chorus/net/maintenance_schedule.hpp"

#include <algorithm>

namespace chorus::net {

MaintenanceGrid::MaintenanceGrid(Clock::time_point origin, Clock::duration step)
    : origin_(origin), step_(step) {}

Clock::time_point MaintenanceGrid::next_run(Clock::time_point due, Clock::time_point now) const {
  // Points before the origin never come up: the manager's first run is its start.
  auto at_or_after = [this](Clock::time_point t) {
    if (t <= origin_) return origin_;
    auto steps = (t - origin_ + step_ - Clock::duration{1}) / step_;
    return origin_ + steps * step_;
  };
  auto after_now = at_or_after(now);
  if (after_now == now) after_now += step_;
  return std::max(at_or_after(due), after_now);
}

Clock::time_point link_due(const LivenessPolicy& policy, const LinkTimes& link) {
  auto due = std::min({link.last_sent + policy.interval, link.last_heartbeat + policy.rtt_refresh(),
                       link.last_heard + policy.down_after(link.rtt)});
  if (link.state == PeerState::up) {
    due = std::min(due, link.last_heard + policy.interval * policy.suspect_after_intervals);
  }
  return due;
}

bool heartbeat_due(const LivenessPolicy& policy, Clock::time_point last_sent, Clock::time_point now) {
  return now - last_sent >= policy.interval;
}

bool rtt_heartbeat_due(const LivenessPolicy& policy, Clock::time_point last_heartbeat, Clock::time_point now) {
  return now - last_heartbeat >= policy.rtt_refresh();
}

bool joins_rtt_round(const LivenessPolicy& policy, Clock::time_point last_heartbeat, Clock::time_point now) {
  return now - last_heartbeat >= policy.rtt_refresh() - policy.interval;
}

namespace {

bool idle_for_half(const LivenessPolicy& policy, Clock::time_point idle_since, Clock::time_point now) {
  return now - idle_since >= policy.interval / 2;
}

}  // namespace

bool starts_heartbeat_round(const LivenessPolicy& policy, LastFrame last, Clock::time_point idle_since,
                            Clock::time_point now) {
  return last != LastFrame::other && heartbeat_due(policy, idle_since, now);
}

bool joins_heartbeat_round(const LivenessPolicy& policy, LastFrame last, Clock::time_point idle_since,
                           Clock::time_point now) {
  return last == LastFrame::run_heartbeat && idle_for_half(policy, idle_since, now);
}

bool answers_heartbeat(const LivenessPolicy& policy, LastFrame last, Clock::time_point idle_since,
                       Clock::time_point now) {
  return last != LastFrame::other && idle_for_half(policy, idle_since, now);
}

bool starts_round(const LivenessPolicy& policy, const LinkHeartbeat& link, Clock::time_point now) {
  return starts_heartbeat_round(policy, link.last, link.idle_since, now) ||
         rtt_heartbeat_due(policy, link.last_heartbeat, now);
}

bool gets_heartbeat(const LivenessPolicy& policy, const LinkHeartbeat& link, Clock::time_point now,
                    bool round) {
  if (heartbeat_due(policy, link.idle_since, now) || rtt_heartbeat_due(policy, link.last_heartbeat, now)) {
    return true;
  }
  return round && (joins_heartbeat_round(policy, link.last, link.idle_since, now) ||
                   joins_rtt_round(policy, link.last_heartbeat, now));
}

Clock::time_point heartbeat_counted_from(LastFrame kind, Clock::time_point queued,
                                         Clock::time_point run, Clock::duration step) {
  switch (kind) {
    case LastFrame::run_heartbeat: return std::min(queued, run);
    case LastFrame::answer: return queued + step;
    case LastFrame::other: break;
  }
  return queued;
}

std::optional<Clock::time_point> forget_at(const UnlinkedMember& member, const ForgetLimits& limits) {
  if (member.dialing) return std::nullopt;
  if (!member.ever_up) return member.learned + limits.unreached;
  bool gone = member.state == PeerState::down || member.state == PeerState::left;
  if (gone) return member.down_since + limits.gone;
  return std::nullopt;
}

std::optional<Clock::time_point> unlinked_due(const UnlinkedMember& member,
                                              const ForgetLimits& limits, bool may_dial) {
  if (member.dialing) return std::nullopt;
  auto due = forget_at(member, limits);
  if (member.state == PeerState::down && may_dial) {
    due = due ? std::min(*due, member.next_dial) : member.next_dial;
  }
  return due;
}

}  // namespace chorus::net
