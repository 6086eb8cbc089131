// After a restart: what each node kept (restore()) fills a cluster that has no state of this run,
// the newest kept one wins, and a kept one never replaces a running cluster's state or queue
// (docs/playback.md, "After a restart").

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using playback::PlaybackState;
using playback::PlayStatus;

namespace {

protocol::QueueEntry item(std::uint64_t id, int track) {
  const auto n = std::to_string(track);
  return {id, protocol::CatalogEntry{.hash = "hash-" + n, .root = "", .name = "track-" + n + ".wav", .title = "",
                                     .artist = "", .album = "", .format = "", .frames = kTrackFrames, .size = 0}};
}

/// A kept queue of version `version`: items `ids` playing tracks 1, 2, 3, 1, ...
PlayQueue kept_queue(std::uint64_t version, const std::vector<std::uint64_t>& ids, bool repeat = false) {
  std::vector<protocol::QueueEntry> items;
  for (std::size_t i = 0; i < ids.size(); ++i) items.push_back(item(ids[i], static_cast<int>(i % 3) + 1));
  const protocol::QueueModes modes{.random = false, .repeat = repeat, .single = protocol::ModeSwitch::off,
                                   .consume = protocol::ModeSwitch::off};
  auto queue = PlayQueue::restore(version, 100, false, modes, std::move(items));
  REQUIRE(queue);
  return *queue;
}

/// A kept state of order (epoch, seq) on queue item `id` (track `track`) at `frame`.
PlaybackState kept_state(std::uint64_t epoch, std::uint64_t seq, PlayStatus status, std::uint64_t id, int track,
                         std::int64_t frame) {
  const auto n = std::to_string(track);
  return {epoch, seq, status,
          protocol::TrackRef{static_cast<std::int64_t>(id), "track-" + n + ".wav", "hash-" + n, kTrackFrames, 0, ""},
          0, frame};
}

std::vector<std::uint64_t> ids(const PlayQueue& queue) {
  std::vector<std::uint64_t> out;
  for (const auto& entry : queue.items()) out.push_back(entry.id);
  return out;
}

}  // namespace

TEST_CASE("after a power cut the newest kept state and queue win, on every node, paused") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.add("b", kB);
  sim.add("c", kC);
  sim.core("a").restore(kept_queue(7, {10, 11}), kept_state(4, 2, PlayStatus::paused, 10, 1, 1'000), false);
  sim.core("b").restore(kept_queue(9, {11, 12, 10}, true), kept_state(4, 5, PlayStatus::playing, 12, 2, 96'000), false);
  // c kept nothing (a new box, or a lost cache).
  sim.elect("a", 5);
  sim.run_for(500'000);

  for (const auto* id : {"a", "b", "c"}) {
    INFO(id);
    const auto& state = sim.core(id).state();
    CHECK(state.status == PlayStatus::paused);
    REQUIRE(state.track);
    CHECK(state.track->index == 12);
    CHECK(state.anchor_frame == 96'000);
    CHECK(state.epoch == 5);
    CHECK(state == sim.core("a").state());
    CHECK(sim.core(id).queue().version() == 9);
    CHECK(ids(sim.core(id).queue()) == std::vector<std::uint64_t>{11, 12, 10});
    CHECK(sim.core(id).queue().modes().repeat);
    CHECK(sim.audible(id, sim.now()) == paused_at(96'000));
  }
  // Nothing sounds until someone says so; then it goes on from there, together.
  sim.run_for(2'000'000);
  CHECK(sim.audible("c", sim.now()) == paused_at(96'000));
  sim.command("b", typed(cli::CommandKind::play));
  sim.run_for(1'000'000);
  CHECK(sim.core("a").state().status == PlayStatus::playing);
  CHECK(sim.core("a").state().anchor_frame == 96'000);
  check_same_sound(sim, "a", "b", sim.now(), 500'000);
  check_same_sound(sim, "a", "c", sim.now(), 500'000);
}

TEST_CASE("a leader that kept nothing takes a follower's kept state and queue, whatever their version") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.add("b", kB);
  sim.core("b").restore(kept_queue(1, {5}), kept_state(3, 4, PlayStatus::paused, 5, 1, 48'000), false);
  sim.elect("a", 4);
  sim.run_for(500'000);
  for (const auto* id : {"a", "b"}) {
    INFO(id);
    CHECK(ids(sim.core(id).queue()) == std::vector<std::uint64_t>{5});
    CHECK(sim.core(id).state().status == PlayStatus::paused);
    CHECK(sim.core(id).state().anchor_frame == 48'000);
    CHECK(sim.audible(id, sim.now()) == paused_at(48'000));
  }
}

TEST_CASE("an older kept state loses to the leader's own") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.add("b", kB);
  sim.core("a").restore(kept_queue(9, {1, 2}), kept_state(6, 1, PlayStatus::paused, 2, 2, 10'000), false);
  sim.core("b").restore(kept_queue(8, {3}), kept_state(5, 9, PlayStatus::paused, 3, 1, 20'000), false);
  sim.elect("a", 7);
  sim.run_for(500'000);
  for (const auto* id : {"a", "b"}) {
    INFO(id);
    CHECK(ids(sim.core(id).queue()) == std::vector<std::uint64_t>{1, 2});
    CHECK(sim.core(id).state().track->index == 2);
    CHECK(sim.core(id).state().anchor_frame == 10'000);
  }
}

TEST_CASE("a node's kept state never changes a running cluster, however new it looks") {
  PlaybackSim sim;
  a_leads_b_and_c_playing(sim, 5);
  sim.run_for(500'000);
  const auto running = sim.core("a").state();
  const auto version = sim.core("a").queue().version();
  const auto items = ids(sim.core("a").queue());
  sim.add("d", 1'234);
  sim.core("d").restore(kept_queue(version + 50, {40, 41}), kept_state(9, 9, PlayStatus::paused, 41, 2, 5), false);
  sim.announce("a", 5, "d");
  sim.run_for(500'000);
  CHECK(sim.core("a").state() == running);
  CHECK(sim.core("a").queue().version() == version);
  CHECK(ids(sim.core("a").queue()) == items);
  CHECK(sim.core("d").state() == running);
  CHECK(ids(sim.core("d").queue()) == items);
  check_same_sound(sim, "a", "d", sim.now(), 500'000);
}

TEST_CASE("resume-playing: the leader plays the kept state by itself, from where it was") {
  for (const bool flag : {false, true}) {
    for (const auto status : {PlayStatus::playing, PlayStatus::paused}) {
      INFO("flag " << flag << ", kept " << static_cast<int>(status));
      PlaybackSim sim;
      sim.add("a", 0);
      sim.add("b", kB);
      sim.core("a").restore(kept_queue(3, {1, 2}), kept_state(2, 7, status, 2, 2, 48'000), flag);
      sim.elect("a", 3);
      sim.run_for(kRestoreSettleUs - 100'000);
      CHECK(sim.core("a").state().status == PlayStatus::paused);  // the followers may still offer
      sim.run_for(1'000'000);
      const bool plays = flag && status == PlayStatus::playing;
      CHECK(sim.core("a").state().status == (plays ? PlayStatus::playing : PlayStatus::paused));
      CHECK(sim.core("b").state() == sim.core("a").state());
      CHECK(sim.core("a").state().anchor_frame == 48'000);
      if (plays) check_same_sound(sim, "a", "b", sim.now(), 500'000);
    }
  }
}
