#include "loopback_cluster.hpp"

namespace chorus::testing {

std::string LoopbackNode::state_of(const std::string& id) const {
  for (const auto& peer : network->peers()) {
    if (peer.id == id) return std::string(net::to_string(peer.state));
  }
  return "unknown";
}

net::NetworkConfig loopback_config(const std::string& id) {
  net::NetworkConfig config;
  config.id = id;
  config.listen = {"127.0.0.1", 0};
  config.liveness.interval = std::chrono::milliseconds(50);
  config.reconnect_first = std::chrono::milliseconds(50);
  config.reconnect_max = std::chrono::milliseconds(200);
  return config;
}

LoopbackNode& LoopbackCluster::start(net::NetworkConfig config, std::uint16_t bootstrap_port,
                                     std::string name) {
  if (bootstrap_port != 0) config.bootstrap = protocol::Endpoint{"127.0.0.1", bootstrap_port};
  auto node = std::make_unique<LoopbackNode>();
  node->network = std::make_unique<net::NetworkManager>(*node->io, config, node->observer);
  node->network->start();
  auto& ref = *node;
  nodes_[name.empty() ? config.id : name] = std::move(node);
  return ref;
}

void LoopbackCluster::kill(const std::string& id) {
  auto it = nodes_.find(id);
  it->second->network.reset();  // cancels its operations; their handlers never run
  it->second->io.reset();       // destroys pending handlers, closing the sockets they owned
  nodes_.erase(it);
}

void LoopbackCluster::run_once() {
  for (auto& [id, node] : nodes_) {
    if (frozen_.count(id)) continue;
    if (node->io->stopped()) node->io->restart();
    node->io->run_for(std::chrono::milliseconds(1));
  }
}

bool LoopbackCluster::run_until(const std::function<bool()>& done,
                                std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    run_once();
  }
  return true;
}

void LoopbackCluster::run_for(std::chrono::milliseconds span) {
  auto deadline = std::chrono::steady_clock::now() + span;
  while (std::chrono::steady_clock::now() < deadline) run_once();
}

bool LoopbackCluster::full_mesh() const {
  for (const auto& [id, node] : nodes_) {
    for (const auto& [other, unused] : nodes_) {
      if (other != id && node->state_of(other) != "up") return false;
    }
  }
  return true;
}

}  // namespace chorus::testing
