#include "chorus/node/service_status.hpp"

#include <fmt/format.h>

namespace chorus::node {

namespace {

/// Long enough for a title or a host name, short enough for one line of `systemctl status`.
constexpr std::size_t kMostNameChars = 48;

/// Cut at a UTF-8 character boundary, with an ellipsis when cut.
std::string shortened(const std::string& text) {
  if (text.size() <= kMostNameChars) return text;
  std::size_t end = kMostNameChars;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) --end;
  return text.substr(0, end) + "…";
}

std::string role_part(const control::ClusterView& view) {
  if (!view.leader) return "electing";
  if (*view.leader == view.self) return "leader";
  return "following " + shortened(*view.leader);
}

std::string peers_part(const control::MetricsView& metrics) {
  if (metrics.peers_known == 0) return "no peers";
  return fmt::format("{} of {} peer{} up", metrics.peers_up, metrics.peers_known,
                     metrics.peers_known == 1 ? "" : "s");
}

std::string track_name(const protocol::CatalogEntry& track) {
  if (!track.title.empty()) {
    return track.artist.empty() ? track.title : track.artist + " - " + track.title;
  }
  return track.name;
}

std::string playing_part(const control::ClusterView& view) {
  const auto& now = view.now;
  if (now.status == protocol::PlaybackStatus::stopped) return "stopped";
  auto text = fmt::format("{} \"{}\"", now.status == protocol::PlaybackStatus::playing ? "playing" : "paused",
                          shortened(track_name(now.track)));
  if (now.position && view.queue) text += fmt::format(" ({}/{})", *now.position + 1, view.queue->items.size());
  return text;
}

}  // namespace

std::string service_status_line(const control::ClusterView& view) {
  return role_part(view) + ", " + peers_part(view.metrics) + ", " + playing_part(view);
}

}  // namespace chorus::node
