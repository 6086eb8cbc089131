// A stale state never overrides a newer one, whoever leads: when the leader dies in the middle of
// its fan-out, a follower may hold a newer state than the node elected next. It offers it
// (STATE_OFFER) and the new leader adopts it, unless its own commands came first.

#include <catch2/catch.hpp>

#include <algorithm>
#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using playback::PlayStatus;

namespace {

constexpr std::int64_t kT = kStart + 1'000'000;  ///< when a types pause
/// Where that pause holds: a played track 1 from kStart + 200 ms + lead.
constexpr std::int64_t kHeld = 38'400;  // 0.8 s at 48 kHz
const protocol::TrackRef kTrack1{1, "track-1.wav", "hash-1", kTrackFrames, 0, ""};

/// a leads at epoch 5 and plays track 1; at kT it pauses (5, 2), but it reaches `informed` within
/// 1 ms and `uninformed` only after 20 ms, and a dies at kT + 5 ms: the pause is lost for
/// `uninformed`, which is elected (epoch 6) at once.
void dies_mid_fan_out(PlaybackSim& sim, const std::string& informed, const std::string& uninformed) {
  a_leads_b_and_c_playing(sim, 5);
  sim.run_until(kT);
  sim.set_delay("a", uninformed, 20'000);
  sim.command("a", pause_command());
  REQUIRE(sim.core("a").state() ==
          playback::PlaybackState{5, 2, PlayStatus::paused, kTrack1, kT + kLead, kHeld});
  sim.run_until(kT + 5'000);
  REQUIRE(sim.core(informed).state().seq == 2);
  REQUIRE(sim.core(uninformed).state().seq == 1);
  sim.crash("a");
  sim.lose_leader();
  sim.elect(uninformed, 6);
}

std::vector<protocol::Message> broadcasts_from(const PlaybackSim& sim, const std::string& from) {
  std::vector<protocol::Message> out;
  for (const auto& sent : sim.sent()) {
    if (sent.from == from && !sent.to) out.push_back(sent.message);
  }
  return out;
}

std::vector<protocol::StateOffer> offers(const PlaybackSim& sim) {
  std::vector<protocol::StateOffer> out;
  for (const auto& sent : sim.sent()) {
    if (auto* offer = std::get_if<protocol::StateOffer>(&sent.message)) out.push_back(*offer);
  }
  return out;
}

bool logged(const PlaybackSim& sim, const std::string& id, const std::string& text) {
  const auto& log = sim.log(id);
  return std::any_of(log.begin(), log.end(),
                     [&](const LogLine& line) { return line.text.find(text) != std::string::npos; });
}

}  // namespace

TEST_CASE("the leader dies mid fan-out: the newer state a follower offers wins, no frame moving") {
  PlaybackSim sim;
  dies_mid_fan_out(sim, "b", "c");
  CHECK(sim.core("c").state().status == PlayStatus::playing);  // its own, stale (5, 1), taken over

  sim.run_until(kT + 7'000);  // b follows c at +6 ms; its offer reaches c at +7 ms
  REQUIRE(offers(sim).size() == 1);
  CHECK(offers(sim)[0] == protocol::StateOffer{"b", "a", {5, 2, PlayStatus::paused, kTrack1, kT + kLead, kHeld}, std::nullopt});
  // Adopted: the pause still lies ahead, at the same instant, now in c's clock and epoch.
  const playback::PlaybackState adopted{6, 1, PlayStatus::paused, kTrack1, kT + kLead + kC, kHeld};
  CHECK(sim.core("c").state() == adopted);
  CHECK(broadcasts_from(sim, "c") ==
        std::vector<protocol::Message>{protocol::PauseRequest{"c", 6, 1, kHeld, kT + kLead + kC}});
  CHECK(logged(sim, "c", "adopting the newer state (epoch 5, seq 2) offered by b"));
  CHECK(sim.audible("c", kT + kLead - 1) == playing_at(kHeld - 1));  // c never stopped playing
  CHECK(sim.audible("c", kT + kLead) == paused_at(kHeld));

  sim.run_until(kT + 200'000);  // b synced to c: its response already held the adopted state
  CHECK(sim.core("b").state() == adopted);
  for (std::int64_t t = kT + kLead; t < kT + 3'000'000; t += 50'000) {
    INFO("at " << t);
    CHECK(sim.audible("b", t) == paused_at(kHeld));
    CHECK(sim.audible("c", t) == paused_at(kHeld));
  }
}

TEST_CASE("the new leader's own command wins over a late offer") {
  PlaybackSim sim;
  sim.set_delay("b", "c", 50'000);  // b's offer will take 50 ms
  dies_mid_fan_out(sim, "b", "c");
  sim.run_until(kT + 10'000);
  sim.command("c", play_command(2));  // (6, 1), before the offer arrives
  const playback::PlaybackState own{6, 1, PlayStatus::playing, protocol::TrackRef{2, "track-2.wav", "hash-2", kTrackFrames, 0, ""},
                                    kT + 10'000 + kC + kLead, 0};
  REQUIRE(sim.core("c").state() == own);

  sim.run_until(kT + 56'000);  // the offer (5, 2) arrives
  REQUIRE(offers(sim).size() == 1);
  CHECK(sim.core("c").state() == own);
  CHECK(logged(sim, "c", "not adopting the state offered by b (epoch 5, seq 2)"));
  sim.run_until(kT + 300'000);
  CHECK(sim.core("b").state() == own);
  CHECK(broadcasts_from(sim, "c").size() == 1);
  CHECK(sim.audible("b", kT + 500'000) == sim.audible("c", kT + 500'000));
}

TEST_CASE("an offer that is not newer than the state taken over is ignored") {
  PlaybackSim sim;
  dies_mid_fan_out(sim, "c", "b");  // this time c got the pause, b did not and leads
  sim.run_until(kT + 300'000);

  REQUIRE(offers(sim).size() == 1);
  CHECK(offers(sim)[0].state.seq == 2);  // c's, newer: adopted
  CHECK(sim.core("b").state().status == PlayStatus::paused);
  CHECK(sim.core("b").state().seq == 1);

  // A second, older offer changes nothing.
  sim.inject("c", "b", protocol::StateOffer{"c", "a", {5, 1, PlayStatus::stopped, std::nullopt, kT, 0}, std::nullopt});
  sim.inject("c", "b", protocol::StateOffer{"c", "a", {5, 2, PlayStatus::stopped, std::nullopt, kT, 0}, std::nullopt});
  CHECK(sim.core("b").state().seq == 1);
  CHECK(sim.core("b").state().status == PlayStatus::paused);
  CHECK(sim.core("c").state() == sim.core("b").state());
}

TEST_CASE("an offer in a clock the new leader cannot map, or to a node that does not lead, is ignored") {
  PlaybackSim sim;
  dies_mid_fan_out(sim, "b", "c");
  const auto before = sim.core("c").state();

  sim.inject("b", "c", protocol::StateOffer{"b", "z", {9, 9, PlayStatus::stopped, std::nullopt, kT, 0}, std::nullopt});
  CHECK(sim.core("c").state() == before);
  sim.inject("c", "b", protocol::StateOffer{"c", "a", {9, 9, PlayStatus::stopped, std::nullopt, kT, 0}, std::nullopt});
  CHECK(sim.core("b").state().seq == 2);
  CHECK(sim.core("b").state().status == PlayStatus::paused);
}

TEST_CASE("a node that never held a state offers nothing") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.add("d", 7);
  sim.elect("a", 1);
  sim.run_for(300'000);

  CHECK(offers(sim).empty());
  CHECK(sim.core("d").state_clock_owner() == "a");
}
