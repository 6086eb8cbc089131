#include "chorus/node/reports.hpp"

#include <algorithm>

#include <boost/json.hpp>
#include <fmt/format.h>

namespace chorus::node {

namespace json = boost::json;
using std::chrono::microseconds;

namespace {

json::value millis_or_null(const std::optional<microseconds>& value) {
  if (!value) return nullptr;
  return static_cast<double>(value->count()) / 1000.0;
}

std::string millis_text(const std::optional<microseconds>& value) {
  if (!value) return "-";
  return fmt::format("{:.1f} ms", static_cast<double>(value->count()) / 1000.0);
}

json::object leadership_json(const LeadershipView& leadership) {
  json::object out;
  out["role"] = leadership.role;
  out["leader"] = leadership.leader ? json::value(*leadership.leader) : json::value(nullptr);
  out["epoch"] = leadership.epoch;
  return out;
}

}  // namespace

std::string address(const protocol::Endpoint& endpoint) {
  return fmt::format("{}:{}", endpoint.host, endpoint.port);
}

namespace {

/// The room of node `id` in `rooms`, if it has one.
const control::RoomView* room_of(const std::vector<control::RoomView>& rooms, const std::string& id) {
  auto it = std::find_if(rooms.begin(), rooms.end(), [&](const control::RoomView& room) { return room.id == id; });
  return it == rooms.end() ? nullptr : &*it;
}

/// "volume" and "muted" of a room, null when it has none.
void add_room_fields(json::object& out, const control::RoomView* room) {
  out["volume"] = room ? json::value(room->volume) : json::value(nullptr);
  out["muted"] = room ? json::value(room->muted) : json::value(nullptr);
}

/// A room's volume as `peers` shows it: "40", "40 muted", "-".
std::string room_cell(const control::RoomView* room) {
  if (room == nullptr) return "-";
  return room->muted ? fmt::format("{} muted", room->volume) : std::to_string(room->volume);
}

}  // namespace

std::string peers_json(const PeersView& view) {
  json::object out = leadership_json(view.leadership);
  out["self"] = {{"id", view.self_id},
                 {"address", address(view.self_address)},
                 {"priority", view.self_priority}};
  add_room_fields(out["self"].as_object(), room_of(view.rooms, view.self_id));
  json::array rows;
  for (const auto& peer : view.peers) {
    json::object row{{"id", peer.id},
                     {"address", address(peer.endpoint)},
                     {"priority", peer.priority},
                     {"state", net::to_string(peer.state)},
                     {"rtt_ms", millis_or_null(peer.rtt)},
                     {"last_heard_ms", millis_or_null(peer.since_heard)},
                     {"incarnation", peer.incarnation},
                     {"leader", view.leadership.leader == peer.id}};
    add_room_fields(row, room_of(view.rooms, peer.id));
    rows.push_back(std::move(row));
  }
  out["peers"] = std::move(rows);
  return json::serialize(out);
}

std::string peers_text(const PeersView& view) {
  const auto& lead = view.leadership;
  std::string text = fmt::format("self   {} at {} priority {}: {}, epoch {}, leader {}, volume {}\n",
                                 view.self_id, address(view.self_address), view.self_priority,
                                 lead.role, lead.epoch, lead.leader.value_or("(none)"),
                                 room_cell(room_of(view.rooms, view.self_id)));
  if (view.peers.empty()) return text + "no peers known\n";
  text += fmt::format("{:<28} {:<22} {:>8} {:<8} {:>10} {:>12} {:>10}\n", "ID", "ADDRESS", "PRIORITY",
                      "STATE", "RTT", "LAST HEARD", "VOLUME");
  for (const auto& peer : view.peers) {
    std::string id = peer.id + (lead.leader == peer.id ? " *" : "");
    text += fmt::format("{:<28} {:<22} {:>8} {:<8} {:>10} {:>12} {:>10}\n", id, address(peer.endpoint),
                        peer.priority, net::to_string(peer.state), millis_text(peer.rtt),
                        peer.since_heard ? millis_text(peer.since_heard) + " ago" : "never",
                        room_cell(room_of(view.rooms, peer.id)));
  }
  if (lead.leader && *lead.leader != view.self_id) text += "* leader\n";
  return text;
}

LeadershipView leadership_view(const election::Status& status) {
  return {std::string(election::to_string(status.role)), status.leader, status.epoch};
}

std::string room_status_text(const control::RoomView& room, float applied_gain) {
  return fmt::format("room: volume {}{} (gain {:.3f})\n", room.volume, room.muted ? ", muted" : "",
                     applied_gain);
}

void add_room_status(json::object& out, const control::RoomView& room, float applied_gain) {
  out["room"] = {{"volume", room.volume}, {"muted", room.muted}, {"gain", static_cast<double>(applied_gain)}};
}

json::object status_object(const StatusView& view) {
  json::object out = leadership_json(view.leadership);
  out["id"] = view.id;
  out["address"] = address(view.address);
  out["cluster_key"] = view.cluster_key_id ? json::value(*view.cluster_key_id) : json::value(nullptr);
  out["open_cluster"] = !view.cluster_key_id;
  return out;
}

std::string status_text(const StatusView& view) {
  const auto& lead = view.leadership;
  auto security = view.cluster_key_id
                      ? fmt::format("cluster key {}: members proved it, links encrypted",
                                    *view.cluster_key_id)
                      : std::string("OPEN CLUSTER: anyone on the network can join and command it "
                                    "(no --key-file; see --gen-key)");
  return fmt::format("node {} at {}: {}, leader {}, epoch {}\n{}", view.id, address(view.address),
                     lead.role, lead.leader.value_or("(none)"), lead.epoch, security);
}

namespace {

json::object election_json(const ElectionDebug& e) {
  json::object out = leadership_json(e.leadership);
  out["highest_epoch_seen"] = e.highest_epoch_seen;
  out["last_election_ms"] =
      e.last_election ? json::value(e.last_election->count()) : json::value(nullptr);
  out["elections_started"] = e.stats.elections_started;
  out["elections_won"] = e.stats.elections_won;
  out["step_downs"] = e.stats.step_downs;
  out["leader_changes"] = e.stats.leader_changes;
  out["stale_messages"] = e.stats.stale_coordinators;
  out["ignored_coordinators"] = e.stats.ignored_coordinators;
  out["unexpected_messages"] = e.stats.unexpected_messages;
  return out;
}

std::string election_text(const ElectionDebug& e) {
  return fmt::format(
      "election           {}, leader {}, epoch {} (highest seen {})\n"
      "last election      {}\nelections started  {} (won {})\nstep-downs         {}\n"
      "leader changes     {}\nstale messages     {}\n",
      e.leadership.role, e.leadership.leader.value_or("(none)"), e.leadership.epoch,
      e.highest_epoch_seen,
      e.last_election ? fmt::format("{} ms", e.last_election->count()) : std::string("-"),
      e.stats.elections_started, e.stats.elections_won, e.stats.step_downs,
      e.stats.leader_changes, e.stats.stale_coordinators);
}

}  // namespace

json::object debug_object(const DebugView& view) {
  const auto& t = view.traffic;
  const auto& m = view.membership;
  json::object depths;
  for (const auto& peer : view.peers) depths[peer.id] = peer.queue_depth;
  json::object out{{"frames_in", t.frames_in},
                   {"frames_out", t.frames_out},
                   {"bytes_in", t.bytes_in},
                   {"bytes_out", t.bytes_out},
                   {"decode_errors", t.decode_errors},
                   {"unknown_types", t.unknown_types},
                   {"queue_overflows", t.queue_overflows},
                   {"failed_handshakes", t.failed_handshakes},
                   {"throttled", t.throttled},
                   {"unidentified_evicted", m.unidentified_evicted},
                   {"reconnects", m.reconnects},
                   {"rejected_connections", m.rejected_connections},
                   {"heartbeat_timeouts", m.heartbeat_timeouts},
                   {"restarts_seen", m.restarts_seen},
                   {"queue_depths", std::move(depths)},
                   {"election", election_json(view.election)}};
  return out;
}

std::string debug_text(const DebugView& view) {
  const auto& t = view.traffic;
  const auto& m = view.membership;
  std::string text = fmt::format(
      "frames in/out      {} / {}\nbytes in/out       {} / {}\ndecode errors      {}\n"
      "unknown types      {}\nqueue overflows    {}\nreconnects         {}\n"
      "rejected handshakes {}\nfailed key proofs  {}\nhandshakes evicted {}\n"
      "rate-limited reads {}\nheartbeat timeouts {}\nrestarts seen      {}\n",
      t.frames_in, t.frames_out, t.bytes_in, t.bytes_out, t.decode_errors, t.unknown_types,
      t.queue_overflows, m.reconnects, m.rejected_connections, t.failed_handshakes,
      m.unidentified_evicted, t.throttled, m.heartbeat_timeouts, m.restarts_seen);
  for (const auto& peer : view.peers) {
    if (peer.state != net::PeerState::down && peer.state != net::PeerState::left) {
      text += fmt::format("queue depth {:<20} {}\n", peer.id, peer.queue_depth);
    }
  }
  return text + election_text(view.election);
}

}  // namespace chorus::node
