// The REPL command table and its pure parser.

#include "chorus/cli/command.hpp"

#include <algorithm>
#include <array>
#include <charconv>
#include <limits>
#include <system_error>
#include <vector>

namespace chorus::cli {
namespace {

constexpr std::array<CommandSpec, 12> kTable{{
    {CommandKind::peers, "peers", "", ArgSyntax::optional_json, "[--json]",
     "list the cluster's nodes with state, rank, rtt and last heard"},
    {CommandKind::list, "list", "", ArgSyntax::optional_json, "[--json]",
     "list the tracks in the library with their index"},
    {CommandKind::play, "play", "", ArgSyntax::track_index, "N",
     "play track number N (see list) on every node"},
    {CommandKind::pause, "pause", "", ArgSyntax::none, "", "pause playback everywhere"},
    {CommandKind::resume, "resume", "", ArgSyntax::none, "", "resume paused playback everywhere"},
    {CommandKind::stop, "stop", "", ArgSyntax::none, "", "stop playback everywhere"},
    {CommandKind::next, "next", "", ArgSyntax::none, "", "play the next track"},
    {CommandKind::prev, "prev", "", ArgSyntax::none, "", "play the previous track"},
    {CommandKind::status, "status", "", ArgSyntax::optional_json, "[--json]",
     "show this node's role, leader, epoch and playback state"},
    {CommandKind::debug, "debug", "", ArgSyntax::optional_json, "[--json]",
     "show network counters and queue depths"},
    {CommandKind::help, "help", "", ArgSyntax::none, "", "show this list"},
    {CommandKind::exit, "exit", "quit", ArgSyntax::none, "",
     "leave the cluster gracefully and quit"},
}};

constexpr std::string_view kJsonFlag = "--json";
constexpr std::size_t kMaxEcho = 32;

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

/// Quotes user text for an error message: printable ASCII kept, other bytes as \xNN, long text cut.
std::string echo(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const std::size_t shown = std::min(text.size(), kMaxEcho);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  if (shown < text.size()) out += "...";
  out += '\'';
  return out;
}

std::string usage_of(const CommandSpec& row) {
  std::string text(row.name);
  if (!row.arg_names.empty()) {
    text += ' ';
    text += row.arg_names;
  }
  return text;
}

ParseError error_for(const CommandSpec& row, ParseErrorKind kind, std::string detail) {
  return ParseError{kind, std::string(row.name) + ": " + detail, usage_of(row)};
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
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

}  // namespace

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

  Command command{row->kind, false, 0};
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
  }
  return command;
}

}  // namespace chorus::cli
