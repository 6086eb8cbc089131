#pragma once
// PeerNode: composes the network, the election, clock sampling and playback; the MessageHandler
// routes peers' messages to them, and this class routes prompt commands (docs/architecture.md).
// Logic lives in the components; this class only wires their inputs and outputs together.
// Every member runs on the io thread.

#include <functional>
#include <memory>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "chorus/cli/command.hpp"
#include "chorus/content/content_service.hpp"
#include "chorus/net/lan_discovery.hpp"
#include "chorus/net/network_manager.hpp"
#include "chorus/node/clock_sampler.hpp"
#include "chorus/node/election_shell.hpp"
#include "chorus/node/message_handler.hpp"
#include "chorus/node/playback_controller.hpp"
#include "chorus/node/reports.hpp"
#include "chorus/node/control_hub.hpp"
#include "chorus/node/control_surfaces.hpp"
#include "chorus/node/room_control.hpp"

namespace boost::asio {
class io_context;
}

namespace chorus::node {

struct NodeConfig {
  net::NetworkConfig network;
  bool lead_at_start = false;  ///< --leader: start a new cluster as its leader
  bool preempt = false;        ///< --preempt: a higher-ranked joiner takes over leadership
  bool resume_playing = false;  ///< --resume-playing: a restored cluster led here plays by itself
  playback::PlayerConfig playback;
  /// Content links and the cache; its id, cluster, keys and listen host come from `network`.
  content::ContentConfig content;
  ControlConfig control;
};

class PeerNode final : public net::NetworkObserver {
 public:
  /// Receives the text a command prints (without a trailing newline for one-liners).
  using Reply = std::function<void(const std::string&)>;

  PeerNode(boost::asio::io_context& io, NodeConfig config);
  ~PeerNode();

  /// Starts listening, dialling and the timers. Throws if the listen address cannot be bound.
  void start();
  /// Runs one command — from the prompt, an MPD client or the web page — and delivers its outcome
  /// exactly once (perhaps later, for commands the leader runs).
  void run(const cli::Command& command, std::function<void(control::Outcome)> done);
  /// run() for the prompt: the outcome's text.
  void execute(const cli::Command& command, Reply reply);
  /// Leaves the cluster gracefully, then calls `done`.
  void shutdown(std::function<void()> done);

  const std::string& id() const;
  /// The snapshots and commands the front ends use (also read by the service notifier).
  control::ControlPort& control_port() { return hub_; }


  void on_peer_up(const net::PeerInfo& peer) override;
  void on_peer_down(const std::string& id) override;
  void on_message(const std::string& from, const protocol::Message& message,
                  net::Clock::time_point received) override;

 private:
  LeadershipView leadership() const;
  std::string peers_report(bool json) const;
  std::string status_report(bool json) const;
  std::string debug_report(bool json) const;
  void on_leadership(const election::Status& status);
  /// Points the clock sampler at the election's heir (after any change of peers or leader).
  void watch_heir();
  /// The rooms' volumes: this node first, then the peers by id (RoomControl's table).
  std::vector<control::RoomView> rooms() const;
  /// A new snapshot for the front ends, telling them what changed (0: counters only).
  void publish_view(control::Subsystems changed);
  /// The metrics move without events: the snapshot is refreshed every second.
  void refresh_view_periodically();
  /// Announces this node and finds its cluster on the LAN (unless --no-mdns).
  void start_lan_discovery();

  boost::asio::io_context& io_;
  NodeConfig config_;
  net::NetworkManager network_;
  ClockSampler clock_sampler_;
  PlaybackController playback_;
  std::optional<ElectionShell> election_;  ///< made by start(), once the node id is known
  std::optional<RoomControl> rooms_;        ///< made by start(), once the cache directory is known
  std::optional<MessageHandler> messages_;  ///< made by start(), with the election
  ControlHub hub_;
  std::optional<ControlSurfaces> surfaces_;  ///< made by start(), with the host known
  boost::asio::steady_timer view_timer_;
  std::optional<net::LanDiscovery> lan_;  ///< made by start(), once the node id and port are known
};

}  // namespace chorus::node
