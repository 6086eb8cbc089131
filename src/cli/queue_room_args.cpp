// The arguments of the queue's and rooms' prompt commands: add, delete, move, random, repeat,
// single, consume, volume, mute, unmute. Pure and total, like the rest of the parser.

#include <charconv>
#include <limits>
#include <system_error>

#include "parse_helpers.hpp"
#include "chorus/protocol/inert_text.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::cli::detail {
namespace {

constexpr int kMaxVolume = 100;

/// A whole number of at most int's range, digits only.
std::optional<int> whole_number(std::string_view word) {
  if (!all_digits(word)) return std::nullopt;
  int value = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (ec != std::errc{} || end != word.data() + word.size()) return std::nullopt;
  return value;
}

/// A position counted from 1, or why `word` is not one.
std::variant<int, std::string> position(std::string_view word, std::string_view what) {
  auto value = whole_number(word);
  if (!value) return std::string(what) + " must be a whole number from 1, got " + echo(word);
  if (*value < 1) return std::string(what) + " counts from 1, got " + echo(word);
  return *value;
}

ParseResult extra(const CommandSpec& row, std::string_view word) {
  return error_for(row, ParseErrorKind::extra_argument, "unexpected argument " + echo(word));
}

/// Sets command.track and command.count from "N" or "N-M".
std::optional<ParseError> parse_range(const CommandSpec& row, std::string_view word, Command& command) {
  const auto dash = word.find('-');
  const auto first = position(word.substr(0, dash), "a queue position");
  if (auto* why = std::get_if<std::string>(&first)) return error_for(row, ParseErrorKind::bad_argument, *why);
  command.track = std::get<int>(first);
  command.count = 1;
  if (dash == std::string_view::npos) return std::nullopt;
  const auto last = position(word.substr(dash + 1), "a range's end");
  if (auto* why = std::get_if<std::string>(&last)) return error_for(row, ParseErrorKind::bad_argument, *why);
  if (std::get<int>(last) < command.track) {
    return error_for(row, ParseErrorKind::bad_argument, "a range N-M needs N <= M, got " + echo(word));
  }
  command.count = std::get<int>(last) - command.track + 1;
  return std::nullopt;
}

/// A volume as typed: V (0..100), or +V / -V (a change).
std::optional<std::pair<int, bool>> volume_word(std::string_view word) {
  bool relative = false;
  int sign = 1;
  if (!word.empty() && (word.front() == '+' || word.front() == '-')) {
    relative = true;
    sign = word.front() == '-' ? -1 : 1;
    word.remove_prefix(1);
  }
  auto value = whole_number(word);
  if (!value || *value > kMaxVolume) return std::nullopt;
  return std::pair{sign * *value, relative};
}

/// A room's name (a node id) as typed, or why it cannot be one.
std::optional<ParseError> room_word(const CommandSpec& row, std::string_view word, Command& command) {
  if (word.size() > protocol::kMaxIdBytes || has_control_byte(word) || !protocol::is_inert(word)) {
    return error_for(row, ParseErrorKind::bad_argument, "no room can be named " + echo(word));
  }
  command.room = std::string(word);
  return std::nullopt;
}

}  // namespace

ParseResult parse_add_source(const CommandSpec& row, std::span<const std::string_view> args, Command command) {
  if (args.empty()) {
    return error_for(row, ParseErrorKind::missing_argument, "missing a library number or a query");
  }
  if (args.size() == 1 && all_digits(args.front())) {
    const auto number = position(args.front(), "a library number");
    if (auto* why = std::get_if<std::string>(&number)) return error_for(row, ParseErrorKind::bad_argument, *why);
    command.track = std::get<int>(number);
    return command;
  }
  for (const auto word : args) {
    if (has_control_byte(word)) {
      return error_for(row, ParseErrorKind::bad_argument,
                       "the query must be printable text, got " + echo(word));
    }
    if (!command.query.empty()) command.query += ' ';
    command.query += word;
  }
  return command;
}

ParseResult parse_queue_range(const CommandSpec& row, std::span<const std::string_view> args, Command command) {
  if (args.empty()) return error_for(row, ParseErrorKind::missing_argument, "missing a queue position");
  if (args.size() > 1) return extra(row, args[1]);
  if (auto error = parse_range(row, args.front(), command)) return *error;
  return command;
}

ParseResult parse_queue_move(const CommandSpec& row, std::span<const std::string_view> args, Command command) {
  if (args.size() < 2) {
    return error_for(row, ParseErrorKind::missing_argument,
                     args.empty() ? "missing the position(s) to move" : "missing the position TO");
  }
  if (args.size() > 2) return extra(row, args[2]);
  if (auto error = parse_range(row, args[0], command)) return *error;
  const auto to = position(args[1], "TO");
  if (auto* why = std::get_if<std::string>(&to)) return error_for(row, ParseErrorKind::bad_argument, *why);
  command.to = std::get<int>(to);
  return command;
}

ParseResult parse_switch(const CommandSpec& row, std::span<const std::string_view> args, Command command) {
  const bool oneshot_allowed = row.args == ArgSyntax::on_off_oneshot;
  if (args.empty()) return error_for(row, ParseErrorKind::missing_argument, "missing " + std::string(row.arg_names));
  if (args.size() > 1) return extra(row, args[1]);
  const auto word = args.front();
  if (word == "on") {
    command.mode = Switch::on;
  } else if (word == "off") {
    command.mode = Switch::off;
  } else if (word == "oneshot" && oneshot_allowed) {
    command.mode = Switch::oneshot;
  } else {
    return error_for(row, ParseErrorKind::bad_argument,
                     "expected " + std::string(row.arg_names) + ", got " + echo(word));
  }
  return command;
}

ParseResult parse_room_volume(const CommandSpec& row, std::span<const std::string_view> args, Command command) {
  if (args.size() > 2) return extra(row, args[2]);
  if (args.empty()) return command;
  // One word: a volume for this node's room if it reads as one, else a room to show.
  const auto last = args.back();
  const bool last_is_volume = volume_word(last).has_value() || all_digits(last) ||
                              (last.size() > 1 && (last.front() == '+' || last.front() == '-') &&
                               all_digits(last.substr(1)));
  if (args.size() == 2 || !last_is_volume) {
    if (auto error = room_word(row, args.front(), command)) return *error;
    if (args.size() == 1) return command;
  }
  const auto volume = volume_word(last);
  if (!volume) {
    return error_for(row, ParseErrorKind::bad_argument,
                     "the volume must be 0-100, or +N / -N to change it by N, got " + echo(last));
  }
  command.volume = volume->first;
  command.relative_volume = volume->second;
  return command;
}

ParseResult parse_room(const CommandSpec& row, std::span<const std::string_view> args, Command command) {
  if (args.size() > 1) return extra(row, args[1]);
  if (args.empty()) return command;
  if (auto error = room_word(row, args.front(), command)) return *error;
  return command;
}

}  // namespace chorus::cli::detail
