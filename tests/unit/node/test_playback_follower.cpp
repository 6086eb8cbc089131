// A follower: the leader's state applies once the clock is synced, commands that came before it
// are replayed (newer ones only), stale and foreign commands are ignored, a stall re-fetches.

#include <catch2/catch.hpp>

#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using playback::PlayStatus;

namespace {

/// The STATE_SYNC_RESPONSEs sent to `to`, in order.
std::vector<protocol::StateSyncResponse> responses_to(const PlaybackSim& sim, const std::string& to) {
  std::vector<protocol::StateSyncResponse> out;
  for (const auto& sent : sim.sent()) {
    auto* response = std::get_if<protocol::StateSyncResponse>(&sent.message);
    if (response && sent.to == to) out.push_back(*response);
  }
  return out;
}

/// Instants (global µs) at which `from` sent a STATE_SYNC_REQUEST.
std::vector<std::int64_t> requests_from(const PlaybackSim& sim, const std::string& from) {
  std::vector<std::int64_t> out;
  for (const auto& sent : sim.sent()) {
    if (sent.from == from && std::holds_alternative<protocol::StateSyncRequest>(sent.message)) {
      out.push_back(sent.at);
    }
  }
  return out;
}

/// a leads (epoch 1) and plays track 1 from kStart + kLead; b joins 100 ms later and follows
/// from kStart + 101 ms (its request reaches a at +102 ms, the answer b at +103 ms).
void leader_playing_and_joiner(PlaybackSim& sim) {
  sim.add("a", 0);
  sim.elect("a", 1);
  sim.command("a", play_command(1));
  sim.add("b", kB);
  sim.run_until(kStart + 100'000);
  sim.announce("a", 1, "b");
}

}  // namespace

TEST_CASE("a follower holds the state from the first clock sample and applies it once synced") {
  PlaybackSim sim;
  leader_playing_and_joiner(sim);
  const std::int64_t followed = kStart + 101'000;

  sim.run_until(followed + kSampleInterval - 1);  // the state arrived at +2 ms; no sample yet
  CHECK(sim.state_held("b") == 0);
  CHECK_FALSE(sim.core("b").state_synced());

  sim.run_until(followed + kSampleInterval);  // first sample: it could map the state
  CHECK(sim.state_held("b") == 1);
  CHECK(sim.publications("b") == 0);

  sim.run_until(followed + 4 * kSampleInterval - 1);  // three samples: not synced yet
  CHECK(sim.state_held("b") == 3);
  CHECK(sim.publications("b") == 0);
  CHECK_FALSE(sim.core("b").state_synced());

  sim.run_until(followed + 4 * kSampleInterval);  // the fourth: applied and published at once
  CHECK(sim.state_held("b") == 4);
  CHECK(sim.core("b").state_synced());
  CHECK(sim.core("b").state() == sim.core("a").state());
  CHECK(sim.core("b").state() ==
        playback::PlaybackState{1, 1, PlayStatus::playing, protocol::TrackRef{1, "track-1.wav", "hash-1", kTrackFrames, 0, ""},
                                kStart + kLead, 0});
  REQUIRE(sim.publications("b") >= 1);
  CHECK(sim.publication("b")->clock.offset_us == -kB);
  CHECK(sim.core("b").state_clock_owner() == "a");
  sim.run_for(10'000);
  check_same_sound(sim, "a", "b", sim.now(), 1'000'000);
}

TEST_CASE("commands that arrive before the state are replayed after it, newer ones only") {
  PlaybackSim sim;
  leader_playing_and_joiner(sim);

  SECTION("a command newer than the state") {
    sim.run_until(kStart + 102'500);  // b's request was answered at +102 ms, with seq 1
    sim.command("a", pause_command());        // reaches b at +103.5 ms, before its clock is synced
    sim.run_until(kStart + 221'000);
    REQUIRE(responses_to(sim, "b").size() == 1);
    CHECK(responses_to(sim, "b")[0].state.seq == 1);
  }
  SECTION("a command the state already holds") {
    sim.run_until(kStart + 101'500);  // before b's request reaches a
    sim.command("a", pause_command());        // reaches b at +102.5 ms, the answer (seq 2) at +103 ms
    sim.run_until(kStart + 221'000);
    REQUIRE(responses_to(sim, "b").size() == 1);
    CHECK(responses_to(sim, "b")[0].state.seq == 2);
  }

  CHECK(sim.core("b").state_synced());
  CHECK(sim.core("b").state().status == PlayStatus::paused);
  CHECK(sim.core("b").state() == sim.core("a").state());
  CHECK(sim.core("b").stale_commands() == 0);
  check_same_sound(sim, "a", "b", sim.now(), 1'000'000);
}

TEST_CASE("stale, foreign and replaced-leadership commands are ignored and counted") {
  PlaybackSim sim;
  leader_playing_and_joiner(sim);
  sim.run_until(kStart + 300'000);
  REQUIRE(sim.core("b").state_synced());
  const auto state = sim.core("b").state();
  const auto published = sim.publications("b");
  const auto track = *state.track;

  sim.inject("a", "b", protocol::PlayRequest{"a", 1, 1, track, 0, kStart + kLead});  // a duplicate
  CHECK(sim.core("b").stale_commands() == 1);
  sim.inject("c", "b", protocol::PauseRequest{"c", 1, 9, 100, kStart + 400'000});  // not the leader
  CHECK(sim.core("b").stale_commands() == 2);
  sim.inject("a", "b", protocol::StopRequest{"a", 0, 9, kStart + 400'000});  // an older epoch
  CHECK(sim.core("b").stale_commands() == 3);
  CHECK(sim.core("b").state() == state);
  CHECK(sim.publications("b") == published);

  sim.inject("a", "b", protocol::PauseRequest{"a", 1, 2, 4'800, kStart + 125'000});  // the next one
  CHECK(sim.core("b").stale_commands() == 3);
  CHECK(sim.core("b").state() == playback::PlaybackState{1, 2, PlayStatus::paused, track, kStart + 125'000, 4'800});
  CHECK(sim.publications("b") == published + 1);
}

TEST_CASE("a stalled follower re-fetches the state, asking every half second until it arrives") {
  PlaybackSim sim;
  leader_playing_and_joiner(sim);
  sim.run_until(kStart + 300'000);
  REQUIRE(requests_from(sim, "b") == std::vector<std::int64_t>{kStart + 101'000});
  const std::int64_t t = sim.now();

  sim.set_lossy("b", "a", true);  // the requests die with the old connection
  sim.stall("b");
  CHECK_FALSE(sim.core("b").state_synced());
  sim.run_until(t + 600'000);
  sim.set_lossy("b", "a", false);
  sim.run_until(t + 1'001'999);  // the third request reaches a at +1001 ms; its answer +1002 ms
  CHECK_FALSE(sim.core("b").state_synced());
  sim.run_until(t + 1'002'000);  // the clock is still synced: applied at once
  CHECK(sim.core("b").state_synced());
  CHECK(sim.core("b").state() == sim.core("a").state());

  sim.run_for(2'000'000);
  CHECK(requests_from(sim, "b") ==
        std::vector<std::int64_t>{kStart + 101'000, t, t + 500'000, t + 1'000'000});
}

TEST_CASE("a follower keeps its last schedule while no leader is known") {
  PlaybackSim sim;
  leader_playing_and_joiner(sim);
  sim.run_until(kStart + 300'000);
  const auto published = sim.publications("b");
  const auto before = sim.audible("b", kStart + 2'000'000);

  sim.crash("a");
  sim.lose_leader();
  sim.run_until(kStart + 2'000'000);

  CHECK(sim.publications("b") == published);
  CHECK(sim.audible("b", kStart + 2'000'000) == before);
  CHECK(before == playing_at(playback::frames_in(2'000'000 - kLead)));
}
