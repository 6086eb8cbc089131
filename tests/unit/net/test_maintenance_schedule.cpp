// The maintenance schedule: runs only at the grid points where something is due, every check at
// the same grid point a fixed tick would have made it, heartbeats of idle links in one run, and a
// heartbeat now and then on busy links, for their RTT.

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <queue>
#include <random>
#include <set>
#include <tuple>
#include <vector>

#include "chorus/net/maintenance_schedule.hpp"

using namespace chorus::net;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

const Clock::time_point t0 = Clock::time_point{} + std::chrono::hours(1);

Clock::time_point at(std::int64_t ms) { return t0 + milliseconds(ms); }

/// The first point of a fixed tick of `step` from t0 at which `holds` is true (the old rule).
template <typename Condition>
Clock::time_point first_fixed_tick(milliseconds step, Condition holds) {
  for (auto t = t0;; t += step) {
    if (holds(t)) return t;
  }
}

}  // namespace

TEST_CASE("a run falls on the first grid point at or after what is due, never at now") {
  MaintenanceGrid grid(t0, milliseconds(50));
  for (std::int64_t due = -100; due <= 400; ++due) {
    for (std::int64_t now = 0; now <= 300; now += 7) {
      auto run = grid.next_run(at(due), at(now));
      INFO("due " << due << " ms, now " << now << " ms");
      CHECK((run - t0) % milliseconds(50) == Clock::duration::zero());
      CHECK(run >= at(due));
      CHECK(run > at(now));
      // No earlier grid point qualifies.
      auto earlier = run - milliseconds(50);
      CHECK((earlier < at(due) || earlier <= at(now) || earlier < t0));
    }
  }
}

TEST_CASE("work that cannot be done yet is looked at again one step later") {
  MaintenanceGrid grid(t0, milliseconds(50));
  CHECK(grid.next_run(at(100), at(100)) == at(150));
  CHECK(grid.next_run(at(20), at(100)) == at(150));
  CHECK(grid.next_run(at(0), at(0)) == at(50));
  CHECK(grid.next_run(at(101), at(100)) == at(150));
  CHECK(grid.next_run(at(151), at(100)) == at(200));
  CHECK(grid.next_run(at(-500), at(-500)) == t0);  // before the origin: the first run
}

TEST_CASE("a link is due when its heartbeat is, or its silence passes a limit") {
  LivenessPolicy policy;  // 200 ms interval, suspect after 400 ms, down after 600 ms + RTT
  LinkTimes link{at(0), at(0), PeerState::up, std::nullopt, at(0)};
  CHECK(link_due(policy, link) == at(200));  // heartbeat

  link.last_sent = at(300);  // other traffic went out since: the suspect limit comes first
  CHECK(link_due(policy, link) == at(400));
  link.state = PeerState::suspect;  // already suspect: next the down limit
  CHECK(link_due(policy, link) == at(500));
  link.last_sent = at(450);
  CHECK(link_due(policy, link) == at(600));
  link.rtt = microseconds(30'000);
  CHECK(link_due(policy, link) == at(630));
  link.state = PeerState::up;
  CHECK(link_due(policy, link) == at(400));
  // Kept busy and heard from: the RTT heartbeat, a second after the last heartbeat.
  link.last_heard = at(900);
  link.last_sent = at(950);
  CHECK(link_due(policy, link) == at(1000));
}

TEST_CASE("each check happens at the grid point where a fixed tick would make it") {
  // Whatever the link's times, the scheduled run that handles the link is the first point of a
  // 50 ms tick at which the old rules (assess, heartbeat when idle for an interval) act on it.
  LivenessPolicy policy;
  MaintenanceGrid grid(t0, milliseconds(50));
  std::mt19937 random(7);
  std::uniform_int_distribution<int> ms(0, 700);
  for (int trial = 0; trial < 5000; ++trial) {
    LinkTimes link{at(ms(random)), at(ms(random)), trial % 2 ? PeerState::up : PeerState::suspect,
                   trial % 3 ? std::optional(microseconds(ms(random) * 100)) : std::nullopt,
                   at(ms(random) - 700)};
    auto acts = [&](Clock::time_point t) {
      auto silence = std::chrono::duration_cast<microseconds>(t - link.last_heard);
      auto state = t < link.last_heard ? PeerState::up : policy.assess(silence, link.rtt);
      bool changes = state == PeerState::down || (state == PeerState::suspect && link.state == PeerState::up);
      return changes || (t >= link.last_sent && heartbeat_due(policy, link.last_sent, t)) ||
             rtt_heartbeat_due(policy, link.last_heartbeat, t);
    };
    auto fixed = first_fixed_tick(milliseconds(50), acts);
    auto scheduled = grid.next_run(link_due(policy, link), t0 - milliseconds(1));
    INFO("heard " << (link.last_heard - t0).count() << " sent " << (link.last_sent - t0).count());
    // A run may come one step early when a limit ends exactly on a grid point (the silence must
    // exceed it); that run finds nothing and the next is the fixed tick's.
    CHECK(scheduled <= fixed);
    if (scheduled != fixed) {
      CHECK_FALSE(acts(scheduled));
      CHECK(grid.next_run(link_due(policy, link), scheduled) == fixed);
    }
  }
}

TEST_CASE("a heartbeat is due after an interval of idleness") {
  LivenessPolicy policy;
  CHECK_FALSE(heartbeat_due(policy, at(0), at(199)));
  CHECK(heartbeat_due(policy, at(0), at(200)));
  CHECK(heartbeat_due(policy, at(0), at(250)));
  LivenessPolicy fast{microseconds(50'000), 2, 3};
  CHECK(heartbeat_due(fast, at(0), at(50)));
  CHECK_FALSE(heartbeat_due(fast, at(0), at(49)));
}

TEST_CASE("only links that carry nothing but heartbeats share rounds and answers") {
  LivenessPolicy policy;
  for (auto last : {LastFrame::other, LastFrame::run_heartbeat, LastFrame::answer}) {
    for (std::int64_t idle = 0; idle <= 400; idle += 10) {
      INFO("last frame " << static_cast<int>(last) << ", idle " << idle << " ms");
      const bool heartbeats_only = last != LastFrame::other;
      CHECK(starts_heartbeat_round(policy, last, at(0), at(idle)) == (heartbeats_only && idle >= 200));
      CHECK(joins_heartbeat_round(policy, last, at(0), at(idle)) ==
            (last == LastFrame::run_heartbeat && idle >= 100));
      CHECK(answers_heartbeat(policy, last, at(0), at(idle)) == (heartbeats_only && idle >= 100));
    }
  }
  LivenessPolicy fast{microseconds(50'000), 2, 3};
  CHECK(joins_heartbeat_round(fast, LastFrame::run_heartbeat, at(0), at(25)));
  CHECK_FALSE(joins_heartbeat_round(fast, LastFrame::run_heartbeat, at(0), at(24)));
}

namespace {

/// Links of one node, run by the schedule's rules as the network manager runs them, with no
/// answers: runs at grid points where something is due, heartbeats to the links due (idle for an
/// interval, or their RTT heartbeat) and, in a round, to those that join it. Each link may also
/// carry frames other than heartbeats at given instants.
struct LinkSim {
  struct Link {
    Clock::time_point sent;       // the last frame of any kind
    Clock::time_point heartbeat;  // the last heartbeat
    LastFrame last = LastFrame::run_heartbeat;
    milliseconds longest{0};            // between two frames of any kind
    milliseconds longest_heartbeat{0};  // between two heartbeats
    int heartbeats = 0;
    std::vector<Clock::time_point> other;  // frames other than heartbeats
  };
  LivenessPolicy policy;
  MaintenanceGrid grid{t0, milliseconds(50)};
  std::vector<Link> links;
  int runs_after_warmup = 0;  // runs from 2 s on

  explicit LinkSim(std::size_t count) : links(count) {
    for (std::size_t k = 0; k < links.size(); ++k) {
      links[k].sent = links[k].heartbeat = at(-10 * static_cast<int>(k) - 1);
    }
  }

  static void send(Link& link, Clock::time_point now, LastFrame frame) {
    link.longest = std::max(link.longest, std::chrono::duration_cast<milliseconds>(now - link.sent));
    link.sent = now;
    link.last = frame;
    if (frame == LastFrame::other) return;
    link.longest_heartbeat =
        std::max(link.longest_heartbeat, std::chrono::duration_cast<milliseconds>(now - link.heartbeat));
    link.heartbeat = now;
    ++link.heartbeats;
  }

  void run_until(Clock::time_point end) {
    std::vector<std::size_t> next_other(links.size(), 0);
    auto now = t0;
    while (now < end) {
      // Advance to the next run or the next other frame, whichever comes first.
      auto due = Clock::time_point::max();
      for (const auto& link : links) {
        due = std::min({due, link.sent + policy.interval, link.heartbeat + policy.rtt_refresh()});
      }
      auto run = grid.next_run(due, now);
      std::optional<std::size_t> other;
      for (std::size_t k = 0; k < links.size(); ++k) {
        if (next_other[k] < links[k].other.size() && links[k].other[next_other[k]] < run &&
            (!other || links[k].other[next_other[k]] < links[*other].other[next_other[*other]])) {
          other = k;
        }
      }
      if (other) {
        now = links[*other].other[next_other[*other]++];
        send(links[*other], now, LastFrame::other);
        continue;
      }
      now = run;
      if (now >= at(2000)) ++runs_after_warmup;
      auto rules = [](const Link& link) { return LinkHeartbeat{link.last, link.sent, link.heartbeat}; };
      bool round = std::any_of(links.begin(), links.end(),
                               [&](const Link& link) { return starts_round(policy, rules(link), now); });
      for (auto& link : links) {
        if (gets_heartbeat(policy, rules(link), now, round)) send(link, now, LastFrame::run_heartbeat);
      }
    }
  }
};

}  // namespace

TEST_CASE("links fall into step: their heartbeats leave in one run, each at least once an interval") {
  // Six idle links on different phases; link 0 also carries a frame once a second (a clock-sync
  // request to the leader); link 1 carries a frame every 150 ms, so it needs a heartbeat only
  // for its RTT.
  LinkSim sim(7);
  for (int s = 0; s < 20; ++s) sim.links[0].other.push_back(at(1000 * s + 280));
  for (int ms = 7; ms < 20'000; ms += 150) sim.links[1].other.push_back(at(ms));
  sim.run_until(at(20'000));
  for (const auto& link : sim.links) CHECK(link.longest <= milliseconds(250));  // as before
  // Kept busy by its own frames: a heartbeat about once a second, in a round of the others'.
  CHECK(sim.links[1].heartbeats >= 19);
  CHECK(sim.links[1].heartbeats <= 25);
  CHECK(sim.links[1].longest_heartbeat <= milliseconds(1000));
  for (std::size_t k = 2; k < sim.links.size(); ++k) {
    CHECK(sim.links[k].heartbeats >= 20 * 5 - 1);  // one an interval, no more
    CHECK(sim.links[k].heartbeats <= 20 * 5 + 1);
  }
  // 18 s after the warm-up: 5 runs a second for all links, plus at most one a second for link 0
  // when its other frame puts it out of step; link 1's RTT heartbeats need no run of their own.
  CHECK(sim.runs_after_warmup <= 18 * 6);
  CHECK(sim.runs_after_warmup >= 18 * 5);
}

TEST_CASE("links kept busy by other frames get a heartbeat a second for their RTT, in one run") {
  // A leader's links while its followers' clocks settle: each carries a request and its answer
  // every 200 ms, on the follower's own phase, so none is ever idle for an interval.
  LinkSim sim(7);
  for (std::size_t k = 0; k < sim.links.size(); ++k) {
    for (int ms = 13 * static_cast<int>(k); ms < 20'000; ms += 199) sim.links[k].other.push_back(at(ms));
  }
  sim.run_until(at(20'000));
  for (const auto& link : sim.links) {
    CHECK(link.heartbeats >= 19);  // about one a second: the RTT stays measured
    CHECK(link.heartbeats <= 25);
    CHECK(link.longest_heartbeat <= milliseconds(1050));  // at most rtt_refresh plus a step
  }
  // Their RTT heartbeats fall into step: about one run a second for all seven, not seven.
  CHECK(sim.runs_after_warmup <= 18 * 2);
  CHECK(sim.runs_after_warmup >= 18 - 1);
}

TEST_CASE("a link's RTT heartbeat is due after rtt_refresh without one, and joins a round an interval early") {
  LivenessPolicy policy;  // 200 ms interval, RTT heartbeat at least every 5 intervals (1 s)
  CHECK(policy.rtt_refresh() == microseconds(1'000'000));
  CHECK_FALSE(rtt_heartbeat_due(policy, at(0), at(999)));
  CHECK(rtt_heartbeat_due(policy, at(0), at(1000)));
  CHECK_FALSE(joins_rtt_round(policy, at(0), at(799)));
  CHECK(joins_rtt_round(policy, at(0), at(800)));
  // A link that never had a heartbeat of this node's gets one at the next run.
  CHECK(rtt_heartbeat_due(policy, Clock::time_point{}, at(0)));
  LivenessPolicy fast{microseconds(50'000), 2, 3, 4};
  CHECK(rtt_heartbeat_due(fast, at(0), at(200)));
  CHECK_FALSE(rtt_heartbeat_due(fast, at(0), at(199)));
  CHECK(joins_rtt_round(fast, at(0), at(150)));
}

TEST_CASE("a run's heartbeat counts from the run, an answer from a step after it") {
  CHECK(heartbeat_counted_from(LastFrame::run_heartbeat, at(203), at(200), milliseconds(50)) == at(200));
  CHECK(heartbeat_counted_from(LastFrame::run_heartbeat, at(200), at(200), milliseconds(50)) == at(200));
  CHECK(heartbeat_counted_from(LastFrame::answer, at(203), at(203), milliseconds(50)) == at(253));
  CHECK(heartbeat_counted_from(LastFrame::other, at(203), at(200), milliseconds(50)) == at(203));
  // A run's next heartbeat is then due exactly an interval after the run, on the grid.
  LivenessPolicy policy;
  MaintenanceGrid grid(t0, milliseconds(50));
  auto counted = heartbeat_counted_from(LastFrame::run_heartbeat, at(200) + microseconds(30), at(200),
                                        grid.step());
  CHECK(grid.next_run(counted + policy.interval, at(200) + microseconds(40)) == at(400));
}

namespace {

/// Nodes on loopback exchanging heartbeats by the schedule's rules, as the network manager does:
/// runs at their grid points, a heartbeat to every link due or (in a round) idle for half an
/// interval, and (with `answer`) a heartbeat read answered when the link back is idle for half.
struct HeartbeatSim {
  struct Link {
    Clock::time_point counted;  // the last heartbeat sent, as counted for the schedule
    Clock::time_point sent;     // and when it really went out
    LastFrame last = LastFrame::run_heartbeat;
    milliseconds longest{0};
    int heartbeats = 0;
  };
  LivenessPolicy policy;
  bool answer = true;
  std::vector<MaintenanceGrid> grids;
  std::vector<std::map<int, Link>> links;
  std::vector<int> wakes;
  std::vector<Clock::time_point> last_wake;
  // (time, node, kind: 0 run / 1 delivery, from)
  std::priority_queue<std::tuple<Clock::time_point, int, int, int>,
                      std::vector<std::tuple<Clock::time_point, int, int, int>>, std::greater<>>
      events;
  std::vector<Clock::time_point> armed;

  HeartbeatSim(int nodes, bool answers, unsigned seed) : answer(answers) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<int> phase_us(0, 200'000);
    for (int n = 0; n < nodes; ++n) {
      grids.emplace_back(t0 + microseconds(phase_us(random)), milliseconds(50));
      links.emplace_back();
      for (int m = 0; m < nodes; ++m) {
        if (m != n) links[n][m] = Link{grids[n].next_run(t0, t0), grids[n].next_run(t0, t0)};
      }
    }
    wakes.assign(static_cast<std::size_t>(nodes), 0);
    last_wake.assign(static_cast<std::size_t>(nodes), t0);
    armed.assign(static_cast<std::size_t>(nodes), Clock::time_point::max());
    for (int n = 0; n < nodes; ++n) arm(n, t0);
  }

  /// Arms the next run if it comes earlier than the armed one (a later one is found by the run).
  void arm(int n, Clock::time_point now) {
    auto due = Clock::time_point::max();
    for (auto& [m, link] : links[n]) due = std::min(due, link.counted + policy.interval);
    auto run = grids[n].next_run(due, now);
    if (run < armed[n]) {
      armed[n] = run;
      events.emplace(run, n, 0, -1);
    }
  }

  void send(int n, int m, Clock::time_point now, LastFrame kind, Clock::time_point run) {
    auto& link = links[n][m];
    link.longest = std::max(link.longest, std::chrono::duration_cast<milliseconds>(now - link.sent));
    link.sent = now;
    link.last = kind;
    link.counted = heartbeat_counted_from(kind, now, run, grids[n].step());
    ++link.heartbeats;
    events.emplace(now + microseconds(100), m, 1, n);
  }

  void wake(int n, Clock::time_point now) {
    if (now != last_wake[n]) ++wakes[n];
    last_wake[n] = now;
  }

  void run_until(Clock::time_point end) {
    while (!events.empty() && std::get<0>(events.top()) < end) {
      auto [now, n, kind, from] = events.top();
      events.pop();
      if (kind == 0) {
        if (now != armed[n]) continue;  // superseded by an earlier run
        armed[n] = Clock::time_point::max();
        wake(n, now);
        auto rules = [](const Link& link) { return LinkHeartbeat{link.last, link.counted, link.sent}; };
        bool round = false;
        for (auto& [m, link] : links[n]) round = round || starts_round(policy, rules(link), now);
        for (auto& [m, link] : links[n]) {
          if (gets_heartbeat(policy, rules(link), now, round)) send(n, m, now, LastFrame::run_heartbeat, now);
        }
      } else {
        wake(n, now);
        auto& back = links[n][from];
        if (answer && answers_heartbeat(policy, back.last, back.counted, now)) {
          send(n, from, now, LastFrame::answer, now);
        }
      }
      arm(n, now);
    }
  }
};

}  // namespace

TEST_CASE("answered heartbeats keep every link alive, with fewer wake-ups in larger clusters") {
  for (int nodes : {2, 3, 8}) {
    int sum_with = 0;
    int sum_without = 0;
    for (unsigned seed = 1; seed <= 20; ++seed) {
      HeartbeatSim with(nodes, true, seed);
      HeartbeatSim without(nodes, false, seed);
      with.run_until(at(2000));
      without.run_until(at(2000));
      auto with_at_2s = with.wakes;
      auto without_at_2s = without.wakes;
      with.run_until(at(22'000));
      without.run_until(at(22'000));
      INFO(nodes << " nodes, seed " << seed);
      int total_with = 0;
      int total_without = 0;
      for (std::size_t n = 0; n < static_cast<std::size_t>(nodes); ++n) {
        total_with += with.wakes[n] - with_at_2s[n];
        total_without += without.wakes[n] - without_at_2s[n];
        for (auto& [m, link] : with.links[n]) {
          CHECK(link.longest <= milliseconds(250));  // an interval plus a step, as before
          CHECK(link.heartbeats <= 22 * 5 + 5);      // about one an interval, never two
          CHECK(link.heartbeats >= 22 * 4);
        }
      }
      sum_with += total_with;
      sum_without += total_without;
      CHECK(total_with <= total_without);
      // Eight: the answers to a node's run come back together, and many runs find their links
      // answered already.
      if (nodes == 8) CHECK(total_with * 10 <= total_without * 7);
    }
    // Three: about one seed in three settles in a pattern where answers save nothing (each node
    // runs for one link and answers another); the others save one wake-up in nine.
    INFO(nodes << " nodes, all seeds");
    if (nodes == 3) CHECK(sum_with * 100 <= sum_without * 95);
  }
}

TEST_CASE("an unlinked member is due to be redialled or forgotten") {
  ForgetLimits limits{std::chrono::seconds(30), std::chrono::minutes(10)};
  UnlinkedMember member;
  member.next_dial = at(500);
  member.learned = at(0);
  member.down_since = at(100);

  // Every combination of state, dialling, ever up and a free dial slot.
  for (auto state : {PeerState::down, PeerState::left}) {
    for (bool dialing : {false, true}) {
      for (bool ever_up : {false, true}) {
        for (bool may_dial : {false, true}) {
          member.state = state;
          member.dialing = dialing;
          member.ever_up = ever_up;
          INFO("state " << to_string(state) << " dialing " << dialing << " ever up " << ever_up
                        << " may dial " << may_dial);
          auto due = unlinked_due(member, limits, may_dial);
          if (dialing) {
            CHECK_FALSE(due);  // the dial's end reschedules
          } else if (state == PeerState::down && may_dial) {
            CHECK(due == at(500));
          } else if (!ever_up) {
            CHECK(due == at(30'000));
          } else {
            CHECK(due == at(100) + std::chrono::minutes(10));
          }
        }
      }
    }
  }
}

TEST_CASE("a member's forgetting comes before its redial when it is due first") {
  ForgetLimits limits{std::chrono::seconds(30), std::chrono::minutes(10)};
  UnlinkedMember member;
  member.next_dial = at(40'000);
  member.learned = at(0);
  CHECK(unlinked_due(member, limits, true) == at(30'000));
  member.ever_up = true;
  member.down_since = at(0);
  member.next_dial = at(700'000);
  CHECK(unlinked_due(member, limits, true) == at(600'000));
  CHECK(unlinked_due(member, limits, false) == at(600'000));
}

TEST_CASE("a member is forgotten after the limit of what it is: never reached, or gone") {
  ForgetLimits limits{std::chrono::seconds(30), std::chrono::minutes(10)};
  UnlinkedMember member;
  member.learned = at(5'000);
  member.down_since = at(7'000);
  CHECK(forget_at(member, limits) == at(35'000));  // never reached: from when it was learned
  member.dialing = true;
  CHECK(forget_at(member, limits) == std::nullopt);  // its dial's end decides
  member.dialing = false;
  member.ever_up = true;
  member.state = PeerState::left;
  CHECK(forget_at(member, limits) == at(607'000));  // gone: from when it went
  member.state = PeerState::up;
  CHECK(forget_at(member, limits) == std::nullopt);  // up (between links): kept
}
