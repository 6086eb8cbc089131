#include "chorus/node/peer_node.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/json/serialize.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/node/cluster_view.hpp"
#include "chorus/node/playback_reports.hpp"
#include "chorus/node/reports.hpp"
#include "chorus/security/cluster_key.hpp"

namespace chorus::node {

namespace {
/// The election's discovery timeout while LAN discovery is on and no address was given.
constexpr std::chrono::milliseconds kDiscoveryFloorWithMdns{1100};
}  // namespace

PeerNode::PeerNode(boost::asio::io_context& io, NodeConfig config)
    : io_(io),
      config_(std::move(config)),
      network_(io, config_.network, *this),
      clock_sampler_(io, network_, [this] { playback_.on_clock_sample(); },
                     clock::SamplingPolicy{}.within_heartbeat(config_.network.liveness.interval.count())),
      playback_(io, network_, clock_sampler_, config_.playback, [this] {
        if (election_) election_->set_eligible(true);
      }),
      hub_(io, [this](const cli::Command& command, ControlHub::Done done) { run(command, std::move(done)); }),
      view_timer_(io) {}

PeerNode::~PeerNode() = default;

void PeerNode::start() {
  network_.start();
  // Content links share the cluster links' identity, cluster name and keys.
  auto content = config_.content;
  content.id = network_.id();
  content.cluster = config_.network.cluster;
  content.connection.keys = config_.network.connection.keys;
  content.listen.host = config_.network.listen.host;
  playback_.start(std::move(content), config_.resume_playing);
  // Before the io thread runs: the first handshakes already tell peers where content is served.
  const auto advertised = config_.network.content_port;  // --advertise-content-port, e.g. a proxy's
  network_.set_content_port(advertised != 0 ? advertised : playback_.content_port());
  ElectionTiming timing;
  // Frozen past the suspect time: peers may already be electing, so any leadership is stale.
  const auto& liveness = config_.network.liveness;
  timing.stall_threshold = liveness.interval * liveness.suspect_after_intervals;
  // A freeze as long as the peers' failure detection (3 intervals + RTT) is then always noticed.
  timing.stall_watch = liveness.interval;
  if (config_.network.mdns && !config_.lead_at_start && !config_.network.bootstrap) {
    // Nodes powered on together only hear each other once avahi-daemon has probed their names
    // (~0.75 s): waiting a little past that lets them hold one election instead of each leading
    // itself and then merging (docs/discovery.md, "Timing").
    timing.discovery_floor = kDiscoveryFloorWithMdns;
  }
  election_.emplace(io_, network_, Rank{config_.network.priority, network_.id()}, config_.preempt,
                    timing, [this](const election::Status& status) { on_leadership(status); },
                    [this] { playback_.on_stalled(); });
  election_->remember_epoch(playback_.kept_epoch());
  rooms_.emplace(
      io_, network_, playback_.cache_directory() / "room.json",
      [this](float gain) { playback_.set_gain(gain); },
      [this](control::Subsystems changed) { publish_view(changed); });
  messages_.emplace(*election_, clock_sampler_, playback_, *rooms_);
  playback_.on_changed([this](control::Subsystems changed) { publish_view(changed); });
  election_->start(config_.lead_at_start);
  if (config_.network.mdns) start_lan_discovery();
  publish_view(control::kAllSubsystems);
  refresh_view_periodically();
  surfaces_.emplace(hub_, config_.control, config_.network.listen.host);
  surfaces_->start();
}

void PeerNode::start_lan_discovery() {
  net::LanDiscoverySettings settings;
  settings.record.cluster = config_.network.cluster;
  settings.record.version = protocol::kProtocolVersion;
  settings.record.node_id = network_.id();
  settings.record.priority = config_.network.priority;
  if (const auto& keys = config_.network.connection.keys) {
    settings.record.key_id = security::to_hex(keys->primary.id());
    for (const auto& key : keys->also_accepted) settings.also_accepted_key_ids.push_back(security::to_hex(key.id()));
  }
  settings.port = network_.advertised_endpoint().port;
  lan_.emplace(io_, std::move(settings),
               [this](const protocol::Member& member) { network_.learn_announced(member); });
  lan_->start();
}

void PeerNode::on_leadership(const election::Status& status) {
  playback_.on_leadership(status);  // a new leader that was the heir takes over its clock window
  watch_heir();
  publish_view(control::kPlayer | control::kOutput);
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
  if (surfaces_) surfaces_->stop();
  if (lan_) lan_->stop();  // withdrawn first: peers browsing the LAN see this node go
  view_timer_.cancel();
  if (election_) election_->stop();
  if (rooms_) rooms_->stop();
  playback_.stop();  // writes the state it holds for the next run
  clock_sampler_.pause();
  clock_sampler_.watch_heir(std::nullopt);
  network_.leave(std::chrono::milliseconds(300), std::move(done));
}

void PeerNode::on_peer_up(const net::PeerInfo& peer) {
  election_->peer_up(peer);
  playback_.peer_up(peer);
  if (rooms_) rooms_->peer_up(peer.id);
  watch_heir();
  publish_view(control::kOutput);
}

void PeerNode::on_peer_down(const std::string& id) {
  election_->peer_down(id);
  playback_.peer_down(id);
  if (rooms_) rooms_->peer_down(id);
  watch_heir();
  publish_view(control::kOutput);
}

void PeerNode::watch_heir() { clock_sampler_.watch_heir(election_->core().heir()); }

void PeerNode::on_message(const std::string& from, const protocol::Message& message,
                          net::Clock::time_point received) {
  messages_->handle(from, message, received);
}

namespace {

/// A report: always ok, its text as the prompt prints it.
control::Outcome report(std::string text) {
  control::Outcome outcome;
  outcome.ok = true;
  outcome.text = std::move(text);
  return outcome;
}

}  // namespace

void PeerNode::execute(const cli::Command& command, Reply reply) {
  run(command, [reply = std::move(reply)](const control::Outcome& outcome) { reply(outcome.text); });
}

void PeerNode::run(const cli::Command& command, std::function<void(control::Outcome)> answer) {
  using cli::CommandKind;
  // A client that pipelines a change and a question (setvol, then getvol) reads the change in
  // the snapshot: it is replaced before the outcome is delivered.
  auto done = [this, answer = std::move(answer)](control::Outcome outcome) {
    publish_view(0);
    answer(std::move(outcome));
  };
  switch (command.kind) {
    case CommandKind::peers: return done(report(peers_report(command.json)));
    case CommandKind::status: return done(report(status_report(command.json)));
    case CommandKind::debug: return done(report(debug_report(command.json)));
    case CommandKind::help: return done(report(cli::help_text()));
    case CommandKind::list: return done(report(playback_.list_report(command)));
    case CommandKind::access:
      return done(report(surfaces_ ? access_text(*surfaces_, network_.advertised_endpoint().host)
                                   : "the node is not started"));
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
      return playback_.command(command, std::move(done));
    case CommandKind::queue: return done(report(playback_.queue_report(command)));
    case CommandKind::volume:
    case CommandKind::mute:
    case CommandKind::unmute:
      if (!rooms_) return done(report("error: the node has not started"));
      return rooms_->command(command, std::move(done));
    case CommandKind::update: {
      // This node's own directory, on any node: each node lists its own files (docs/library.md).
      const auto job = playback_.rescan_library();
      auto outcome = report(fmt::format("ok: looking for new music in {} (update {})",
                                        config_.playback.tracks.string(), job));
      outcome.job = job;
      return done(std::move(outcome));
    }
    case CommandKind::exit: return done(report("use exit at the prompt to leave"));
  }
}

void PeerNode::publish_view(control::Subsystems changed) {
  if (!election_) return;
  const auto playback = playback_.view();
  ClusterViewParts parts;
  parts.self = network_.id();
  parts.leadership = election_->core().status();
  parts.leader_changes = election_->core().stats().leader_changes;
  parts.peers = network_.peers();
  parts.traffic = network_.traffic();
  parts.playback = &playback;
  parts.library = playback_.library();
  parts.queue = playback_.queue_view();
  parts.now = playback_.now_playing();
  parts.rooms = rooms();
  parts.control_clients = hub_.clients();
  hub_.publish(std::make_shared<const control::ClusterView>(make_cluster_view(parts)), changed);
}

void PeerNode::refresh_view_periodically() {
  view_timer_.expires_after(std::chrono::seconds(1));
  view_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    publish_view(0);
    refresh_view_periodically();
  });
}

std::vector<control::RoomView> PeerNode::rooms() const {
  return rooms_ ? rooms_->rooms() : std::vector<control::RoomView>{};
}

LeadershipView PeerNode::leadership() const {
  return leadership_view(election_->core().status());
}

std::string PeerNode::peers_report(bool json) const {
  PeersView view{network_.id(), config_.network.priority, network_.advertised_endpoint(),
                 leadership(), network_.peers(), rooms()};
  return json ? peers_json(view) : peers_text(view);
}

std::string PeerNode::status_report(bool json) const {
  StatusView view{network_.id(), network_.advertised_endpoint(), leadership(), {}};
  if (auto key = network_.cluster_key_id()) view.cluster_key_id = security::to_hex(*key);
  auto playback = playback_.view();
  const auto all_rooms = rooms();
  const auto gain = playback_.applied_gain();
  if (!json) {
    return status_text(view) + "\n" + playback_status_text(playback) + library_status_text(playback) +
           (all_rooms.empty() ? "" : room_status_text(all_rooms.front(), gain));
  }
  auto out = status_object(view);
  add_playback_status(out, playback);
  if (!all_rooms.empty()) add_room_status(out, all_rooms.front(), gain);
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
