#pragma once
// ControlSurfaces: the MPD protocol server and the web server (page, WebSocket, /metrics) of a
// node, on a thread of their own, so that clients — a hundred idle MPD connections, a browser,
// a big listallinfo — never delay the io thread that stamps clock samples and sends commands.
// They reach the cluster only through a control::ControlPort (the node's ControlHub).

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "chorus/control/control_port.hpp"
#include "chorus/security/control_secrets.hpp"

namespace chorus::mpd {
class MpdServer;
}
namespace chorus::web {
class HttpServer;
}

namespace chorus::node {

/// The control surfaces every node serves (docs/mpd.md, docs/web.md).
struct ControlConfig {
  std::uint16_t mpd_port = 6600;   ///< the MPD protocol; 0: off
  std::uint16_t http_port = 6680;  ///< the web page, its WebSocket and /metrics; 0: off
  /// With a cluster key: the MPD password and the web token it gives; without, both are open.
  std::optional<security::ControlSecrets> secrets;
};

class ControlSurfaces {
 public:
  ControlSurfaces(control::ControlPort& port, ControlConfig config, std::string host);
  /// Stops the servers and the thread if stop() was not called.
  ~ControlSurfaces();

  /// Listens (a port already taken is logged and that surface is off) and starts the thread.
  void start();
  /// Closes every connection and joins the thread.
  void stop();

  /// The ports served, 0 for a surface that is off.
  std::uint16_t mpd_port() const { return mpd_port_; }
  std::uint16_t http_port() const { return http_port_; }
  const ControlConfig& config() const { return config_; }

 private:
  control::ControlPort& port_;
  ControlConfig config_;
  std::string host_;
  boost::asio::io_context io_;
  std::optional<boost::asio::executor_work_guard<boost::asio::io_context::executor_type>> work_;
  std::unique_ptr<mpd::MpdServer> mpd_;
  std::unique_ptr<web::HttpServer> http_;
  std::uint16_t mpd_port_ = 0;
  std::uint16_t http_port_ = 0;
  std::thread thread_;
};

/// What `access` prints: where MPD clients and browsers reach this node, with the password and
/// the token when the cluster has a key. `host` is the address peers know this node by.
std::string access_text(const ControlSurfaces& surfaces, const std::string& host);

}  // namespace chorus::node
