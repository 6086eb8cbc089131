#include "chorus/node/peer_node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <spdlog/spdlog.h>

#include "chorus/node/playback_reports.hpp"
#include "chorus/node/reports.hpp"

namespace chorus::node {

PeerNode::PeerNode(boost::asio::io_context& io, NodeConfig config)
    : io_(io),
      config_(std::move(config)),
      network_(io, config_.network, *this),
      clock_sampler_(io, network_, [this] { playback_.on_clock_sample(); }),
      playback_(io, network_, clock_sampler_, config_.playback, [this] {
        if (election_) election_->set_eligible(true);
      }) {}

PeerNode::~PeerNode() = default;

void PeerNode::start() {
  network_.start();
  // Content links share the cluster links' identity, cluster name and keys.
  auto content = config_.content;
  content.id = network_.id();
  content.cluster = config_.network.cluster;
  content.connection.keys = config_.network.connection.keys;
  content.listen.host = config_.network.listen.host;
  playback_.start(std::move(content));
  // Before the io thread runs: the first handshakes already tell peers where content is served.
  const auto advertised = config_.network.content_port;  // --advertise-content-port, e.g. a proxy's
  network_.set_content_port(advertised != 0 ? advertised : playback_.content_port());
  ElectionTiming timing;
  // Frozen past the suspect time: peers may already be electing, so any leadership is stale.
  const auto& liveness = config_.network.liveness;
  timing.stall_threshold = liveness.interval * liveness.suspect_after_intervals;
  election_.emplace(io_, network_, Rank{config_.network.priority, network_.id()}, config_.preempt,
                    timing, [this](const election::Status& status) { on_leadership(status); },
                    [this] { playback_.on_stalled(); });
  messages_.emplace(*election_, clock_sampler_, playback_);
  election_->start(config_.lead_at_start);
}

void PeerNode::on_leadership(const election::Status& status) {
  playback_.on_leadership(status);
  if (status.role == election::Role::leader) {
    spdlog::info("this node leads the cluster (epoch {})", status.epoch);
  } else if (status.leader) {
    spdlog::info("following {} (epoch {})", *status.leader, status.epoch);
  } else {
    spdlog::info("no leader known ({}, epoch {})", election::to_string(status.role), status.epoch);
  }
}

const std::string& PeerNode::id() const { return network_.id(); }

void PeerNode::shutdown(std::function<void()> done) {
  if (election_) election_->stop();
  playback_.stop();
  clock_sampler_.pause();
  network_.leave(std::chrono::milliseconds(300), std::move(done));
}

void PeerNode::on_peer_up(const net::PeerInfo& peer) {
  election_->peer_up(peer);
  playback_.peer_up(peer);
}

void PeerNode::on_peer_down(const std::string& id) {
  election_->peer_down(id);
  playback_.peer_down(id);
}

void PeerNode::on_message(const std::string& from, const protocol::Message& message,
                          net::Clock::time_point received) {
  messages_->handle(from, message, received);
}

void PeerNode::execute(const cli::Command& command, Reply reply) {
  using cli::CommandKind;
  switch (command.kind) {
    case CommandKind::peers: return reply(peers_report(command.json));
    case CommandKind::status: return reply(status_report(command.json));
    case CommandKind::debug: return reply(debug_report(command.json));
    case CommandKind::help: return reply(cli::help_text());
    case CommandKind::list: return reply(playback_.list_report(command));
    case CommandKind::play:
    case CommandKind::pause:
    case CommandKind::resume:
    case CommandKind::stop:
    case CommandKind::next:
    case CommandKind::prev:
    case CommandKind::seek:
    case CommandKind::add:
    case CommandKind::remove:
    case CommandKind::move:
    case CommandKind::clear:
    case CommandKind::random:
    case CommandKind::repeat:
    case CommandKind::single:
    case CommandKind::consume:
      return playback_.command(command, [reply = std::move(reply)](const control::Outcome& outcome) {
        reply(outcome.text);
      });
    case CommandKind::queue: return reply(playback_.queue_report(command));
    case CommandKind::exit: return reply("use exit at the prompt to leave");
    default: return reply("error: not available yet");  // TODO(integration)
  }
}

LeadershipView PeerNode::leadership() const {
  return leadership_view(election_->core().status());
}

std::string PeerNode::peers_report(bool json) const {
  PeersView view{network_.id(), config_.network.priority, network_.advertised_endpoint(),
                 leadership(), network_.peers()};
  return json ? peers_json(view) : peers_text(view);
}

std::string PeerNode::status_report(bool json) const {
  StatusView view{network_.id(), network_.advertised_endpoint(), leadership(), {}};
  if (auto key = network_.cluster_key_id()) view.cluster_key_id = security::to_hex(*key);
  auto playback = playback_.view();
  if (!json) return status_text(view) + "\n" + playback_status_text(playback) + library_status_text(playback);
  auto out = status_object(view);
  add_playback_status(out, playback);
  return boost::json::serialize(out);
}

std::string PeerNode::debug_report(bool json) const {
  const auto& core = election_->core();
  DebugView view{network_.traffic(), network_.membership(), network_.peers(),
                 {leadership(), core.highest_epoch_seen(), election_->last_election(), core.stats()}};
  auto playback = playback_.view();
  if (!json) {
    return debug_text(view) + playback_status_text(playback) + output_anomalies_text(playback) +
           clock_checks_text(playback);
  }
  auto out = debug_object(view);
  boost::json::object playback_fields;
  add_playback_status(playback_fields, playback);
  out["playback"] = std::move(playback_fields);
  return boost::json::serialize(out);
}

}  // namespace chorus::node
