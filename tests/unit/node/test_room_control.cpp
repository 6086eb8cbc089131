// RoomControl, the shell: the kept level is applied at start, changes reach the gain, the level
// file and the change listener, and the answer timer refuses a set nobody answers.

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <catch2/catch.hpp>
#include <unistd.h>

#include "chorus/node/room_control.hpp"
#include "chorus/playback/volume.hpp"
#include "node/fake_transport.hpp"
#include "node/room_level_file.hpp"

using namespace chorus;
using namespace chorus::node;

namespace {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "room-control-XXXXXX").string();
    path = ::mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

struct Shell {
  TempDir dir;
  boost::asio::io_context io;
  test::FakeTransport network{"A"};
  std::vector<float> gains;
  control::Subsystems changed = 0;
  std::optional<RoomControl> rooms;

  void start() {
    rooms.emplace(io, network, dir.path / "room.json", [this](float g) { gains.push_back(g); },
                  [this](control::Subsystems c) { changed |= c; });
  }
};

cli::Command volume(std::string room, int value) {
  cli::Command command;
  command.kind = cli::CommandKind::volume;
  command.room = std::move(room);
  command.volume = value;
  return command;
}

}  // namespace

TEST_CASE("the shell starts at the kept level and keeps each change in the level file") {
  Shell shell;
  REQUIRE(save_room_level(shell.dir.path / "room.json", RoomLevel{40, false, 3}));
  shell.start();
  REQUIRE(shell.gains.size() == 1);
  CHECK(shell.gains.back() == playback::volume_gain(40));
  std::optional<control::Outcome> outcome;
  shell.rooms->command(volume("", 50), [&](control::Outcome o) { outcome = std::move(o); });
  REQUIRE(outcome);
  CHECK(outcome->text == "ok: room A volume 50");
  CHECK(shell.gains.back() == playback::volume_gain(50));
  CHECK(load_room_level(shell.dir.path / "room.json") == RoomLevel{50, false, 4});
  CHECK(shell.changed == control::kMixer);
  cli::Command mute;
  mute.kind = cli::CommandKind::mute;
  shell.rooms->command(mute, [](control::Outcome) {});
  CHECK(shell.gains.back() == 0.0f);
  CHECK(load_room_level(shell.dir.path / "room.json") == RoomLevel{50, true, 5});
}

TEST_CASE("the shell sends a remote set to its room and refuses it when the answer is 2 s late") {
  Shell shell;
  shell.start();
  shell.rooms->peer_up("B");
  shell.network.sent.clear();
  std::optional<control::Outcome> outcome;
  shell.rooms->command(volume("B", 40), [&](control::Outcome o) { outcome = std::move(o); });
  REQUIRE(shell.network.sent.size() == 1);
  CHECK(shell.network.sent.front().to == "B");
  CHECK(std::holds_alternative<protocol::RoomSet>(shell.network.sent.front().message));
  CHECK_FALSE(outcome);
  shell.io.run_for(std::chrono::milliseconds(1500));
  CHECK_FALSE(outcome);
  shell.io.run_for(std::chrono::milliseconds(1500));
  REQUIRE(outcome);
  CHECK(outcome->text == "error: room B did not answer");
}

TEST_CASE("the shell answers a remote set once the room's state comes back") {
  Shell shell;
  shell.start();
  shell.rooms->peer_up("B");
  std::optional<control::Outcome> outcome;
  shell.rooms->command(volume("B", 40), [&](control::Outcome o) { outcome = std::move(o); });
  const auto id = std::get<protocol::RoomSet>(shell.network.sent.back().message).id;
  shell.rooms->receive("B", protocol::RoomState{.from = "B", .seq = 1, .volume = 40, .muted = false, .reply_to = id});
  REQUIRE(outcome);
  CHECK(outcome->text == "ok: room B volume 40");
  CHECK(shell.rooms->rooms().at(1).volume == 40);
  CHECK(shell.gains.size() == 1);  // another room's level is not this room's gain
}
