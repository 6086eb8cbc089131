#pragma once
// What the web server's connections share: the configuration, the bridge to the ControlPort, the
// strand they all run on, and the list of open connections (to count them against the cap, push
// views to the WebSockets, and close them all when the server goes). Used on the strand only.

#include <cstddef>
#include <memory>
#include <utility>
#include <vector>

#include "chorus/web/http_server.hpp"
#include "port_bridge.hpp"

namespace chorus::web::detail {

/// One open connection, as the server sees it.
class Connection {
 public:
  virtual ~Connection() = default;
  /// Closes the socket; pending operations end with an error and the connection goes.
  virtual void close() = 0;
  /// The cluster's view changed (WebSockets push it).
  virtual void view_changed() {}
};

class ServerShared {
 public:
  ServerShared(Strand strand_in, control::ControlPort& port, HttpConfig config_in)
      : strand(std::move(strand_in)),
        config(std::move(config_in)),
        bridge(std::make_shared<PortBridge>(port, strand)) {}

  Strand strand;
  const HttpConfig config;
  std::shared_ptr<PortBridge> bridge;
  bool stopped = false;

  bool at_capacity() {
    prune();
    return open_.size() >= config.limits.max_connections;
  }
  /// A new connection, counted until it is destroyed.
  void add(const std::shared_ptr<Connection>& connection) {
    prune();
    open_.push_back(connection);
  }
  std::size_t open_count() {
    prune();
    return open_.size();
  }
  template <typename Visit>
  void each(Visit&& visit) {
    for (const auto& entry : open_) {
      if (auto live = entry.lock()) visit(*live);
    }
  }

 private:
  void prune() {
    std::erase_if(open_, [](const std::weak_ptr<Connection>& entry) { return entry.expired(); });
  }
  std::vector<std::weak_ptr<Connection>> open_;
};

}  // namespace chorus::web::detail
