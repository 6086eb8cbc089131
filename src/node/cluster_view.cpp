#include "chorus/node/cluster_view.hpp"

namespace chorus::node {
namespace {

bool is_up(const net::PeerInfo& peer) {
  return peer.state == net::PeerState::up || peer.state == net::PeerState::suspect;
}

/// The rooms with what the room table does not know: which is the leader's, and this one's output.
std::vector<control::RoomView> rooms_now(const ClusterViewParts& parts) {
  auto rooms = parts.rooms;
  for (auto& room : rooms) {
    room.leader = parts.leadership.leader == room.id;
    if (room.self) room.output = parts.playback->output;
  }
  return rooms;
}

}  // namespace

control::MetricsView make_metrics(const ClusterViewParts& parts) {
  const auto& playback = *parts.playback;
  control::MetricsView metrics;
  metrics.node = parts.self;
  metrics.leader = parts.leadership.role == election::Role::leader;
  metrics.epoch = parts.leadership.epoch;
  metrics.leader_changes = parts.leader_changes;
  metrics.peers_known = parts.peers.size();
  for (const auto& peer : parts.peers) {
    if (is_up(peer)) ++metrics.peers_up;
    metrics.send_queue_frames += peer.queue_depth;
  }
  metrics.clock_synced = playback.following_clock ? playback.clock.synced : true;
  metrics.clock_offset_us = playback.following_clock ? playback.clock.offset_us : 0;
  metrics.clock_error_us = playback.following_clock ? playback.clock.error_us : 0;
  metrics.frames_inserted = playback.engine.frames_inserted;
  metrics.frames_dropped = playback.engine.frames_dropped;
  metrics.jumps = playback.engine.jumps;
  metrics.not_decoded_frames = playback.engine.not_decoded_frames;
  metrics.output_underruns = playback.output_stats.xruns;
  metrics.bytes_in = parts.traffic.bytes_in;
  metrics.bytes_out = parts.traffic.bytes_out;
  metrics.content_bytes_in = playback.content.bytes_fetched;
  metrics.content_bytes_out = playback.content.bytes_served;
  for (const auto& fetch : playback.content.fetches) {
    if (fetch.complete) continue;
    ++metrics.fetches;
    metrics.fetch_chunks_held += fetch.held;
    metrics.fetch_chunks_total += fetch.chunks;
  }
  metrics.library_tracks = playback.library_tracks;
  metrics.cluster_tracks = playback.cluster_tracks;
  metrics.control_clients = static_cast<std::size_t>(std::max(parts.control_clients, 0));
  return metrics;
}

control::ClusterView make_cluster_view(const ClusterViewParts& parts) {
  control::ClusterView view;
  view.self = parts.self;
  view.leader = parts.leadership.leader;
  view.epoch = parts.leadership.epoch;
  view.now = parts.now;
  if (parts.queue) view.queue = parts.queue;
  if (parts.library) view.library = parts.library;
  if (parts.playback) view.updating_db = parts.playback->scan.updating_job;
  view.rooms = rooms_now(parts);
  view.metrics = make_metrics(parts);
  return view;
}

}  // namespace chorus::node
