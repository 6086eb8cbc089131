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
  peers, list, play, pause, resume, stop, next, prev, seek, status, debug, help, exit,
  // the play queue (docs/queue.md)
  queue, add, remove, move, clear, random, repeat, single, consume,
  // rooms (every node is a room)
  volume, mute, unmute,
  // how MPD clients and browsers reach this node
  access,
  // this node's own music directory, walked again (docs/library.md "New music")
  update
};

/// What a command accepts after its name.
enum class ArgSyntax {
  none,          ///< nothing
  optional_json, ///< an optional `--json`
  track_index,   ///< exactly one non-negative integer that fits in int
  seek_position, ///< exactly one position: [+|-] then SECONDS[.f], M:SS[.f] or H:MM:SS[.f]
  list_query,    ///< options `--json` and `--page N` (N >= 1), each at most once, then any words
                 ///< (the query); a lone `--` ends the options
  add_source,    ///< a library number N (see list), or QUERY words: every library track matching
  queue_range,   ///< a queue position N or a range N-M (inclusive, N <= M)
  queue_move,    ///< a queue position or range (as queue_range), then the position TO
  on_off,        ///< exactly one of on, off
  on_off_oneshot,///< exactly one of on, off, oneshot
  room_volume,   ///< [ROOM] [V|+V|-V]: V 0..100; one word that is a volume names this node
  room,          ///< [ROOM]: a node id; none: this node
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

/// random/repeat/single/consume: off, on, or (single, consume) on for one track only.
enum class Switch { off, on, oneshot };

/// A parsed, well-formed command.
///
/// Numbers are as a user types them: queue positions and library numbers count from 1. Other
/// front ends (the MPD protocol, the web page) fill the same fields, so every way of controlling
/// the cluster runs through the same rules.
struct Command {
  CommandKind kind = CommandKind::help;
  bool json = false;  ///< `--json` was given (only for commands whose syntax allows it)
  /// play: the queue position (0: MPD's play without a position: resume if paused, else play the
  /// current or first item); add: a library number (0: none, see query/uri); remove/move: the
  /// first queue position of the range.
  int track = 0;
  std::optional<SeekTarget> seek;  ///< present exactly for CommandKind::seek
  std::string query;  ///< list: the words after the options, joined by single spaces; may be empty
  int page = 1;       ///< list: the page asked for, >= 1
  /// play/remove/move by the queue item's id (MPD's playid, deleteid, moveid) instead of by
  /// position; `track` is then unused.
  std::optional<std::uint64_t> item_id;
  int count = 1;      ///< remove/move: how many positions from `track` (a range N-M is M-N+1)
  int to = 0;         ///< move: the position the (first) item ends at, from 1
  /// add: insert so that the first added item is at this position (from 1); absent: at the end.
  std::optional<int> position;
  /// add: a library path, or a directory whose tracks are all added ("" is the whole library);
  /// used instead of track/query when present (MPD's add URI).
  std::optional<std::string> uri;
  Switch mode = Switch::off;  ///< random/repeat/single/consume
  std::string room;           ///< volume/mute/unmute: a node id; empty: this node
  /// volume: the volume to set (0..100), or with relative_volume the change (-100..100);
  /// absent: show the rooms' volumes.
  std::optional<int> volume;
  bool relative_volume = false;
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
