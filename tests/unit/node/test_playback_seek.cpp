// Seek: the leader moves the track it plays (or holds) to a new frame at now + lead, every
// follower lands on the same frame at the same instant, a follower's seek is forwarded, and the
// end of the track follows the new position.

#include <catch2/catch.hpp>

#include <limits>
#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using playback::PlayStatus;

namespace {

constexpr std::int64_t kSecond = 1'000'000;
constexpr std::int64_t kFramesPerSecond = 48'000;
const protocol::TrackRef kTrack1{1, "track-1.wav", "hash-1", kTrackFrames, 0, ""};
const protocol::TrackRef kTrack2{2, "track-2.wav", "hash-2", kTrackFrames, 0, ""};

/// a leads (epoch 1), b follows (clock kC, synced); a plays track 1 from kStart + 200 ms + lead,
/// and time stands 1 s later.
void playing_one_second(PlaybackSim& sim) {
  sim.add("a", 0);
  sim.add("b", kC);
  sim.elect("a", 1);
  sim.run_until(kStart + 200'000);
  REQUIRE(sim.core("b").state_synced());
  sim.command("a", play_command(1));
  sim.run_for(kSecond);
}

}  // namespace

TEST_CASE("seek while playing: the same track from the new frame at now + lead, everywhere") {
  PlaybackSim sim;
  playing_one_second(sim);
  const std::int64_t t = sim.now();
  const auto before = sim.audible("a", t + kLead - 1);
  CHECK(before == playing_at(playback::frames_in(kSecond - 1)));

  sim.command("a", seek_command(5 * kSecond));

  const playback::PlaybackState expected{1, 2, PlayStatus::playing, kTrack1, t + kLead, 5 * kFramesPerSecond};
  CHECK(sim.core("a").state() == expected);
  CHECK(texts(sim.replies("a")) ==
        std::vector<std::string>{"ok: playing track-1.wav in 25 ms", "ok: seeking to 0:05 in 25 ms"});
  auto commands = commands_from(sim, "a");
  REQUIRE(commands.size() == 2);
  CHECK(commands[1].second ==
        protocol::Message{protocol::PlayRequest{"a", 1, 2, kTrack1, 5 * kFramesPerSecond, t + kLead}});

  sim.run_for(1'000);
  CHECK(sim.core("b").state() == expected);
  CHECK(sim.audible("b", t + kLead - 1) == before);  // nothing before the instant moves
  CHECK(sim.audible("b", t + kLead) == playing_at(5 * kFramesPerSecond));
  CHECK(sim.audible("b", t + kLead + kSecond) == playing_at(6 * kFramesPerSecond));
  check_same_sound(sim, "a", "b", t, 2 * kSecond);
}

TEST_CASE("a seek points the decoder at the new frame") {
  PlaybackSim sim;
  playing_one_second(sim);
  const std::int64_t t = sim.now();

  sim.command("a", seek_command(5 * kSecond));
  REQUIRE(sim.publication("a").has_value());
  CHECK(sim.publication("a")->current == sim.core("a").state());
  // Where the new state is now: a lead's worth of frames before its anchor frame.
  CHECK(sim.publication("a")->current_frame == 5 * kFramesPerSecond - playback::frames_in(kLead));

  sim.run_for(1'000);  // b applies it one link delay later
  REQUIRE(sim.publication("b").has_value());
  CHECK(sim.publication("b")->current == sim.core("b").state());
  CHECK(sim.publication("b")->current_frame ==
        5 * kFramesPerSecond + playback::frames_in(1'000 - kLead));
  // The engine plays the old position until the new one's instant.
  CHECK(sim.publication("b")->previous.anchor_us == t - kSecond + kLead);
  CHECK(sim.publication("b")->previous.anchor_frame == 0);
}

TEST_CASE("the decoder is pointed once per state: clock updates publish without a frame") {
  PlaybackSim sim;
  playing_one_second(sim);
  sim.command("a", seek_command(5 * kSecond));
  sim.run_for(1'000);
  REQUIRE(sim.publication("b")->current_frame.has_value());
  const auto state = sim.core("b").state();
  const auto published = sim.publications("b");

  sim.run_for(200'000);  // b's clock is sampled every 30 ms: each sample publishes
  REQUIRE(sim.publications("b") > published);
  CHECK(sim.publication("b")->current == state);
  CHECK_FALSE(sim.publication("b")->current_frame.has_value());

  sim.command("a", pause_command());
  sim.run_for(1'000);
  CHECK(sim.publication("b")->current == sim.core("b").state());
  CHECK(sim.publication("b")->current_frame == sim.core("b").state().anchor_frame);
}

TEST_CASE("a track that opens after its state was published is pointed at where it is read") {
  PlaybackSim sim;
  playing_one_second(sim);
  sim.command("a", play_command(2));
  sim.run_for(1'000);  // b applies it and wants track 2 open: its audio is not there yet
  REQUIRE(sim.publication("b")->current_frame.has_value());
  const auto published = sim.publications("b");

  sim.run_for(5'000);  // the opener's 5 ms: track_opened publishes again, for the same state
  REQUIRE(sim.publications("b") == published + 1);
  CHECK(sim.publication("b")->current == sim.core("b").state());
  CHECK(sim.publication("b")->current_frame.has_value());
}

TEST_CASE("a relative seek moves from the frame reached at its instant") {
  PlaybackSim sim;
  playing_one_second(sim);
  const std::int64_t t = sim.now();
  // At t + lead, track 1 has played exactly 1 s (it started at its own t - 1 s + lead).
  const std::int64_t reached = kFramesPerSecond;
  REQUIRE(playback::frame_at(sim.core("a").state(), t + kLead) == reached);

  SECTION("forwards") {
    sim.command("a", seek_command(2'500'000, true));
    CHECK(sim.core("a").state().anchor_frame == reached + 120'000);
    CHECK(sim.replies("a").back().text == "ok: seeking to 0:03.500 in 25 ms");
  }
  SECTION("backwards") {
    sim.command("a", seek_command(-500'000, true));
    CHECK(sim.core("a").state().anchor_frame == reached - 24'000);
  }
  SECTION("by nothing") {
    sim.command("a", seek_command(0, true));
    CHECK(sim.core("a").state().anchor_frame == reached);
  }
  SECTION("back past the start: from frame 0") {
    sim.command("a", seek_command(-30 * kSecond, true));
    CHECK(sim.core("a").state().anchor_frame == 0);
    CHECK(sim.replies("a").back().text == "ok: seeking to 0:00 in 25 ms");
  }
  SECTION("forwards past the end: the last frame") {
    sim.command("a", seek_command(60 * kSecond, true));
    CHECK(sim.core("a").state().anchor_frame == kTrackFrames - 1);
  }
  SECTION("by the most a peer can send") {
    sim.command("a", seek_command(std::numeric_limits<std::int64_t>::max(), true));
    CHECK(sim.core("a").state().anchor_frame == kTrackFrames - 1);
    sim.command("a", seek_command(std::numeric_limits<std::int64_t>::min(), true));
    CHECK(sim.core("a").state().anchor_frame == 0);
  }
  CHECK(sim.core("a").state().status == PlayStatus::playing);
  CHECK(sim.core("a").state().anchor_us == t + kLead);
  sim.run_for(1'000);
  CHECK(sim.core("b").state() == sim.core("a").state());
  check_same_sound(sim, "a", "b", t, 2 * kSecond);
}

TEST_CASE("an absolute seek is clamped to the track") {
  PlaybackSim sim;
  playing_one_second(sim);

  sim.command("a", seek_command(10 * kSecond));  // the end itself: the last frame
  CHECK(sim.core("a").state().anchor_frame == kTrackFrames - 1);
  sim.command("a", seek_command(std::numeric_limits<std::int64_t>::max()));
  CHECK(sim.core("a").state().anchor_frame == kTrackFrames - 1);
  sim.command("a", seek_command(-5 * kSecond));  // only a peer could send it
  CHECK(sim.core("a").state().anchor_frame == 0);
  sim.command("a", seek_command(75'500));  // 75.5 ms: the frame audible then
  CHECK(sim.core("a").state().anchor_frame == 3'624);
  CHECK(sim.replies("a").back().text == "ok: seeking to 0:00.075 in 25 ms");
}

TEST_CASE("seek while paused holds the new frame, and resume plays from it") {
  PlaybackSim sim;
  playing_one_second(sim);
  sim.command("a", pause_command());
  sim.run_for(500'000);
  const std::int64_t t = sim.now();
  const auto held = sim.core("a").state().anchor_frame;

  sim.command("a", seek_command(2 * kSecond));

  const playback::PlaybackState expected{1, 3, PlayStatus::paused, kTrack1, t + kLead, 2 * kFramesPerSecond};
  CHECK(sim.core("a").state() == expected);
  CHECK(sim.replies("a").back().text == "ok: seeking to 0:02 in 25 ms");
  CHECK(commands_from(sim, "a").back().second ==
        protocol::Message{protocol::PauseRequest{"a", 1, 3, 2 * kFramesPerSecond, t + kLead}});
  CHECK(sim.publication("a")->current_frame == 2 * kFramesPerSecond);
  CHECK_FALSE(sim.core("a").take_effects().deadlines.end_of_track.has_value());

  sim.run_for(1'000);
  CHECK(sim.core("b").state() == expected);
  CHECK(sim.publication("b")->current_frame == 2 * kFramesPerSecond);
  CHECK(sim.audible("b", t + kLead - 1) == paused_at(held));
  CHECK(sim.audible("b", t + kLead) == paused_at(2 * kFramesPerSecond));

  sim.command("a", seek_command(-500'000, true));  // relative to the frame held
  CHECK(sim.core("a").state().anchor_frame == 2 * kFramesPerSecond - 24'000);
  CHECK(sim.core("a").state().status == PlayStatus::paused);

  sim.run_for(100'000);
  const std::int64_t resumed = sim.now();
  sim.command("a", resume_command());
  sim.run_for(1'000);
  CHECK(sim.audible("b", resumed + kLead) == playing_at(2 * kFramesPerSecond - 24'000));
  CHECK(sim.audible("b", resumed + kLead + kSecond) == playing_at(3 * kFramesPerSecond - 24'000));
  check_same_sound(sim, "a", "b", t, 2 * kSecond);
}

TEST_CASE("seek with nothing playing is refused and sends nothing") {
  PlaybackSim sim;
  sim.add("a", 0);
  sim.add("b", kC);
  sim.elect("a", 1);
  sim.run_until(kStart + 200'000);

  sim.command("a", seek_command(5 * kSecond));
  sim.command("a", seek_command(5 * kSecond, true));
  sim.command("b", seek_command(5 * kSecond));  // forwarded: the leader refuses it
  sim.run_for(10'000);
  sim.command("a", play_command(1));
  sim.run_for(kSecond);
  sim.command("a", typed(cli::CommandKind::stop));
  sim.run_for(kSecond);
  const auto sent = commands_from(sim, "a").size();
  sim.command("a", seek_command(0));

  CHECK(texts(sim.replies("a")) == std::vector<std::string>{"error: nothing is playing",
                                                            "error: nothing is playing",
                                                            "ok: playing track-1.wav in 25 ms",
                                                            "ok: stopping in 25 ms",
                                                            "error: nothing is playing"});
  CHECK(texts(sim.replies("b")) == std::vector<std::string>{"error: nothing is playing"});
  CHECK(commands_from(sim, "a").size() == sent);
  CHECK(sim.core("a").state().status == PlayStatus::stopped);
}

TEST_CASE("a follower's seek travels to the leader with its target, and the leader runs it") {
  PlaybackSim sim;
  playing_one_second(sim);
  const std::int64_t t = sim.now();

  sim.command("b", seek_command(7 * kSecond));
  sim.command("b", seek_command(-1'500'000, true));
  sim.run_for(10'000);

  std::vector<protocol::ControlRequest> requests;
  for (const auto& sent : sim.sent()) {
    if (auto* request = std::get_if<protocol::ControlRequest>(&sent.message)) {
      CHECK(sent.to == "a");
      requests.push_back(*request);
    }
  }
  using protocol::ControlCommand;
  CHECK(requests == std::vector<protocol::ControlRequest>{
                        {"b", 1, ControlCommand::seek, std::nullopt, protocol::SeekTarget{7 * kSecond, false}},
                        {"b", 2, ControlCommand::seek, std::nullopt, protocol::SeekTarget{-1'500'000, true}}});
  CHECK(texts(sim.replies("b")) ==
        std::vector<std::string>{"ok (by the leader a)", "ok (by the leader a)"});
  // Both arrived at t + 1 ms: the second moves back 1.5 s from 7 s, at the same instant.
  const playback::PlaybackState expected{1, 3, PlayStatus::playing, kTrack1, t + 1'000 + kLead,
                                         7 * kFramesPerSecond - 72'000};
  CHECK(sim.core("a").state() == expected);
  CHECK(sim.core("b").state() == expected);
  check_same_sound(sim, "a", "b", t, 2 * kSecond);
}

TEST_CASE("the leader refuses a forwarded seek without a target") {
  PlaybackSim sim;
  playing_one_second(sim);
  const auto state = sim.core("a").state();
  sim.inject("b", "a", protocol::ControlRequest{"b", 5, protocol::ControlCommand::seek, std::nullopt, std::nullopt});
  sim.run_for(10'000);

  std::vector<protocol::ControlResponse> responses;
  for (const auto& sent : sim.sent()) {
    if (auto* response = std::get_if<protocol::ControlResponse>(&sent.message)) responses.push_back(*response);
  }
  CHECK(responses == std::vector<protocol::ControlResponse>{{"a", 5, false, "seek needs a position", protocol::Refusal::bad_argument}});
  CHECK(sim.core("a").state() == state);
}

TEST_CASE("every node of a cluster with far-apart clocks lands on the sought frame together") {
  PlaybackSim sim;
  a_leads_b_and_c_playing(sim, 4);
  sim.run_for(3 * kSecond);
  const std::int64_t t = sim.now();

  sim.command("c", seek_command(8'250'000));
  sim.run_for(100'000);

  const auto& state = sim.core("a").state();
  CHECK(state.anchor_frame == 8'250'000 * kFramesPerSecond / kSecond);
  CHECK(sim.core("b").state() == state);
  CHECK(sim.core("c").state() == state);
  const std::int64_t instant = t + 1'000 + kLead;  // c's request reached a after one link delay
  CHECK(state.anchor_us == instant);
  for (const auto* id : {"a", "b", "c"}) {
    INFO("node " << id);
    CHECK(sim.audible(id, instant) == playing_at(state.anchor_frame));
    CHECK(sim.audible(id, instant - 1) == playing_at(playback::frames_in(3 * kSecond + 1'000 - 1)));
  }
  check_same_sound(sim, "a", "b", t, 2 * kSecond);
  check_same_sound(sim, "a", "c", t, 2 * kSecond);
}

TEST_CASE("the end of the track follows a seek") {
  PlaybackSim sim;
  playing_one_second(sim);
  const std::int64_t send_ahead = kLead + kEndOfTrackMarginUs;

  SECTION("forwards: the next track starts where the sought position runs out") {
    const std::int64_t t = sim.now();
    sim.command("a", seek_command(9 * kSecond));
    const std::int64_t end = t + kLead + kSecond;
    CHECK(sim.core("a").take_effects().deadlines.end_of_track == end - send_ahead);

    sim.run_until(end - send_ahead - 1);
    CHECK(commands_from(sim, "a").size() == 2);
    sim.run_until(end - send_ahead);
    auto commands = commands_from(sim, "a");
    REQUIRE(commands.size() == 3);
    CHECK(commands[2].second == protocol::Message{protocol::PlayRequest{"a", 1, 3, kTrack2, 0, end}});
    sim.run_until(end + 10'000);
    CHECK(sim.audible("b", end - 1) == playing_at(kTrackFrames - 1));
    CHECK(sim.audible("b", end) == playing_at(0));
    CHECK(sim.core("b").state().track == kTrack2);
  }
  SECTION("backwards: the old end passes without a command, the new one counts") {
    const std::int64_t t = sim.now();
    const std::int64_t old_end = t - kSecond + kLead + 10 * kSecond;
    sim.command("a", seek_command(0));
    const std::int64_t end = t + kLead + 10 * kSecond;

    sim.run_until(old_end + 100'000);
    CHECK(commands_from(sim, "a").size() == 2);
    sim.run_until(end - send_ahead);
    auto commands = commands_from(sim, "a");
    REQUIRE(commands.size() == 3);
    CHECK(commands[2] == std::pair<std::int64_t, protocol::Message>{
                             end - send_ahead, protocol::PlayRequest{"a", 1, 3, kTrack2, 0, end}});
  }
  SECTION("to the end: the next track follows the last frame at once") {
    const std::int64_t t = sim.now();
    sim.command("a", seek_command(3600 * kSecond));
    const std::int64_t end = t + kLead + playback::us_for(1);
    sim.run_for(1);
    auto commands = commands_from(sim, "a");
    REQUIRE(commands.size() == 3);
    CHECK(commands[2] == std::pair<std::int64_t, protocol::Message>{
                             t, protocol::PlayRequest{"a", 1, 3, kTrack2, 0, end}});
    sim.run_until(end + 10'000);
    // The one-frame state is replaced before its instant, so the engine never plays it: every
    // node goes from where it was straight to track 2, on the same frame.
    CHECK(sim.audible("b", end - 1) == sim.audible("a", end - 1));
    CHECK(sim.audible("b", end) == playing_at(0));
    CHECK(sim.core("b").state().track == kTrack2);
  }
  SECTION("a follower's seek re-arms the leader's end of track too") {
    const std::int64_t t = sim.now();
    sim.command("b", seek_command(9 * kSecond));
    const std::int64_t end = t + 1'000 + kLead + kSecond;  // run by a one link delay later
    sim.run_until(end - send_ahead);
    auto commands = commands_from(sim, "a");
    REQUIRE(commands.size() == 3);
    CHECK(commands[2] == std::pair<std::int64_t, protocol::Message>{
                             end - send_ahead, protocol::PlayRequest{"a", 1, 3, kTrack2, 0, end}});
  }
}
