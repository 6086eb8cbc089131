#pragma once
// Connection: owns one TCP socket, its read loop and its bounded outgoing queue.
//
//   read loop:  async_read_some -> FrameDecoder -> decode -> observer.on_message   (repeat)
//   write path: send() appends to queue_; if no write is in flight, async_write the front;
//               the completion pops it and writes the next.  At most one async_write in flight.
//   closing:    any error, malformed frame, overflow or close() shuts the socket down and
//               posts observer.on_closed exactly once. EOF from the peer first flushes what is
//               queued. retire() is the graceful close of a duplicate: flush, half-close,
//               read on until the peer closes too, so nothing in flight either way is lost.
//
// Every member runs on the io thread; handlers hold shared_from_this().

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <array>
#include <deque>
#include <functional>
#include <memory>
#include <string>

#include <boost/asio/ip/tcp.hpp>

#include "chorus/net/traffic_counters.hpp"
#include "chorus/protocol/codec.hpp"
#include "chorus/protocol/frame.hpp"

namespace chorus::net {

using Clock = std::chrono::steady_clock;

/// Bounds on one connection's outgoing queue: past either, the peer is too slow and is dropped.
struct QueueLimits {
  std::size_t max_frames = 4096;
  std::size_t max_bytes = 8u << 20;
};

class Connection;

/// What a connection reports upward. Implemented by NetworkManager.
class ConnectionObserver {
 public:
  /// A decoded message; `received` is when its bytes were read from the socket.
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
             TrafficCounters& counters, QueueLimits limits);

  /// Starts the read loop.
  void start();

  /// Queues one encoded frame. Returns false when the connection is closed or, having
  /// overflowed its queue limits, is being closed now.
  bool send(std::shared_ptr<const std::string> frame);

  /// Makes an encoded frame from the steady-clock time (µs) at which its write starts.
  using StampedFrame = std::function<std::string(std::int64_t write_start_us)>;
  /// Queues a frame that is encoded only when its write starts, so that a timestamp in it is
  /// taken where the bytes meet the socket rather than when they were queued.
  bool send_stamped(StampedFrame make_frame);

  /// Closes at once; queued frames are dropped. Idempotent.
  void close(const std::string& reason);

  /// Closes once every queued frame has been written (or at once if the queue is empty).
  void close_after_flush(const std::string& reason);

  /// Refuses further sends, flushes, then half-closes and keeps delivering what the peer still
  /// sends until it closes its end. Used for a duplicate connection its dialer gives up.
  void retire(const std::string& reason);
  bool retiring() const { return retiring_; }

  bool is_open() const { return open_; }
  /// True when this side initiated the TCP connection.
  bool dialed() const { return dialed_; }
  std::size_t queue_depth() const { return queue_.size(); }
  /// "ip:port" of the remote end, captured at construction.
  const std::string& remote() const { return remote_; }
  /// Remote IP address, for peers that advertise no host of their own.
  std::string remote_ip() const;
  /// When the last frame was queued; heartbeats fill only links idle since then.
  Clock::time_point last_sent() const { return last_sent_; }
  Clock::time_point created() const { return created_; }

  /// Peer identity, set by NetworkManager once the handshake is accepted (empty before).
  std::string peer_id;
  std::uint64_t peer_incarnation = 0;

 private:
  void do_read();
  void on_read(const boost::system::error_code& ec, std::size_t bytes, Clock::time_point received);
  void dispatch_frames(Clock::time_point received);
  void do_write();
  void on_write(const boost::system::error_code& ec, std::size_t bytes);
  void shut(const std::string& reason);
  void on_drained();

  boost::asio::ip::tcp::socket socket_;
  bool dialed_;
  ConnectionObserver& observer_;
  TrafficCounters& counters_;
  QueueLimits limits_;
  std::string remote_;
  protocol::FrameDecoder decoder_;
  std::array<char, 64 * 1024> read_buffer_{};
  /// A queued frame, or the recipe for one to be encoded when its write starts.
  struct Outgoing {
    std::shared_ptr<const std::string> frame;
    StampedFrame stamp;
    std::size_t size = 0;  ///< bytes counted against the queue limit
  };
  bool enqueue(Outgoing outgoing);

  std::deque<Outgoing> queue_;
  std::size_t queued_bytes_ = 0;
  bool open_ = true;
  bool closing_after_flush_ = false;
  bool retiring_ = false;
  std::string close_reason_;
  Clock::time_point created_ = Clock::now();
  Clock::time_point last_sent_ = created_;
};

}  // namespace chorus::net
