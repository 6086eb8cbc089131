#pragma once
// The snapshot front ends see (control::ClusterView), assembled from what the node's components
// report. Pure: the caller gathers the parts on the io thread and passes them in.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/control/control_port.hpp"
#include "chorus/election/bully_election.hpp"
#include "chorus/net/network_manager.hpp"
#include "chorus/node/playback_controller.hpp"

namespace chorus::node {

/// Everything a snapshot is made of.
struct ClusterViewParts {
  std::string self;
  election::Status leadership;
  std::uint64_t leader_changes = 0;
  std::vector<net::PeerInfo> peers;
  net::TrafficCounters traffic;
  const PlaybackView* playback = nullptr;  ///< required
  control::NowPlaying now;
  std::shared_ptr<const control::QueueView> queue;
  std::shared_ptr<const content::Catalog> library;
  /// The rooms with their volumes and up (RoomControl's table); leader and this room's output
  /// are filled here.
  std::vector<control::RoomView> rooms;
  int control_clients = 0;
};

control::ClusterView make_cluster_view(const ClusterViewParts& parts);

/// The counters and gauges /metrics reports.
control::MetricsView make_metrics(const ClusterViewParts& parts);

}  // namespace chorus::node
