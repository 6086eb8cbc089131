// The simulated network itself: it must behave like the real network layer, or the election
// scenarios prove nothing.

#include <catch2/catch.hpp>

#include "election/printing.hpp"
#include "election/sim_network.hpp"

using namespace chorus;
using namespace chorus::election;
using namespace chorus::election::test;

TEST_CASE("the simulated network reports peer_up at both ends when a node joins") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);

  CHECK(sim.core("a").is_up("b"));
  CHECK(sim.core("b").is_up("a"));
  CHECK(sim.groups() == std::vector<std::vector<std::string>>{{"a", "b"}});
}

TEST_CASE("zero-delay messages are delivered within the call that produced them") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);

  sim.lead_now("a");

  CHECK(sim.core("b").leader() == "a");
  CHECK(sim.in_flight() == 0);
  CHECK(sim.delivered() == 1);
}

TEST_CASE("a delayed message arrives exactly its delay in ticks later") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.set_delay(3, 3);

  sim.lead_now("a");
  sim.tick(2);
  CHECK(sim.core("b").leader() == std::nullopt);
  sim.tick();

  CHECK(sim.core("b").leader() == "a");
}

TEST_CASE("a cut link reports peer_down at both ends and loses what was in flight") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.set_delay(2, 2);
  sim.lead_now("b");

  sim.cut("a", "b");
  sim.tick(5);

  CHECK_FALSE(sim.core("a").is_up("b"));
  CHECK_FALSE(sim.core("b").is_up("a"));
  CHECK(sim.core("a").leader() != "b");
  CHECK(sim.lost() == 1);
  CHECK(sim.groups().size() == 2);
}

TEST_CASE("healing a cut link is a new connection reported as peer_up at both ends") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.lead_now("b");
  sim.cut("a", "b");

  sim.heal("a", "b");

  CHECK(sim.core("a").is_up("b"));
  CHECK(sim.core("b").is_up("a"));
}

TEST_CASE("delayed messages keep their order on each link") {
  SimNetwork sim(42);
  sim.add("a", 0);
  sim.add("b", 0);
  sim.lead_now("b");
  sim.set_delay(0, 6);

  // Each forged ELECTION with a higher epoch makes b re-announce with a higher epoch.
  for (std::uint64_t e = 10; e < 40; e += 3) {
    sim.inject(Envelope{MessageKind::election, "a", "b", e});
    sim.tick();
  }
  sim.tick(10);

  // Reordered COORDINATORs would have arrived stale at a.
  CHECK(sim.core("a").stats().stale_coordinators == 0);
  CHECK(sim.core("a").epoch() == sim.core("b").epoch());
}

TEST_CASE("a crash reports peer_down to every peer and a restart brings back a fresh core") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.add("c", 0);
  sim.lead_now("c");

  sim.crash("c");
  CHECK_FALSE(sim.core("a").is_up("c"));
  CHECK_FALSE(sim.core("b").is_up("c"));
  CHECK(sim.live() == std::vector<std::string>{"a", "b"});

  sim.restart("c");
  CHECK(sim.core("a").is_up("c"));
  CHECK(sim.core("c").is_up("a"));
  CHECK(sim.core("c").stats().elections_won == 0);
}

TEST_CASE("a dropped message kind is never delivered") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.drop(MessageKind::coordinator);

  sim.lead_now("a");

  CHECK(sim.core("b").leader() == std::nullopt);
  CHECK(sim.lost() == 1);
}

TEST_CASE("a frozen node neither ticks nor receives until it is thawed") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.freeze("a", false);

  sim.lead_now("b");
  sim.tick(20);
  CHECK(sim.core("a").now() == 0);
  CHECK(sim.core("a").leader() == std::nullopt);
  CHECK(sim.in_flight() == 1);

  sim.thaw("a", Resume::plain);
  CHECK(sim.core("a").leader() == "b");
}

TEST_CASE("a detected freeze closes the links and the thawed node sees them go down and come back") {
  SimNetwork sim;
  sim.add("a", 0);
  sim.add("b", 0);
  sim.lead_now("b");

  sim.freeze("a", true);
  CHECK_FALSE(sim.core("b").is_up("a"));
  CHECK(sim.core("a").is_up("b"));  // it has not run since

  sim.thaw("a", Resume::plain);
  CHECK(sim.core("a").is_up("b"));
  CHECK(sim.core("b").is_up("a"));
  // a saw its leader go down (and briefly led itself alone), then the two leaders met
  CHECK(sim.core("a").leader() == "b");
  CHECK(sim.violations().empty());
}

TEST_CASE("a partition splits the links and heal_all restores them") {
  SimNetwork sim;
  for (const char* id : {"a", "b", "c", "d"}) sim.add(id, 0);

  sim.partition({{"a", "b"}, {"c", "d"}});
  CHECK(sim.groups() == std::vector<std::vector<std::string>>{{"a", "b"}, {"c", "d"}});
  CHECK_FALSE(sim.core("a").is_up("c"));

  sim.heal_all();
  CHECK(sim.groups().size() == 1);
  CHECK(sim.core("a").is_up("c"));
}
