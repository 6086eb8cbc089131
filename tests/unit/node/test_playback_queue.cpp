// The play queue in the cluster's state (docs/queue.md): edits reach followers, joiners and
// resyncs get the whole queue, failover keeps it, end of track follows it with every mode,
// forwarded commands and refusals.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using cli::CommandKind;
using control::Refusal;
using playback::PlayStatus;

namespace {

constexpr std::int64_t kShort = 48'000;  ///< 1 s

cli::Command add_uri(const std::string& uri, std::optional<int> position = std::nullopt) {
  cli::Command command = typed(CommandKind::add);
  command.uri = uri;
  command.position = position;
  return command;
}

cli::Command add_number(int number) { return typed(CommandKind::add, number); }

cli::Command remove_range(int first, int count) {
  cli::Command command = typed(CommandKind::remove, first);
  command.count = count;
  return command;
}

cli::Command remove_id(std::uint64_t id) {
  cli::Command command = typed(CommandKind::remove);
  command.item_id = id;
  return command;
}

cli::Command move_range(int first, int count, int to) {
  cli::Command command = typed(CommandKind::move, first);
  command.count = count;
  command.to = to;
  return command;
}

cli::Command mode(CommandKind kind, cli::Switch value) {
  cli::Command command = typed(kind);
  command.mode = value;
  return command;
}

std::vector<std::string> names(const PlayQueue& queue) {
  std::vector<std::string> out;
  for (const auto& item : queue.items()) out.push_back(item.track.name);
  return out;
}

/// Every node in `ids` holds exactly the leader's queue.
void check_same_queue(PlaybackSim& sim, const std::string& leader, const std::vector<std::string>& ids) {
  const auto& expected = sim.core(leader).queue();
  for (const auto& id : ids) {
    INFO(id);
    const auto& queue = sim.core(id).queue();
    CHECK(queue.items() == expected.items());
    CHECK(queue.version() == expected.version());
    CHECK(queue.modes() == expected.modes());
    CHECK(queue.mirrors_library() == expected.mirrors_library());
  }
}

/// a leads b and c (epoch 1), each with `tracks` tracks of `frames` frames, all synced.
void three_nodes(PlaybackSim& sim, std::size_t tracks = 3, std::int64_t frames = kTrackFrames) {
  sim.add("a", 0, make_tracks(tracks, frames));
  sim.add("b", kB, make_tracks(tracks, frames));
  sim.add("c", kC, make_tracks(tracks, frames));
  sim.elect("a", 1);
  sim.run_for(200'000);
  REQUIRE(sim.core("b").queue_synced());
  REQUIRE(sim.core("c").queue_synced());
}

/// The names of the tracks `leader` played (PLAY_REQUESTs of the leader), in order.
std::vector<std::string> played(const PlaybackSim& sim, const std::string& leader) {
  std::vector<std::string> out;
  for (const auto& [at, message] : commands_from(sim, leader)) {
    if (const auto* play = std::get_if<protocol::PlayRequest>(&message)) out.push_back(play->track.name);
  }
  return out;
}

}  // namespace

TEST_CASE("a new cluster's queue is its library: play N means what it meant, and followers hold it") {
  PlaybackSim sim;
  three_nodes(sim);
  CHECK(names(sim.core("a").queue()) == std::vector<std::string>{"track-1.wav", "track-2.wav", "track-3.wav"});
  CHECK(sim.core("a").queue().mirrors_library());
  check_same_queue(sim, "a", {"b", "c"});
  // The library grows: the queue follows, ids kept.
  const auto first_id = sim.core("a").queue().items()[0].id;
  sim.set_tracks("a", make_tracks(4));
  sim.run_for(10'000);
  CHECK(names(sim.core("a").queue()).size() == 4);
  CHECK(sim.core("a").queue().items()[0].id == first_id);
  check_same_queue(sim, "a", {"b", "c"});
}

TEST_CASE("queue edits on the leader reach every follower, one small message each") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.command("a", typed(CommandKind::clear));
  sim.command("a", add_number(3));
  sim.command("a", add_uri(""));           // the whole library
  sim.command("a", add_uri("track-2.wav", 1));
  sim.command("a", move_range(1, 2, 3));
  sim.command("a", remove_range(4, 1));
  sim.command("a", mode(CommandKind::repeat, cli::Switch::on));
  sim.run_for(10'000);
  CHECK(texts(sim.replies("a")) == std::vector<std::string>{
                                       "ok: cleared the queue", "ok: added track-3.wav", "ok: added 3 tracks",
                                       "ok: added track-2.wav", "ok: moved", "ok: removed", "ok: repeat on"});
  CHECK(names(sim.core("a").queue()) ==
        std::vector<std::string>{"track-1.wav", "track-2.wav", "track-2.wav", "track-3.wav"});
  CHECK_FALSE(sim.core("a").queue().mirrors_library());
  CHECK(sim.core("a").queue().modes().repeat);
  check_same_queue(sim, "a", {"b", "c"});
  // add answers the first new item's id.
  CHECK(sim.replies("a")[1].outcome.item_id == 4u);  // ids 1..3 were the library's: never reused
  // Each edit went out once, alone: never the whole queue.
  const auto edits = queue_edits_from(sim, "a");
  for (const auto& edit : edits) CHECK(edit.change.items.size() <= 3);
  CHECK(sim.take_changed("b") & control::kPlaylist);
}

TEST_CASE("a joiner pulls the queue with the state and holds the cluster's state only once it has both") {
  PlaybackSim sim;
  sim.add("a", 0, make_tracks(3));
  sim.add("b", kB, make_tracks(3));
  sim.elect("a", 1);
  sim.run_for(200'000);
  sim.command("a", move_range(3, 1, 1));
  sim.command("a", mode(CommandKind::consume, cli::Switch::oneshot));
  sim.command("a", play_command(1));
  sim.run_for(100'000);
  sim.add("d", kC, make_tracks(3));
  sim.set_delay("a", "d", 50'000);  // the pages take a while
  sim.announce("a", 1, "d");
  sim.run_for(40'000);
  CHECK_FALSE(sim.core("d").queue_synced());
  CHECK(sim.state_held("d") == 0);
  sim.run_for(300'000);
  CHECK(sim.core("d").queue_synced());
  CHECK(sim.state_held("d") > 0);
  check_same_queue(sim, "a", {"d"});
  CHECK(sim.core("d").current_item() == sim.core("a").current_item());
}

TEST_CASE("a follower that misses an edit sees the gap and fetches the whole queue") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.set_lossy("a", "b", true);
  sim.command("a", remove_range(1, 1));
  sim.run_for(10'000);
  sim.set_lossy("a", "b", false);
  CHECK(sim.core("b").queue().size() == 3);  // missed
  sim.command("a", add_number(1));
  sim.run_for(20'000);
  check_same_queue(sim, "a", {"b", "c"});
  bool asked = false;
  for (const auto& sent : sim.sent()) {
    if (sent.from == "b" && std::holds_alternative<protocol::QueueSyncRequest>(sent.message) && sent.at > kStart + 200'000) asked = true;
  }
  CHECK(asked);
}

TEST_CASE("failover keeps the queue, its ids and the modes") {
  PlaybackSim sim;
  three_nodes(sim, 5);
  sim.command("a", remove_range(2, 2));
  sim.command("a", mode(CommandKind::random, cli::Switch::on));
  sim.command("a", mode(CommandKind::single, cli::Switch::oneshot));
  sim.command("a", play_command(2));
  sim.run_for(100'000);
  const auto queue = sim.core("a").queue();
  sim.crash("a");
  sim.lose_leader();
  sim.run_for(10'000);
  sim.elect("b", 2);
  sim.run_for(300'000);
  CHECK(sim.core("b").queue().items() == queue.items());
  CHECK(sim.core("b").queue().modes() == queue.modes());
  CHECK(sim.core("b").queue().version() == queue.version());
  check_same_queue(sim, "b", {"c"});
  // New items get ids never used before.
  sim.command("b", add_number(2));
  sim.run_for(10'000);
  CHECK(sim.core("b").queue().items().back().id == 6);
  check_same_queue(sim, "b", {"c"});
}

TEST_CASE("end of track follows the queue order, not the library's") {
  PlaybackSim sim;
  three_nodes(sim, 3, kShort);
  sim.command("a", move_range(3, 1, 1));  // 3 1 2
  sim.command("a", play_command(1));
  sim.run_for(4'000'000);
  CHECK(played(sim, "a") == std::vector<std::string>{"track-3.wav", "track-1.wav", "track-2.wav"});
  CHECK(sim.core("b").state().status == PlayStatus::stopped);
}

TEST_CASE("repeat wraps at the end of the queue") {
  PlaybackSim sim;
  three_nodes(sim, 2, kShort);
  sim.command("a", mode(CommandKind::repeat, cli::Switch::on));
  sim.command("a", play_command(2));
  sim.run_for(2'500'000);
  CHECK(played(sim, "a") == std::vector<std::string>{"track-2.wav", "track-1.wav", "track-2.wav"});
}

TEST_CASE("single stops after the track, with repeat replays it, oneshot turns itself off") {
  PlaybackSim sim;
  three_nodes(sim, 3, kShort);
  sim.command("a", mode(CommandKind::single, cli::Switch::on));
  sim.command("a", play_command(1));
  sim.run_for(1'500'000);
  CHECK(played(sim, "a") == std::vector<std::string>{"track-1.wav"});
  CHECK(sim.core("a").state().status == PlayStatus::stopped);

  sim.command("a", mode(CommandKind::repeat, cli::Switch::on));
  sim.command("a", play_command(2));
  sim.run_for(2'500'000);
  CHECK(played(sim, "a") == std::vector<std::string>{"track-1.wav", "track-2.wav", "track-2.wav", "track-2.wav"});

  sim.command("a", mode(CommandKind::repeat, cli::Switch::off));
  sim.command("a", mode(CommandKind::single, cli::Switch::oneshot));
  sim.run_for(1'500'000);
  CHECK(sim.core("a").state().status == PlayStatus::stopped);
  CHECK(sim.core("a").queue().modes().single == protocol::ModeSwitch::off);
  check_same_queue(sim, "a", {"b", "c"});
}

TEST_CASE("consume removes each track that finished, on every node") {
  PlaybackSim sim;
  three_nodes(sim, 3, kShort);
  sim.command("a", mode(CommandKind::consume, cli::Switch::on));
  sim.command("a", play_command(1));
  sim.run_for(1'500'000);
  CHECK(names(sim.core("a").queue()) == std::vector<std::string>{"track-2.wav", "track-3.wav"});
  check_same_queue(sim, "a", {"b", "c"});
  sim.run_for(2'000'000);
  CHECK(sim.core("a").queue().empty());
  CHECK(played(sim, "a") == std::vector<std::string>{"track-1.wav", "track-2.wav", "track-3.wav"});
  check_same_queue(sim, "a", {"b", "c"});
}

TEST_CASE("random plays every item once per round, the same way for the same seeds") {
  const auto run = [] {
    PlaybackSim sim;
    three_nodes(sim, 6, kShort);
    sim.command("a", mode(CommandKind::random, cli::Switch::on));
    sim.command("a", play_command(1));
    sim.run_for(7'000'000);
    return played(sim, "a");
  };
  const auto first = run();
  CHECK(first == run());
  REQUIRE(first.size() == 6);
  CHECK(std::set<std::string>(first.begin(), first.end()).size() == 6);
  CHECK(first != std::vector<std::string>{"track-1.wav", "track-2.wav", "track-3.wav", "track-4.wav",
                                          "track-5.wav", "track-6.wav"});
}

TEST_CASE("next and prev walk the queue order") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.command("a", move_range(1, 1, 3));  // 2 3 1
  sim.command("a", play_command(1));
  sim.command("a", typed(CommandKind::next));
  sim.command("a", typed(CommandKind::next));
  sim.command("a", typed(CommandKind::next));
  sim.command("a", typed(CommandKind::prev));
  sim.run_for(10'000);
  CHECK(played(sim, "a") == std::vector<std::string>{"track-2.wav", "track-3.wav", "track-1.wav", "track-3.wav"});
  CHECK(texts(sim.replies("a"))[4] == "error: already at the last item of the queue");
}

TEST_CASE("removing the playing item plays the one after it, clear stops") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.command("a", play_command(2));
  sim.run_for(100'000);
  sim.command("a", remove_id(sim.core("a").current_item().value()));
  sim.run_for(100'000);
  CHECK(sim.core("b").state().track->name == "track-3.wav");
  sim.command("a", typed(CommandKind::clear));
  sim.run_for(100'000);
  CHECK(sim.core("b").state().status == PlayStatus::stopped);
  CHECK(sim.core("b").queue().empty());
}

TEST_CASE("a follower's queue commands run on the leader and answer with its outcome") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.command("b", typed(CommandKind::clear));
  sim.command("b", add_number(2));
  sim.command("b", add_uri("nowhere/"));
  sim.command("b", remove_id(99));
  sim.command("b", mode(CommandKind::random, cli::Switch::oneshot));
  sim.command("b", add_number(7));  // past b's own list: refused on b
  sim.run_for(50'000);
  const auto& replies = sim.replies("b");
  REQUIRE(replies.size() == 6);
  CHECK(texts(replies) == std::vector<std::string>{
                              "error: no track 7 in the library (it has 3)", "ok (by the leader a)",
                              "ok (by the leader a)", "error: no track at or below 'nowhere/'",
                              "error: no queue item with id 99", "error: oneshot is only for single and consume"});
  CHECK(replies[2].outcome.item_id == sim.core("a").queue().items().front().id);
  CHECK(replies[3].outcome.refusal == Refusal::no_such);
  CHECK(replies[4].outcome.refusal == Refusal::no_such);
  CHECK(replies[5].outcome.refusal == Refusal::bad_argument);
  CHECK(names(sim.core("a").queue()) == std::vector<std::string>{"track-2.wav"});
  check_same_queue(sim, "a", {"b", "c"});
}

TEST_CASE("refusals: positions past the queue or an unknown id change nothing") {
  PlaybackSim sim;
  three_nodes(sim);
  const auto version = sim.core("a").queue().version();
  sim.command("a", play_command(4));
  sim.command("a", remove_range(3, 2));
  sim.command("a", move_range(1, 1, 4));
  sim.command("a", add_uri("", 5));
  cli::Command play_id = play_command(0);
  play_id.item_id = 42;
  sim.command("a", play_id);
  sim.run_for(10'000);
  CHECK(texts(sim.replies("a")) == std::vector<std::string>{
                                       "error: no position 4 (the queue has 3)",
                                       "error: no positions 3-4 (the queue has 3)",
                                       "error: cannot move 1 item(s) to position 4 (the queue has 3)",
                                       "error: no position 5 (the queue has 3)", "error: no queue item with id 42"});
  sim.command("a", remove_range(20'000, 1));
  sim.command("a", remove_range(0, 1));
  sim.command("a", remove_range(1, 0));
  sim.run_for(10'000);
  const auto all = texts(sim.replies("a"));
  CHECK(std::vector<std::string>(all.end() - 3, all.end()) ==
        std::vector<std::string>{"error: no position 20000 (a queue holds at most 16384)",
                                 "error: queue positions count from 1 (see queue)",
                                 "error: a range holds at least one position"});
  for (const auto& reply : sim.replies("a")) CHECK_FALSE(reply.outcome.ok);
  CHECK(sim.core("a").queue().version() == version);
  CHECK(commands_from(sim, "a").empty());
}

TEST_CASE("the queue refuses to grow past its cap, and a big add goes out in pages") {
  PlaybackSim sim;
  sim.add("a", 0, make_tracks(10'000, kShort));
  sim.add("b", kB, make_tracks(10'000, kShort));
  sim.elect("a", 1);
  sim.run_for(500'000);
  REQUIRE(sim.core("b").queue_synced());
  CHECK(sim.core("b").queue().size() == 10'000);
  sim.command("a", add_uri(""));
  sim.run_for(100'000);
  const auto& reply = sim.replies("a").back();
  CHECK(reply.text == "error: the queue is full: 10000 tracks would make it longer than 16384");
  CHECK(reply.outcome.refusal == Refusal::bad_argument);
  sim.command("a", typed(CommandKind::clear));
  sim.command("a", add_uri(""));
  sim.run_for(500'000);
  CHECK(sim.replies("a").back().text == "ok: added 10000 tracks");
  check_same_queue(sim, "a", {"b"});
  for (const auto& edit : queue_edits_from(sim, "a")) CHECK(edit.change.items.size() <= protocol::kMaxQueuePageItems);
}

TEST_CASE("a follower's newer queue survives a leader that died mid fan-out: the new leader adopts it") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.command("a", move_range(1, 1, 3));
  sim.run_for(10'000);
  sim.set_lossy("a", "c", true);  // the next edit reaches b only
  sim.command("a", remove_range(1, 1));
  sim.run_for(10'000);
  const auto newest = sim.core("a").queue();
  REQUIRE(sim.core("b").queue().items() == newest.items());
  REQUIRE(sim.core("c").queue().version() == newest.version() - 1);
  sim.crash("a");
  sim.lose_leader();
  sim.run_for(10'000);
  sim.elect("c", 2);
  sim.run_for(300'000);
  CHECK(sim.core("c").queue().items() == newest.items());
  CHECK(sim.core("c").queue().version() == newest.version());
  check_same_queue(sim, "c", {"b"});
  // Its own edits go on from there, and close the door on later offers.
  sim.command("c", add_number(1));
  sim.run_for(10'000);
  check_same_queue(sim, "c", {"b"});
}

TEST_CASE("an offer no newer than the leader's queue, or after its own edit, is not fetched") {
  PlaybackSim sim;
  three_nodes(sim);
  sim.crash("a");
  sim.lose_leader();
  sim.run_for(10'000);
  sim.elect("c", 2);
  sim.run_for(300'000);
  for (const auto& sent : sim.sent()) {
    const bool asked_b = sent.from == "c" && sent.to == "b" && std::holds_alternative<protocol::QueueSyncRequest>(sent.message);
    CHECK_FALSE(asked_b);
  }
  sim.command("c", remove_range(1, 1));
  sim.run_for(10'000);
  sim.inject("b", "c", protocol::QueueOffer{"b", 99, std::nullopt});
  sim.run_for(10'000);
  for (const auto& sent : sim.sent()) {
    const bool asked_b = sent.from == "c" && sent.to == "b" && std::holds_alternative<protocol::QueueSyncRequest>(sent.message);
    CHECK_FALSE(asked_b);
  }
  check_same_queue(sim, "c", {"b"});
}
