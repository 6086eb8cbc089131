// BullyElection on its own: one core, messages handed in by hand, the outbox read back.
// Each test: set-up, stimulus, check.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "chorus/election/bully_election.hpp"
#include "election/printing.hpp"

using namespace chorus;
using namespace chorus::election;

namespace {

using K = MessageKind;

Config timeouts(std::int64_t discovery, std::int64_t answer, std::int64_t coordinator) {
  Config c;
  c.timeouts.discovery = discovery;
  c.timeouts.answer = answer;
  c.timeouts.coordinator = coordinator;
  return c;
}

Envelope msg(K kind, const std::string& from, const std::string& to, std::uint64_t epoch) {
  return Envelope{kind, from, to, epoch};
}

/// Node "b" (priority 0) with live peers "a" (lower) and "c" (higher).
BullyElection middle(Config config = timeouts(10, 2, 4)) {
  BullyElection n(Rank{0, "b"}, config);
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "c"});
  return n;
}

void ticks(BullyElection& n, int count) {
  for (int i = 0; i < count; ++i) n.tick();
}

}  // namespace

TEST_CASE("a fresh node is a follower with no leader at epoch 0 and sends nothing") {
  BullyElection n = middle();

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == std::nullopt);
  CHECK(n.epoch() == 0);
  CHECK(n.take_outbox().empty());
  CHECK(n.take_changes().empty());
  CHECK(n.ticks_until_timeout() == 10);
}

TEST_CASE("lead_now makes a node leader of epoch 1 at once and announces it to every live peer") {
  BullyElection n = middle();

  n.lead_now();

  CHECK(n.role() == Role::leader);
  CHECK(n.leader() == "b");
  CHECK(n.epoch() == 1);
  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "b", "a", 1), msg(K::coordinator, "b", "c", 1)});
  CHECK(n.take_changes() == std::vector{Status{Role::leader, "b", 1}});
  CHECK(n.stats().elections_won == 1);
  CHECK(n.ticks_until_timeout() == std::nullopt);
}

TEST_CASE("an epoch kept from the last run: the node's leaderships go above it, a current leader is still followed") {
  BullyElection n = middle();
  n.remember_epoch(7);
  n.remember_epoch(3);  // never lowers it
  CHECK(n.epoch() == 0);
  CHECK(n.highest_epoch_seen() == 7);
  n.lead_now();
  CHECK(n.epoch() == 8);
  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "b", "a", 8), msg(K::coordinator, "b", "c", 8)});

  BullyElection joiner = middle();
  joiner.remember_epoch(7);
  joiner.step(msg(K::coordinator, "c", "b", 2));  // a cluster that ran meanwhile, at a lower epoch
  CHECK(joiner.role() == Role::follower);
  CHECK(joiner.leader() == "c");
  CHECK(joiner.epoch() == 2);
}

TEST_CASE("a node with no peers elects itself exactly when the discovery timeout expires") {
  BullyElection n(Rank{0, "a"}, timeouts(7, 2, 4));

  ticks(n, 6);
  CHECK(n.role() == Role::follower);
  n.tick();

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 1);
  CHECK(n.stats().elections_started == 1);
  CHECK(n.stats().last_election_ticks == 0);
  CHECK(n.take_outbox().empty());
}

TEST_CASE("the discovery timeout is extended by a draw from the injected random source") {
  Config c = timeouts(5, 2, 4);
  c.timeouts.jitter = 3;
  std::vector<std::int64_t> asked;
  BullyElection n(Rank{0, "a"}, c, [&](std::int64_t bound) {
    asked.push_back(bound);
    return bound - 1;
  });

  CHECK(asked == std::vector<std::int64_t>{4});
  CHECK(n.ticks_until_timeout() == 8);
  ticks(n, 7);
  CHECK(n.role() == Role::follower);
  n.tick();
  CHECK(n.role() == Role::leader);
}

TEST_CASE("without a random source the jitter is zero") {
  Config c = timeouts(5, 2, 4);
  c.timeouts.jitter = 3;
  BullyElection n(Rank{0, "a"}, c);

  CHECK(n.ticks_until_timeout() == 5);
}

TEST_CASE("a candidate sends ELECTION only to live higher-ranked peers") {
  BullyElection n(Rank{0, "b"}, timeouts(10, 2, 4));
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{1, "a1"});  // higher by priority despite its id
  n.peer_up(Rank{0, "c"});
  n.peer_up(Rank{-1, "z"});  // lower by priority despite its id

  n.start_election();

  CHECK(n.role() == Role::candidate);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "a1", 0), msg(K::election, "b", "c", 0)});
  CHECK(n.ticks_until_timeout() == 2);
  CHECK(n.stats().elections_started == 1);
}

TEST_CASE("a candidate that hears no answer declares itself leader exactly at the answer timeout") {
  BullyElection n = middle(timeouts(10, 3, 4));
  n.start_election();
  n.take_outbox();

  ticks(n, 2);
  CHECK(n.role() == Role::candidate);
  n.tick();

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 1);
  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "b", "a", 1), msg(K::coordinator, "b", "c", 1)});
}

TEST_CASE("an answered candidate that hears no COORDINATOR starts again at the coordinator timeout") {
  BullyElection n = middle(timeouts(10, 2, 4));
  n.start_election();
  n.take_outbox();

  n.step(msg(K::answer, "c", "b", 0));
  CHECK(n.ticks_until_timeout() == 4);
  ticks(n, 3);
  CHECK(n.take_outbox().empty());
  n.tick();

  CHECK(n.role() == Role::candidate);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "c", 0)});
  CHECK(n.stats().elections_started == 2);
}

TEST_CASE("a second ANSWER does not extend the coordinator timeout") {
  BullyElection n = middle(timeouts(10, 2, 4));
  n.peer_up(Rank{0, "d"});
  n.start_election();
  n.step(msg(K::answer, "c", "b", 0));
  n.tick();

  n.step(msg(K::answer, "d", "b", 0));

  CHECK(n.ticks_until_timeout() == 3);
}

TEST_CASE("a node with no leader answers an ELECTION from a lower rank and holds its own election") {
  BullyElection n = middle();

  n.step(msg(K::election, "a", "b", 0));

  CHECK(n.role() == Role::candidate);
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "a", 0), msg(K::election, "b", "c", 0)});
}

TEST_CASE("a node with no leader ignores an ELECTION from a higher rank") {
  BullyElection n = middle();

  n.step(msg(K::election, "c", "b", 0));

  CHECK(n.role() == Role::follower);
  CHECK(n.take_outbox().empty());
}

TEST_CASE("a follower with a live leader answers a lower candidate and asks its leader to re-announce") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 3));
  n.take_outbox();

  n.step(msg(K::election, "a", "b", 3));

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == "c");
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "a", 3), msg(K::election, "b", "c", 3)});
  CHECK(n.stats().elections_started == 0);
}

TEST_CASE("a follower asks its leader to re-announce at most once per tick") {
  BullyElection n = middle();
  n.peer_up(Rank{-1, "z"});
  n.step(msg(K::coordinator, "c", "b", 1));
  n.step(msg(K::election, "a", "b", 1));
  n.take_outbox();

  n.step(msg(K::election, "z", "b", 1));
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "z", 1)});
  n.tick();
  n.step(msg(K::election, "z", "b", 1));
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "z", 1), msg(K::election, "b", "c", 1)});
}

TEST_CASE("ELECTION and ANSWER carry the highest epoch seen while COORDINATOR carries the leadership epoch") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 3));

  n.step(msg(K::election, "a", "b", 9));

  CHECK(n.epoch() == 3);
  CHECK(n.highest_epoch_seen() == 9);
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "a", 9), msg(K::election, "b", "c", 9)});
}

TEST_CASE("a candidate catches up on the answerer's epoch and leads above it later") {
  BullyElection n = middle();
  n.start_election();
  n.step(msg(K::answer, "c", "b", 6));

  n.peer_down("c");

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 7);
}

TEST_CASE("a leader answers a lower candidate and re-announces to every live peer") {
  BullyElection n(Rank{0, "c"});
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "b"});
  n.lead_now();
  n.take_outbox();

  n.step(msg(K::election, "a", "c", 1));

  CHECK(n.epoch() == 1);
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "c", "a", 1), msg(K::coordinator, "c", "a", 1),
                                       msg(K::coordinator, "c", "b", 1)});
  CHECK(n.stats().reannouncements == 1);
}

TEST_CASE("a leader that learns a higher epoch from an ELECTION re-announces above it") {
  BullyElection n(Rank{0, "c"});
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "b"});
  n.lead_now();
  n.take_outbox();

  n.step(msg(K::election, "a", "c", 7));

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 8);
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "c", "a", 7), msg(K::coordinator, "c", "a", 8),
                                       msg(K::coordinator, "c", "b", 8)});
}

TEST_CASE("a leader sends COORDINATOR to a peer that comes up") {
  BullyElection n = middle();
  n.lead_now();
  n.take_outbox();

  n.peer_up(Rank{0, "d"});

  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "b", "d", 1)});
}

TEST_CASE("a COORDINATOR below the current epoch is stale and is ignored and counted") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 5));
  n.take_changes();

  n.step(msg(K::coordinator, "a", "b", 4));

  CHECK(n.leader() == "c");
  CHECK(n.epoch() == 5);
  CHECK(n.stats().stale_coordinators == 1);
  CHECK(n.take_outbox().empty());
  CHECK(n.take_changes().empty());
}

TEST_CASE("a COORDINATOR at the current epoch from the current leader is accepted") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 5));

  n.step(msg(K::coordinator, "c", "b", 5));

  CHECK(n.stats().stale_coordinators == 0);
  CHECK(n.leader() == "c");
}

TEST_CASE("a node without a leader tells the sender of a stale COORDINATOR its epoch") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 5));
  n.step(msg(K::election, "c", "b", 5));  // c no longer leads
  n.take_outbox();

  n.step(msg(K::coordinator, "a", "b", 2));

  CHECK(n.leader() == std::nullopt);
  CHECK(n.stats().stale_coordinators == 1);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "a", 5)});
}

TEST_CASE("an ELECTION from a node's own leader means that leader no longer leads") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 2));
  n.take_outbox();

  n.step(msg(K::election, "c", "b", 2));

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == std::nullopt);
  CHECK(n.epoch() == 2);
  CHECK(n.ticks_until_timeout() == 10);
  CHECK(n.take_outbox().empty());
}

TEST_CASE("a follower that outranks its abdicating leader answers it but does not campaign") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "a", "b", 2));

  n.step(msg(K::election, "a", "b", 2));

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == std::nullopt);
  CHECK(n.take_outbox() == std::vector{msg(K::answer, "b", "a", 2)});
  CHECK(n.ticks_until_timeout() == 10);
}

TEST_CASE("a follower holds an election at once when its leader goes down") {
  BullyElection n = middle();
  n.peer_up(Rank{0, "d"});
  n.step(msg(K::coordinator, "d", "b", 1));
  n.take_outbox();

  n.peer_down("d");

  CHECK(n.role() == Role::candidate);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "c", 1)});
}

TEST_CASE("a follower whose leader goes down leads at once when no live peer outranks it") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 1));

  n.peer_down("c");

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 2);
  CHECK(n.stats().last_election_ticks == 0);
}

TEST_CASE("a candidate becomes leader at once when its last live higher-ranked peer goes down") {
  BullyElection n = middle();
  n.start_election();
  n.step(msg(K::answer, "c", "b", 0));
  n.take_outbox();

  n.peer_down("c");

  CHECK(n.role() == Role::leader);
  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "b", "a", 1)});
}

TEST_CASE("a candidate asks a higher-ranked peer that comes up") {
  BullyElection n = middle();
  n.start_election();
  n.take_outbox();

  n.peer_up(Rank{0, "d"});
  n.peer_up(Rank{-1, "e"});

  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "d", 0)});
}

TEST_CASE("a leader that meets a higher-ranked leader steps down even when its own epoch is higher") {
  BullyElection n = middle();
  n.lead_now();
  n.step(msg(K::election, "a", "b", 8));  // b re-announces at 9
  REQUIRE(n.epoch() == 9);
  n.take_outbox();
  n.take_changes();

  n.step(msg(K::coordinator, "c", "b", 3));

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == "c");
  CHECK(n.epoch() == 9);  // never backwards
  CHECK(n.stats().step_downs == 1);
  CHECK(n.stats().stale_coordinators == 0);
  // Abdication to every live peer: b's followers drop it, and c learns epoch 9 so it can
  // re-announce above both.
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "a", 9), msg(K::election, "b", "c", 9)});
  CHECK(n.take_changes() == std::vector{Status{Role::follower, "c", 9}});
}

TEST_CASE("a leader that steps down to a higher-ranked leader with a newer epoch takes that epoch") {
  BullyElection n = middle();
  n.lead_now();
  n.take_outbox();

  n.step(msg(K::coordinator, "c", "b", 4));

  CHECK(n.leader() == "c");
  CHECK(n.epoch() == 4);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "a", 4), msg(K::election, "b", "c", 4)});
}

TEST_CASE("a leader that meets a lower-ranked leader re-announces with an epoch above both") {
  BullyElection n(Rank{0, "c"});
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "b"});
  n.lead_now();
  n.take_outbox();

  SECTION("the lower-ranked leader has the higher epoch") {
    n.step(msg(K::coordinator, "b", "c", 6));
    CHECK(n.epoch() == 7);
  }
  SECTION("the lower-ranked leader has the lower epoch, so its COORDINATOR would be stale") {
    n.step(msg(K::election, "a", "c", 4));  // c re-announces at 5
    n.take_outbox();
    n.step(msg(K::coordinator, "b", "c", 2));
    CHECK(n.epoch() == 6);
    CHECK(n.stats().stale_coordinators == 0);
  }

  CHECK(n.role() == Role::leader);
  const auto out = n.take_outbox();
  REQUIRE(out.size() == 2);
  CHECK(out[0] == msg(K::coordinator, "c", "a", n.epoch()));
  CHECK(out[1] == msg(K::coordinator, "c", "b", n.epoch()));
}

TEST_CASE("a follower ignores a COORDINATOR from a node ranked below its live leader") {
  BullyElection n = middle();
  n.peer_up(Rank{0, "d"});
  n.step(msg(K::coordinator, "c", "b", 2));

  n.step(msg(K::coordinator, "a", "b", 5));

  CHECK(n.leader() == "c");
  CHECK(n.epoch() == 2);
  CHECK(n.highest_epoch_seen() == 5);
  CHECK(n.stats().ignored_coordinators == 1);
  CHECK(n.take_outbox().empty());
}

TEST_CASE("a follower switches to a COORDINATOR from a node ranked above its leader") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "a", "b", 2));

  n.step(msg(K::coordinator, "c", "b", 2));

  CHECK(n.leader() == "c");
  CHECK(n.stats().leader_changes == 2);
}

TEST_CASE("without preemption a node follows a lower-ranked leader") {
  BullyElection n(Rank{0, "c"});
  n.peer_up(Rank{0, "a"});

  n.step(msg(K::coordinator, "a", "c", 1));

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == "a");
}

TEST_CASE("with preemption a node bullies a lower-ranked claimant instead of following it") {
  Config c;
  c.preempt = true;
  BullyElection n(Rank{0, "c"}, c);
  n.peer_up(Rank{0, "a"});
  n.peer_up(Rank{0, "b"});

  n.step(msg(K::coordinator, "a", "c", 1));

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 2);
  CHECK(n.stats().ignored_coordinators == 1);
  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "c", "a", 2), msg(K::coordinator, "c", "b", 2)});
}

TEST_CASE("with preemption a candidate keeps campaigning over a lower-ranked claimant") {
  Config c;
  c.preempt = true;
  BullyElection n = middle(c);
  n.peer_up(Rank{-1, "z"});
  n.start_election();

  n.step(msg(K::coordinator, "a", "b", 1));

  CHECK(n.role() == Role::candidate);
  n.step(msg(K::coordinator, "c", "b", 1));
  CHECK(n.leader() == "c");
}

TEST_CASE("stalled turns a leader into a follower with no leader at the same epoch that tells its peers") {
  BullyElection n = middle();
  n.lead_now();
  n.take_outbox();
  n.take_changes();

  n.stalled();

  CHECK(n.role() == Role::follower);
  CHECK(n.leader() == std::nullopt);
  CHECK(n.epoch() == 1);
  CHECK(n.stats().step_downs == 1);
  CHECK(n.ticks_until_timeout() == 10);
  CHECK(n.take_outbox() == std::vector{msg(K::election, "b", "a", 1), msg(K::election, "b", "c", 1)});
  CHECK(n.take_changes() == std::vector{Status{Role::follower, std::nullopt, 1}});
}

TEST_CASE("stalled keeps a follower's leader but makes it not eligible until it resyncs") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 1));
  n.take_outbox();

  n.stalled();

  CHECK(n.leader() == "c");
  CHECK_FALSE(n.eligible());
  CHECK(n.take_outbox().empty());
  n.set_eligible(true);  // the leader's STATE_SYNC was applied
  CHECK(n.eligible());
}

TEST_CASE("start_election and lead_now are ignored by a leader") {
  BullyElection n = middle();
  n.lead_now();
  n.take_outbox();

  n.start_election();
  n.lead_now();

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 1);
  CHECK(n.stats().ignored_commands == 2);
  CHECK(n.take_outbox().empty());
}

TEST_CASE("lead_now on a follower claims a new epoch and announces it") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 4));

  n.lead_now();

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 5);
}

TEST_CASE("messages from peers that are not up or addressed elsewhere are ignored and counted") {
  BullyElection n = middle();

  n.step(msg(K::coordinator, "x", "b", 1));
  n.step(msg(K::coordinator, "c", "a", 1));
  n.step(msg(K::coordinator, "b", "b", 1));

  CHECK(n.leader() == std::nullopt);
  CHECK(n.stats().unknown_senders == 3);
  CHECK(n.highest_epoch_seen() == 0);
}

TEST_CASE("a second peer_up for a live peer is handled as that peer restarting") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 1));

  n.peer_up(Rank{0, "c"});  // the leader restarted: its old incarnation is gone

  CHECK(n.role() == Role::leader);
  CHECK(n.epoch() == 2);
  CHECK(n.take_outbox() == std::vector{msg(K::coordinator, "b", "a", 2), msg(K::coordinator, "b", "c", 2)});
}

TEST_CASE("a late ANSWER is counted and changes nothing") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 1));

  n.step(msg(K::answer, "c", "b", 1));

  CHECK(n.leader() == "c");
  CHECK(n.stats().unexpected_messages == 1);
}

TEST_CASE("status changes are reported once per input that changes them") {
  BullyElection n = middle();

  n.start_election();
  n.tick();
  n.tick();  // answer timeout: leader
  n.peer_down("a");  // changes nothing visible

  CHECK(n.take_changes() ==
        std::vector{Status{Role::candidate, std::nullopt, 0}, Status{Role::leader, "b", 1}});
  CHECK(n.has_ready());  // the COORDINATORs are still in the outbox
  n.take_outbox();
  CHECK_FALSE(n.has_ready());
}

TEST_CASE("several transitions inside one input are reported as one change") {
  BullyElection n(Rank{0, "c"});
  n.peer_up(Rank{0, "a"});

  n.start_election();  // follower -> candidate -> leader, no live peer outranks it

  CHECK(n.take_changes() == std::vector{Status{Role::leader, "c", 1}});
}

TEST_CASE("set_timeouts applies to timers armed afterwards") {
  BullyElection n = middle(timeouts(10, 2, 4));

  n.set_timeouts(Timeouts{3, 5, 6, 0});
  CHECK(n.ticks_until_timeout() == 10);
  n.start_election();

  CHECK(n.ticks_until_timeout() == 5);
}

TEST_CASE("last_election_ticks counts ticks from the start of an election to a known leader") {
  BullyElection n = middle();
  n.start_election();
  n.tick();
  n.step(msg(K::answer, "c", "b", 0));
  n.tick();
  n.tick();

  n.step(msg(K::coordinator, "c", "b", 1));

  CHECK(n.stats().last_election_ticks == 3);
}

TEST_CASE("the leader change counter ignores a gap with no leader") {
  BullyElection n = middle();
  n.step(msg(K::coordinator, "c", "b", 1));
  n.step(msg(K::election, "c", "b", 1));

  n.step(msg(K::coordinator, "c", "b", 2));

  CHECK(n.stats().leader_changes == 1);
}

TEST_CASE("the heir is the highest-ranked live peer besides the leader, unless this node outranks it") {
  BullyElection n = middle();  // b; a below, c above; no leader yet
  CHECK(n.heir() == "c");

  n.step(msg(K::coordinator, "a", "b", 1));  // following a, the lowest: c would still take over
  CHECK(n.heir() == "c");

  n.step(msg(K::coordinator, "c", "b", 2));  // following c: b outranks a, so b itself would lead
  CHECK(n.heir() == std::nullopt);

  n.peer_up(Rank{0, "d"});
  CHECK(n.heir() == "d");
  n.peer_up(Rank{5, "0"});  // a configured priority outranks any id
  CHECK(n.heir() == "0");
  n.peer_down("0");
  CHECK(n.heir() == "d");
}

TEST_CASE("a leader has no heir to watch") {
  BullyElection n = middle();
  n.lead_now();
  CHECK(n.heir() == std::nullopt);
}
