// The REPL command table and its pure parser.

#include "chorus/cli/command.hpp"

#include "parse_helpers.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <system_error>
#include <vector>

namespace chorus::cli {
using detail::all_digits;
using detail::echo;
using detail::error_for;
using detail::has_control_byte;
using detail::usage_of;

namespace {

constexpr std::array<CommandSpec, 27> kTable{{
    {CommandKind::peers, "peers", "", ArgSyntax::optional_json, "[--json]",
     "list the cluster's nodes with state, rank, rtt and last heard"},
    {CommandKind::list, "list", "", ArgSyntax::list_query, "[--json] [--page N] [QUERY...]",
     "list the library's tracks with their index, a page at a time; QUERY keeps those whose "
     "path, title, artist or album contains it (any case)"},
    {CommandKind::play, "play", "", ArgSyntax::track_index, "N",
     "play the queue from its item N (see queue) on every node"},
    {CommandKind::pause, "pause", "", ArgSyntax::none, "", "pause playback everywhere"},
    {CommandKind::resume, "resume", "", ArgSyntax::none, "", "resume paused playback everywhere"},
    {CommandKind::stop, "stop", "", ArgSyntax::none, "", "stop playback everywhere"},
    {CommandKind::next, "next", "", ArgSyntax::none, "", "play the next track"},
    {CommandKind::prev, "prev", "", ArgSyntax::none, "", "play the previous track"},
    {CommandKind::seek, "seek", "", ArgSyntax::seek_position, "[+|-]TIME",
     "go to TIME into the track everywhere (75, 75.5, 1:15, 1:02:03), or with + or - by TIME "
     "from where it is"},
    {CommandKind::update, "update", "", ArgSyntax::none, "",
     "look again for new, changed and removed files in this node's music directory (--tracks)"},
    {CommandKind::queue, "queue", "", ArgSyntax::optional_json, "[--json]",
     "show the play queue and the play modes"},
    {CommandKind::add, "add", "", ArgSyntax::add_source, "N | QUERY...",
     "add library track N (see list), or every library track matching QUERY, to the queue's end"},
    {CommandKind::remove, "delete", "", ArgSyntax::queue_range, "N[-M]",
     "remove queue item N (or items N to M) from the queue"},
    {CommandKind::move, "move", "", ArgSyntax::queue_move, "N[-M] TO",
     "move queue item N (or items N to M) so that it starts at position TO"},
    {CommandKind::clear, "clear", "", ArgSyntax::none, "", "empty the queue (playback stops)"},
    {CommandKind::random, "random", "", ArgSyntax::on_off, "on|off",
     "play the queue in random order"},
    {CommandKind::repeat, "repeat", "", ArgSyntax::on_off, "on|off",
     "start the queue again after its last item (with single: repeat the item)"},
    {CommandKind::single, "single", "", ArgSyntax::on_off_oneshot, "on|off|oneshot",
     "stop after the current item (oneshot: once)"},
    {CommandKind::consume, "consume", "", ArgSyntax::on_off_oneshot, "on|off|oneshot",
     "remove each item from the queue once it has played (oneshot: once)"},
    {CommandKind::volume, "volume", "", ArgSyntax::room_volume, "[ROOM] [V|+V|-V]",
     "show the rooms' volumes, or set ROOM's (default: this node's) to V (0-100) or by +V/-V"},
    {CommandKind::mute, "mute", "", ArgSyntax::room, "[ROOM]",
     "silence ROOM's speakers (default: this node's); the position plays on"},
    {CommandKind::unmute, "unmute", "", ArgSyntax::room, "[ROOM]",
     "let ROOM's speakers be heard again (default: this node's)"},
    {CommandKind::access, "access", "", ArgSyntax::none, "",
     "show where MPD clients and the web page reach this node, with the password and token the "
     "cluster key gives them"},
    {CommandKind::status, "status", "", ArgSyntax::optional_json, "[--json]",
     "show this node's role, leader, epoch and playback state"},
    {CommandKind::debug, "debug", "", ArgSyntax::optional_json, "[--json]",
     "show network counters and queue depths"},
    {CommandKind::help, "help", "", ArgSyntax::none, "", "show this list"},
    {CommandKind::exit, "exit", "quit", ArgSyntax::none, "",
     "leave the cluster gracefully and quit"},
}};

constexpr std::string_view kJsonFlag = "--json";
constexpr std::string_view kPageFlag = "--page";
constexpr std::string_view kEndOfOptions = "--";
constexpr int kMaxSeekDecimals = 6;  // microseconds

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/// Splits on runs of whitespace; never yields empty words.
std::vector<std::string_view> split_words(std::string_view line) {
  std::vector<std::string_view> words;
  std::size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && is_space(line[i])) ++i;
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    if (i > start) words.push_back(line.substr(start, i - start));
  }
  return words;
}

ParseResult parse_track(const CommandSpec& row, std::string_view word, Command command) {
  if (word.size() > 1 && word.front() == '-' && all_digits(word.substr(1))) {
    return error_for(row, ParseErrorKind::bad_argument,
                     "track index must not be negative, got " + echo(word));
  }
  if (!all_digits(word)) {
    return error_for(row, ParseErrorKind::bad_argument,
                     "track index must be a non-negative integer, got " + echo(word));
  }
  int value = 0;
  const auto [end, ec] = std::from_chars(word.data(), word.data() + word.size(), value);
  if (ec == std::errc::result_out_of_range) {
    return error_for(row, ParseErrorKind::bad_argument,
                     "track index " + echo(word) + " is too large (max " +
                         std::to_string(std::numeric_limits<int>::max()) + ")");
  }
  if (ec != std::errc{} || end != word.data() + word.size()) {
    return error_for(row, ParseErrorKind::bad_argument,
                     "track index must be a non-negative integer, got " + echo(word));
  }
  command.track = value;
  return command;
}


/// A parsed seek position, or why the word is not one.
struct SeekParse {
  std::optional<SeekTarget> target;
  std::string why;  ///< set when target is empty
};

constexpr std::string_view kSeekForms =
    "TIME must be SECONDS, M:SS or H:MM:SS (optionally with .fraction), after + or - to move by it";

/// "0".."59" as exactly two digits, else nullopt.
std::optional<std::int64_t> sexagesimal(std::string_view part) {
  if (part.size() != 2 || !all_digits(part)) return std::nullopt;
  const std::int64_t value = (part[0] - '0') * 10 + (part[1] - '0');
  if (value >= 60) return std::nullopt;
  return value;
}

SeekParse parse_seek(std::string_view word) {
  const std::string_view typed = word;
  const auto malformed = [&] { return SeekParse{std::nullopt, std::string(kSeekForms) + ", got " + echo(typed)}; };
  SeekTarget target;
  bool negative = false;
  if (!word.empty() && (word.front() == '+' || word.front() == '-')) {
    target.relative = true;
    negative = word.front() == '-';
    word.remove_prefix(1);
  }
  if (word.empty()) return malformed();

  // The fraction, if any, belongs to the last part (the seconds).
  std::int64_t fraction_us = 0;
  if (const auto dot = word.find('.'); dot != std::string_view::npos) {
    const auto decimals = word.substr(dot + 1);
    word = word.substr(0, dot);
    if (!all_digits(decimals)) return malformed();
    if (decimals.size() > static_cast<std::size_t>(kMaxSeekDecimals)) {
      return {std::nullopt, "at most " + std::to_string(kMaxSeekDecimals) +
                                " decimals (microseconds), got " + echo(typed)};
    }
    for (int i = 0; i < kMaxSeekDecimals; ++i) {
      fraction_us = fraction_us * 10 +
                    (static_cast<std::size_t>(i) < decimals.size() ? decimals[static_cast<std::size_t>(i)] - '0' : 0);
    }
  }

  std::vector<std::string_view> parts;
  std::size_t start = 0;
  while (true) {
    const auto colon = word.find(':', start);
    parts.push_back(word.substr(start, colon == std::string_view::npos ? colon : colon - start));
    if (colon == std::string_view::npos) break;
    start = colon + 1;
  }
  if (parts.size() > 3 || !all_digits(parts.front())) return malformed();

  std::int64_t seconds = 0;
  for (std::size_t i = 1; i < parts.size(); ++i) {
    const auto value = sexagesimal(parts[i]);
    if (!value) {
      return {std::nullopt, "minutes and seconds after ':' must be two digits 00-59, got " + echo(typed)};
    }
    seconds = seconds * 60 + *value;
  }
  // The leading part counts hours, minutes or seconds, and only it can be large.
  const std::int64_t unit = parts.size() == 3 ? 3600 : parts.size() == 2 ? 60 : 1;
  std::int64_t leading = 0;
  const auto first = parts.front();
  const auto [end, ec] = std::from_chars(first.data(), first.data() + first.size(), leading);
  const auto too_large = [&] {
    return SeekParse{std::nullopt, "TIME " + echo(typed) + " is too large (max " +
                                       std::to_string(kMaxSeekSeconds) + " s)"};
  };
  if (ec == std::errc::result_out_of_range) return too_large();
  if (ec != std::errc{} || end != first.data() + first.size()) return malformed();
  if (leading > kMaxSeekSeconds / unit) return too_large();
  seconds += leading * unit;
  if (seconds > kMaxSeekSeconds || (seconds == kMaxSeekSeconds && fraction_us > 0)) return too_large();

  target.position_us = seconds * 1'000'000 + fraction_us;
  if (negative) target.position_us = -target.position_us;
  return {target, ""};
}

ParseResult parse_list(const CommandSpec& row, std::span<const std::string_view> args,
                       Command command) {
  bool json = false;
  bool paged = false;
  std::size_t i = 0;
  for (; i < args.size(); ++i) {
    const auto word = args[i];
    if (word == kEndOfOptions) {
      ++i;
      break;
    }
    if (word.size() < 2 || word.substr(0, 2) != "--") break;  // the query starts here
    if (word == kJsonFlag) {
      if (json) return error_for(row, ParseErrorKind::bad_argument, "repeated option " + echo(word));
      json = true;
    } else if (word == kPageFlag) {
      if (paged) return error_for(row, ParseErrorKind::bad_argument, "repeated option " + echo(word));
      paged = true;
      if (i + 1 == args.size()) {
        return error_for(row, ParseErrorKind::missing_argument, "missing page number after --page");
      }
      const auto number = args[++i];
      int page = 0;
      const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), page);
      if (all_digits(number) && ec == std::errc::result_out_of_range) {
        return error_for(row, ParseErrorKind::bad_argument,
                         "page " + echo(number) + " is too large (max " +
                             std::to_string(std::numeric_limits<int>::max()) + ")");
      }
      if (!all_digits(number) || ec != std::errc{} || end != number.data() + number.size() ||
          page < 1) {
        return error_for(row, ParseErrorKind::bad_argument,
                         "page must be a whole number from 1, got " + echo(number));
      }
      command.page = page;
    } else {
      return error_for(row, ParseErrorKind::bad_argument, "unknown option " + echo(word));
    }
  }
  std::string query;
  for (; i < args.size(); ++i) {
    if (has_control_byte(args[i])) {
      return error_for(row, ParseErrorKind::bad_argument,
                       "the query must be printable text, got " + echo(args[i]));
    }
    if (!query.empty()) query += ' ';
    query += args[i];
  }
  command.json = json;
  command.query = std::move(query);
  return command;
}

}  // namespace

std::optional<SeekTarget> parse_seek_target(std::string_view word) {
  return parse_seek(word).target;
}

std::string ParseError::message() const {
  if (usage.empty()) return problem + " (type 'help' for the list of commands)";
  return problem + "; usage: " + usage;
}

std::span<const CommandSpec> command_table() { return kTable; }

const CommandSpec& spec(CommandKind kind) {
  for (const auto& row : kTable) {
    if (row.kind == kind) return row;
  }
  return kTable.front();  // unreachable: every CommandKind has a row (checked by the tests)
}

const CommandSpec* find_command(std::string_view name) {
  for (const auto& row : kTable) {
    if (row.name == name || (!row.alias.empty() && row.alias == name)) return &row;
  }
  return nullptr;
}

std::string usage(CommandKind kind) { return usage_of(spec(kind)); }

std::optional<std::string> usage(std::string_view name) {
  if (const auto* row = find_command(name)) return usage_of(*row);
  return std::nullopt;
}

std::string help_text() {
  std::size_t width = 0;
  for (const auto& row : kTable) width = std::max(width, usage_of(row).size());
  std::string text = "commands:\n";
  for (const auto& row : kTable) {
    std::string line = "  " + usage_of(row);
    line.append(width + 4 - usage_of(row).size(), ' ');
    line += row.description;
    if (!row.alias.empty()) {
      line += " (alias: ";
      line += row.alias;
      line += ')';
    }
    text += line;
    text += '\n';
  }
  return text;
}


ParseResult parse_command(std::string_view line) {
  if (line.size() > kMaxLineBytes) {
    return ParseError{ParseErrorKind::line_too_long,
                      "line too long (" + std::to_string(line.size()) + " bytes, max " +
                          std::to_string(kMaxLineBytes) + ")",
                      ""};
  }
  const auto words = split_words(line);
  if (words.empty()) return EmptyLine{};

  const CommandSpec* row = find_command(words.front());
  if (row == nullptr) {
    return ParseError{ParseErrorKind::unknown_command, "unknown command " + echo(words.front()),
                      ""};
  }

  Command command;
  command.kind = row->kind;
  const auto args = std::span(words).subspan(1);
  switch (row->args) {
    case ArgSyntax::none:
      if (!args.empty()) {
        return error_for(*row, ParseErrorKind::extra_argument,
                         "unexpected argument " + echo(args.front()));
      }
      return command;

    case ArgSyntax::optional_json:
      if (args.empty()) return command;
      if (args.front() != kJsonFlag) {
        const bool option = args.front().size() > 1 && args.front().front() == '-';
        return error_for(*row, option ? ParseErrorKind::bad_argument : ParseErrorKind::extra_argument,
                         (option ? "unknown option " : "unexpected argument ") + echo(args.front()));
      }
      if (args.size() > 1) {
        return error_for(*row, ParseErrorKind::extra_argument,
                         "unexpected argument " + echo(args[1]));
      }
      command.json = true;
      return command;

    case ArgSyntax::track_index:
      if (args.empty()) {
        return error_for(*row, ParseErrorKind::missing_argument, "missing track index");
      }
      if (args.size() > 1) {
        return error_for(*row, ParseErrorKind::extra_argument,
                         "unexpected argument " + echo(args[1]));
      }
      return parse_track(*row, args.front(), command);

    case ArgSyntax::seek_position: {
      if (args.empty()) return error_for(*row, ParseErrorKind::missing_argument, "missing TIME");
      if (args.size() > 1) {
        return error_for(*row, ParseErrorKind::extra_argument,
                         "unexpected argument " + echo(args[1]));
      }
      auto seek = parse_seek(args.front());
      if (!seek.target) return error_for(*row, ParseErrorKind::bad_argument, std::move(seek.why));
      command.seek = seek.target;
      return command;
    }

    case ArgSyntax::list_query:
      return parse_list(*row, args, std::move(command));

    case ArgSyntax::add_source: return detail::parse_add_source(*row, args, std::move(command));
    case ArgSyntax::queue_range: return detail::parse_queue_range(*row, args, std::move(command));
    case ArgSyntax::queue_move: return detail::parse_queue_move(*row, args, std::move(command));
    case ArgSyntax::on_off:
    case ArgSyntax::on_off_oneshot: return detail::parse_switch(*row, args, std::move(command));
    case ArgSyntax::room_volume: return detail::parse_room_volume(*row, args, std::move(command));
    case ArgSyntax::room: return detail::parse_room(*row, args, std::move(command));
  }
  return command;
}

}  // namespace chorus::cli
