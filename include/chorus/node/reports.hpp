#pragma once
// What `peers`, `status` and `debug` print: plain text for people, one JSON line for programs.

#include <optional>
#include <string>
#include <vector>

#include "chorus/net/network_manager.hpp"

namespace chorus::node {

/// Who leads, as this node sees it.
struct LeadershipView {
  std::string role = "follower";  ///< follower / candidate / leader
  std::optional<std::string> leader;
  std::uint64_t epoch = 0;
};

/// Everything `peers` shows.
struct PeersView {
  std::string self_id;
  std::int64_t self_priority = 0;
  protocol::Endpoint self_address;
  LeadershipView leadership;
  std::vector<net::PeerInfo> peers;
};

std::string peers_text(const PeersView& view);
std::string peers_json(const PeersView& view);

/// Everything `debug` shows about the network side.
struct DebugView {
  net::TrafficCounters traffic;
  net::MembershipCounters membership;
  std::vector<net::PeerInfo> peers;  ///< for queue depths
};

std::string debug_text(const DebugView& view);
std::string debug_json(const DebugView& view);

/// "host:port".
std::string address(const protocol::Endpoint& endpoint);

}  // namespace chorus::node
