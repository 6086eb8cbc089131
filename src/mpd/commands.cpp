// The command table and the helpers its handlers share.
#include "commands.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>

namespace chorus::mpd::detail {
namespace {

std::vector<CommandDef> make_table() {
  std::vector<CommandDef> table = {
      {"add", 1, 2, add},
      {"addid", 1, 2, addid},
      {"binarylimit", 1, 1, nothing},
      {"clear", 0, 0, clear},
      {"clearerror", 0, 0, nothing},
      {"commands", 0, 0, commands},
      {"consume", 1, 1, play_mode},
      {"count", 0, -1, count},
      {"currentsong", 0, 0, currentsong},
      {"decoders", 0, 0, decoders},
      {"delete", 1, 1, delete_range},
      {"deleteid", 1, 1, deleteid},
      {"disableoutput", 1, 1, output_switch},
      {"enableoutput", 1, 1, output_switch},
      {"find", 1, -1, find},
      {"getvol", 0, 0, getvol},
      {"list", 1, -1, list},
      {"listall", 0, 1, listall},
      {"listallinfo", 0, 1, listallinfo},
      {"listplaylists", 0, 0, nothing},
      {"lsinfo", 0, 1, lsinfo},
      {"move", 2, 2, move},
      {"moveid", 2, 2, moveid},
      {"next", 0, 0, simple_player},
      {"notcommands", 0, 0, notcommands},
      {"outputs", 0, 0, outputs},
      {"pause", 0, 1, pause},
      {"ping", 0, 0, nothing},
      {"play", 0, 1, play},
      {"playid", 0, 1, playid},
      {"playlist", 0, 0, playlist},
      {"playlistid", 0, 1, playlistid},
      {"playlistinfo", 0, 1, playlistinfo},
      {"plchanges", 1, 2, plchanges},
      {"plchangesposid", 1, 2, plchangesposid},
      {"previous", 0, 0, simple_player},
      {"random", 1, 1, play_mode},
      {"repeat", 1, 1, play_mode},
      {"replay_gain_status", 0, 0, replay_gain_status},
      {"rescan", 0, 1, update},
      {"search", 1, -1, search},
      {"seek", 2, 2, seek},
      {"seekcur", 1, 1, seekcur},
      {"seekid", 2, 2, seekid},
      {"setvol", 1, 1, setvol},
      {"single", 1, 1, play_mode},
      {"stats", 0, 0, stats},
      {"status", 0, 0, status},
      {"stop", 0, 0, simple_player},
      {"tagtypes", 0, -1, tagtypes},
      {"toggleoutput", 1, 1, output_switch},
      {"update", 0, 1, update},
      {"urlhandlers", 0, 0, nothing},
      {"volume", 1, 1, volume},
  };
  // The session's own commands: listed by `commands`, never dispatched through the table.
  for (std::string_view name : {"close", "idle", "noidle", "password"}) {
    table.push_back({name, 0, -1, nothing});
  }
  std::sort(table.begin(), table.end(),
            [](const CommandDef& a, const CommandDef& b) { return a.name < b.name; });
  return table;
}

}  // namespace

const std::vector<CommandDef>& command_table() {
  static const std::vector<CommandDef> table = make_table();
  return table;
}

const CommandDef* find_command(std::string_view name) {
  const auto& table = command_table();
  auto it = std::lower_bound(table.begin(), table.end(), name,
                             [](const CommandDef& def, std::string_view n) { return def.name < n; });
  return it != table.end() && it->name == name ? &*it : nullptr;
}

bool unprivileged(std::string_view name) {
  return name == "password" || name == "ping" || name == "close" || name == "commands" ||
         name == "notcommands";
}

Failure failure_of(const control::Outcome& outcome) {
  std::string_view text = outcome.text;
  if (text.starts_with("error: ")) text.remove_prefix(7);
  if (text.empty()) text = "refused";
  switch (outcome.refusal) {
    case control::Refusal::bad_argument: return {Ack::arg, std::string(text)};
    case control::Refusal::no_such: return {Ack::no_exist, std::string(text)};
    case control::Refusal::not_now: return {Ack::player_sync, std::string(text)};
    case control::Refusal::unavailable:
    case control::Refusal::none: break;
  }
  return {Ack::system, std::string(text)};
}

Reply failed(Ack code, std::string message) {
  Reply reply;
  reply.failure = Failure{code, std::move(message)};
  return reply;
}

Reply run(cli::Command command) {
  Reply reply;
  reply.run.push_back(std::move(command));
  return reply;
}

Reply nothing(const Words&, Context&) { return {}; }

Reply commands(const Words&, Context& context) {
  Reply reply;
  for (const CommandDef& def : command_table()) {
    if (context.authorized || unprivileged(def.name)) reply.body.field("command", def.name);
  }
  return reply;
}

Reply notcommands(const Words&, Context& context) {
  Reply reply;
  for (const CommandDef& def : command_table()) {
    if (!context.authorized && !unprivileged(def.name)) reply.body.field("command", def.name);
  }
  return reply;
}

double track_seconds(const protocol::CatalogEntry& track) {
  return static_cast<double>(track.frames) / 48000.0;
}

double elapsed_seconds(const control::NowPlaying& now, std::int64_t steady_us) {
  if (now.status == protocol::PlaybackStatus::stopped) return 0;
  double frame = static_cast<double>(now.anchor_frame);
  if (now.status == protocol::PlaybackStatus::playing) {
    frame += static_cast<double>(steady_us - now.anchor_local_us) * 48000.0 / 1e6;
  }
  frame = std::clamp(frame, 0.0, static_cast<double>(std::max<std::int64_t>(now.track.frames, 0)));
  return frame / 48000.0;
}

void write_song(ResponseWriter& out, const protocol::CatalogEntry& track, const TagMask& tags,
                std::optional<std::size_t> position, std::optional<std::uint64_t> id) {
  out.field("file", track.name);
  if (tags.artist && !track.artist.empty()) out.field("Artist", track.artist);
  if (tags.album && !track.album.empty()) out.field("Album", track.album);
  if (tags.title && !track.title.empty()) out.field("Title", track.title);
  const double seconds = track_seconds(track);
  out.field("Time", static_cast<std::int64_t>(std::llround(seconds)));
  out.seconds("duration", seconds);
  out.field("Format", "48000:16:2");
  if (position) out.field("Pos", static_cast<std::uint64_t>(*position));
  if (id) out.field("Id", *id);
}

std::optional<long long> parse_integer(std::string_view text) {
  long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<unsigned long long> parse_unsigned(std::string_view text) {
  unsigned long long value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end || text.empty()) return std::nullopt;
  return value;
}

std::optional<Range> parse_range(std::string_view text, std::size_t open_end) {
  const auto colon = text.find(':');
  if (colon == std::string_view::npos) {
    auto single = parse_unsigned(text);
    if (!single || *single >= (1ull << 40)) return std::nullopt;
    return Range{static_cast<std::size_t>(*single), static_cast<std::size_t>(*single) + 1};
  }
  auto start = parse_unsigned(text.substr(0, colon));
  const std::string_view rest = text.substr(colon + 1);
  auto end = rest.empty() ? std::optional<unsigned long long>(open_end) : parse_unsigned(rest);
  if (!start || !end || *start > *end || *end >= (1ull << 40)) return std::nullopt;
  return Range{static_cast<std::size_t>(*start), static_cast<std::size_t>(*end)};
}

std::optional<bool> parse_boolean(std::string_view text) {
  if (text == "0") return false;
  if (text == "1") return true;
  return std::nullopt;
}

std::optional<std::int64_t> parse_seconds_us(std::string_view text) {
  if (text.empty() || text.size() > 32) return std::nullopt;
  std::int64_t whole = 0;
  std::int64_t micros = 0;
  const auto dot = text.find('.');
  const std::string_view int_part = text.substr(0, dot);
  if (!int_part.empty()) {
    auto value = parse_unsigned(int_part);
    if (!value || *value > static_cast<unsigned long long>(cli::kMaxSeekSeconds)) return std::nullopt;
    whole = static_cast<std::int64_t>(*value);
  }
  if (dot != std::string_view::npos) {
    const std::string_view fraction = text.substr(dot + 1);
    if (fraction.empty() && int_part.empty()) return std::nullopt;
    std::int64_t scale = 100000;
    for (char c : fraction) {
      if (c < '0' || c > '9') return std::nullopt;
      micros += (c - '0') * scale;
      scale /= 10;
    }
  }
  return whole * 1'000'000 + micros;
}

}  // namespace chorus::mpd::detail
