#pragma once
// What `peers`, `status` and `debug` print: plain text for people, one JSON line for programs.

#include <optional>

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "chorus/control/control_port.hpp"
#include "chorus/election/bully_election.hpp"
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
  /// Each room's volume and mute (RoomControl::rooms()); a node without a row shows none.
  std::vector<control::RoomView> rooms;
};

std::string peers_text(const PeersView& view);
std::string peers_json(const PeersView& view);

/// What `debug` shows about the election.
struct ElectionDebug {
  LeadershipView leadership;
  std::uint64_t highest_epoch_seen = 0;
  std::optional<std::chrono::milliseconds> last_election;
  election::Stats stats;
};

/// Everything `debug` shows.
struct DebugView {
  net::TrafficCounters traffic;
  net::MembershipCounters membership;
  std::vector<net::PeerInfo> peers;  ///< for queue depths
  ElectionDebug election;
};

/// `status`: who this node is and who leads.
struct StatusView {
  std::string id;
  protocol::Endpoint address;
  LeadershipView leadership;
  /// The id of the cluster key this node proves; none: the cluster is open to anyone.
  std::optional<std::string> cluster_key_id;
};

std::string status_text(const StatusView& view);
/// `status`'s line about this node's room, e.g. "room: volume 40, muted (gain 0.000)".
std::string room_status_text(const control::RoomView& room, float applied_gain);
/// `status --json`'s "room": {"volume", "muted", "gain"} (gain: what the output applies now).
void add_room_status(boost::json::object& out, const control::RoomView& room, float applied_gain);
/// The fields of `status --json` that describe the node and its leadership.
boost::json::object status_object(const StatusView& view);

/// The leadership as the prompt shows it.
LeadershipView leadership_view(const election::Status& status);

std::string debug_text(const DebugView& view);
boost::json::object debug_object(const DebugView& view);

/// "host:port".
std::string address(const protocol::Endpoint& endpoint);

}  // namespace chorus::node
