// Takeover: a new leader re-expresses the state it plays in its own clock so that no frame moves;
// a node that never played a state starts stopped.

#include <catch2/catch.hpp>

#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using playback::PlayStatus;

namespace {


/// a leads (epoch 1) b and c, and has played track 1 for about a second.
void three_playing(PlaybackSim& sim) {
  a_leads_b_and_c_playing(sim, 1);
  sim.run_until(kStart + 1'234'567);
  REQUIRE(sim.core("b").state_synced());
  REQUIRE(sim.core("c").state_synced());
}

std::vector<playback::Position> sound(const PlaybackSim& sim, const std::string& id, std::int64_t from) {
  std::vector<playback::Position> out;
  for (std::int64_t t = from; t < from + 2'000'000; t += 9'876) out.push_back(sim.audible(id, t));
  return out;
}

}  // namespace

TEST_CASE("a new leader re-anchors the state it plays: the same frame at the same instant") {
  PlaybackSim sim;
  three_playing(sim);
  const std::int64_t t = sim.now() + 1'000;  // the takeover instant
  const auto b_before = sound(sim, "b", t);
  const auto c_before = sound(sim, "c", t);
  const auto c_published = sim.publications("c");

  sim.crash("a");
  sim.lose_leader();
  sim.run_until(t);
  CHECK(sim.publications("c") == c_published);  // no leader: the last schedule plays on
  sim.elect("b", 2);

  // b's state, now in its own clock: anchored at most 124 µs before now, on the frame it plays.
  const auto& state = sim.core("b").state();
  const std::int64_t b_now = sim.local_now("b");
  CHECK(state.epoch == 2);
  CHECK(state.seq == 0);
  CHECK(state.status == PlayStatus::playing);
  CHECK(state.anchor_us <= b_now);
  CHECK(state.anchor_us > b_now - 125);
  CHECK(state.anchor_frame == playback::frames_in(state.anchor_us - kB - kStart - 200'000 - kLead));
  CHECK(sim.core("b").state_clock_owner() == "b");
  CHECK(sim.publication("b")->clock.offset_us == 0);
  CHECK(sound(sim, "b", t) == b_before);

  // c re-syncs to b: until then it plays on its old schedule, then on b's: no frame moves.
  sim.run_for(kSampleInterval * 4);
  CHECK(sim.publications("c") == c_published);
  sim.run_for(1'000);
  CHECK(sim.publications("c") == c_published + 1);
  CHECK(sim.core("c").state() == state);
  CHECK(sound(sim, "c", t) == c_before);
  CHECK(sound(sim, "c", sim.now()) == sound(sim, "b", sim.now()));
}

TEST_CASE("a takeover with the state received but the clock not yet synced adopts the state") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.elect("a", 1);
  sim.command("a", play_command(1));
  sim.run_until(kStart + 500'000);
  sim.add("c", kC);
  sim.limit_samples("c", 1);  // its clock burst is cut short by the leader's death
  sim.announce("a", 1, "c");
  sim.run_until(kStart + 600'000);
  REQUIRE(sim.state_held("c") == 1);
  REQUIRE_FALSE(sim.core("c").state_synced());
  CHECK(sim.publications("c") == 0);

  sim.crash("a");
  sim.lose_leader();
  sim.elect("c", 2);

  const auto& state = sim.core("c").state();
  CHECK(state.status == PlayStatus::playing);
  CHECK(state.epoch == 2);
  CHECK(state.anchor_frame == playback::frames_in(state.anchor_us - kC - kStart - kLead));
  CHECK(sim.audible("c", kStart + 700'000) == playing_at(playback::frames_in(700'000 - kLead)));
}

TEST_CASE("a node that never played a state takes over stopped") {
  PlaybackSim sim;
  sim.add("d", 42);
  sim.elect("d", 7);

  CHECK(sim.core("d").state() == playback::PlaybackState{7, 0, PlayStatus::stopped, std::nullopt, 0, 0});
  REQUIRE(sim.publication("d"));
  CHECK(sim.publication("d")->current.status == PlayStatus::stopped);
  CHECK(sim.core("d").state_synced());
}
