// Election scenarios on the simulated network: set-up, stimulus, check.

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "election/printing.hpp"
#include "election/sim_network.hpp"

using namespace chorus;
using namespace chorus::election;
using namespace chorus::election::test;

namespace {

using Ids = std::vector<std::string>;

Config config(bool preempt = false) {
  Config c;
  c.timeouts = Timeouts{10, 2, 4, 0};
  c.preempt = preempt;
  return c;
}

void add_all(SimNetwork& sim, const Ids& ids, Config c = config()) {
  for (const auto& id : ids) sim.add(id, 0, c);
}

/// The leaders a node has moved to since its history had `from` entries: gaps with no leader and
/// re-announcements by the leader it already followed are left out.
Ids leaders_since(const SimNetwork& sim, const std::string& id, std::size_t from) {
  const auto& h = sim.history(id);
  std::optional<std::string> current;
  for (std::size_t i = 0; i < from && i < h.size(); ++i) {
    if (h[i].leader) current = h[i].leader;
  }
  Ids out;
  for (std::size_t i = from; i < h.size(); ++i) {
    if (h[i].leader && h[i].leader != current) {
      current = h[i].leader;
      out.push_back(*current);
    }
  }
  return out;
}

const Ids kFive{"a", "b", "c", "d", "e"};

/// Five nodes led by e, split into {a, b, c} and {d, e}; each side has settled (c leads the first).
void split_five(SimNetwork& sim) {
  add_all(sim, kFive);
  sim.lead_now("e");
  sim.partition({{"a", "b", "c"}, {"d", "e"}});
  REQUIRE(sim.run_until_quiet(100));
}

}  // namespace

TEST_CASE("the highest-ranked live node wins when idle nodes discover each other") {
  SimNetwork sim;
  sim.add(Rank{0, "b"}, config());
  sim.add(Rank{1, "a"}, config());  // highest: priority before id
  sim.add(Rank{0, "c"}, config());
  sim.add(Rank{-1, "z"}, config());

  // Nobody has --leader: all wait the discovery timeout, then campaign in the same tick.
  CHECK(sim.run_until_quiet(100) == 10);

  CHECK(sim.agreed_leader({"a", "b", "c", "z"}) == "a");
  CHECK(sim.core("a").epoch() == 1);
  CHECK(sim.violations().empty());
}

TEST_CASE("idle nodes with jittered timeouts and message delays elect the highest rank") {
  const auto seed = GENERATE(range(1, 21));
  SimNetwork sim(static_cast<std::uint64_t>(seed));
  Config c = config();
  c.timeouts = Timeouts{10, 5, 9, 4};
  sim.set_delay(0, 2);
  add_all(sim, {"a", "b", "c", "d", "e"}, c);

  REQUIRE(sim.run_until_quiet(200));

  INFO(sim.describe());
  CHECK(sim.agreed_leader({"a", "b", "c", "d", "e"}) == "e");
  for (const auto& id : {"a", "b", "c", "d"}) CHECK(leaders_since(sim, id, 0) == Ids{"e"});
  CHECK(sim.violations().empty());
}

TEST_CASE("after the leader crashes every survivor follows the new leader one message delay later") {
  SimNetwork sim;
  Config c = config();
  c.timeouts = Timeouts{10, 7, 13, 0};  // answer timeout above the longest round trip (6)
  add_all(sim, {"a", "b", "c", "d"}, c);
  sim.lead_now("d");
  REQUIRE(sim.agreed_leader({"a", "b", "c", "d"}) == "d");
  const auto delay = GENERATE(0, 1, 3);
  sim.set_delay(delay, delay);

  sim.crash("d");  // kill -9: the survivors see peer_down at once

  CHECK(sim.core("c").role() == Role::leader);  // the highest survivor leads in the same instant
  for (int t = 0; t < delay; ++t) {
    CHECK_FALSE(sim.agreed_leader({"a", "b", "c"}));
    sim.tick();
  }
  CHECK(sim.agreed_leader({"a", "b", "c"}) == "c");
  CHECK(sim.core("a").stats().last_election_ticks == delay);
  CHECK(sim.core("c").stats().last_election_ticks == 0);
  CHECK(sim.core("c").epoch() == 2);
  CHECK(sim.run_until_quiet(20));
  CHECK(sim.agreed_leader({"a", "b", "c"}) == "c");
  CHECK(sim.violations().empty());
}

TEST_CASE("when the leader and the next-highest node crash together the third leads in the same tick") {
  SimNetwork sim;
  add_all(sim, {"a", "b", "c", "d"});
  sim.lead_now("d");

  sim.crash("d");
  sim.crash("c");

  CHECK(sim.agreed_leader({"a", "b"}) == "b");
}

TEST_CASE("simultaneous elections started by every node converge on the highest rank") {
  const auto seed = GENERATE(range(1, 21));
  SimNetwork sim(static_cast<std::uint64_t>(seed));
  Config c = config();
  c.timeouts = Timeouts{10, 7, 13, 2};  // answer > round trip at the largest delay
  const Ids ids{"a", "b", "c", "d", "e"};
  add_all(sim, ids, c);
  sim.set_delay(1, 1);  // nothing arrives before everyone has started

  for (const auto& id : ids) sim.start_election(id);
  for (const auto& id : ids) REQUIRE(sim.core(id).role() != Role::follower);
  sim.set_delay(0, 3);

  REQUIRE(sim.run_until_quiet(100));
  INFO(sim.describe());
  CHECK(sim.agreed_leader(ids) == "e");
  for (const auto& id : ids) CHECK(leaders_since(sim, id, 0) == Ids{"e"});
  CHECK(sim.violations().empty());
}

TEST_CASE("a partition gives each side its own leader and healing leaves the higher-ranked one") {
  SimNetwork sim;
  const auto& all = kFive;
  split_five(sim);
  CHECK(sim.agreed_leader({"a", "b", "c"}) == "c");
  CHECK(sim.agreed_leader({"d", "e"}) == "e");

  const auto a_before = sim.history("a").size();
  const auto d_before = sim.history("d").size();
  const auto c_epoch = sim.core("c").epoch();
  sim.heal_all();
  REQUIRE(sim.run_until_quiet(50));

  CHECK(sim.agreed_leader(all) == "e");
  CHECK(sim.core("e").epoch() > c_epoch);
  CHECK(leaders_since(sim, "a", a_before) == Ids{"e"});
  CHECK(leaders_since(sim, "d", d_before).empty());  // the winner's side never moved
  CHECK(sim.core("c").stats().step_downs == 1);
  CHECK(sim.violations().empty());
}

TEST_CASE("a lower-ranked leader with a higher epoch still loses to the higher-ranked one when they meet") {
  const auto delay = GENERATE(0, 1, 3);
  SimNetwork sim(static_cast<std::uint64_t>(delay) + 7);
  const auto& all = kFive;
  split_five(sim);
  // Churn on the lower side raises its epoch well above the higher side's.
  for (int i = 0; i < 3; ++i) {
    sim.crash("c");
    sim.restart("c");
    sim.crash("b");
    sim.restart("b");
  }
  REQUIRE(sim.run_until_quiet(100));
  const auto low_leader = *sim.agreed_leader({"a", "b", "c"});
  const auto low_epoch = sim.core(low_leader).epoch();
  REQUIRE(low_epoch > sim.core("e").epoch());
  std::map<std::string, std::size_t> before;
  for (const auto& id : all) before[id] = sim.history(id).size();

  sim.set_delay(0, delay);
  sim.heal_all();
  REQUIRE(sim.run_until_quiet(100));

  INFO(sim.describe());
  CHECK(sim.agreed_leader(all) == "e");
  CHECK(sim.core("e").epoch() > low_epoch);
  // No flip-flop: the lower side moves once, straight to e; the higher side never moves.
  for (const auto& id : {"a", "b", "c"}) {
    if (id != low_leader) CHECK(leaders_since(sim, id, before[id]) == Ids{"e"});
  }
  CHECK(leaders_since(sim, "d", before["d"]).empty());
  CHECK(sim.violations().empty());
}

TEST_CASE("a periodic re-announcement settles two leaders whose meeting announcements were lost") {
  SimNetwork sim;
  const auto& all = kFive;
  split_five(sim);
  REQUIRE(sim.agreed_leader({"a", "b", "c"}) == "c");

  sim.drop(MessageKind::coordinator);  // every announcement made when the links return is lost
  sim.heal_all();
  sim.run_until_quiet(50);
  sim.drop(MessageKind::coordinator, false);
  REQUIRE(sim.core("c").role() == Role::leader);
  REQUIRE(sim.core("e").role() == Role::leader);

  sim.reannounce("c");  // the lower-ranked leader's period comes first
  REQUIRE(sim.run_until_quiet(50));
  CHECK(sim.agreed_leader(all) == "e");
  CHECK(sim.core("c").role() == Role::follower);
  CHECK(sim.violations().empty());
}

TEST_CASE("re-announcing is ignored by a node that does not lead") {
  SimNetwork sim;
  add_all(sim, {"a", "b"});
  sim.lead_now("b");
  REQUIRE(sim.run_until_quiet(50));
  sim.reannounce("a");
  CHECK(sim.core("a").stats().ignored_commands == 1);
  CHECK(sim.agreed_leader({"a", "b"}) == "b");
}

TEST_CASE("a stale COORDINATOR reaching a follower in a running cluster is ignored and counted") {
  SimNetwork sim;
  add_all(sim, {"a", "b", "c"});
  sim.lead_now("c");
  sim.crash("c");
  sim.restart("c");  // b leads at epoch 2, c follows it
  REQUIRE(sim.agreed_leader({"a", "b", "c"}) == "b");
  REQUIRE(sim.core("a").epoch() == 2);

  sim.inject(Envelope{MessageKind::coordinator, "c", "a", 1});  // a delayed leftover of epoch 1

  CHECK(sim.core("a").stats().stale_coordinators == 1);
  CHECK(sim.agreed_leader({"a", "b", "c"}) == "b");
  CHECK(sim.core("a").epoch() == 2);
}

TEST_CASE("a high-ranked node restarting over and over causes no leadership change without preemption") {
  SimNetwork sim;
  add_all(sim, {"a", "b", "c", "d"});
  sim.lead_now("d");
  sim.crash("d");  // the one change: c takes over
  REQUIRE(sim.agreed_leader({"a", "b", "c"}) == "c");
  const auto changes = sim.core("a").stats().leader_changes;

  for (int i = 0; i < 10; ++i) {
    sim.restart("d");
    sim.tick(15);  // longer than the discovery timeout
    CHECK(sim.core("d").leader() == "c");
    CHECK(sim.core("d").stats().elections_started == 0);
    sim.crash("d");
    sim.tick(3);
  }

  CHECK(sim.core("a").stats().leader_changes == changes);
  CHECK(sim.core("b").stats().leader_changes == changes);
  CHECK(sim.core("c").role() == Role::leader);
  CHECK(sim.core("c").stats().elections_won == 1);
}

TEST_CASE("with preemption a restarting high-ranked node takes over on every return") {
  SimNetwork sim;
  add_all(sim, {"a", "b", "c", "d"}, config(true));
  sim.lead_now("d");
  sim.crash("d");
  const auto changes = sim.core("a").stats().leader_changes;

  for (int i = 0; i < 10; ++i) {
    sim.restart("d");
    CHECK(sim.agreed_leader({"a", "b", "c", "d"}) == "d");
    sim.crash("d");
    CHECK(sim.agreed_leader({"a", "b", "c"}) == "c");
  }

  CHECK(sim.core("a").stats().leader_changes == changes + 20);
}

TEST_CASE("a node started with lead_now leads at once and higher-ranked nodes that join follow it") {
  SimNetwork sim;
  sim.add("a", 0, config());

  sim.lead_now("a");
  CHECK(sim.core("a").role() == Role::leader);
  CHECK(sim.core("a").epoch() == 1);
  sim.add("b", 0, config());
  sim.add("c", 5, config());
  sim.tick(50);

  CHECK(sim.agreed_leader({"a", "b", "c"}) == "a");
  CHECK(sim.core("b").stats().elections_started == 0);
  CHECK(sim.core("c").stats().elections_started == 0);
  CHECK(sim.in_flight() == 0);
}

TEST_CASE("a node with no peers elects itself after the discovery timeout") {
  SimNetwork sim;
  sim.add("a", 0, config());

  sim.tick(9);
  CHECK(sim.core("a").role() == Role::follower);
  sim.tick();

  CHECK(sim.agreed_leader({"a"}) == "a");
}

TEST_CASE("a stalled leader steps down and follows the leader elected while it was frozen") {
  const auto resume = GENERATE(Resume::stalled_then_eof, Resume::eof_then_stalled);
  SimNetwork sim;
  const Ids all{"a", "b", "c", "d"};
  add_all(sim, all);
  sim.lead_now("d");

  sim.freeze("d", true);  // SIGSTOP longer than the peers' failure detection
  CHECK(sim.agreed_leader({"a", "b", "c"}) == "c");
  sim.tick(30);
  const auto a_before = sim.history("a").size();
  sim.thaw("d", resume);
  REQUIRE(sim.run_until_quiet(50));

  CHECK(sim.agreed_leader(all) == "c");
  CHECK(leaders_since(sim, "a", a_before).empty());  // no second leadership change
  CHECK(sim.core("d").stats().step_downs == 1);
  CHECK(sim.core("d").stats().elections_won == 1);  // only the original lead_now
  CHECK(sim.violations().empty());
}

TEST_CASE("a stalled leader whose freeze went unnoticed leads again without its followers changing leader") {
  SimNetwork sim;
  const Ids all{"a", "b", "c", "d"};
  add_all(sim, all);
  sim.lead_now("d");

  sim.freeze("d", false);  // the shell over-estimated: peers never saw d down
  sim.tick(2);
  sim.thaw("d", Resume::stalled_then_eof);
  CHECK(sim.core("d").role() == Role::follower);
  REQUIRE(sim.run_until_quiet(50));

  CHECK(sim.agreed_leader(all) == "d");
  CHECK(sim.core("d").epoch() == 2);
  for (const auto& id : {"a", "b", "c"}) CHECK(sim.core(id).stats().leader_changes == 1);
}

TEST_CASE("a higher-ranked node joining a stable cluster follows the sitting leader") {
  SimNetwork sim;
  add_all(sim, {"a", "b"});
  sim.lead_now("b");

  sim.add("z", 9, config());
  sim.tick(100);

  CHECK(sim.agreed_leader({"a", "b", "z"}) == "b");
  CHECK(sim.core("z").stats().elections_started == 0);
  CHECK(sim.core("a").stats().leader_changes == 1);
}

TEST_CASE("a candidate answered by a follower learns a lower-ranked leader through that follower") {
  SimNetwork sim;
  sim.add("l", 0, config());
  sim.lead_now("l");
  sim.add("h", 5, config());  // outranks everyone, follows l (stable)
  sim.drop(MessageKind::coordinator);
  sim.add("m", 3, config());  // misses l's COORDINATOR on joining
  sim.drop(MessageKind::coordinator, false);

  sim.tick(10);  // m's discovery timeout: ELECTION to h, h answers and asks l to re-announce

  CHECK(sim.agreed_leader({"l", "h", "m"}) == "l");
  CHECK(sim.core("m").stats().elections_started == 1);
  CHECK(sim.core("m").stats().last_election_ticks == 0);
  CHECK(sim.core("h").stats().leader_changes == 1);
}

TEST_CASE("two nodes started with lead_now settle on the higher rank when they connect") {
  SimNetwork sim;
  add_all(sim, {"a", "b"});
  sim.partition({{"a"}, {"b"}});
  sim.lead_now("a");
  sim.lead_now("b");

  sim.heal_all();

  CHECK(sim.agreed_leader({"a", "b"}) == "b");
  CHECK(sim.core("b").epoch() == 2);
}

TEST_CASE("a leader declared while an ANSWER was still in flight is resolved to the higher rank") {
  SimNetwork sim;
  const Ids all{"a", "b", "c"};
  Config c = config();
  c.timeouts = Timeouts{10, 2, 4, 0};
  add_all(sim, all, c);
  sim.lead_now("c");
  sim.set_delay(3, 3);  // a round trip (6) is longer than the answer timeout (2)

  sim.start_election("a");
  sim.tick(2);
  CHECK(sim.core("a").role() == Role::leader);  // premature: c's ANSWER is still on its way
  REQUIRE(sim.run_until_quiet(50));

  CHECK(sim.agreed_leader(all) == "c");
  CHECK(sim.core("a").stats().step_downs == 1);
  CHECK(sim.violations().empty());
}

TEST_CASE("a link blip between a follower and the leader ends with the same leader") {
  SimNetwork sim;
  const Ids all{"a", "b", "c", "d"};
  add_all(sim, all);
  sim.lead_now("d");

  sim.cut("a", "d");
  sim.tick(20);
  CHECK(sim.core("a").role() == Role::candidate);  // answered by b and c, never told of d
  sim.heal("a", "d");
  REQUIRE(sim.run_until_quiet(50));

  CHECK(sim.agreed_leader(all) == "d");
  for (const auto& id : {"b", "c"}) CHECK(sim.core(id).stats().leader_changes == 1);
  CHECK(sim.core("a").stats().elections_won == 0);
}

TEST_CASE("an isolated leader keeps leading alone and rejoins as leader when it outranks the rest") {
  SimNetwork sim;
  const Ids all{"a", "b", "c"};
  add_all(sim, all);
  sim.lead_now("c");

  sim.isolate("c");
  CHECK(sim.agreed_leader({"c"}) == "c");
  CHECK(sim.agreed_leader({"a", "b"}) == "b");
  sim.heal_all();

  CHECK(sim.agreed_leader(all) == "c");
  CHECK(sim.core("c").epoch() == 3);
}
