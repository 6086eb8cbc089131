// Which tracks a node holds open (and so protects in its cache, docs/library.md "Room"): the
// current one, the next one, and the previous one only until the switch to the current one has
// passed. A node whose cache holds two tracks must be able to fetch the next one while the
// current one plays.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using Hashes = std::vector<std::string>;

namespace {

/// Four tracks, the queue in order (a_leads_b); time stands at kStart + 200 ms.
void leader_and_follower(PlaybackSim& sim) { a_leads_b(sim, 4); }

/// `first` typed on a, `second` a second later; returns the instant `second` takes effect.
std::int64_t one_second_apart(PlaybackSim& sim, const cli::Command& first, const cli::Command& second) {
  sim.command("a", first);
  sim.run_for(1'000'000);
  const std::int64_t t = sim.now();
  sim.command("a", second);
  return t + kLead;
}

/// The leader and its follower keep `expected` open.
void check_kept_open(const PlaybackSim& sim, const Hashes& expected) {
  for (const char* id : {"a", "b"}) {
    INFO(id);
    CHECK(sim.kept_open(id) == expected);
  }
}

}  // namespace

TEST_CASE("the previous track is held open until the switch has passed, then the current and next only") {
  PlaybackSim sim;
  leader_and_follower(sim);
  const std::int64_t switch_at = one_second_apart(sim, play_command(1), play_command(2));

  sim.run_for(1'000);
  check_kept_open(sim, Hashes{"hash-2", "hash-1", "hash-3"});
  // Up to the switch and a little past it, track 1 may still be read.
  sim.run_until(switch_at + kPreviousHeldUs - 1'000);
  check_kept_open(sim, Hashes{"hash-2", "hash-1", "hash-3"});
  // Then it is let go, by the leader (which publishes nothing else meanwhile) as by a follower.
  sim.run_until(switch_at + kPreviousHeldUs + 1'000);
  check_kept_open(sim, Hashes{"hash-2", "hash-3"});
  for (const char* id : {"a", "b"}) {
    INFO(id);
    CHECK(sim.audible(id, switch_at + 1'000'000) == playing_at(48'000));
  }
  // Not taken back by later publications.
  sim.command("a", pause_command());
  sim.run_for(1'000'000);
  check_kept_open(sim, Hashes{"hash-2", "hash-3"});
}

TEST_CASE("a state replaced before it took effect leaves the track playing now held open") {
  PlaybackSim sim;
  leader_and_follower(sim);
  sim.command("a", play_command(1));
  sim.run_for(1'000'000);
  sim.command("a", play_command(2));
  sim.run_for(kLead / 2);  // track 1 still plays
  const std::int64_t t = sim.now();
  sim.command("a", play_command(4));
  const std::int64_t switch_at = t + kLead;

  sim.run_until(switch_at + kPreviousHeldUs - 1'000);
  CHECK(sim.kept_open("a") == Hashes{"hash-4", "hash-1"});
  sim.run_until(switch_at + kPreviousHeldUs + 1'000);
  CHECK(sim.kept_open("a") == Hashes{"hash-4"});  // the last item: no next one
}

TEST_CASE("stopped, the queue's current item stays open with the one after it") {
  PlaybackSim sim;
  leader_and_follower(sim);
  const std::int64_t stop_at = one_second_apart(sim, play_command(2), typed(cli::CommandKind::stop));
  sim.run_until(stop_at + kPreviousHeldUs + 1'000);
  for (const char* id : {"a", "b"}) {
    INFO(id);
    CHECK(sim.core(id).state().status == playback::PlayStatus::stopped);
  }
  check_kept_open(sim, Hashes{"hash-2", "hash-3"});
}
