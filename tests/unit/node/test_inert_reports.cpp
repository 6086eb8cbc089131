// Text from peers reaches logs and the prompt only escaped (protocol::inert): a track name with a
// newline and escape sequences, sent by a leader, prints on one line and moves no cursor, in the
// follower's log, its `status` and its error replies; likewise a file name in `list`.

#include <catch2/catch.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <variant>

#include "chorus/node/playback_controller.hpp"
#include "chorus/node/playback_reports.hpp"
#include "chorus/node/track_list.hpp"
#include "chorus/protocol/codec.hpp"
#include "node/playback_sim.hpp"
#include "node/printing.hpp"
#include "playback/temp_dir.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;

namespace {

/// A name that would clear the screen and forge a log line if printed raw.
const std::string kEvilName = "evil\n\x1b[2J[info] forged\x1b]0;t\x07.wav";
const std::string kEvilShown = "evil\\n\\x1b[2J[info] forged\\x1b]0;t\\x07.wav";

/// No byte a terminal acts on, except the line breaks the report itself puts between its lines.
bool inert_lines(const std::string& text) {
  return std::none_of(text.begin(), text.end(), [](char c) {
    const auto b = static_cast<unsigned char>(c);
    return (b < 0x20 && c != '\n') || b == 0x7f;
  });
}

/// Every message passes the codec on its way, as on the wire.
protocol::Message over_the_wire(const protocol::Message& message) {
  auto decoded = protocol::decode(protocol::encode(message));
  REQUIRE(std::holds_alternative<protocol::Message>(decoded));
  return std::get<protocol::Message>(decoded);
}

}  // namespace

TEST_CASE("a leader's track name with a newline and ESC is escaped in a follower's log and status") {
  PlaybackSim sim;
  auto evil = make_tracks(1);
  evil[0].file_name = kEvilName;
  evil[0].content_hash = "hash-evil";
  sim.add("a", 0, evil);
  sim.elect("a", 1);
  sim.run_until(kStart + 100'000);
  sim.command("a", play_command(1));
  sim.run_for(100'000);

  // b joins late: it takes the leader's state from STATE_SYNC_RESPONSE, and lacks the track.
  sim.add("b", kC);
  sim.announce("a", 1, "b");
  sim.run_for(300'000);
  const auto& state = sim.core("b").state();
  REQUIRE(state.track);
  REQUIRE(state.track->name == kEvilName);  // the bytes themselves travel unchanged

  bool warned = false;
  for (const auto& line : sim.log("b")) {
    CHECK(inert_lines(line.text));
    CHECK(line.text.find('\n') == std::string::npos);
    if (line.text.find("synced with the leader: playing " + kEvilShown) != std::string::npos) {
      warned = true;
    }
  }
  CHECK(warned);

  PlaybackView view;
  view.state = state;
  view.missing_track = state.track->name;
  view.state_synced = true;
  const std::string status = playback_status_text(view);
  INFO(status);
  CHECK(inert_lines(status));
  CHECK(status.find("playback  playing " + kEvilShown + " at ") == 0);
  CHECK(status.find("          " + kEvilShown + " is not here yet: silent until its audio is fetched\n") !=
        std::string::npos);
  CHECK(describe_state(state).find(kEvilShown) != std::string::npos);
  CHECK(inert_lines(describe_state(state)));
}

TEST_CASE("a leader's error reply is escaped and bounded at the follower's prompt") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.add("b", kC);
  sim.elect("a", 1);
  sim.run_until(kStart + 200'000);
  sim.command("b", play_command(1));
  sim.crash("a");  // the answer below stands in for the leader's
  const std::string reason = "\x1b[2J\nok: playing" + std::string(4000, 'x');
  sim.inject("a", "b", over_the_wire(protocol::ControlResponse{"a", 1, false, reason}));
  sim.run_for(1'000);
  REQUIRE(sim.replies("b").size() == 1);
  const std::string& reply = sim.replies("b")[0].text;
  CHECK(reply.rfind("error: \\x1b[2J\\nok: playingxxx", 0) == 0);
  CHECK(reply.find('\n') == std::string::npos);
  CHECK(inert_lines(reply));
  CHECK(reply.size() < 300);
  CHECK(reply.ends_with("…(+3764 bytes)"));
}

TEST_CASE("list shows a path and tags with control characters escaped") {
  protocol::CatalogEntry entry;
  entry.hash = std::string(64, 'a');
  entry.name = "x\n\x1b[2J.wav";
  entry.title = "t\x1b]0;owned\x07";
  entry.frames = 48'000;
  const auto catalog = content::make_catalog({entry});
  const auto where = [](const protocol::CatalogEntry&) { return std::string("local"); };
  const std::string text = track_list_text(catalog, {}, where);
  INFO(text);
  CHECK(text.find("x\\n\\x1b[2J.wav") != std::string::npos);
  CHECK(inert_lines(text));
  CHECK(std::count(text.begin(), text.end(), '\n') == 1);  // one track line, then the count
}
