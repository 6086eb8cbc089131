#pragma once
// NetworkManager: the listener, the dialer, the HELLO handshake, the peer table, DISCOVERY
// gossip, heartbeats, failure detection, reconnects and broadcast fan-out.
//
// Timer actors (all on the io thread):
//
//   maintenance timer, at the points of a grid of interval/4 where something is due
//   (maintenance_schedule.hpp; rescheduled by every change that brings a deadline forward):
//     for each connected peer:  silence > down_after     -> close link, state down, redial later
//                               silence > 2 intervals    -> state suspect
//                               nothing sent for interval and queue empty -> HEARTBEAT (with
//                               those of other idle links carrying only heartbeats: one wake-up)
//                               no heartbeat for 5 intervals, busy or not -> HEARTBEAT (the RTT)
//     for each down peer:       redial when its backoff delay has passed
//     for each unidentified connection: no HELLO within the handshake timeout -> close
//
//   per-connection read loop moves the peer's last-heard time forward on every frame (and a
//   suspect peer back to up); a HEARTBEAT read is answered at once on a link carrying only
//   heartbeats.
//
// Exactly one connection per pair of nodes is used: when both ends dial each other at once, the
// connection dialled by the smaller id is kept; the larger id's dialled one is closed by its dialer.
// A HELLO with a new incarnation under a known id is a restarted process, and replaces the entry,
// only once the old link is dead (closed, or silent past the liveness limit); while it lives, the
// id is in use and the HELLO is refused.
//
// All member functions must be called on the io thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/net/connection.hpp"
#include "chorus/net/liveness.hpp"
#include "chorus/net/traffic_counters.hpp"
#include "chorus/net/transport.hpp"
#include "chorus/protocol/messages.hpp"

namespace boost::asio {
class io_context;
}

namespace chorus::net {

struct NetworkConfig {
  std::string id;
  std::int64_t priority = 0;
  std::string cluster = "chorus";
  protocol::Endpoint listen{"0.0.0.0", 7600};
  /// Host peers should dial; empty = the address they see this node connect from.
  std::string advertised_host;
  /// Port peers should dial (e.g. a proxy's); 0 = the listen port.
  std::uint16_t advertised_port = 0;
  /// Port of this node's content link, told to peers in the handshake; 0: none.
  std::uint16_t content_port = 0;
  std::optional<protocol::Endpoint> bootstrap;
  /// Announce this node and find its cluster on the LAN by mDNS/DNS-SD (docs/discovery.md).
  bool mdns = true;
  LivenessPolicy liveness;
  std::chrono::milliseconds reconnect_first{500};
  std::chrono::milliseconds reconnect_max{5000};
  /// A connection that has not completed its handshake (keyed proof and HELLO) by then is closed.
  std::chrono::milliseconds handshake_timeout{2000};
  /// Queue and rate limits of every connection, and the cluster keys (none: an open cluster).
  ConnectionPolicy connection;
  /// Accepted connections still in their handshake, at most: past either bound the oldest is
  /// closed, so a stranger opening connections cannot hold more than a few kilobytes each of
  /// this many, and a member's own handshake (milliseconds) still gets through.
  std::size_t max_unidentified = 64;
  std::size_t max_unidentified_per_address = 16;
  /// Bound on the peer table: gossip past it is ignored, a HELLO past it refused.
  std::size_t max_members = 256;
  /// Dials in flight at once; other due dials wait until one ends.
  std::size_t max_dials_in_flight = 8;
  /// A member learned by gossip and never reached is forgotten after this many failed dials,
  int forget_unreached_after_dials = 3;
  /// or once it has been known this long without a handshake.
  std::chrono::milliseconds forget_unreached_after{30'000};
  /// A peer that was up and has been down (or left) this long is forgotten.
  std::chrono::milliseconds forget_down_after{600'000};
  /// A failing accept (e.g. no file descriptors left) is retried after this, doubling to max.
  std::chrono::milliseconds accept_retry_first{10};
  std::chrono::milliseconds accept_retry_max{1000};
};

/// One row of the peer table, as shown by `peers`.
struct PeerInfo {
  std::string id;
  std::int64_t priority = 0;
  protocol::Endpoint endpoint;
  std::uint16_t content_port = 0;  ///< where its content link listens (0: none)
  PeerState state = PeerState::down;
  std::optional<std::chrono::microseconds> rtt;          ///< smoothed round-trip time
  std::optional<std::chrono::microseconds> since_heard;  ///< silence so far
  std::size_t queue_depth = 0;
  std::uint64_t incarnation = 0;
};

/// Membership totals for `debug`.
struct MembershipCounters {
  std::uint64_t reconnects = 0;            ///< handshakes with a peer that had been up before
  std::uint64_t rejected_connections = 0;  ///< refused handshakes (key, version, cluster, id, full)
  std::uint64_t unidentified_evicted = 0;  ///< handshakes cut short by the bounds on unidentified connections
  std::uint64_t heartbeat_timeouts = 0;    ///< peers declared down by silence
  std::uint64_t restarts_seen = 0;         ///< peers that came back with a new incarnation
};

/// What the node layer hears from the network. Called on the io thread, never re-entrantly.
class NetworkObserver {
 public:
  virtual void on_peer_up(const PeerInfo& peer) = 0;
  /// The peer is down or left; its link is closed.
  virtual void on_peer_down(const std::string& id) = 0;
  /// Any message other than membership (HELLO, DISCOVERY, HEARTBEAT, LEAVE...).
  virtual void on_message(const std::string& from, const protocol::Message& message,
                          Clock::time_point received) = 0;

 protected:
  ~NetworkObserver() = default;
};

class NetworkManager final : public Transport {
 public:
  NetworkManager(boost::asio::io_context& io, NetworkConfig config, NetworkObserver& observer);
  ~NetworkManager();
  NetworkManager(const NetworkManager&) = delete;
  NetworkManager& operator=(const NetworkManager&) = delete;

  /// Binds the listener (throws on failure: the node cannot run without it), starts the timers
  /// and dials the bootstrap peer.
  void start();
  /// The port of this node's content link, told to peers in every handshake from now on. Set it
  /// right after start(), before the io thread runs: the first handshakes then carry it.
  void set_content_port(std::uint16_t port);

  /// A member that announced itself on the LAN (LanDiscovery): dialled at once unless connected,
  /// its reconnect back-off reset, like a member learned by gossip that is known to be reachable.
  void learn_announced(const protocol::Member& member);

  bool send(const std::string& peer_id, const protocol::Message& message) override;
  /// The message is made when its write starts (see Connection::send_stamped).
  bool send_stamped(const std::string& peer_id, StampedMessage make_message) override;
  /// Encodes once, never waits for a slow peer.
  void broadcast(const protocol::Message& message) override;

  /// Tells every peer we leave, closes links once flushed, stops timers and the listener,
  /// then calls `done` (after at most `grace`).
  void leave(std::chrono::milliseconds grace, std::function<void()> done);

  const std::string& id() const override;
  /// The bound listen endpoint (the real port when 0 was asked for).
  protocol::Endpoint local_endpoint() const;
  /// The endpoint advertised to peers ("host:port" shown in `peers`).
  protocol::Endpoint advertised_endpoint() const;
  std::vector<PeerInfo> peers() const;
  std::chrono::microseconds max_rtt() const override;
  /// When maintenance next runs (see maintenance_schedule.hpp).
  std::optional<Clock::time_point> next_wakeup() const override;
  const TrafficCounters& traffic() const;
  /// The id of the key this node proves; none when the cluster is open.
  std::optional<security::KeyId> cluster_key_id() const;
  const MembershipCounters& membership() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::net
