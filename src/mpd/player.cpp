// play, pause, seek, volume, the play modes: each becomes one or two cli::Commands.
#include <algorithm>

#include "commands.hpp"

namespace chorus::mpd::detail {
namespace {

cli::Command command_of(cli::CommandKind kind) {
  cli::Command command;
  command.kind = kind;
  return command;
}

cli::Command play_position(std::size_t position) {
  cli::Command command = command_of(cli::CommandKind::play);
  command.track = static_cast<int>(position + 1);
  return command;
}

cli::Command play_item(std::uint64_t id) {
  cli::Command command = command_of(cli::CommandKind::play);
  command.item_id = id;
  return command;
}

cli::Command seek_to(std::int64_t position_us, bool relative) {
  cli::Command command = command_of(cli::CommandKind::seek);
  command.seek = cli::SeekTarget{.position_us = position_us, .relative = relative};
  return command;
}

bool active(const control::NowPlaying& now) {
  return now.status != protocol::PlaybackStatus::stopped;
}

constexpr std::size_t kMaxPosition = 1u << 30;  // fits cli::Command's int with room

}  // namespace

Reply play(const Words& words, Context&) {
  if (words.size() == 1) return run(command_of(cli::CommandKind::play));
  auto position = parse_integer(words[1]);
  if (!position) return failed(Ack::arg, "Integer expected: " + words[1]);
  if (*position < 0) return run(command_of(cli::CommandKind::play));  // MPD: -1 is "current"
  if (*position >= static_cast<long long>(kMaxPosition)) return failed(Ack::arg, "Bad song index");
  return run(play_position(static_cast<std::size_t>(*position)));
}

Reply playid(const Words& words, Context&) {
  if (words.size() == 1 || words[1] == "-1") return run(command_of(cli::CommandKind::play));
  auto id = parse_unsigned(words[1]);
  if (!id) return failed(Ack::arg, "Integer expected: " + words[1]);
  return run(play_item(*id));
}

Reply pause(const Words& words, Context& context) {
  const auto status = context.view.now.status;
  bool to_pause = status == protocol::PlaybackStatus::playing;  // no argument: toggle
  if (words.size() == 2) {
    auto flag = parse_boolean(words[1]);
    if (!flag) return failed(Ack::arg, "Boolean (0/1) expected: " + words[1]);
    to_pause = *flag;
  }
  // MPD leaves a stopped player, or one already in the asked state, as it is.
  if (to_pause && status != protocol::PlaybackStatus::playing) return {};
  if (!to_pause && status != protocol::PlaybackStatus::paused) return {};
  return run(command_of(to_pause ? cli::CommandKind::pause : cli::CommandKind::resume));
}

Reply simple_player(const Words& words, Context&) {
  if (words[0] == "stop") return run(command_of(cli::CommandKind::stop));
  if (words[0] == "next") return run(command_of(cli::CommandKind::next));
  return run(command_of(cli::CommandKind::prev));
}

Reply seek(const Words& words, Context& context) {
  auto position = parse_unsigned(words[1]);
  if (!position || *position >= kMaxPosition) return failed(Ack::arg, "Bad song index");
  auto time = parse_seconds_us(words[2]);
  if (!time) return failed(Ack::arg, "Invalid time: " + words[2]);
  const control::NowPlaying& now = context.view.now;
  Reply reply;
  if (!active(now) || now.position != static_cast<std::size_t>(*position)) {
    reply.run.push_back(play_position(static_cast<std::size_t>(*position)));
  }
  reply.run.push_back(seek_to(*time, false));
  return reply;
}

Reply seekid(const Words& words, Context& context) {
  auto id = parse_unsigned(words[1]);
  if (!id) return failed(Ack::arg, "Integer expected: " + words[1]);
  auto time = parse_seconds_us(words[2]);
  if (!time) return failed(Ack::arg, "Invalid time: " + words[2]);
  const control::NowPlaying& now = context.view.now;
  Reply reply;
  if (!active(now) || now.item_id != *id) reply.run.push_back(play_item(*id));
  reply.run.push_back(seek_to(*time, false));
  return reply;
}

Reply seekcur(const Words& words, Context& context) {
  std::string_view text = words[1];
  int sign = 0;
  if (text.starts_with('+') || text.starts_with('-')) {
    sign = text.front() == '+' ? 1 : -1;
    text.remove_prefix(1);
  }
  auto time = parse_seconds_us(text);
  if (!time) return failed(Ack::arg, "Invalid time: " + words[1]);
  if (!active(context.view.now)) return failed(Ack::player_sync, "Not playing");
  return run(seek_to(sign == 0 ? *time : sign * *time, sign != 0));
}

Reply setvol(const Words& words, Context&) {
  auto value = parse_integer(words[1]);
  if (!value || *value < 0 || *value > 100) return failed(Ack::arg, "Invalid volume value");
  cli::Command command = command_of(cli::CommandKind::volume);
  command.volume = static_cast<int>(*value);
  return run(std::move(command));
}

Reply volume(const Words& words, Context&) {
  auto change = parse_integer(words[1]);
  if (!change || *change < -100 || *change > 100) return failed(Ack::arg, "Invalid volume value");
  cli::Command command = command_of(cli::CommandKind::volume);
  command.volume = static_cast<int>(*change);
  command.relative_volume = true;
  return run(std::move(command));
}

Reply play_mode(const Words& words, Context&) {
  const std::string& name = words[0];
  cli::Command command;
  if (name == "random") command.kind = cli::CommandKind::random;
  if (name == "repeat") command.kind = cli::CommandKind::repeat;
  if (name == "single") command.kind = cli::CommandKind::single;
  if (name == "consume") command.kind = cli::CommandKind::consume;
  const bool oneshot_allowed = name == "single" || name == "consume";
  if (oneshot_allowed && words[1] == "oneshot") {
    command.mode = cli::Switch::oneshot;
    return run(std::move(command));
  }
  auto flag = parse_boolean(words[1]);
  if (!flag) {
    return failed(Ack::arg, oneshot_allowed ? "Boolean (0/1) or \"oneshot\" expected: " + words[1]
                                            : "Boolean (0/1) expected: " + words[1]);
  }
  command.mode = *flag ? cli::Switch::on : cli::Switch::off;
  return run(std::move(command));
}

}  // namespace chorus::mpd::detail
