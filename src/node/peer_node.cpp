#include "chorus/node/peer_node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <spdlog/spdlog.h>

#include "chorus/node/reports.hpp"

namespace chorus::node {

PeerNode::PeerNode(boost::asio::io_context& io, NodeConfig config)
    : io_(io), config_(std::move(config)), network_(io, config_.network, *this) {}

PeerNode::~PeerNode() = default;

void PeerNode::start() { network_.start(); }

const std::string& PeerNode::id() const { return network_.id(); }

void PeerNode::shutdown(std::function<void()> done) {
  network_.leave(std::chrono::milliseconds(300), std::move(done));
}

void PeerNode::on_peer_up(const net::PeerInfo&) {}

void PeerNode::on_peer_down(const std::string&) {}

void PeerNode::on_message(const std::string& from, const protocol::Message& message,
                          net::Clock::time_point) {
  spdlog::debug("{} from {} not handled yet", protocol::type_name(message), from);
}

void PeerNode::execute(const cli::Command& command, Reply reply) {
  using cli::CommandKind;
  switch (command.kind) {
    case CommandKind::peers: return reply(peers_report(command.json));
    case CommandKind::status: return reply(status_report(command.json));
    case CommandKind::debug: return reply(debug_report(command.json));
    case CommandKind::help: return reply(cli::help_text());
    default:
      return reply(fmt::format("error: '{}' is not available yet", cli::spec(command.kind).name));
  }
}

std::string PeerNode::peers_report(bool json) const {
  PeersView view{network_.id(), config_.network.priority, network_.advertised_endpoint(), {},
                 network_.peers()};
  return json ? peers_json(view) : peers_text(view);
}

std::string PeerNode::status_report(bool json) const {
  LeadershipView leadership;
  if (json) {
    boost::json::object out{{"id", network_.id()},
                            {"address", address(network_.advertised_endpoint())},
                            {"role", leadership.role},
                            {"leader", nullptr},
                            {"epoch", leadership.epoch}};
    return boost::json::serialize(out);
  }
  return fmt::format("node {} at {}: {}", network_.id(), address(network_.advertised_endpoint()),
                     leadership.role);
}

std::string PeerNode::debug_report(bool json) const {
  DebugView view{network_.traffic(), network_.membership(), network_.peers()};
  return json ? debug_json(view) : debug_text(view);
}

}  // namespace chorus::node
