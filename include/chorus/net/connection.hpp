#pragma once
// Connection: owns one TCP socket, its read loop and its bounded outgoing queue.
//
//   keyed link:   the first bytes both ways are the handshake (security/handshake.hpp); nothing
//                 queued is written, and nothing read is delivered, before both ends proved the
//                 cluster key. Then every frame is sealed into a record (security/record_layer.hpp).
//   read loop:    wait until readable -> read into the io thread's one buffer -> handshake, record
//                 opener or frame decoder -> decode -> observer.on_message  (repeat)
//                 Nothing is read while a complete frame is still buffered, so a connection holds
//                 at most one partial frame; before the handshake ends, no byte beyond it is read.
//   fairness:     each frame is charged to the connection's RateBudget; a spent budget pauses
//                 reading until it refills, and one turn handles at most a few dozen frames
//                 before the io thread serves other work.
//   write path:   send() appends to queue_; one async_write in flight at a time, the handshake's
//                 own messages first.
//   closing:      any error, malformed frame or record, failed handshake, overflow or close()
//                 shuts the socket down and posts observer.on_closed exactly once. EOF from the
//                 peer first flushes what is queued. retire() is the graceful close of a duplicate:
//                 flush, half-close, read on until the peer closes too, so nothing in flight
//                 either way is lost.
//
// Every member runs on the io thread; handlers hold shared_from_this().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "chorus/net/rate_budget.hpp"
#include "chorus/net/rate_limited_log.hpp"
#include "chorus/net/traffic_counters.hpp"
#include "chorus/protocol/codec.hpp"
#include "chorus/protocol/frame.hpp"
#include "chorus/security/cluster_key.hpp"

namespace chorus::security {
class Handshake;
struct SecureSession;
}  // namespace chorus::security

namespace chorus::net {

using Clock = std::chrono::steady_clock;

/// Bounds on one connection's outgoing queue: past either, the peer is too slow and is dropped.
struct QueueLimits {
  std::size_t max_frames = 4096;
  std::size_t max_bytes = 8u << 20;
};

/// How every connection of a node behaves.
struct ConnectionPolicy {
  QueueLimits queue;
  RateLimits rate;
  /// The cluster keys; none: an open link (plain frames, no proof asked).
  std::shared_ptr<const security::KeyRing> keys;
  /// Largest frame accepted before the peer has identified itself: a HELLO is far smaller.
  std::uint32_t max_frame_before_identity = 16 * 1024;
};

class Connection;

/// What a connection reports upward. Implemented by NetworkManager.
class ConnectionObserver {
 public:
  /// A decoded message; `received` is when the kernel took its bytes in (net/receive_stamp.hpp),
  /// or when they were read where the kernel does not stamp.
  virtual void on_message(Connection& connection, protocol::Message message,
                          Clock::time_point received) = 0;
  /// The connection is closed; called once, never from inside a Connection member call.
  virtual void on_closed(Connection& connection, const std::string& reason) = 0;

 protected:
  ~ConnectionObserver() = default;
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(boost::asio::ip::tcp::socket socket, bool dialed, ConnectionObserver& observer,
             TrafficCounters& counters, const ConnectionPolicy& policy);
  ~Connection();

  /// Starts the handshake (keyed) and the read loop. On an open link the read loop may deliver
  /// messages already waiting on the socket before start() returns: queue (send()) whatever must
  /// go out ahead of the answers to them first.
  void start();

  /// Queues one encoded frame. Returns false when the connection is closed or, having
  /// overflowed its queue limits, is being closed now.
  bool send(std::shared_ptr<const std::string> frame);

  /// Makes an encoded frame from the steady-clock time (µs) at which its write starts.
  using StampedFrame = std::function<std::string(std::int64_t write_start_us)>;
  /// Queues a frame that is encoded only when its write starts, so that a timestamp in it is
  /// taken where the bytes meet the socket rather than when they were queued; once stamped it is
  /// handed to the kernel at once (a non-blocking send), not on the reactor's next turn.
  bool send_stamped(StampedFrame make_frame);

  /// Closes at once; queued frames are dropped. Idempotent.
  void close(const std::string& reason);

  /// Closes once every queued frame has been written (or at once if the queue is empty).
  void close_after_flush(const std::string& reason);

  /// Refuses further sends, flushes, then half-closes and keeps delivering what the peer still
  /// sends until it closes its end. Used for a duplicate connection its dialer gives up.
  void retire(const std::string& reason);
  bool retiring() const { return retiring_; }

  /// Binds the peer's identity to this connection (its handshake was accepted); lifts the
  /// small frame limit of an unidentified peer.
  void identify(std::string id, std::uint64_t incarnation);

  bool is_open() const { return open_; }
  /// True when this side initiated the TCP connection.
  bool dialed() const { return dialed_; }
  /// True when the peer failed to prove the cluster key (or has none while this node has one).
  bool authentication_failed() const { return authentication_failed_; }
  /// The cluster key both ends proved, once a keyed link is established.
  const std::optional<security::KeyId>& proven_key() const { return proven_key_; }
  std::size_t queue_depth() const { return queue_.size(); }
  /// "ip:port" of the remote end, captured at construction.
  const std::string& remote() const { return remote_; }
  /// Remote IP address, for peers that advertise no host of their own.
  std::string remote_ip() const;
  /// When the last frame was queued; heartbeats fill only links idle since then.
  Clock::time_point last_sent() const { return last_sent_; }
  Clock::time_point created() const { return created_; }
  /// When reading was last paused because the peer outran its budget (the clock's epoch if
  /// never): frames of it were waiting unread then, so it was not silent, however long ago the
  /// socket was last read.
  Clock::time_point last_paced() const { return last_paced_; }

  /// Peer identity, set by identify() once the handshake is accepted (empty before).
  std::string peer_id;
  std::uint64_t peer_incarnation = 0;

 private:
  // The read loop: pump() handles buffered frames and reads, and ends its turn by exactly one of
  // wait_readable, next_turn, wait_for_budget or a close, each of which calls pump() again.
  void pump();
  void wait_readable();
  void next_turn();
  void wait_for_budget(Clock::time_point now);
  /// Reads once into the io thread's buffer; false when the loop must stop (waiting or closed).
  bool read_some();
  void deliver(std::string body);
  void absorb(std::string_view bytes);
  void absorb_handshake(std::string_view bytes);
  protocol::FrameResult next_frame();
  void do_write();
  /// Writes in_flight_ from byte `sent` on, asynchronously.
  void write_rest(std::size_t sent);
  void on_write(const boost::system::error_code& ec, std::size_t bytes);
  void shut(const std::string& reason);
  void fail_authentication(const std::string& reason);
  void on_drained();

  boost::asio::ip::tcp::socket socket_;
  bool dialed_;
  ConnectionObserver& observer_;
  TrafficCounters& counters_;
  QueueLimits limits_;
  std::string remote_;
  protocol::FrameDecoder decoder_;  ///< an open link's frames
  std::unique_ptr<security::Handshake> handshake_;  ///< a keyed link's, until it ends
  std::unique_ptr<security::SecureSession> session_;  ///< a keyed link's, once established
  std::optional<security::KeyId> proven_key_;
  bool authentication_failed_ = false;
  std::string handshake_out_;  ///< handshake bytes not yet written
  RateBudget budget_;
  boost::asio::steady_timer budget_timer_;
  RateLimitedLog throttle_log_;
  Clock::time_point last_read_;
  Clock::time_point last_paced_{};
  bool read_anything_ = false;

  /// A queued frame, or the recipe for one to be encoded when its write starts.
  struct Outgoing {
    std::shared_ptr<const std::string> frame;
    StampedFrame stamp;
    std::size_t size = 0;  ///< bytes counted against the queue limit
  };
  bool enqueue(Outgoing outgoing);

  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  /// The bytes being written: a handshake message or the front frame (sealed on a keyed link).
  std::shared_ptr<const std::string> in_flight_;
  bool in_flight_is_handshake_ = false;
  bool open_ = true;
  bool closing_after_flush_ = false;
  bool retiring_ = false;
  std::string close_reason_;
  Clock::time_point created_ = Clock::now();
  Clock::time_point last_sent_ = created_;
};

}  // namespace chorus::net
