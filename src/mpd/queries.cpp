// status, currentsong, stats, outputs and the other answers read from the snapshot alone.
#include <algorithm>
#include <cmath>
#include <set>

#include <fmt/format.h>

#include "chorus/mpd/filter.hpp"
#include "chorus/playback/library.hpp"
#include "commands.hpp"

namespace chorus::mpd::detail {
namespace {

std::string_view switch_text(cli::Switch mode) {
  switch (mode) {
    case cli::Switch::on: return "1";
    case cli::Switch::oneshot: return "oneshot";
    case cli::Switch::off: break;
  }
  return "0";
}

std::string_view state_text(protocol::PlaybackStatus status) {
  switch (status) {
    case protocol::PlaybackStatus::playing: return "play";
    case protocol::PlaybackStatus::paused: return "pause";
    case protocol::PlaybackStatus::stopped: break;
  }
  return "stop";
}

const control::RoomView* own_room(const control::ClusterView& view) {
  auto it = std::find_if(view.rooms.begin(), view.rooms.end(),
                         [](const control::RoomView& room) { return room.self; });
  return it == view.rooms.end() ? nullptr : &*it;
}

/// The position that plays after `current`, as MPD's nextsong; none when it cannot be told.
std::optional<std::size_t> next_position(const control::QueueView& queue, std::size_t current) {
  if (queue.modes.random || queue.items.empty()) return std::nullopt;
  if (queue.modes.single != cli::Switch::off) {
    if (queue.modes.repeat) return current;
    return std::nullopt;
  }
  if (current + 1 < queue.items.size()) return current + 1;
  if (queue.modes.repeat) return 0;
  return std::nullopt;
}

/// Rooms as outputs: sorted by id, so an output's number stays while rooms come and go after it.
std::vector<const control::RoomView*> rooms_by_id(const control::ClusterView& view) {
  std::vector<const control::RoomView*> rooms;
  for (const auto& room : view.rooms) rooms.push_back(&room);
  std::sort(rooms.begin(), rooms.end(), [](auto* a, auto* b) { return a->id < b->id; });
  return rooms;
}

}  // namespace

Reply status(const Words&, Context& context) {
  const control::ClusterView& view = context.view;
  const control::QueueView& queue = *view.queue;
  Reply reply;
  ResponseWriter& out = reply.body;
  const control::RoomView* room = own_room(view);
  out.field("volume", room ? room->volume : -1);
  out.field("repeat", queue.modes.repeat ? "1" : "0");
  out.field("random", queue.modes.random ? "1" : "0");
  out.field("single", switch_text(queue.modes.single));
  out.field("consume", switch_text(queue.modes.consume));
  out.field("playlist", queue.version);
  out.field("playlistlength", static_cast<std::uint64_t>(queue.items.size()));
  out.field("state", state_text(view.now.status));
  if (view.updating_db != 0) out.field("updating_db", view.updating_db);
  const bool active = view.now.status != protocol::PlaybackStatus::stopped;
  if (active && view.now.position) {
    out.field("song", static_cast<std::uint64_t>(*view.now.position));
  }
  if (active && view.now.item_id) out.field("songid", *view.now.item_id);
  if (active && view.now.position) {
    if (auto next = next_position(queue, *view.now.position)) {
      out.field("nextsong", static_cast<std::uint64_t>(*next));
      out.field("nextsongid", queue.items[*next].id);
    }
  }
  if (active) {
    const double elapsed = elapsed_seconds(view.now, context.now.steady_us);
    const double total = track_seconds(view.now.track);
    out.field("time", fmt::format("{}:{}", std::llround(elapsed), std::llround(total)));  // both rounded, as MPD
    out.seconds("elapsed", elapsed);
    out.field("bitrate", "0");
    out.seconds("duration", total);
    out.field("audio", "48000:16:2");
  }
  return reply;
}

Reply currentsong(const Words&, Context& context) {
  Reply reply;
  const control::NowPlaying& now = context.view.now;
  if (now.status != protocol::PlaybackStatus::stopped && !now.track.name.empty()) {
    write_song(reply.body, now.track, context.tags, now.position, now.item_id);
  }
  return reply;
}

Reply stats(const Words&, Context& context) {
  const auto& entries = context.view.library->entries;
  std::set<std::string_view> artists;
  std::set<std::string_view> albums;
  double seconds = 0;
  for (const auto& entry : entries) {
    if (!entry.artist.empty()) artists.insert(entry.artist);
    if (!entry.album.empty()) albums.insert(entry.album);
    seconds += track_seconds(entry);
  }
  Reply reply;
  reply.body.field("artists", static_cast<std::uint64_t>(artists.size()));
  reply.body.field("albums", static_cast<std::uint64_t>(albums.size()));
  reply.body.field("songs", static_cast<std::uint64_t>(entries.size()));
  reply.body.field("uptime", context.now.uptime_s);
  reply.body.field("db_playtime", static_cast<std::int64_t>(std::llround(seconds)));
  reply.body.field("db_update", context.now.db_update_unix);
  reply.body.field("playtime", 0);
  return reply;
}

Reply outputs(const Words&, Context& context) {
  Reply reply;
  const auto rooms = rooms_by_id(context.view);
  for (std::size_t i = 0; i < rooms.size(); ++i) {
    reply.body.field("outputid", static_cast<std::uint64_t>(i));
    reply.body.field("outputname", rooms[i]->id);
    reply.body.field("plugin", "chorus");
    reply.body.field("outputenabled", rooms[i]->muted ? "0" : "1");
  }
  return reply;
}

Reply output_switch(const Words& words, Context& context) {
  const auto rooms = rooms_by_id(context.view);
  auto index = parse_unsigned(words[1]);
  if (!index) return failed(Ack::arg, "Integer expected: " + words[1]);
  if (*index >= rooms.size()) return failed(Ack::no_exist, "No such audio output");
  const control::RoomView& room = *rooms[*index];
  bool mute = words[0] == "disableoutput";
  if (words[0] == "toggleoutput") mute = !room.muted;
  cli::Command command;
  command.kind = mute ? cli::CommandKind::mute : cli::CommandKind::unmute;
  command.room = room.id;
  return run(std::move(command));
}

Reply replay_gain_status(const Words&, Context&) {
  Reply reply;
  reply.body.field("replay_gain_mode", "off");
  return reply;
}

Reply getvol(const Words&, Context& context) {
  Reply reply;
  if (const control::RoomView* room = own_room(context.view)) reply.body.field("volume", room->volume);
  return reply;
}

Reply tagtypes(const Words& words, Context& context) {
  Reply reply;
  TagMask& tags = context.tags;
  if (words.size() == 1) {
    if (tags.artist) reply.body.field("tagtype", "Artist");
    if (tags.album) reply.body.field("tagtype", "Album");
    if (tags.title) reply.body.field("tagtype", "Title");
    return reply;
  }
  const std::string& action = words[1];
  if (action == "all" || action == "clear") {
    const bool on = action == "all";
    tags = TagMask{.title = on, .artist = on, .album = on};
    return reply;
  }
  if (action != "enable" && action != "disable") return failed(Ack::arg, "Unknown sub command");
  if (words.size() < 3) return failed(Ack::arg, "Not enough arguments");
  const bool on = action == "enable";
  for (std::size_t i = 2; i < words.size(); ++i) {
    auto field = song_field(words[i]);
    if (!field || *field == SongField::file) return failed(Ack::arg, "Unknown tag type: " + words[i]);
    if (*field == SongField::title) tags.title = on;
    if (*field == SongField::artist) tags.artist = on;
    if (*field == SongField::album) tags.album = on;
  }
  return reply;
}

Reply decoders(const Words&, Context&) {
  Reply reply;
  reply.body.field("plugin", "chorus");
  for (std::string_view suffix : playback::Library::kAudioExtensions) {
    reply.body.field("suffix", suffix);
  }
  return reply;
}

}  // namespace chorus::mpd::detail
