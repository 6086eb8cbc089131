// The leader: commands at now + lead, the end-of-track advance at the exact end instant, and
// commands forwarded from a follower's prompt (answered, refused, or failed at the deadline).

#include <catch2/catch.hpp>

#include <vector>

#include "node/playback_sim.hpp"
#include "node/printing.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;
using playback::PlayStatus;

namespace {

constexpr std::int64_t kShortTrack = 48'000;  ///< 1 s

}  // namespace

TEST_CASE("the leader schedules a command at now + lead and applies it as its followers do") {
  PlaybackSim sim;
  a_leads_b(sim);
  const std::int64_t t = sim.now();

  auto token = sim.command("a", play_command(2));

  const playback::PlaybackState expected{1, 1, PlayStatus::playing,
                                         protocol::TrackRef{2, "track-2.wav", "hash-2", kTrackFrames, 0, ""},
                                         t + kLead, 0};
  CHECK(sim.core("a").state() == expected);
  REQUIRE(sim.replies("a").size() == 1);
  CHECK(sim.replies("a")[0].token == token);
  CHECK(sim.replies("a")[0].text == "ok: playing track-2.wav in 25 ms");
  sim.run_for(1'000);
  CHECK(sim.core("b").state() == expected);
  for (auto at : {t + kLead - 1, t + kLead, t + kLead + 500'000}) {
    INFO("at " << at);
    CHECK(sim.audible("b", at) == sim.audible("a", at));
  }
  CHECK(sim.audible("b", t + kLead) == playing_at(0));
  CHECK(sim.audible("b", t + kLead + 500'000) == playing_at(24'000));
}

TEST_CASE("the leader refuses what it cannot run") {
  PlaybackSim sim;
  a_leads_b(sim);

  sim.command("a", pause_command());
  sim.command("a", play_command(9));
  cli::Command by_id = play_command(0);
  by_id.item_id = 99;
  sim.command("a", by_id);

  CHECK(texts(sim.replies("a")) == std::vector<std::string>{"error: nothing is playing",
                                                            "error: no position 9 (the queue has 3)",
                                                            "error: no queue item with id 99"});
  std::vector<control::Refusal> refusals;
  for (const auto& reply : sim.replies("a")) refusals.push_back(reply.outcome.refusal);
  CHECK(refusals == std::vector<control::Refusal>{control::Refusal::not_now, control::Refusal::bad_argument,
                                                  control::Refusal::no_such});
  CHECK(commands_from(sim, "a").empty());
}

TEST_CASE("end of track: the next track starts at the exact end instant, the last one stops") {
  PlaybackSim sim;
  a_leads_b(sim, 3, kShortTrack);
  const std::int64_t t = sim.now();
  sim.command("a", play_command(1));
  const std::int64_t end1 = t + kLead + 1'000'000;  // 48 000 frames at 48 kHz
  const std::int64_t send_ahead = kLead + kEndOfTrackMarginUs;

  sim.run_until(end1 - send_ahead - 1);
  CHECK(commands_from(sim, "a").size() == 1);
  sim.run_until(end1 - send_ahead);
  auto commands = commands_from(sim, "a");
  REQUIRE(commands.size() == 2);
  auto* play2 = std::get_if<protocol::PlayRequest>(&commands[1].second);
  REQUIRE(play2 != nullptr);
  CHECK(*play2 == protocol::PlayRequest{"a", 1, 2, {2, "track-2.wav", "hash-2", kShortTrack, 0, ""}, 0, end1});

  sim.run_until(end1 + 10'000);
  CHECK(sim.core("b").state().track->hash == "hash-2");
  CHECK(sim.audible("b", end1 - 1) == playing_at(kShortTrack - 1));  // track 1's last frame
  CHECK(sim.audible("b", end1) == playing_at(0));                     // track 2's first

  const std::int64_t end3 = end1 + 2'000'000;
  sim.run_until(end3 + 10'000);
  commands = commands_from(sim, "a");
  REQUIRE(commands.size() == 4);
  CHECK(commands[2].second == protocol::Message{protocol::PlayRequest{
                                  "a", 1, 3, {3, "track-3.wav", "hash-3", kShortTrack, 0, ""}, 0, end1 + 1'000'000}});
  CHECK(commands[3] == std::pair<std::int64_t, protocol::Message>{
                           end3 - send_ahead, protocol::StopRequest{"a", 1, 4, end3}});
  CHECK(sim.core("b").state().status == PlayStatus::stopped);
  CHECK(sim.audible("b", end3 - 1) == playing_at(kShortTrack - 1));
  CHECK(sim.audible("b", end3) == playback::Position{});
  CHECK(texts(sim.replies("a")) == std::vector<std::string>{"ok: playing track-1.wav in 25 ms"});
}

TEST_CASE("a paused or replaced track does not advance at its end") {
  PlaybackSim sim;
  a_leads_b(sim, 3, kShortTrack);
  sim.command("a", play_command(1));
  sim.run_for(300'000);
  sim.command("a", pause_command());
  sim.run_for(3'000'000);
  CHECK(commands_from(sim, "a").size() == 2);

  sim.command("a", resume_command());  // 0.3 s played: 0.7 s left
  sim.run_for(200'000);
  sim.command("a", play_command(3));  // replaces track 1 before its end: only track 3's end counts
  sim.run_for(3'000'000);
  auto commands = commands_from(sim, "a");
  REQUIRE(commands.size() == 5);
  CHECK(std::holds_alternative<protocol::StopRequest>(commands[4].second));
}

TEST_CASE("a forwarded command is run by the leader, which answers") {
  PlaybackSim sim;
  a_leads_b(sim);
  sim.command("a", play_command(1));
  sim.run_for(100'000);
  const std::int64_t t = sim.now();

  auto ok = sim.command("b", pause_command());
  auto refused = sim.command("b", play_command(9));
  sim.run_for(10'000);

  REQUIRE(sim.replies("b").size() == 2);
  CHECK(sim.replies("b")[0].token == ok);
  CHECK(sim.replies("b")[0].at == t + 2'000);
  CHECK(sim.replies("b")[0].text == "ok (by the leader a)");
  CHECK(sim.replies("b")[1].token == refused);
  CHECK(sim.replies("b")[1].text == "error: no position 9 (the queue has 3)");
  CHECK(sim.core("b").state().status == PlayStatus::paused);
  CHECK(sim.core("b").state().seq == 2);
}

TEST_CASE("a forwarded command travels typed, with a track only for play") {
  PlaybackSim sim;
  a_leads_b(sim);
  sim.command("b", play_command(2));
  sim.command("b", typed(cli::CommandKind::next));
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
                        {"b", 1, ControlCommand::play, 2, std::nullopt},
                        {"b", 2, ControlCommand::next, std::nullopt, std::nullopt}});
  CHECK(texts(sim.replies("b")) ==
        std::vector<std::string>{"ok (by the leader a)", "ok (by the leader a)"});
}

TEST_CASE("the leader refuses a forwarded play of an unknown item, as it would at its own prompt") {
  PlaybackSim sim;
  a_leads_b(sim);
  sim.inject("b", "a", protocol::ControlRequest{.from = "b", .id = 5, .command = protocol::ControlCommand::play,
                                                .track = 0, .seek = std::nullopt, .item = 99});
  sim.run_for(10'000);

  std::vector<protocol::ControlResponse> responses;
  for (const auto& sent : sim.sent()) {
    if (auto* response = std::get_if<protocol::ControlResponse>(&sent.message)) {
      responses.push_back(*response);
    }
  }
  CHECK(responses == std::vector<protocol::ControlResponse>{
                         {"a", 5, false, "no queue item with id 99", protocol::Refusal::no_such}});
  CHECK(sim.core("a").state().status == PlayStatus::stopped);  // nothing was played
}

TEST_CASE("a forwarded command whose leader dies before answering fails at the deadline, once") {
  PlaybackSim sim;
  a_leads_b(sim);
  const std::int64_t t = sim.now();

  auto token = sim.command("b", play_command(1));
  sim.run_for(500);
  sim.crash("a");  // the request was still on its way
  sim.run_until(t + kControlTimeoutUs - 1);
  CHECK(sim.replies("b").empty());
  sim.run_until(t + kControlTimeoutUs);
  REQUIRE(sim.replies("b").size() == 1);
  CHECK(sim.replies("b")[0].at == t + kControlTimeoutUs);
  CHECK(sim.replies("b")[0].token == token);
  CHECK(sim.replies("b")[0].text == "error: the leader did not answer within 2 s");

  sim.inject("a", "b", protocol::ControlResponse{"a", 1, true, ""});  // far too late
  sim.run_for(5'000'000);
  CHECK(sim.replies("b").size() == 1);
}

TEST_CASE("a command cannot be forwarded without a reachable leader") {
  PlaybackSim sim;
  a_leads_b(sim);

  sim.crash("a");  // b has not heard of it yet
  sim.command("b", pause_command());
  sim.lose_leader();
  sim.command("b", pause_command());
  sim.run_for(3'000'000);

  CHECK(texts(sim.replies("b")) ==
        std::vector<std::string>{"error: the leader a is not reachable",
                                 "error: no leader is known yet; try again in a moment"});
}
