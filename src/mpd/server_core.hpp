#pragma once
// MpdServer's insides (src/mpd only): the shared core and one connection.

#include <atomic>
#include <boost/asio.hpp>
#include <chrono>
#include <deque>
#include <memory>
#include <string>
#include <unordered_set>

#include "chorus/control/control_port.hpp"
#include "chorus/mpd/mpd_server.hpp"
#include "chorus/mpd/session.hpp"
#include "chorus/net/liveness.hpp"
#include "chorus/net/rate_limited_log.hpp"

namespace chorus::mpd {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

class MpdConnection;

/// Change notices from the node's io thread, merged until the control thread takes them: many
/// notices in a burst cost one post.
struct NoticeInbox {
  std::atomic<control::Subsystems> pending{0};
  std::atomic<bool> scheduled{false};
};

/// What connections share with the server. Owned by MpdServer; connections keep a weak_ptr, so a
/// handler that runs after the server is gone finds nothing.
class MpdServer::Core : public std::enable_shared_from_this<MpdServer::Core> {
 public:
  Core(asio::io_context& io, control::ControlPort& port, MpdConfig config);

  bool start();
  void stop();
  void remove(MpdConnection* connection);
  Instant instant() const;

  asio::io_context& io;
  control::ControlPort& port;
  const MpdConfig config;
  std::uint16_t local_port = 0;
  std::unordered_set<std::shared_ptr<MpdConnection>> connections;

 private:
  void accept();
  void retry_accept(const boost::system::error_code& ec);
  void adopt(tcp::socket socket);
  /// At the connection cap: closes the oldest connection that never sent a line, so that a flood
  /// of silent connections cannot lock real clients out; false if every client has spoken.
  bool shed_a_silent_connection();
  void subscribe();
  void deliver(control::Subsystems changed);

  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  net::Backoff accept_backoff_;
  net::RateLimitedLog accept_log_;
  net::RateLimitedLog refused_log_;
  std::shared_ptr<NoticeInbox> inbox_ = std::make_shared<NoticeInbox>();
  control::Subscription subscription_;
  std::chrono::steady_clock::time_point started_;
  std::int64_t db_update_unix_ = 0;
  int reserve_fd_ = -1;  ///< a descriptor held for shedding connections when none are left
  bool stopped_ = false;
};

/// One client: reads lines, feeds them to its Session one at a time, writes the answers.
class MpdConnection : public std::enable_shared_from_this<MpdConnection> {
 public:
  MpdConnection(tcp::socket socket, std::weak_ptr<MpdServer::Core> core, const MpdConfig& config,
                control::ControlPort& port);

  void start();
  /// Something changed in the cluster.
  void notify(control::Subsystems changed);
  /// Closes the socket at once and leaves the server.
  void close();
  /// Whether the client has sent a whole line yet (one that has not is the first to be shed).
  bool has_spoken() const { return spoken_; }
  std::chrono::steady_clock::time_point opened_at() const { return opened_at_; }

 private:
  void read();
  void pump();
  void handle(Step step);
  void on_outcome(const control::Outcome& outcome);
  void send(std::string text);
  void write();
  void arm_timer();
  void on_timer();
  std::shared_ptr<MpdServer::Core> core() const { return core_.lock(); }

  tcp::socket socket_;
  std::weak_ptr<MpdServer::Core> core_;
  const MpdLimits limits_;
  control::ControlPort& port_;
  Session session_;
  std::string input_;
  std::array<char, 4096> chunk_{};
  bool reading_ = false;
  std::deque<std::string> outbox_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool close_after_write_ = false;
  bool closed_ = false;
  asio::steady_timer timer_;
  std::chrono::steady_clock::time_point last_command_;
  std::chrono::steady_clock::time_point last_write_;  ///< the client last took answer bytes
  std::chrono::steady_clock::time_point opened_at_ = std::chrono::steady_clock::now();
  bool spoken_ = false;
};

}  // namespace chorus::mpd
