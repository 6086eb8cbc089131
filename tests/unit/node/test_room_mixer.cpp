// RoomMixer: the rooms' volume and mute across a simulated set of nodes (messages carried by a
// queue the test delivers, time passed in).

#include <deque>
#include <map>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/node/room_mixer.hpp"

using namespace chorus;
using namespace chorus::node;

namespace {

struct InFlight {
  std::string from;
  std::string to;
  protocol::Message message;
};

/// Nodes that each run a RoomMixer, all up to each other; messages wait until deliver().
struct Rooms {
  std::map<std::string, RoomMixer> nodes;
  std::deque<InFlight> in_flight;
  std::map<std::string, std::vector<RoomReply>> replies;
  std::map<std::string, control::Subsystems> changed;
  std::map<std::string, std::vector<RoomLevel>> applied;  ///< own levels each node applied
  std::set<std::string> unreachable;                      ///< their messages are lost

  explicit Rooms(const std::vector<std::string>& ids, RoomLevel level = {}) {
    for (const auto& id : ids) nodes.emplace(id, RoomMixer(id, level));
    for (const auto& a : ids) {
      for (const auto& b : ids) {
        if (a != b) take(a, nodes.at(a).peer_up(b));
      }
    }
    deliver();
    clear();
  }

  void take(const std::string& node, RoomEffects effects) {
    for (auto& send : effects.sends) in_flight.push_back({node, send.to, std::move(send.message)});
    for (auto& reply : effects.replies) replies[node].push_back(std::move(reply));
    if (effects.own_level) applied[node].push_back(*effects.own_level);
    changed[node] |= effects.changed;
  }

  /// Delivers every message, and the ones they cause, in order.
  void deliver() {
    while (!in_flight.empty()) {
      auto next = std::move(in_flight.front());
      in_flight.pop_front();
      deliver_one(next);
    }
  }

  void deliver_one(const InFlight& m) {
    if (unreachable.contains(m.from) || unreachable.contains(m.to)) return;
    auto& to = nodes.at(m.to);
    if (const auto* set = std::get_if<protocol::RoomSet>(&m.message)) take(m.to, to.receive(m.from, *set));
    if (const auto* state = std::get_if<protocol::RoomState>(&m.message)) take(m.to, to.receive(m.from, *state));
  }

  RoomEffects run(const std::string& node, cli::Command command, RoomToken token = 1, std::int64_t now = 0) {
    auto effects = nodes.at(node).command(now, command, token);
    take(node, effects);
    return effects;
  }

  void clear() {
    replies.clear();
    changed.clear();
    applied.clear();
  }

  /// Node `observer`'s row for `room`.
  control::RoomView row(const std::string& observer, const std::string& room) const {
    for (const auto& view : nodes.at(observer).rooms()) {
      if (view.id == room) return view;
    }
    FAIL("no row for " << room << " at " << observer);
    return {};
  }

  /// The one reply node `node` has given.
  control::Outcome reply(const std::string& node) const {
    REQUIRE(replies.contains(node));
    REQUIRE(replies.at(node).size() == 1);
    return replies.at(node).front().outcome;
  }
};

cli::Command volume(std::string room, std::optional<int> value, bool relative = false) {
  cli::Command command;
  command.kind = cli::CommandKind::volume;
  command.room = std::move(room);
  command.volume = value;
  command.relative_volume = relative;
  return command;
}

cli::Command mute(std::string room, bool on = true) {
  cli::Command command;
  command.kind = on ? cli::CommandKind::mute : cli::CommandKind::unmute;
  command.room = std::move(room);
  return command;
}

}  // namespace

TEST_CASE("a volume set on one node changes another node's room, and every node learns it") {
  Rooms rooms({"A", "B", "C"});
  const auto sent = rooms.run("A", volume("B", 40), 7);
  REQUIRE(sent.replies.empty());  // waits for B
  REQUIRE(sent.sends.size() == 1);
  CHECK(sent.sends.front().to == "B");
  rooms.deliver();
  CHECK(rooms.nodes.at("B").own().volume == 40);
  CHECK(rooms.applied["B"] == std::vector<RoomLevel>{{40, false, 1}});
  CHECK(rooms.applied["A"].empty());
  const auto outcome = rooms.reply("A");
  CHECK(outcome.ok);
  CHECK(outcome.text == "ok: room B volume 40");
  CHECK(rooms.replies.at("A").front().token == 7);
  CHECK(rooms.row("A", "B").volume == 40);
  CHECK(rooms.row("C", "B").volume == 40);
  CHECK(rooms.row("A", "A").volume == 100);
  CHECK(rooms.changed["A"] == control::kMixer);
  CHECK(rooms.changed["B"] == control::kMixer);
  CHECK(rooms.changed["C"] == control::kMixer);
}

TEST_CASE("a change is applied by the room's own node to the volume it has, clamped") {
  Rooms rooms({"A", "B"});
  rooms.run("A", volume("B", 40));
  rooms.deliver();
  rooms.run("A", volume("B", 15, true));
  rooms.deliver();
  CHECK(rooms.nodes.at("B").own().volume == 55);
  rooms.run("B", volume("", -100, true));
  CHECK(rooms.nodes.at("B").own().volume == 0);
  rooms.run("A", volume("B", 100, true));
  rooms.deliver();
  CHECK(rooms.nodes.at("B").own().volume == 100);
  CHECK(rooms.row("A", "B").volume == 100);
}

TEST_CASE("mute keeps the volume, unmute returns to it, and both reach the others") {
  Rooms rooms({"A", "B", "C"});
  rooms.run("C", volume("", 30));
  rooms.deliver();
  rooms.clear();
  rooms.run("A", mute("C"));
  rooms.deliver();
  CHECK(rooms.reply("A").text == "ok: room C muted (volume 30)");
  CHECK(rooms.applied["C"] == std::vector<RoomLevel>{{30, true, 2}});
  CHECK(rooms.row("B", "C").muted);
  CHECK(rooms.changed["B"] == control::kOutput);
  rooms.clear();
  rooms.run("B", mute("C", false));
  rooms.deliver();
  CHECK(rooms.reply("B").text == "ok: room C volume 30");
  CHECK_FALSE(rooms.nodes.at("C").own().muted);
  CHECK(rooms.nodes.at("C").own().volume == 30);
  CHECK_FALSE(rooms.row("A", "C").muted);
}

TEST_CASE("a command for this node's room applies at once and tells every up peer") {
  Rooms rooms({"A", "B", "C"});
  const auto effects = rooms.run("A", volume("", 25));
  CHECK(effects.own_level == RoomLevel{25, false, 1});
  CHECK(effects.sends.size() == 2);
  CHECK(rooms.reply("A").text == "ok: room A volume 25");
  rooms.deliver();
  CHECK(rooms.row("B", "A").volume == 25);
  CHECK(rooms.row("C", "A").volume == 25);
  SECTION("naming itself is the same") {
    rooms.clear();
    rooms.run("A", volume("A", 26));
    CHECK(rooms.nodes.at("A").own().volume == 26);
  }
  SECTION("a set that changes nothing answers ok and sends no news") {
    const auto again = rooms.run("A", volume("", 25));
    CHECK_FALSE(again.own_level);
    CHECK(again.sends.empty());
    CHECK(again.changed == 0);
  }
}

TEST_CASE("volume without a value shows every room, this node first") {
  Rooms rooms({"B", "A", "C"});
  rooms.run("C", mute(""));
  rooms.deliver();
  rooms.clear();
  rooms.run("A", volume("", std::nullopt));
  const auto outcome = rooms.reply("A");
  CHECK(outcome.ok);
  CHECK(outcome.text.rfind("A ", 0) == 0);
  CHECK(outcome.text.find("(this node)") != std::string::npos);
  CHECK(outcome.text.find("muted") > outcome.text.find("C "));
  rooms.clear();
  rooms.run("A", volume("C", std::nullopt));
  CHECK(rooms.reply("A").text.rfind("C ", 0) == 0);
  CHECK(rooms.reply("A").text.find('\n') == std::string::npos);
  rooms.clear();
  rooms.run("A", volume("Z", std::nullopt));
  CHECK(rooms.reply("A").refusal == control::Refusal::no_such);
  const auto views = rooms.nodes.at("A").rooms();
  REQUIRE(views.size() == 3);
  CHECK(views[0].id == "A");
  CHECK(views[0].self);
  CHECK(views[1].id == "B");
  CHECK(views[2].id == "C");
  CHECK(views[2].muted);
}

TEST_CASE("a set for a room nobody knows is refused and sends nothing") {
  Rooms rooms({"A", "B"});
  const auto effects = rooms.run("A", volume("Z", 40));
  CHECK(effects.sends.empty());
  const auto outcome = rooms.reply("A");
  CHECK_FALSE(outcome.ok);
  CHECK(outcome.refusal == control::Refusal::no_such);
  CHECK(outcome.text == "error: no room named Z (peers lists the rooms)");
}

TEST_CASE("a set for a room that is down is refused as unreachable, and its row stays, marked down") {
  Rooms rooms({"A", "B"});
  rooms.run("B", volume("", 60));
  rooms.deliver();
  rooms.clear();
  rooms.take("A", rooms.nodes.at("A").peer_down("B"));
  CHECK(rooms.changed["A"] == control::kOutput);
  CHECK_FALSE(rooms.row("A", "B").up);
  CHECK(rooms.row("A", "B").volume == 60);
  const auto effects = rooms.run("A", mute("B"));
  CHECK(effects.sends.empty());
  CHECK(rooms.reply("A").refusal == control::Refusal::unavailable);
  CHECK(rooms.reply("A").text == "error: room B is unreachable (its node is down)");
}

TEST_CASE("a room that does not answer within 2 s is reported as not answering") {
  Rooms rooms({"A", "B"});
  rooms.unreachable.insert("B");
  rooms.run("A", volume("B", 40), 3, 1'000'000);
  rooms.deliver();
  auto& a = rooms.nodes.at("A");
  REQUIRE(a.next_deadline() == 3'000'000);
  rooms.take("A", a.expire(2'999'999));
  CHECK(rooms.replies["A"].empty());
  rooms.take("A", a.expire(3'000'000));
  CHECK(rooms.reply("A").refusal == control::Refusal::unavailable);
  CHECK(rooms.reply("A").text == "error: room B did not answer");
  CHECK(rooms.replies["A"].front().token == 3);
  CHECK_FALSE(a.next_deadline());
  SECTION("a late answer then replies nothing more, but updates the table") {
    rooms.unreachable.clear();
    rooms.take("A", a.receive("B", protocol::RoomState{.from = "B", .seq = 9, .volume = 40, .muted = false, .reply_to = 1}));
    CHECK(rooms.replies["A"].size() == 1);
    CHECK(rooms.row("A", "B").volume == 40);
  }
}

TEST_CASE("a room that goes down while a set waits refuses it at once") {
  Rooms rooms({"A", "B"});
  rooms.unreachable.insert("B");
  rooms.run("A", mute("B"));
  rooms.deliver();
  rooms.take("A", rooms.nodes.at("A").peer_down("B"));
  CHECK(rooms.reply("A").text == "error: room B went down before answering");
  CHECK_FALSE(rooms.nodes.at("A").next_deadline());
}

TEST_CASE("an old ROOM_STATE never overrides a newer one") {
  Rooms rooms({"A", "B"});
  auto& a = rooms.nodes.at("A");
  rooms.take("A", a.receive("B", protocol::RoomState{.from = "B", .seq = 5, .volume = 50, .muted = false, .reply_to = 0}));
  rooms.take("A", a.receive("B", protocol::RoomState{.from = "B", .seq = 4, .volume = 10, .muted = true, .reply_to = 0}));
  CHECK(rooms.row("A", "B").volume == 50);
  CHECK_FALSE(rooms.row("A", "B").muted);
  rooms.take("A", a.receive("B", protocol::RoomState{.from = "B", .seq = 5, .volume = 11, .muted = false, .reply_to = 0}));
  CHECK(rooms.row("A", "B").volume == 50);
  rooms.take("A", a.receive("B", protocol::RoomState{.from = "B", .seq = 6, .volume = 12, .muted = false, .reply_to = 0}));
  CHECK(rooms.row("A", "B").volume == 12);
}

TEST_CASE("a peer that comes up gets this room's state, and is then heard from whatever its seq") {
  Rooms rooms({"A", "B"});
  rooms.run("A", volume("", 35));
  rooms.run("A", mute(""));
  rooms.deliver();
  auto& b = rooms.nodes.at("B");
  rooms.take("B", b.peer_down("A"));
  rooms.take("A", rooms.nodes.at("A").peer_down("B"));
  rooms.clear();
  // A restarts having lost its level file: seq 0 again, volume 100.
  rooms.nodes.erase("A");
  rooms.nodes.emplace("A", RoomMixer("A", RoomLevel{}));
  rooms.take("A", rooms.nodes.at("A").peer_up("B"));
  rooms.take("B", b.peer_up("A"));
  CHECK(rooms.changed["B"] == control::kOutput);  // a room joined
  rooms.deliver();
  CHECK(rooms.row("B", "A").volume == 100);
  CHECK_FALSE(rooms.row("B", "A").muted);
  CHECK(rooms.row("B", "A").up);
  // And A learnt B's room from B's peer_up.
  CHECK(rooms.row("A", "B").up);
}

TEST_CASE("a node starts at the level it kept") {
  RoomMixer mixer("A", RoomLevel{40, true, 12});
  CHECK(mixer.own() == RoomLevel{40, true, 12});
  const auto effects = mixer.peer_up("B");
  REQUIRE(effects.sends.size() == 1);
  CHECK(effects.sends.front().message ==
        protocol::Message{protocol::RoomState{.from = "A", .seq = 12, .volume = 40, .muted = true, .reply_to = 0}});
  auto again = mixer.command(0, volume("", 41), 1);
  CHECK(again.own_level == RoomLevel{41, true, 13});
}

TEST_CASE("a volume out of range is refused as a bad argument and changes nothing") {
  Rooms rooms({"A", "B"});
  for (const auto& command : {volume("", 101), volume("B", -1), volume("B", 101, true), volume("", -101, true)}) {
    rooms.clear();
    const auto effects = rooms.run("A", command);
    CHECK(effects.sends.empty());
    CHECK_FALSE(effects.own_level);
    CHECK(rooms.reply("A").refusal == control::Refusal::bad_argument);
  }
  cli::Command other;
  other.kind = cli::CommandKind::play;
  rooms.clear();
  rooms.run("A", other);
  CHECK(rooms.reply("A").refusal == control::Refusal::bad_argument);
}

TEST_CASE("a ROOM_SET from a peer is answered to it with reply_to and told to the others without") {
  Rooms rooms({"A", "B", "C"});
  auto& b = rooms.nodes.at("B");
  const auto effects = b.receive("A", protocol::RoomSet{.from = "A", .id = 42, .action = protocol::RoomAction::set,
                                                        .volume = 70, .change = std::nullopt});
  REQUIRE(effects.sends.size() == 2);
  for (const auto& send : effects.sends) {
    const auto& state = std::get<protocol::RoomState>(send.message);
    CHECK(state.volume == 70);
    CHECK(state.reply_to == (send.to == "A" ? 42u : 0u));
  }
  SECTION("one that changes nothing is still answered") {
    const auto same = b.receive("A", protocol::RoomSet{.from = "A", .id = 43, .action = protocol::RoomAction::set,
                                                       .volume = 70, .change = std::nullopt});
    REQUIRE(same.sends.size() == 1);
    CHECK(same.sends.front().to == "A");
    CHECK(std::get<protocol::RoomState>(same.sends.front().message).reply_to == 43);
  }
}
