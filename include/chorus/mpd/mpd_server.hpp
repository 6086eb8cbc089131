#pragma once
// MpdServer: the MPD protocol on a TCP port, so that MPD clients (mpc, ncmpcpp, Cantata, M.A.L.P.,
// Home Assistant) control the whole cluster from any node (docs/mpd.md).
//
// It runs on the io_context it is given (a control thread's, never the node's protocol thread)
// and reaches the cluster only through control::ControlPort: answers come from view(), changes
// go through run(), and one subscription pushes change notices to every client in `idle`.
// Outcomes and notices arrive on the node's io thread and are posted back here.
//
// The port faces the LAN, so everything a client can make it hold is bounded: line length,
// connections, command list length, queued output, silence.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

namespace boost::asio {
class io_context;
}

namespace chorus::control {
class ControlPort;
}

namespace chorus::mpd {

struct MpdLimits {
  /// A longer request line is answered with an ACK and the connection closed.
  std::size_t max_line_bytes = 64 * 1024;
  /// Connections beyond this are closed at once (with a rate-limited log line).
  std::size_t max_connections = 128;
  /// Commands in one command list.
  std::size_t max_command_list = 4096;
  /// A connection that sends no command for this long is closed, unless it waits in `idle`
  /// (MPD's connection_timeout).
  std::chrono::milliseconds idle_timeout{60'000};
  /// Answers queued for a client (MPD's max_output_buffer_size): beyond this, its next commands
  /// wait until it reads; a client that reads nothing of them for idle_timeout is closed.
  std::size_t max_output_bytes = 8 * 1024 * 1024;
  /// Back-off of a failing accept (out of descriptors): first, doubled up to max.
  std::chrono::milliseconds accept_retry_first{50};
  std::chrono::milliseconds accept_retry_max{2'000};
};

struct MpdConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;  ///< 0: no MPD server
  /// Listen on a port the system picks even though `port` is 0 (tests; see local_port()).
  bool any_port = false;
  std::optional<std::string> password;  ///< absent: every client may do everything
  MpdLimits limits;
};

class MpdServer {
 public:
  MpdServer(boost::asio::io_context& io, control::ControlPort& port, MpdConfig config);
  /// Closes every connection. Call on the io_context's thread (or with it stopped).
  ~MpdServer();
  MpdServer(const MpdServer&) = delete;
  MpdServer& operator=(const MpdServer&) = delete;

  /// Listens and accepts. False when the server is off (port 0) or cannot listen (the port is in
  /// use: logged once; the node runs without MPD). Call on the io_context's thread.
  bool start();
  /// Stops accepting and closes every connection. Call on the io_context's thread.
  void stop();

  /// The port listened on (0 before start()).
  std::uint16_t local_port() const;
  /// Connections open now. Call on the io_context's thread.
  std::size_t connections() const;

  class Core;

 private:
  std::shared_ptr<Core> core_;
};

}  // namespace chorus::mpd
