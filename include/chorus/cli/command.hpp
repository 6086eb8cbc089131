#pragma once
// The REPL command language: one table of commands and a pure parser from a line to a Command.
//
// Contract: parse_command() does no I/O, reads no globals that can change, and never throws for
// any input (any bytes, any length). Its result is exactly one of:
//   EmptyLine   the line held only whitespace: do nothing, print nothing
//   Command     a well-formed command with its arguments
//   ParseError  one line of text naming the problem (and, for a known command, its usage)
// help_text() and every "usage:" in an error come from the same table (command_table()).

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

namespace chorus::cli {

/// Which command a line names.
enum class CommandKind {
  peers, list, play, pause, resume, stop, next, prev, seek, status, debug, help, exit
};

/// What a command accepts after its name.
enum class ArgSyntax {
  none,          ///< nothing
  optional_json, ///< an optional `--json`
  track_index,   ///< exactly one non-negative integer that fits in int
  seek_position, ///< exactly one position: [+|-] then SECONDS[.f], M:SS[.f] or H:MM:SS[.f]
  list_query,    ///< options `--json` and `--page N` (N >= 1), each at most once, then any words
                 ///< (the query); a lone `--` ends the options
};

/// One row of the command table.
struct CommandSpec {
  CommandKind kind;
  std::string_view name;         ///< what the user types (case-sensitive)
  std::string_view alias;        ///< a second accepted name, or empty
  ArgSyntax args;                ///< what may follow the name
  std::string_view arg_names;    ///< the argument part of the usage line, e.g. "N", "[--json]"
  std::string_view description;  ///< one line for help
};

/// Where `seek` goes: `position_us` into the track (absolute), or by `position_us` from where
/// playback is (relative: `+S` forwards, `-S` backwards, so position_us < 0 is back).
struct SeekTarget {
  std::int64_t position_us = 0;
  bool relative = false;
  friend bool operator==(const SeekTarget&, const SeekTarget&) = default;
};

/// The largest position `seek` accepts, in seconds (about 31.7 years: the position is sent as
/// microseconds in 64 bits, and any track ends long before it).
inline constexpr std::int64_t kMaxSeekSeconds = 1'000'000'000;

/// A parsed, well-formed command.
struct Command {
  CommandKind kind = CommandKind::help;
  bool json = false;  ///< `--json` was given (only for commands whose syntax allows it)
  int track = 0;      ///< the track index, for CommandKind::play
  std::optional<SeekTarget> seek;  ///< present exactly for CommandKind::seek
  std::string query;  ///< list: the words after the options, joined by single spaces; may be empty
  int page = 1;       ///< list: the page asked for, >= 1
  friend bool operator==(const Command&, const Command&) = default;
};

/// A line that held nothing but whitespace.
struct EmptyLine {
  friend bool operator==(const EmptyLine&, const EmptyLine&) = default;
};

/// Why a line was rejected.
enum class ParseErrorKind {
  unknown_command,   ///< the first word names no command
  missing_argument,  ///< a required argument is absent
  bad_argument,      ///< an argument is malformed (not a number, negative, too large, bad option)
  extra_argument,    ///< more arguments than the command takes
  line_too_long,     ///< the line exceeds kMaxLineBytes
};

/// A rejected line. message() is one line of text, safe to print (no control bytes).
struct ParseError {
  ParseErrorKind kind = ParseErrorKind::unknown_command;
  std::string problem;  ///< e.g. "unknown command 'xyz'", "play: missing track index"
  std::string usage;    ///< e.g. "play N"; empty when no single command is concerned

  /// problem plus "; usage: <usage>" or a hint to type help.
  std::string message() const;
};

/// The result of parsing one line.
using ParseResult = std::variant<EmptyLine, Command, ParseError>;

/// Longest line the parser examines; longer lines are rejected as line_too_long.
inline constexpr std::size_t kMaxLineBytes = 4096;

/// Parses one REPL line (without or with its trailing newline). Pure and total.
ParseResult parse_command(std::string_view line);

/// Parses a seek position as typed after `seek` (e.g. "75", "75.5", "1:15", "1:02:03", "+10",
/// "-0:30"); nullopt for anything else. At most 6 decimals; minutes and seconds after a colon are
/// two digits below 60; the whole at most kMaxSeekSeconds. Pure and total.
std::optional<SeekTarget> parse_seek_target(std::string_view word);

/// Every command, in the order help lists them.
std::span<const CommandSpec> command_table();

/// The table row of a command.
const CommandSpec& spec(CommandKind kind);

/// The row whose name or alias is exactly `name`, if any.
const CommandSpec* find_command(std::string_view name);

/// The usage line of a command, e.g. "play N", "peers [--json]", "exit".
std::string usage(CommandKind kind);

/// The usage line of the command named `name` (or its alias), if there is one.
std::optional<std::string> usage(std::string_view name);

/// Multi-line help: every command with its usage line and description.
std::string help_text();

}  // namespace chorus::cli
