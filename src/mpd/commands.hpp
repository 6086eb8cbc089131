#pragma once
// The command table behind Session: each MPD command either answers from the snapshot at once or
// asks for cli::Commands to be run (internal to src/mpd).

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/cli/command.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/mpd/response.hpp"
#include "chorus/mpd/session.hpp"
#include "chorus/mpd/tokenizer.hpp"

namespace chorus::mpd::detail {

/// What a command handler has to go on.
struct Context {
  const control::ClusterView& view;
  const Instant& now;
  TagMask& tags;
  bool authorized = true;  ///< false: only kUnprivileged commands are allowed
};

/// A handler's answer: a body, or a failure, or commands to run (then `Id: N` if answer_id).
struct Reply {
  ResponseWriter body;
  std::optional<Failure> failure;
  std::vector<cli::Command> run;
  bool answer_id = false;
};

using Handler = Reply (*)(const Words& words, Context& context);

struct CommandDef {
  std::string_view name;
  int min_args;  ///< after the name
  int max_args;  ///< -1: no limit
  Handler handler;
};

/// The command named `name`, if the table has it.
const CommandDef* find_command(std::string_view name);
/// Every command, by name.
const std::vector<CommandDef>& command_table();
/// Allowed before the password is given.
bool unprivileged(std::string_view name);

/// The failure for a refused cli::Command.
Failure failure_of(const control::Outcome& outcome);

// Handlers by group (queries.cpp, playback.cpp, queue.cpp, database.cpp).
Reply status(const Words&, Context&);
Reply currentsong(const Words&, Context&);
Reply stats(const Words&, Context&);
Reply outputs(const Words&, Context&);
Reply output_switch(const Words&, Context&);
Reply replay_gain_status(const Words&, Context&);
Reply getvol(const Words&, Context&);
Reply tagtypes(const Words&, Context&);
Reply decoders(const Words&, Context&);
Reply nothing(const Words&, Context&);
Reply commands(const Words&, Context&);
Reply notcommands(const Words&, Context&);

Reply play(const Words&, Context&);
Reply playid(const Words&, Context&);
Reply pause(const Words&, Context&);
Reply simple_player(const Words&, Context&);
Reply seek(const Words&, Context&);
Reply seekid(const Words&, Context&);
Reply seekcur(const Words&, Context&);
Reply setvol(const Words&, Context&);
Reply volume(const Words&, Context&);
Reply play_mode(const Words&, Context&);

Reply add(const Words&, Context&);
/// update and rescan [URI]: this node's whole music directory is walked again (a rescan reads
/// only new and changed files anyway, so URI does not narrow it).
Reply update(const Words&, Context&);
Reply addid(const Words&, Context&);
Reply clear(const Words&, Context&);
Reply delete_range(const Words&, Context&);
Reply deleteid(const Words&, Context&);
Reply move(const Words&, Context&);
Reply moveid(const Words&, Context&);
Reply playlistinfo(const Words&, Context&);
Reply playlistid(const Words&, Context&);
Reply plchanges(const Words&, Context&);
Reply plchangesposid(const Words&, Context&);
Reply playlist(const Words&, Context&);

Reply lsinfo(const Words&, Context&);
Reply listall(const Words&, Context&);
Reply listallinfo(const Words&, Context&);
Reply find(const Words&, Context&);
Reply search(const Words&, Context&);
Reply list(const Words&, Context&);
Reply count(const Words&, Context&);

// Shared helpers.
Reply failed(Ack code, std::string message);
Reply run(cli::Command command);
/// A song entry: file, tags, Time, duration, Format; Pos and Id for a queue item.
void write_song(ResponseWriter& out, const protocol::CatalogEntry& track, const TagMask& tags,
                std::optional<std::size_t> position = std::nullopt,
                std::optional<std::uint64_t> id = std::nullopt);
double track_seconds(const protocol::CatalogEntry& track);
/// Where the playing track is, in seconds (0 when stopped).
double elapsed_seconds(const control::NowPlaying& now, std::int64_t steady_us);

// Argument readers: nullopt for anything malformed.
std::optional<long long> parse_integer(std::string_view text);
std::optional<unsigned long long> parse_unsigned(std::string_view text);
/// "N" or "START:END" or "START:" (END: `open_end`); half-open [start, end).
struct Range {
  std::size_t start = 0;
  std::size_t end = 0;
};
std::optional<Range> parse_range(std::string_view text, std::size_t open_end);
std::optional<bool> parse_boolean(std::string_view text);
/// Seconds as MPD writes them ("12", "12.5"), non-negative, within cli::kMaxSeekSeconds.
std::optional<std::int64_t> parse_seconds_us(std::string_view text);

}  // namespace chorus::mpd::detail

namespace chorus::mpd::detail {

/// A library URI as clients send it: no leading or trailing '/'.
std::string normal_uri(std::string_view uri);
/// Whether the library has a track at `uri`, or tracks under the directory `uri` ("" is the root).
bool is_track(const content::Catalog& library, std::string_view uri);
bool is_directory(const content::Catalog& library, std::string_view uri);

}  // namespace chorus::mpd::detail
