#include "chorus/net/network_manager.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <map>
#include <random>
#include <span>
#include <unordered_map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/host_name.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include "chorus/net/maintenance_schedule.hpp"
#include "chorus/net/rate_limited_log.hpp"
#include "chorus/net/rtt_estimator.hpp"
#include "chorus/protocol/frame.hpp"
#include "chorus/protocol/inert_text.hpp"
#include "chorus/time_base.hpp"
#include "dialer.hpp"

namespace chorus::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;
using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

bool is_wildcard(const std::string& host) { return host.empty() || host == "0.0.0.0" || host == "::"; }

std::uint64_t random_incarnation() {
  std::random_device device;
  std::uint64_t value = (std::uint64_t{device()} << 32) | device();
  return value == 0 ? 1 : value;
}

bool out_of_descriptors(const error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

/// A descriptor held in reserve: with the table full, releasing it frees one slot to accept a
/// pending connection and close it at once, rather than leave it pending and the accept failing.
class ReserveDescriptor {
 public:
  ReserveDescriptor() { acquire(); }
  ~ReserveDescriptor() { release(); }
  ReserveDescriptor(const ReserveDescriptor&) = delete;
  ReserveDescriptor& operator=(const ReserveDescriptor&) = delete;

  void acquire() {
    if (fd_ < 0) fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  void release() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
  }

 private:
  int fd_ = -1;
};

}  // namespace

class NetworkManager::Impl final : public ConnectionObserver {
 public:
  Impl(asio::io_context& io, NetworkConfig config, NetworkObserver& observer)
      : config_(std::move(config)),
        io_(io),
        observer_(observer),
        acceptor_(io),
        accept_retry_(io),
        accept_backoff_(config_.accept_retry_first, config_.accept_retry_max),
        maintenance_(io),
        grid_(Clock::now(), std::max<Clock::duration>(config_.liveness.interval / 4, microseconds{1})),
        incarnation_(random_incarnation()),
        bootstrap_backoff_(config_.reconnect_first, config_.reconnect_max) {}

  void start();
  void learn_announced(const protocol::Member& member) {
    learn(member, fmt::format("LAN announcement of {}", member.id), /*announced=*/true);
  }
  bool send(const std::string& peer_id, const protocol::Message& message);
  bool send_stamped(const std::string& peer_id,
                    std::function<protocol::Message(std::int64_t)> make_message);
  void broadcast(const protocol::Message& message);
  void leave(milliseconds grace, std::function<void()> done);
  std::vector<PeerInfo> peers() const;
  microseconds max_rtt() const;
  std::optional<Clock::time_point> next_wakeup() const { return maintenance_at_; }

  void on_message(Connection& connection, protocol::Message message,
                  Clock::time_point received) override;
  void on_closed(Connection& connection, const std::string& reason) override;

  NetworkConfig config_;  // id filled in by start() when none was configured
  TrafficCounters traffic_;
  MembershipCounters membership_;

  protocol::Endpoint advertised() const {
    auto host = config_.advertised_host.empty() ? config_.listen.host : config_.advertised_host;
    return {host, config_.advertised_port != 0 ? config_.advertised_port : local_port_};
  }
  protocol::Endpoint local() const { return {config_.listen.host, local_port_}; }

 private:
  struct Peer {
    Peer(std::string peer_id, const NetworkConfig& config)
        : id(std::move(peer_id)), backoff(config.reconnect_first, config.reconnect_max) {}
    std::string id;
    std::int64_t priority = 0;
    protocol::Endpoint endpoint;
    std::uint16_t content_port = 0;
    std::uint64_t incarnation = 0;
    PeerState state = PeerState::down;
    std::shared_ptr<Connection> link;  ///< the one connection in use, when connected
    /// Other connections to the same process (duplicates being retired, or a fresh one that
    /// lost the tie-break to a link that may be dead): read from, and promoted if link closes.
    std::vector<std::shared_ptr<Connection>> spares;
    bool ever_up = false;
    std::optional<Clock::time_point> last_heard;
    RttEstimator rtt;
    std::int64_t echo_us = 0;  ///< the peer's last heartbeat stamp, echoed back for RTT
    Clock::time_point echo_received;
    /// The last heartbeat: when it was queued, which kind, and when it counts as sent
    /// (heartbeat_counted_from). Until anything else is sent on the link, it is the link's last
    /// frame, and its idleness is measured from when it counts as sent.
    Clock::time_point heartbeat_queued;
    LastFrame heartbeat_kind = LastFrame::run_heartbeat;
    Clock::time_point heartbeat_counted;
    bool dialing = false;
    Backoff backoff;
    Clock::time_point next_dial;
    int failed_dials = 0;  ///< in a row, since the last handshake
    Clock::time_point learned = Clock::now();
    Clock::time_point down_since = learned;
  };
  using PeerTable = std::map<std::string, Peer>;

  void do_accept();
  void retry_accept(const error_code& ec);
  void shed_pending_connection();
  /// Arms maintenance for the earliest grid point where something is due, unless it is already
  /// armed for an earlier one. Called after every change that can bring a deadline forward; a
  /// change that puts one off (a frame sent) leaves the armed run, which then finds less to do.
  void schedule_maintenance();
  Clock::time_point next_maintenance(Clock::time_point now) const;
  void maintain(Clock::time_point run);
  void check_link(Peer& peer, Clock::time_point now);
  /// Logs a change of the peer's state (up, suspect) and records it.
  void set_state(Peer& peer, PeerState state);
  static UnlinkedMember unlinked(const Peer& peer);
  ForgetLimits forget_limits() const { return {config_.forget_unreached_after, config_.forget_down_after}; }
  void send_heartbeats(Clock::time_point run, Clock::time_point now);
  Clock::time_point idle_since(const Peer& peer) const;
  LastFrame last_frame(const Peer& peer) const;
  void send_heartbeat(Peer& peer, Clock::time_point now, LastFrame kind, Clock::time_point run);
  bool may_dial() const { return dials_in_flight_ < config_.max_dials_in_flight; }
  void dial_peer(Peer& peer);
  void on_dial_failed(PeerTable::iterator it, const error_code& ec);
  void dial_bootstrap();
  std::shared_ptr<Connection> adopt(tcp::socket socket, bool dialed, bool reconnect);
  void bound_unidentified(const Connection& newest);
  void send_handshake(Connection& connection, bool reconnect);
  std::string forget_reason(const Peer& peer, Clock::time_point now) const;
  PeerTable::iterator forget(PeerTable::iterator it, const std::string& reason);
  bool has_room_for(const std::string& what);

  void on_handshake(Connection& connection, const protocol::HandshakeFields& hello,
                    Clock::time_point received);
  std::string handshake_problem(const protocol::HandshakeFields& hello,
                                Clock::time_point received) const;
  bool held_by_live_process(const Peer& peer, const protocol::HandshakeFields& hello,
                            Clock::time_point now) const;
  void refuse(Connection& connection, const protocol::HandshakeFields& hello,
              const std::string& problem);
  void connect_peer(Peer& peer, const std::shared_ptr<Connection>& connection,
                    const protocol::HandshakeFields& hello, Clock::time_point received);
  bool prefer(const Connection& candidate, const Peer& peer) const;
  void on_heartbeat(Peer& peer, const protocol::Heartbeat& heartbeat, Clock::time_point received);
  void on_discovery(const protocol::Discovery& discovery);
  /// Adds or updates a member heard of from `source`; false when the table is full.
  /// `announced`: it announced itself (LAN discovery), so it is dialled at once.
  bool learn(const protocol::Member& member, const std::string& source, bool announced);
  void mark_down(Peer& peer, PeerState state, const std::string& reason);
  void announce_members();
  PeerInfo info(const Peer& peer, Clock::time_point now) const;
  std::shared_ptr<Connection> owned(Connection& connection) const;

  asio::io_context& io_;
  NetworkObserver& observer_;
  tcp::acceptor acceptor_;
  ReserveDescriptor reserve_descriptor_;
  asio::steady_timer accept_retry_;
  Backoff accept_backoff_;
  asio::steady_timer maintenance_;
  MaintenanceGrid grid_;
  std::optional<Clock::time_point> maintenance_at_;  ///< when the armed maintenance runs
  std::uint64_t incarnation_;
  std::uint16_t local_port_ = 0;
  PeerTable peers_;
  std::size_t dials_in_flight_ = 0;
  // Errors a peer or the system can repeat without bound are logged at most every few seconds.
  RateLimitedLog accept_log_;
  RateLimitedLog refusal_log_;
  RateLimitedLog full_log_;
  RateLimitedLog forget_log_;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
  bool bootstrap_done_ = false;
  bool bootstrap_dialing_ = false;
  Backoff bootstrap_backoff_;
  Clock::time_point bootstrap_next_dial_;
  bool leaving_ = false;
  std::function<void()> on_left_;
};

// ---- start, accept, timers -------------------------------------------------------------

void NetworkManager::Impl::start() {
  tcp::endpoint endpoint(asio::ip::make_address(config_.listen.host), config_.listen.port);
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  acceptor_.non_blocking(true);  // so that shedding a connection never waits for one
  local_port_ = acceptor_.local_endpoint().port();
  if (config_.id.empty()) config_.id = asio::ip::host_name() + ":" + std::to_string(local_port_);
  spdlog::info("node {} listening on {}:{} (cluster '{}', priority {})", config_.id,
               config_.listen.host, local_port_, config_.cluster, config_.priority);
  if (config_.connection.keys) {
    spdlog::info("cluster key {}: only nodes that prove it can join; every link is encrypted",
                 security::to_hex(config_.connection.keys->primary.id()));
  } else {
    spdlog::warn("NO CLUSTER KEY: anyone on the network can join this cluster and command it; "
                 "make a key with --gen-key PATH, copy it to every node, start them with --key-file PATH");
  }
  do_accept();
  if (config_.bootstrap) {
    dial_bootstrap();
  } else {
    bootstrap_done_ = true;
  }
  schedule_maintenance();
}

void NetworkManager::Impl::do_accept() {
  acceptor_.async_accept([this](const error_code& ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted || !acceptor_.is_open()) return;
    if (ec) return retry_accept(ec);
    accept_backoff_.reset();
    adopt(std::move(socket), /*dialed=*/false, /*reconnect=*/false);
    do_accept();
  });
}

void NetworkManager::Impl::retry_accept(const error_code& ec) {
  // A failing accept fails again at once if retried at once: that was a busy loop.
  if (out_of_descriptors(ec)) shed_pending_connection();
  auto delay = accept_backoff_.next();
  accept_log_.write(spdlog::level::warn, fmt::format("accept failed: {}; retrying in {} ms",
                                                     ec.message(), delay.count()));
  accept_retry_.expires_after(delay);
  accept_retry_.async_wait([this](const error_code& wait_ec) {
    if (!wait_ec && acceptor_.is_open()) do_accept();
  });
}

void NetworkManager::Impl::shed_pending_connection() {
  reserve_descriptor_.release();
  error_code ignored;
  tcp::socket pending(io_);
  acceptor_.accept(pending, ignored);  // non-blocking: fails at once if none is pending
  pending.close(ignored);
  reserve_descriptor_.acquire();
}

void NetworkManager::Impl::schedule_maintenance() {
  if (leaving_) return;
  auto now = Clock::now();
  auto at = next_maintenance(now);
  if (maintenance_at_ && *maintenance_at_ <= at) return;
  maintenance_at_ = at;
  maintenance_.expires_at(at);
  maintenance_.async_wait([this, at](const error_code& ec) {
    if (ec || leaving_) return;
    // A wait that completed just as it was re-armed still runs; the newer one stays armed.
    if (maintenance_at_ == at) maintenance_at_.reset();
    maintain(at);
    schedule_maintenance();
  });
}

Clock::time_point NetworkManager::Impl::next_maintenance(Clock::time_point now) const {
  // With nothing due (no member, no connection) a run once a second is a safety net: every change
  // that brings a deadline forward reschedules, so it should find nothing either.
  Clock::time_point due = now + std::chrono::seconds(1);
  const auto limits = forget_limits();
  for (const auto& [id, peer] : peers_) {
    if (peer.link) {
      auto heard = std::max(peer.last_heard.value_or(now), peer.link->last_paced());
      LinkTimes times{heard, idle_since(peer), peer.state, peer.rtt.smoothed(), peer.heartbeat_queued};
      due = std::min(due, link_due(config_.liveness, times));
    } else if (auto when = unlinked_due(unlinked(peer), limits, may_dial())) {
      due = std::min(due, *when);
    }
  }
  for (const auto& [raw, connection] : connections_) {
    if (connection->peer_id.empty()) due = std::min(due, connection->created() + config_.handshake_timeout);
  }
  if (!bootstrap_done_ && !bootstrap_dialing_) due = std::min(due, bootstrap_next_dial_);
  return grid_.next_run(due, now);
}

void NetworkManager::Impl::maintain(Clock::time_point run) {
  auto now = Clock::now();
  for (auto it = peers_.begin(); it != peers_.end();) {
    Peer& peer = it->second;
    if (peer.link) {
      check_link(peer, now);
    } else if (auto reason = forget_reason(peer, now); !reason.empty()) {
      it = forget(it, reason);
      continue;
    } else if (peer.state == PeerState::down && !peer.dialing && now >= peer.next_dial &&
               may_dial()) {
      dial_peer(peer);
    }
    ++it;
  }
  send_heartbeats(run, now);
  for (auto& [raw, connection] : connections_) {
    if (connection->peer_id.empty() && now - connection->created() > config_.handshake_timeout) {
      connection->close("no handshake within " + std::to_string(config_.handshake_timeout.count()) + " ms");
    }
  }
  if (!bootstrap_done_ && !bootstrap_dialing_ && now >= bootstrap_next_dial_) dial_bootstrap();
}

void NetworkManager::Impl::check_link(Peer& peer, Clock::time_point now) {
  // A frame's `received` is when its bytes were read; a peer that outran its budget has frames
  // waiting unread, read long ago, while this node is not listening to it: not silent.
  if (peer.link->last_paced() > peer.last_heard.value_or(Clock::time_point{})) {
    peer.last_heard = peer.link->last_paced();
  }
  auto silence = duration_cast<microseconds>(now - peer.last_heard.value_or(now));
  auto state = config_.liveness.assess(silence, peer.rtt.smoothed());
  if (state == PeerState::down) {
    ++membership_.heartbeat_timeouts;
    mark_down(peer, PeerState::down,
              fmt::format("silent for {} ms", duration_cast<milliseconds>(silence).count()));
    return;
  }
  set_state(peer, state);
}

void NetworkManager::Impl::set_state(Peer& peer, PeerState state) {
  if (state == peer.state) return;
  spdlog::info("peer {} is {}", peer.id, to_string(state));
  peer.state = state;
}

void NetworkManager::Impl::send_heartbeats(Clock::time_point run, Clock::time_point now) {
  // A link idle for an interval needs a heartbeat, and any link one for its RTT now and then.
  // When one that carries only heartbeats, or one for its RTT, is due, others join in: those whose
  // last heartbeat a run sent if idle for half an interval, and those whose RTT heartbeat is
  // nearly due, so that they stay in step (one wake-up, not several).
  auto idle = [](const Peer& peer) { return peer.link && peer.link->queue_depth() == 0; };
  auto link = [this](const Peer& peer) {
    return LinkHeartbeat{last_frame(peer), idle_since(peer), peer.heartbeat_queued};
  };
  bool round = std::any_of(peers_.begin(), peers_.end(), [&](const auto& entry) {
    return idle(entry.second) && starts_round(config_.liveness, link(entry.second), now);
  });
  // Copied first: a send that overflows closes its link, which edits the table.
  std::vector<Peer*> sending;
  for (auto& [id, peer] : peers_) {
    if (idle(peer) && gets_heartbeat(config_.liveness, link(peer), now, round)) sending.push_back(&peer);
  }
  for (Peer* peer : sending) {
    if (peer->link) send_heartbeat(*peer, now, LastFrame::run_heartbeat, run);
  }
}

Clock::time_point NetworkManager::Impl::idle_since(const Peer& peer) const {
  return last_frame(peer) == LastFrame::other ? peer.link->last_sent() : peer.heartbeat_counted;
}

LastFrame NetworkManager::Impl::last_frame(const Peer& peer) const {
  return peer.link->last_sent() == peer.heartbeat_queued ? peer.heartbeat_kind : LastFrame::other;
}

void NetworkManager::Impl::send_heartbeat(Peer& peer, Clock::time_point now, LastFrame kind,
                                          Clock::time_point run) {
  protocol::Heartbeat heartbeat{config_.id, to_us(now), peer.echo_us,
                                peer.echo_us ? to_us(now) - to_us(peer.echo_received) : 0};
  peer.rtt.sent(heartbeat.sent_us);
  peer.link->send(std::make_shared<const std::string>(protocol::encode_message_frame(heartbeat)));
  peer.heartbeat_queued = peer.link->last_sent();
  peer.heartbeat_kind = kind;
  peer.heartbeat_counted = heartbeat_counted_from(kind, peer.heartbeat_queued, run, grid_.step());
}

// ---- dialing ---------------------------------------------------------------------------

std::shared_ptr<Connection> NetworkManager::Impl::adopt(tcp::socket socket, bool dialed,
                                                        bool reconnect) {
  auto connection = std::make_shared<Connection>(std::move(socket), dialed, *this, traffic_,
                                                 config_.connection);
  connections_.emplace(connection.get(), connection);
  if (!dialed) bound_unidentified(*connection);
  connection->start();
  // The dialer speaks first; the acceptor answers only a handshake it accepts, so that a
  // refused dialer never sees this node up.
  if (dialed) send_handshake(*connection, reconnect);
  schedule_maintenance();  // its handshake timeout
  return connection;
}

void NetworkManager::Impl::bound_unidentified(const Connection& newest) {
  Connection* oldest = nullptr;
  Connection* oldest_here = nullptr;
  std::size_t total = 0;
  std::size_t here = 0;
  auto older = [](Connection* a, Connection* b) { return !a || b->created() < a->created(); };
  for (auto& [raw, connection] : connections_) {
    if (connection->dialed() || !connection->peer_id.empty() || !connection->is_open()) continue;
    ++total;
    if (older(oldest, raw)) oldest = raw;
    if (connection->remote_ip() == newest.remote_ip()) {
      ++here;
      if (older(oldest_here, raw)) oldest_here = raw;
    }
  }
  Connection* evicted = here > config_.max_unidentified_per_address ? oldest_here
                        : total > config_.max_unidentified           ? oldest
                                                                     : nullptr;
  if (!evicted) return;
  ++membership_.unidentified_evicted;
  refusal_log_.write(spdlog::level::warn,
                     fmt::format("too many connections in their handshake ({} from {}, {} in all): "
                                 "closing the oldest, from {}",
                                 here, newest.remote_ip(), total, evicted->remote()));
  evicted->close("too many connections in their handshake");
}

void NetworkManager::Impl::send_handshake(Connection& connection, bool reconnect) {
  protocol::HandshakeFields fields{config_.id,      config_.priority, incarnation_, advertised(),
                                   protocol::kProtocolVersion, config_.cluster, config_.content_port};
  protocol::Message hello = reconnect ? protocol::Message{protocol::Reconnect{fields}}
                                      : protocol::Message{protocol::Hello{fields}};
  connection.send(std::make_shared<const std::string>(protocol::encode_message_frame(hello)));
}

void NetworkManager::Impl::dial_peer(Peer& peer) {
  peer.dialing = true;
  ++dials_in_flight_;
  async_dial(io_, peer.endpoint, config_.handshake_timeout,
             [this, id = peer.id](error_code ec, tcp::socket socket) {
               --dials_in_flight_;
               auto it = peers_.find(id);
               if (leaving_ || it == peers_.end()) return;
               Peer& target = it->second;
               target.dialing = false;
               // Whether or not this attempt ends in a handshake, the next one waits its turn.
               target.next_dial = Clock::now() + target.backoff.next();
               if (ec) {
                 on_dial_failed(it, ec);
               } else if (!target.link) {
                 adopt(std::move(socket), /*dialed=*/true, target.ever_up);
               }
               schedule_maintenance();  // its redial, and dials that waited for a free slot
             });
}

void NetworkManager::Impl::on_dial_failed(PeerTable::iterator it, const error_code& ec) {
  Peer& peer = it->second;
  ++peer.failed_dials;
  spdlog::debug("dial {} at {}:{} failed: {}", peer.id, peer.endpoint.host, peer.endpoint.port,
                ec.message());
  // Gossip may name members that never existed: they must not be redialled for ever.
  if (!peer.ever_up && peer.failed_dials >= config_.forget_unreached_after_dials) {
    forget(it, fmt::format("not reached in {} dials", peer.failed_dials));
  }
}

std::string NetworkManager::Impl::forget_reason(const Peer& peer, Clock::time_point now) const {
  const auto at = forget_at(unlinked(peer), forget_limits());
  if (!at || now <= *at) return {};
  if (!peer.ever_up) {
    return fmt::format("not reached in {} ms", duration_cast<milliseconds>(now - peer.learned).count());
  }
  return fmt::format("{} for {} ms", to_string(peer.state),
                     duration_cast<milliseconds>(now - peer.down_since).count());
}

UnlinkedMember NetworkManager::Impl::unlinked(const Peer& peer) {
  return UnlinkedMember{peer.state, peer.dialing, peer.ever_up, peer.next_dial, peer.learned, peer.down_since};
}

NetworkManager::Impl::PeerTable::iterator NetworkManager::Impl::forget(PeerTable::iterator it,
                                                                       const std::string& reason) {
  forget_log_.write(spdlog::level::info,
                    fmt::format("forgetting member {}: {}", it->first, reason));
  return peers_.erase(it);
}

bool NetworkManager::Impl::has_room_for(const std::string& what) {
  if (peers_.size() < config_.max_members) return true;
  full_log_.write(spdlog::level::warn, fmt::format("membership is full ({} members): {} ignored",
                                                   config_.max_members, what));
  return false;
}

void NetworkManager::Impl::dial_bootstrap() {
  bootstrap_dialing_ = true;
  const auto& target = *config_.bootstrap;
  async_dial(io_, target, config_.handshake_timeout, [this](error_code ec, tcp::socket socket) {
    if (leaving_) return;
    bootstrap_dialing_ = false;
    bootstrap_next_dial_ = Clock::now() + bootstrap_backoff_.next();
    schedule_maintenance();
    if (ec) {
      spdlog::warn("bootstrap {}:{} unreachable: {}", config_.bootstrap->host,
                   config_.bootstrap->port, ec.message());
      return;
    }
    adopt(std::move(socket), /*dialed=*/true, /*reconnect=*/false);
  });
}

// ---- receiving -------------------------------------------------------------------------

std::shared_ptr<Connection> NetworkManager::Impl::owned(Connection& connection) const {
  auto it = connections_.find(&connection);
  return it == connections_.end() ? nullptr : it->second;
}

void NetworkManager::Impl::on_message(Connection& connection, protocol::Message message,
                                      Clock::time_point received) {
  if (connection.peer_id.empty()) {
    if (auto* hello = std::get_if<protocol::Hello>(&message)) {
      on_handshake(connection, *hello, received);
    } else if (auto* reconnect = std::get_if<protocol::Reconnect>(&message)) {
      on_handshake(connection, *reconnect, received);
    } else if (auto* reject = std::get_if<protocol::HelloReject>(&message)) {
      ++membership_.rejected_connections;
      refusal_log_.write(spdlog::level::err, fmt::format("{} ({}) refused this node: {}",
                                                         reject->from, connection.remote(),
                                                         protocol::inert(reject->reason)));
      connection.close("refused by peer");
    } else {
      ++traffic_.decode_errors;
      connection.close(fmt::format("{} before handshake", protocol::type_name(message)));
    }
    return;
  }
  auto it = peers_.find(connection.peer_id);
  if (it == peers_.end() || protocol::sender(message) != connection.peer_id) {
    ++traffic_.decode_errors;
    connection.close("message claims another sender");
    return;
  }
  Peer& peer = it->second;
  if (peer.incarnation == connection.peer_incarnation) {
    peer.last_heard = received;
    // Heard again: no longer suspect now, rather than at the next maintenance run.
    if (peer.state == PeerState::suspect) set_state(peer, PeerState::up);
  }

  if (auto* heartbeat = std::get_if<protocol::Heartbeat>(&message)) {
    on_heartbeat(peer, *heartbeat, received);
  } else if (auto* discovery = std::get_if<protocol::Discovery>(&message)) {
    on_discovery(*discovery);
  } else if (std::holds_alternative<protocol::Leave>(message)) {
    if (peer.incarnation == connection.peer_incarnation) mark_down(peer, PeerState::left, "left the cluster");
  } else if (std::holds_alternative<protocol::Hello>(message) ||
             std::holds_alternative<protocol::Reconnect>(message)) {
    spdlog::debug("ignoring repeated handshake from {}", peer.id);
  } else {
    observer_.on_message(peer.id, message, received);
  }
}

std::string NetworkManager::Impl::handshake_problem(const protocol::HandshakeFields& hello,
                                                    Clock::time_point received) const {
  if (hello.version != protocol::kProtocolVersion) {
    return fmt::format("protocol version {} is not this node's version {}", hello.version,
                       protocol::kProtocolVersion);
  }
  if (hello.cluster != config_.cluster) {
    return fmt::format("cluster '{}' is not this node's cluster '{}'", hello.cluster, config_.cluster);
  }
  if (hello.from == config_.id && hello.incarnation != incarnation_) {
    return fmt::format("node id '{}' is already in use by this node", hello.from);
  }
  auto known = peers_.find(hello.from);
  if (known == peers_.end()) {
    if (peers_.size() >= config_.max_members) {
      return fmt::format("membership is full ({} members)", config_.max_members);
    }
  } else if (held_by_live_process(known->second, hello, received)) {
    const auto& at = known->second.endpoint;
    return fmt::format("node id {} is already in use by a live process at {}:{}", hello.from,
                       at.host, at.port);
  }
  return {};
}

bool NetworkManager::Impl::held_by_live_process(const Peer& peer,
                                                const protocol::HandshakeFields& hello,
                                                Clock::time_point now) const {
  // Another incarnation is a restart only once the old process is gone: a killed process's link
  // closes at once, a vanished host's falls silent. A link still heard from is another process.
  if (!peer.link || !peer.link->is_open() || peer.incarnation == hello.incarnation) return false;
  auto silence = duration_cast<microseconds>(now - peer.last_heard.value_or(now));
  return silence <= config_.liveness.down_after(peer.rtt.smoothed());
}

void NetworkManager::Impl::refuse(Connection& connection, const protocol::HandshakeFields& hello,
                                  const std::string& problem) {
  ++membership_.rejected_connections;
  refusal_log_.write(spdlog::level::err,
                     fmt::format("refusing {} ({}): {}", hello.from, connection.remote(), protocol::inert(problem)));
  connection.send(std::make_shared<const std::string>(
      protocol::encode_message_frame(protocol::HelloReject{config_.id, problem})));
  connection.close_after_flush("handshake refused");
}

void NetworkManager::Impl::on_handshake(Connection& connection, const protocol::HandshakeFields& hello,
                                        Clock::time_point received) {
  auto self = owned(connection);
  if (!self) return;
  if (hello.from == config_.id && hello.incarnation == incarnation_) {
    spdlog::debug("dialled itself at {}; closing", connection.remote());
    if (connection.dialed()) {
      bootstrap_done_ = true;
      connection.close("connected to itself");
    } else {
      // Answer, so that the dialing end (this very node) learns it reached itself.
      send_handshake(connection, /*reconnect=*/false);
      connection.close_after_flush("connected to itself");
    }
    return;
  }
  if (auto problem = handshake_problem(hello, received); !problem.empty()) {
    refuse(connection, hello, problem);
    return;
  }
  connection.identify(hello.from, hello.incarnation);
  if (connection.dialed()) bootstrap_done_ = true;
  else send_handshake(connection, /*reconnect=*/false);
  auto [it, inserted] = peers_.try_emplace(hello.from, hello.from, config_);
  connect_peer(it->second, self, hello, received);
}

bool NetworkManager::Impl::prefer(const Connection& candidate, const Peer& peer) const {
  // Both ends apply the same rule, so they settle on the same connection.
  bool dialed_by_smaller = config_.id < peer.id ? candidate.dialed() : !candidate.dialed();
  return dialed_by_smaller;
}

void NetworkManager::Impl::connect_peer(Peer& peer, const std::shared_ptr<Connection>& connection,
                                        const protocol::HandshakeFields& hello,
                                        Clock::time_point received) {
  bool restarted = peer.incarnation != 0 && peer.incarnation != hello.incarnation;
  if (peer.link && !restarted) {
    // A second connection between the same two processes: keep one, the same one at both ends.
    auto loser = connection;
    if (prefer(*connection, peer)) std::swap(loser, peer.link);
    // The dialer of the losing connection retires it (flush, half-close, read to the end); the
    // other end only stops sending on it. Nothing in flight is lost, and the peer is never seen
    // down while the two ends switch over.
    peer.spares.push_back(loser);
    if (loser->dialed()) loser->retire("duplicate connection");
    return;
  }
  if (restarted) {
    ++membership_.restarts_seen;
    spdlog::info("peer {} restarted (new incarnation)", peer.id);
    if (peer.link) mark_down(peer, PeerState::down, "replaced by its restarted process");
  }
  if (peer.ever_up) ++membership_.reconnects;
  peer.priority = hello.priority;
  peer.endpoint = {is_wildcard(hello.advertised.host) ? connection->remote_ip() : hello.advertised.host,
                   hello.advertised.port};
  peer.content_port = hello.content_port;
  peer.incarnation = hello.incarnation;
  peer.link = connection;
  peer.state = PeerState::up;
  peer.ever_up = true;
  peer.last_heard = received;
  peer.rtt = RttEstimator(to_us(connection->created()));
  peer.echo_us = 0;
  peer.backoff.reset();
  peer.failed_dials = 0;
  spdlog::info("peer {} up at {}:{} (priority {})", peer.id, peer.endpoint.host, peer.endpoint.port,
               peer.priority);
  announce_members();
  schedule_maintenance();  // the new link's heartbeats and silence limits
  observer_.on_peer_up(info(peer, received));
}

void NetworkManager::Impl::on_heartbeat(Peer& peer, const protocol::Heartbeat& heartbeat,
                                        Clock::time_point received) {
  if (heartbeat.echo_us != 0 &&
      !peer.rtt.echoed(heartbeat.echo_us, heartbeat.echo_hold_us, to_us(received))) {
    spdlog::debug("peer {}: heartbeat echo {} (held {} µs) discarded as impossible", peer.id,
                  heartbeat.echo_us, heartbeat.echo_hold_us);
  }
  peer.echo_us = heartbeat.sent_us;
  peer.echo_received = received;
  // Answered while awake anyway, rather than in a wake-up of its own a little later.
  auto now = Clock::now();
  if (peer.link && peer.link->queue_depth() == 0 &&
      answers_heartbeat(config_.liveness, last_frame(peer), idle_since(peer), now)) {
    send_heartbeat(peer, now, LastFrame::answer, now);
  }
}

void NetworkManager::Impl::on_discovery(const protocol::Discovery& discovery) {
  // No more members are looked at than the table could ever hold.
  std::span members(discovery.members);
  for (const auto& member : members.first(std::min(members.size(), config_.max_members))) {
    if (!learn(member, fmt::format("gossip from {}", discovery.from), /*announced=*/false)) return;
  }
}

bool NetworkManager::Impl::learn(const protocol::Member& member, const std::string& source,
                                 bool announced) {
  if (member.id == config_.id || leaving_) return true;
  bool inserted = !peers_.count(member.id);
  if (inserted && !has_room_for(source)) return false;
  Peer& peer = peers_.try_emplace(member.id, member.id, config_).first->second;
  if (peer.link) return true;  // connected: what the peer said in its handshake is authoritative
  peer.priority = member.priority;
  peer.endpoint = member.endpoint;
  // A member announcing itself on the LAN is reachable now, whatever its back-off says: a host
  // whose link came back announces itself again at once.
  if (announced) {
    peer.backoff.reset();
    peer.failed_dials = 0;
  }
  if (inserted || announced || peer.state == PeerState::left) {
    // A member we have not met, or one that came back: dial it now rather than on the next tick.
    peer.state = PeerState::down;
    peer.next_dial = Clock::now();
    if (!peer.dialing && may_dial()) dial_peer(peer);  // else once a dial slot frees up
  }
  if (inserted) schedule_maintenance();  // when it is forgotten unless reached
  return true;
}

void NetworkManager::Impl::announce_members() {
  protocol::Discovery discovery{config_.id, {}};
  discovery.members.push_back({config_.id, config_.priority, advertised()});
  for (const auto& [id, peer] : peers_) {
    if (peer.link) discovery.members.push_back({id, peer.priority, peer.endpoint});
  }
  broadcast(discovery);
}

void NetworkManager::Impl::mark_down(Peer& peer, PeerState state, const std::string& reason) {
  auto link = std::move(peer.link);
  if (link) link->close(reason);
  for (auto& spare : std::exchange(peer.spares, {})) spare->close(reason);
  peer.state = state;
  peer.down_since = Clock::now();
  peer.next_dial = peer.down_since + peer.backoff.next();
  spdlog::info("peer {} {}: {}", peer.id, state == PeerState::left ? "left" : "down", reason);
  schedule_maintenance();  // its redial
  observer_.on_peer_down(peer.id);
}

void NetworkManager::Impl::on_closed(Connection& connection, const std::string& reason) {
  auto self = owned(connection);
  connections_.erase(&connection);
  if (leaving_) {
    if (connections_.empty() && on_left_) std::exchange(on_left_, nullptr)();
    return;
  }
  if (connection.peer_id.empty()) {
    if (connection.authentication_failed()) {
      ++membership_.rejected_connections;
      refusal_log_.write(spdlog::level::warn,
                         fmt::format("refused {}: {}", connection.remote(), reason));
    } else if (connection.dialed() && reason == "closed by peer") {
      refusal_log_.write(spdlog::level::warn,
                         fmt::format("{} closed the connection before any handshake (a cluster with "
                                     "a key refuses nodes without it)", connection.remote()));
    } else {
      spdlog::debug("connection {} closed before handshake: {}", connection.remote(), reason);
    }
    return;
  }
  auto it = peers_.find(connection.peer_id);
  if (it == peers_.end()) return;
  Peer& peer = it->second;
  std::erase(peer.spares, self);
  if (peer.link != self) return;  // a spare or a superseded connection
  // The link closed: another open connection to the same process takes over, unnoticed above.
  auto spare = std::find_if(peer.spares.begin(), peer.spares.end(), [&](const auto& candidate) {
    return candidate->is_open() && !candidate->retiring() &&
           candidate->peer_incarnation == peer.incarnation;
  });
  if (spare != peer.spares.end()) {
    spdlog::debug("peer {}: link closed ({}), switching to its other connection", peer.id, reason);
    peer.link = *spare;
    peer.spares.erase(spare);
    schedule_maintenance();
    return;
  }
  mark_down(peer, PeerState::down, reason);
}

// ---- sending ---------------------------------------------------------------------------

bool NetworkManager::Impl::send(const std::string& peer_id, const protocol::Message& message) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || !it->second.link) return false;
  return it->second.link->send(std::make_shared<const std::string>(protocol::encode_message_frame(message)));
}

bool NetworkManager::Impl::send_stamped(const std::string& peer_id,
                                        std::function<protocol::Message(std::int64_t)> make_message) {
  auto it = peers_.find(peer_id);
  if (it == peers_.end() || !it->second.link) return false;
  return it->second.link->send_stamped([make = std::move(make_message)](std::int64_t now_us) {
    return protocol::encode_message_frame(make(now_us));
  });
}

void NetworkManager::Impl::broadcast(const protocol::Message& message) {
  auto frame = std::make_shared<const std::string>(protocol::encode_message_frame(message));
  // Copy the links first: a send that overflows closes its link, which edits the table.
  std::vector<std::shared_ptr<Connection>> links;
  for (const auto& [id, peer] : peers_) {
    if (peer.link) links.push_back(peer.link);
  }
  for (const auto& link : links) link->send(frame);
}

void NetworkManager::Impl::leave(milliseconds grace, std::function<void()> done) {
  if (leaving_) return;
  broadcast(protocol::Leave{config_.id});
  leaving_ = true;
  on_left_ = std::move(done);
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  maintenance_.cancel();
  maintenance_at_.reset();
  auto open = connections_;
  for (auto& [raw, connection] : open) connection->close_after_flush("leaving");
  if (connections_.empty()) {
    if (on_left_) std::exchange(on_left_, nullptr)();
    return;
  }
  maintenance_.expires_after(grace);
  maintenance_.async_wait([this](const error_code&) {
    auto remaining = connections_;
    for (auto& [raw, connection] : remaining) connection->close("leaving");
    if (on_left_) std::exchange(on_left_, nullptr)();
  });
}

// ---- views -----------------------------------------------------------------------------

PeerInfo NetworkManager::Impl::info(const Peer& peer, Clock::time_point now) const {
  PeerInfo row;
  row.id = peer.id;
  row.priority = peer.priority;
  row.endpoint = peer.endpoint;
  row.content_port = peer.content_port;
  row.state = peer.state;
  row.rtt = peer.rtt.smoothed();
  if (peer.last_heard) row.since_heard = duration_cast<microseconds>(now - *peer.last_heard);
  row.queue_depth = peer.link ? peer.link->queue_depth() : 0;
  row.incarnation = peer.incarnation;
  return row;
}

std::vector<PeerInfo> NetworkManager::Impl::peers() const {
  auto now = Clock::now();
  std::vector<PeerInfo> rows;
  for (const auto& [id, peer] : peers_) rows.push_back(info(peer, now));
  return rows;
}

microseconds NetworkManager::Impl::max_rtt() const {
  microseconds worst{0};
  for (const auto& [id, peer] : peers_) {
    if (peer.link && peer.rtt.smoothed()) worst = std::max(worst, *peer.rtt.smoothed());
  }
  return worst;
}

// ---- NetworkManager --------------------------------------------------------------------

NetworkManager::NetworkManager(asio::io_context& io, NetworkConfig config, NetworkObserver& observer)
    : impl_(std::make_unique<Impl>(io, std::move(config), observer)) {}
NetworkManager::~NetworkManager() = default;

void NetworkManager::start() { impl_->start(); }
void NetworkManager::set_content_port(std::uint16_t port) { impl_->config_.content_port = port; }
void NetworkManager::learn_announced(const protocol::Member& member) { impl_->learn_announced(member); }
bool NetworkManager::send(const std::string& peer_id, const protocol::Message& message) {
  return impl_->send(peer_id, message);
}
bool NetworkManager::send_stamped(const std::string& peer_id, StampedMessage make_message) {
  return impl_->send_stamped(peer_id, std::move(make_message));
}
void NetworkManager::broadcast(const protocol::Message& message) { impl_->broadcast(message); }
void NetworkManager::leave(milliseconds grace, std::function<void()> done) {
  impl_->leave(grace, std::move(done));
}
const std::string& NetworkManager::id() const { return impl_->config_.id; }
protocol::Endpoint NetworkManager::local_endpoint() const { return impl_->local(); }
protocol::Endpoint NetworkManager::advertised_endpoint() const { return impl_->advertised(); }
std::vector<PeerInfo> NetworkManager::peers() const { return impl_->peers(); }
std::optional<Clock::time_point> NetworkManager::next_wakeup() const { return impl_->next_wakeup(); }
microseconds NetworkManager::max_rtt() const { return impl_->max_rtt(); }
const TrafficCounters& NetworkManager::traffic() const { return impl_->traffic_; }
std::optional<security::KeyId> NetworkManager::cluster_key_id() const {
  const auto& keys = impl_->config_.connection.keys;
  if (!keys) return std::nullopt;
  return keys->primary.id();
}
const MembershipCounters& NetworkManager::membership() const { return impl_->membership_; }

}  // namespace chorus::net
