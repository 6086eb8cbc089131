// The Prometheus text format (https://prometheus.io/docs/instrumenting/exposition_formats/):
//   # HELP name text       (text escapes backslash and newline)
//   # TYPE name counter|gauge
//   name{label="value"} number
// Counters end in _total; times are in seconds, sizes in bytes (Prometheus' base units).

#include "chorus/web/metrics_text.hpp"

#include <cmath>
#include <cstdint>
#include <string_view>

#include <fmt/format.h>

namespace chorus::web {
namespace {

/// One metric family: its header, then its samples.
class Family {
 public:
  Family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
      : out_(out), name_(name) {
    out_ += fmt::format("# HELP chorus_{} {}\n# TYPE chorus_{} {}\n", name, help, name, type);
  }

  void sample(double value, std::string_view labels = {}) {
    out_ += fmt::format("chorus_{}{} {}\n", name_, labels, number(value));
  }

 private:
  /// Integers without a decimal point; the special values spelt as Prometheus reads them.
  static std::string number(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", value);
  }

  std::string& out_;
  std::string_view name_;
};

void single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            double value) {
  Family(out, name, type, help).sample(value);
}

template <typename Number>
double as_double(Number value) {
  return static_cast<double>(value);
}

std::string label(std::string_view name, std::string_view value) {
  return fmt::format("{{{}=\"{}\"}}", name, escape_label_value(value));
}

void node_metrics(std::string& out, const control::ClusterView& view) {
  const auto& m = view.metrics;
  Family(out, "info", "gauge", "This node: always 1, labelled with the node's id.")
      .sample(1, label("node", m.node.empty() ? view.self : m.node));
  single(out, "leader", "gauge", "1 while this node is the cluster's leader, else 0.", m.leader ? 1 : 0);
  single(out, "epoch", "gauge", "The election epoch this node is in.", as_double(m.epoch));
  single(out, "leader_changes_total", "counter", "Leaders this node has seen take over.",
         as_double(m.leader_changes));
  single(out, "peers_up", "gauge", "Peers reachable now.", as_double(m.peers_up));
  single(out, "peers_known", "gauge", "Peers this node knows of.", as_double(m.peers_known));
}

void clock_metrics(std::string& out, const control::MetricsView& m) {
  single(out, "clock_synced", "gauge", "1 when this follower's estimate of the leader's clock is usable.",
         m.clock_synced ? 1 : 0);
  single(out, "clock_offset_seconds", "gauge", "The leader's clock minus this node's (follower).",
         m.clock_offset_us / 1e6);
  single(out, "clock_error_seconds", "gauge", "The uncertainty of the clock offset (follower).",
         m.clock_error_us / 1e6);
}

void playback_metrics(std::string& out, const control::MetricsView& m) {
  single(out, "frames_inserted_total", "counter", "Frames inserted to slow this node's output into sync.",
         as_double(m.frames_inserted));
  single(out, "frames_dropped_total", "counter", "Frames dropped to bring this node's output into sync.",
         as_double(m.frames_dropped));
  single(out, "jumps_total", "counter", "Times the output jumped to the scheduled position.", as_double(m.jumps));
  single(out, "not_decoded_frames_total", "counter", "Frames played as silence because they were not decoded in time.",
         as_double(m.not_decoded_frames));
  single(out, "output_underruns_total", "counter", "Underruns of the audio output.", as_double(m.output_underruns));
}

void traffic_metrics(std::string& out, const control::MetricsView& m) {
  single(out, "send_queue_messages", "gauge", "Messages queued for sending on the cluster links, all peers.",
         as_double(m.send_queue_frames));
  single(out, "received_bytes_total", "counter", "Bytes received on the cluster links.", as_double(m.bytes_in));
  single(out, "sent_bytes_total", "counter", "Bytes sent on the cluster links.", as_double(m.bytes_out));
  single(out, "content_received_bytes_total", "counter", "Track bytes fetched from peers.",
         as_double(m.content_bytes_in));
  single(out, "content_sent_bytes_total", "counter", "Track bytes served to peers.", as_double(m.content_bytes_out));
  single(out, "fetches", "gauge", "Tracks being fetched now.", as_double(m.fetches));
  single(out, "fetch_chunks_held", "gauge", "Chunks held of the tracks being fetched.",
         as_double(m.fetch_chunks_held));
  single(out, "fetch_chunks", "gauge", "Chunks in all of the tracks being fetched.", as_double(m.fetch_chunks_total));
  single(out, "library_tracks", "gauge", "Tracks in this node's own library.", as_double(m.library_tracks));
  single(out, "cluster_tracks", "gauge", "Tracks in the cluster's library.", as_double(m.cluster_tracks));
  single(out, "control_clients", "gauge", "Control connections (MPD clients and web pages).",
         as_double(m.control_clients));
}

void room_metrics(std::string& out, const std::vector<control::RoomView>& rooms) {
  Family volume(out, "room_volume", "gauge", "Each room's volume, 0 to 100.");
  for (const auto& room : rooms) volume.sample(room.volume, label("room", room.id));
  Family muted(out, "room_muted", "gauge", "1 while the room is muted.");
  for (const auto& room : rooms) muted.sample(room.muted ? 1 : 0, label("room", room.id));
  Family up(out, "room_up", "gauge", "1 while the room is reachable.");
  for (const auto& room : rooms) up.sample(room.up ? 1 : 0, label("room", room.id));
}

void queue_metrics(std::string& out, const control::ClusterView& view) {
  Family state(out, "playback_state", "gauge", "1 for the cluster's playback state, 0 for the others.");
  const auto status = view.now.status;
  state.sample(status == protocol::PlaybackStatus::stopped ? 1 : 0, label("state", "stopped"));
  state.sample(status == protocol::PlaybackStatus::playing ? 1 : 0, label("state", "playing"));
  state.sample(status == protocol::PlaybackStatus::paused ? 1 : 0, label("state", "paused"));
  single(out, "queue_length", "gauge", "Items in the play queue.", as_double(view.queue->items.size()));
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (const char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string metrics_text(const control::ClusterView& view) {
  std::string out;
  node_metrics(out, view);
  clock_metrics(out, view.metrics);
  playback_metrics(out, view.metrics);
  traffic_metrics(out, view.metrics);
  room_metrics(out, view.rooms);
  queue_metrics(out, view);
  return out;
}

}  // namespace chorus::web
