// Eligibility: a node stands for election only while it holds the cluster's state
// (docs/election.md, "Eligibility"). One core by hand first, then the simulated network.

#include <catch2/catch.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "chorus/election/bully_election.hpp"
#include "election/printing.hpp"
#include "election/sim_network.hpp"

using namespace chorus;
using namespace chorus::election;
using namespace chorus::election::test;

namespace {

using K = MessageKind;
using Ids = std::vector<std::string>;

/// discovery 10, answer 2, coordinator 4: a node that is not eligible stands after 14 ticks.
constexpr std::int64_t kPatience = 14;

Config config(bool eligible = true, bool preempt = false) {
  Config c;
  c.timeouts = Timeouts{10, 2, 4, 0};
  c.preempt = preempt;
  c.eligible_at_start = eligible;
  return c;
}

Envelope msg(K kind, const std::string& from, const std::string& to, std::uint64_t epoch) {
  return Envelope{kind, from, to, epoch};
}

/// Node "b" (priority 0), not eligible, with live peers "a" (lower) and "c" (higher).
BullyElection joiner() {
  BullyElection n(Rank{0, "b"}, config(false));
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "c"});
  return n;
}

bool ever_led(const SimNetwork& sim, const std::string& id) {
  const auto& h = sim.history(id);
  return std::any_of(h.begin(), h.end(), [](const Status& s) { return s.role == Role::leader; });
}

}  // namespace

// ---- one core ---------------------------------------------------------------------------------

TEST_CASE("a node that is not eligible leaves a lower rank's ELECTION unanswered and does not campaign") {
  BullyElection n = joiner();

  n.step(msg(K::election, "a", "b", 0));

  CHECK(n.take_outbox().empty());
  CHECK(n.role() == Role::follower);
  CHECK(n.stats().unanswered_elections == 1);
}

TEST_CASE("a node that is not eligible waits discovery + coordinator without a leader, then stands") {
  BullyElection n = joiner();
  for (int i = 0; i < 10; ++i) n.tick();  // the discovery timeout

  CHECK(n.role() == Role::follower);
  CHECK(n.ticks_until_timeout() == kPatience - 10);
  CHECK(n.take_outbox().empty());
  for (int i = 10; i < kPatience; ++i) n.tick();

  CHECK(n.role() == Role::candidate);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "c", 0)});
  CHECK(n.stands());
  n.step(msg(K::election, "a", "b", 0));  // standing now, it answers like any candidate
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "a", 0)});
}

TEST_CASE("a node that is not eligible does not start elections on command") {
  BullyElection n = joiner();

  n.start_election();

  CHECK(n.role() == Role::follower);
  CHECK(n.stats().ignored_commands == 1);
  CHECK(n.take_outbox().empty());
}

TEST_CASE("a follower that is not eligible waits when its leader dies instead of campaigning") {
  BullyElection n = joiner();
  n.step(msg(K::coordinator, "a", "b", 1));
  n.take_outbox();

  n.peer_down("a");

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == std::nullopt);
  CHECK(n.take_outbox().empty());
  CHECK(n.ticks_until_timeout() == 10);
}

TEST_CASE("a stalled candidate stops campaigning") {
  BullyElection n(Rank{0, "b"}, config());
  n.peer_up(Rank{0, "c"});
  n.start_election();
  REQUIRE(n.role() == Role::candidate);

  n.stalled();

  CHECK(n.role() == Role::follower);
  CHECK_FALSE(n.eligible());
}

TEST_CASE("a stalled leader stays eligible until it hears of an epoch above the one it led") {
  BullyElection n(Rank{0, "b"}, config());
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "c"});
  n.lead_now();
  n.stalled();
  REQUIRE(n.role() == Role::follower);

  n.take_outbox();
  n.step(msg(K::election, "a", "b", 1));  // the same epoch: nobody led after us
  CHECK(n.eligible());
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "a", 1)});  // so we still stand...
  CHECK(n.role() == Role::follower);  // ...but wait for a successor's COORDINATOR to arrive
  n.step(msg(K::election, "a", "b", 2));  // someone did lead: our state may be older than theirs

  CHECK_FALSE(n.eligible());
  CHECK(n.take_outbox().empty());
}

TEST_CASE("a stalled leader campaigns after its discovery timeout if no successor announces itself") {
  BullyElection n(Rank{0, "b"}, config());
  n.peer_up(Rank{0, "a"});
  n.lead_now();
  n.stalled();
  n.step(msg(K::election, "a", "b", 1));  // queued in its socket during the freeze, say

  for (int i = 0; i < 10; ++i) n.tick();

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 2);
}

TEST_CASE("leading makes a node eligible and a leader ignores set_eligible(false)") {
  BullyElection n = joiner();
  n.lead_now();
  CHECK(n.eligible());

  n.set_eligible(false);

  CHECK(n.eligible());
  CHECK(n.role() == Role::leader);
  CHECK(n.stats().ignored_commands == 1);
}

// ---- simulated network ------------------------------------------------------------------------

TEST_CASE("the highest-ranked ELIGIBLE survivor wins, for every set of nodes lacking the state") {
  // Priorities 1..4 for a..d; every leader, every subset of the survivors not eligible.
  const Ids all{"a", "b", "c", "d"};
  const auto delay = GENERATE(0, 1, 3);
  for (const auto& leader : all) {
    Ids survivors;
    std::copy_if(all.begin(), all.end(), std::back_inserter(survivors),
                 [&](const auto& id) { return id != leader; });
    for (unsigned mask = 0; mask < (1u << survivors.size()); ++mask) {
      SimNetwork sim;
      sim.set_state_sync(std::nullopt);  // nobody gets the state during the test
      for (std::size_t i = 0; i < all.size(); ++i) {
        sim.add(all[i], static_cast<std::int64_t>(i) + 1, config());
      }
      sim.lead_now(leader);
      REQUIRE(sim.run_until_quiet(50));
      Ids lacking;
      for (std::size_t i = 0; i < survivors.size(); ++i) {
        if (mask & (1u << i)) {
          lacking.push_back(survivors[i]);
          sim.stalled(survivors[i]);  // a follower that was frozen is not eligible
        }
      }
      sim.set_delay(delay, delay);

      sim.crash(leader);
      REQUIRE(sim.run_until_quiet(100));

      std::string expected;  // the highest-ranked eligible survivor, else the highest survivor
      for (const auto& id : survivors) {
        if (std::find(lacking.begin(), lacking.end(), id) == lacking.end()) expected = id;
      }
      const bool nobody_eligible = expected.empty();
      if (nobody_eligible) expected = survivors.back();
      INFO("leader " << leader << " mask " << mask << " delay " << delay << "\n" << sim.describe());
      CHECK(sim.agreed_leader(survivors) == expected);
      if (nobody_eligible) {
        // Everyone stands after its patience: plain Bully, with premature leaders when the
        // answer timeout is shorter than a round trip.
        CHECK(sim.core(expected).stats().stood_without_state >= 1);
      } else {
        CHECK(sim.core(expected).stats().stood_without_state == 0);
        for (const auto& id : lacking) CHECK_FALSE(ever_led(sim, id));
      }
      CHECK(sim.violations().empty());
    }
  }
}

TEST_CASE("a higher-ranked joiner whose leader dies before it has the state leaves the lead to an eligible node") {
  const auto delay = GENERATE(0, 1, 3);
  SimNetwork sim;
  sim.set_state_sync(std::nullopt);
  sim.add("a", 0, config());
  sim.add("b", 0, config());
  sim.lead_now("a");
  sim.add("z", 9, config(false));
  REQUIRE(sim.core("z").leader() == "a");
  sim.set_delay(delay, delay);

  sim.crash("a");
  REQUIRE(sim.run_until_quiet(50));

  CHECK(sim.agreed_leader({"b", "z"}) == "b");
  CHECK_FALSE(ever_led(sim, "z"));
  CHECK(sim.core("z").stats().unanswered_elections >= 1);
  CHECK(sim.violations().empty());
}

TEST_CASE("a lone node that is not eligible leads after discovery + coordinator ticks") {
  SimNetwork sim;
  sim.add("z", 0, config(false));

  sim.tick(kPatience - 1);
  CHECK(sim.core("z").role() == Role::follower);
  sim.tick();

  CHECK(sim.agreed_leader({"z"}) == "z");
  CHECK(sim.core("z").stats().stood_without_state == 1);
  CHECK(sim.core("z").eligible());
}

TEST_CASE("a joiner whose only leader dies before it has the state leads after its patience") {
  SimNetwork sim;
  sim.set_state_sync(std::nullopt);
  sim.add("a", 0, config());
  sim.lead_now("a");
  sim.add("z", 9, config(false));
  const auto crashed_at = sim.now();

  sim.crash("a");
  sim.tick(kPatience - 1);
  CHECK(sim.core("z").role() == Role::follower);
  sim.tick();

  CHECK(sim.now() - crashed_at == kPatience);
  CHECK(sim.agreed_leader({"z"}) == "z");  // nobody alive held the state: stopped is the truth
  CHECK(sim.core("z").stats().stood_without_state == 1);
}

TEST_CASE("a preempting joiner follows the sitting leader until it holds the state, then takes over") {
  const auto sync_delay = GENERATE(1, 5, 20);
  SimNetwork sim;
  sim.set_state_sync(sync_delay);
  sim.add("a", 0, config(true, true));
  sim.add("b", 1, config(true, true));
  sim.lead_now("b");
  sim.add("z", 9, config(false, true));

  CHECK(sim.core("z").leader() == "b");  // follows first: it has no state to lead with
  sim.tick(sync_delay - 1);
  CHECK(sim.core("z").leader() == "b");
  CHECK(sim.core("z").stats().elections_started == 0);
  sim.tick();

  CHECK(sim.agreed_leader({"a", "b", "z"}) == "z");
  CHECK(sim.core("z").stats().stood_without_state == 0);
  CHECK(sim.core("b").stats().step_downs == 1);
  CHECK(sim.violations().empty());
}

TEST_CASE("a stalled follower does not lead, or answer for the cluster, until it has resynced") {
  SimNetwork sim;
  sim.set_state_sync(std::nullopt);
  sim.add("a", 0, config());
  sim.add("b", 1, config());
  sim.add("z", 9, config());
  sim.lead_now("b");
  sim.freeze("z", true);  // SIGSTOP past the peers' failure detection
  sim.tick(30);

  sim.thaw("z", Resume::stalled_then_eof);
  REQUIRE(sim.run_until_quiet(50));
  CHECK(sim.agreed_leader({"a", "b", "z"}) == "b");  // z follows the sitting leader again
  CHECK_FALSE(sim.core("z").eligible());

  sim.crash("b");  // the leader dies before z has resynced: a, the only eligible node, wins
  REQUIRE(sim.run_until_quiet(50));
  CHECK(sim.agreed_leader({"a", "z"}) == "a");
  CHECK_FALSE(ever_led(sim, "z"));

  sim.set_eligible("z", true);  // a's STATE_SYNC: z may stand again, and follows a (stable)
  sim.tick(100);
  CHECK(sim.agreed_leader({"a", "z"}) == "a");
  CHECK(sim.violations().empty());
}

TEST_CASE("a follower stalled without its peers noticing keeps its leader and is eligible once resynced") {
  SimNetwork sim;
  sim.set_state_sync(3);
  sim.add("a", 0, config());
  sim.add("z", 9, config());
  sim.lead_now("a");
  sim.tick(5);
  sim.freeze("z", false);
  sim.tick(2);

  sim.thaw("z", Resume::stalled_then_eof);
  CHECK(sim.core("z").leader() == "a");
  CHECK_FALSE(sim.core("z").eligible());
  sim.tick(3);  // the state sync the shell requests on a stall (modelled as a fresh follow)

  CHECK(sim.core("z").eligible());
  CHECK(sim.agreed_leader({"a", "z"}) == "a");
}

TEST_CASE("a leader that stood without the state yields to a leader that holds it, whatever the ranks") {
  const auto delay = GENERATE(0, 1, 3);
  SimNetwork sim;
  sim.set_state_sync(std::nullopt);
  sim.add("a", 0, config());
  sim.add("b", 1, config());
  sim.lead_now("a");
  sim.add("z", 9, config(false));
  sim.partition({{"a", "b"}, {"z"}});  // z never got the state; alone, it leads after its patience
  sim.tick(kPatience);
  REQUIRE(sim.agreed_leader({"z"}) == "z");
  REQUIRE(sim.core("z").stats().stood_without_state == 1);
  sim.set_state_sync(0);
  sim.set_delay(delay, delay);

  sim.heal_all();
  REQUIRE(sim.run_until_quiet(100));

  INFO(sim.describe());
  // a or b, which hold the state (a may step down to z's claim as they cross), not z, though z
  // outranks them both.
  const auto leader = sim.agreed_leader({"a", "b", "z"});
  CHECK((leader == "a" || leader == "b"));
  CHECK(sim.core("z").stats().elections_won == 1);   // only the lone leadership
  CHECK(sim.violations().empty());
}
