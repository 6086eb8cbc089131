#pragma once
// In-process nodes on loopback for network tests: each has its own io_context, and the test
// thread drives them all, so a node can be "killed" by destroying it while the others run on.

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "chorus/net/network_manager.hpp"

namespace chorus::testing {

/// Records what a NetworkManager reports.
struct RecordingObserver final : net::NetworkObserver {
  std::vector<std::string> ups;
  std::vector<std::string> downs;
  std::vector<std::pair<std::string, protocol::Message>> messages;

  void on_peer_up(const net::PeerInfo& peer) override { ups.push_back(peer.id); }
  void on_peer_down(const std::string& id) override { downs.push_back(id); }
  void on_message(const std::string& from, const protocol::Message& message,
                  net::Clock::time_point) override {
    messages.emplace_back(from, message);
  }
};

struct LoopbackNode {
  std::unique_ptr<boost::asio::io_context> io = std::make_unique<boost::asio::io_context>();
  RecordingObserver observer;
  std::unique_ptr<net::NetworkManager> network;

  /// The peer's state in this node's table, or "unknown".
  std::string state_of(const std::string& id) const;
  std::uint16_t port() const { return network->local_endpoint().port; }
};

/// A fresh config on 127.0.0.1 with an ephemeral port and a fast heartbeat.
net::NetworkConfig loopback_config(const std::string& id);

class LoopbackCluster {
 public:
  /// Starts a node; bootstraps it to `bootstrap_port` when non-zero. It is known to the test
  /// by `name`, its id unless given (two processes may claim one id).
  LoopbackNode& start(net::NetworkConfig config, std::uint16_t bootstrap_port = 0,
                      std::string name = {});
  /// Destroys a node abruptly, as kill -9 would: sockets close, no LEAVE is sent.
  void kill(const std::string& id);
  LoopbackNode& node(const std::string& id) { return *nodes_.at(id); }
  /// Stops running a node's io_context, as SIGSTOP would; thaw() resumes it.
  void freeze(const std::string& id) { frozen_.insert(id); }
  void thaw(const std::string& id) { frozen_.erase(id); }

  /// Runs every node's io_context until `done` holds or `timeout` passes; returns `done()`.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);
  /// Runs every node for `span` (for checking that something does NOT happen).
  void run_for(std::chrono::milliseconds span);

  /// True when every node lists every other node as up.
  bool full_mesh() const;

 private:
  void run_once();
  std::map<std::string, std::unique_ptr<LoopbackNode>> nodes_;
  std::set<std::string> frozen_;
};

}  // namespace chorus::testing
