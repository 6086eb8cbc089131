#pragma once
// How Catch prints playback values in failure messages, and the prompt commands the tests type.

#include <catch2/catch.hpp>

#include <string>

#include <fmt/format.h>

#include "chorus/cli/command.hpp"
#include "chorus/node/playback_reports.hpp"
#include "chorus/playback/schedule.hpp"

namespace Catch {

template <>
struct StringMaker<chorus::playback::PlaybackState> {
  static std::string convert(const chorus::playback::PlaybackState& state) {
    return chorus::node::describe_state(state);
  }
};

template <>
struct StringMaker<chorus::playback::Position> {
  static std::string convert(const chorus::playback::Position& position) {
    static constexpr const char* kKinds[] = {"silent", "lead_in", "playing", "paused", "ended"};
    return fmt::format("{} {}", kKinds[static_cast<int>(position.kind)], position.frame);
  }
};

}  // namespace Catch

namespace chorus::node::test {

inline cli::Command typed(cli::CommandKind kind, int track = 0) {
  cli::Command command;
  command.kind = kind;
  command.track = track;
  return command;
}
inline cli::Command play_command(int track) { return typed(cli::CommandKind::play, track); }
inline cli::Command pause_command() { return typed(cli::CommandKind::pause); }
inline cli::Command resume_command() { return typed(cli::CommandKind::resume); }
/// `seek` to `position_us` into the track, or by it when `relative`.
inline cli::Command seek_command(std::int64_t position_us, bool relative = false) {
  auto command = typed(cli::CommandKind::seek);
  command.seek = cli::SeekTarget{position_us, relative};
  return command;
}

inline playback::Position playing_at(std::int64_t frame) {
  return {playback::Position::Kind::playing, frame};
}
inline playback::Position paused_at(std::int64_t frame) {
  return {playback::Position::Kind::paused, frame};
}

}  // namespace chorus::node::test
