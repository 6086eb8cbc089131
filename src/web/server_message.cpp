// The server's WebSocket messages, built with Boost.JSON (docs/web.md has examples of each).

#include "chorus/web/server_message.hpp"

#include <algorithm>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "chorus/playback/format.hpp"

namespace chorus::web {
namespace {

namespace json = boost::json;
using control::Refusal;

double seconds_of(std::int64_t frames) {
  return static_cast<double>(frames) / static_cast<double>(playback::kOutputRate);
}

std::string_view status_name(protocol::PlaybackStatus status) {
  switch (status) {
    case protocol::PlaybackStatus::playing: return "playing";
    case protocol::PlaybackStatus::paused: return "paused";
    case protocol::PlaybackStatus::stopped: break;
  }
  return "stopped";
}

std::string_view switch_name(cli::Switch mode) {
  switch (mode) {
    case cli::Switch::on: return "on";
    case cli::Switch::oneshot: return "oneshot";
    case cli::Switch::off: break;
  }
  return "off";
}

std::string_view refusal_name(Refusal refusal) {
  switch (refusal) {
    case Refusal::bad_argument: return "bad_argument";
    case Refusal::no_such: return "no_such";
    case Refusal::not_now: return "not_now";
    case Refusal::unavailable: return "unavailable";
    case Refusal::none: break;
  }
  return "none";
}

/// A track as the page lists it; `duration` in seconds.
json::object track_json(const protocol::CatalogEntry& track) {
  return json::object{{"path", track.name},     {"title", track.title},
                      {"artist", track.artist}, {"album", track.album},
                      {"frames", track.frames}, {"duration", seconds_of(track.frames)}};
}

json::array rooms_json(const std::vector<control::RoomView>& rooms) {
  json::array out;
  for (const auto& room : rooms) {
    out.push_back(json::object{{"id", room.id},         {"self", room.self},
                               {"up", room.up},         {"leader", room.leader},
                               {"volume", room.volume}, {"muted", room.muted},
                               {"output", room.output}});
  }
  return out;
}

json::object now_json(const control::NowPlaying& now, std::int64_t now_us) {
  json::object out{{"status", status_name(now.status)}};
  out["item_id"] = now.item_id ? json::value(*now.item_id) : json::value(nullptr);
  out["position"] = now.position ? json::value(*now.position + 1) : json::value(nullptr);
  const bool has_track = now.status != protocol::PlaybackStatus::stopped;
  out["track"] = has_track ? json::value(track_json(now.track)) : json::value(nullptr);
  out["elapsed"] = has_track ? seconds_of(frame_at(now, now_us)) : 0.0;
  return out;
}

json::object queue_json(const control::QueueView& queue) {
  json::array items;
  std::size_t position = 0;
  for (const auto& item : queue.items) {
    json::object entry = track_json(item.track);
    entry["id"] = item.id;
    entry["position"] = ++position;
    items.push_back(std::move(entry));
  }
  const auto& modes = queue.modes;
  return json::object{{"version", queue.version},
                      {"items", std::move(items)},
                      {"modes", json::object{{"random", modes.random},
                                             {"repeat", modes.repeat},
                                             {"single", switch_name(modes.single)},
                                             {"consume", switch_name(modes.consume)}}}};
}

}  // namespace

std::int64_t frame_at(const control::NowPlaying& now, std::int64_t now_us) {
  std::int64_t frame = now.anchor_frame;
  if (now.status == protocol::PlaybackStatus::playing) {
    // Whole milliseconds, then the rest: µs · 48 never overflows for any real elapsed time.
    const std::int64_t elapsed_us = now_us - now.anchor_local_us;
    constexpr std::int64_t kFramesPerMs = playback::kOutputRate / 1000;
    frame += elapsed_us / 1000 * kFramesPerMs + elapsed_us % 1000 * kFramesPerMs / 1000;
  }
  const std::int64_t end = now.track.frames > 0 ? now.track.frames : std::max<std::int64_t>(frame, 0);
  return std::clamp<std::int64_t>(frame, 0, end);
}

std::string view_message(const control::ClusterView& view, std::int64_t now_us) {
  json::object out{{"type", "view"},
                   {"self", view.self},
                   {"leader", view.leader ? json::value(*view.leader) : json::value(nullptr)},
                   {"epoch", view.epoch},
                   {"rooms", rooms_json(view.rooms)},
                   {"now", now_json(view.now, now_us)},
                   {"queue", queue_json(*view.queue)},
                   {"library", json::object{{"tracks", view.library->entries.size()},
                                            {"version", view.library->version}}}};
  return json::serialize(out);
}

std::string library_message(const content::Catalog& catalog, const LibraryQuery& query,
                            std::size_t page_size) {
  const std::size_t first = static_cast<std::size_t>(query.page - 1) * page_size;
  json::array tracks;
  std::size_t matched = 0;
  std::size_t number = 0;
  for (const auto& entry : catalog.entries) {
    ++number;
    if (!content::matches(entry, query.query)) continue;
    if (matched >= first && matched - first < page_size) {
      json::object track = track_json(entry);
      track["number"] = number;  // the library number `add` and the prompt's `list` use
      tracks.push_back(std::move(track));
    }
    ++matched;
  }
  const std::size_t pages = std::max<std::size_t>(1, (matched + page_size - 1) / page_size);
  json::object out{{"type", "library"},  {"id", query.id},      {"query", query.query},
                   {"page", query.page}, {"pages", pages},      {"total", matched},
                   {"page_size", page_size}, {"version", catalog.version}, {"tracks", std::move(tracks)}};
  return json::serialize(out);
}

std::string reply_message(const boost::json::value& id, const control::Outcome& outcome) {
  json::object out{{"type", "reply"},
                   {"id", id},
                   {"ok", outcome.ok},
                   {"refusal", refusal_name(outcome.refusal)},
                   {"text", outcome.text}};
  if (outcome.item_id) out["item_id"] = *outcome.item_id;
  return json::serialize(out);
}

std::string error_message(const boost::json::value& id, std::string_view text) {
  return json::serialize(json::object{{"type", "error"}, {"id", id}, {"text", text}});
}

}  // namespace chorus::web
