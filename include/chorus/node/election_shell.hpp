#pragma once
// ElectionShell: runs the pure BullyElection core on the io thread.
//
//   before every input (tick, peer up/down, message):
//     the tick is far overdue (process was stopped) -> core.stalled(), then on_stall
//   tick timer, every 20 ms (absolute deadlines):
//     every 25 ticks: timeouts re-derived from the peers' measured RTT
//     core.tick()
//   network events -> core.peer_up / peer_down; election messages -> core.step
//   a leader's state held (arrived, one clock sample) -> core.set_eligible(true)
//   after every input: outbox -> wire messages to peers; changes -> on_change callback

#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "chorus/election/bully_election.hpp"
#include "chorus/net/network_manager.hpp"
#include "chorus/net/transport.hpp"
#include "chorus/node/message_handler.hpp"

namespace chorus::node {

/// How the shell turns wall time into the core's ticks and timeouts.
struct ElectionTiming {
  std::chrono::milliseconds tick{20};
  std::chrono::milliseconds discovery_floor{800};
  std::chrono::milliseconds answer_floor{100};
  std::chrono::milliseconds coordinator_floor{200};
  std::chrono::milliseconds jitter{60};
  /// Ceilings, whatever RTT is reported: a peer's RTT is its own claim in part, and a leaderless
  /// cluster must not wait for ever on it. Well above any RTT of a working LAN (floors ×5..10).
  std::chrono::milliseconds discovery_ceiling{3000};
  std::chrono::milliseconds answer_ceiling{1000};
  std::chrono::milliseconds coordinator_ceiling{2000};
  /// A tick this late means the process was frozen long enough for peers to give up on it.
  std::chrono::microseconds stall_threshold{600'000};

  /// Timeouts in ticks for the worst RTT among up peers: a few RTTs, never below the floors nor
  /// above the ceilings.
  election::Timeouts timeouts_for(std::chrono::microseconds max_rtt) const;
};

class ElectionShell final : public ElectionInbox {
 public:
  using ChangeHandler = std::function<void(const election::Status&)>;
  using StallHandler = std::function<void()>;

  /// The node starts not eligible: it holds no playback state until its leader's arrives.
  /// `on_stall` runs after the core has been told of a stall, so the state can be re-fetched.
  ElectionShell(boost::asio::io_context& io, net::Transport& network, Rank self,
                bool preempt, ElectionTiming timing, ChangeHandler on_change,
                StallHandler on_stall);

  /// Starts the tick timer; with `lead`, becomes leader of a new cluster at once.
  void start(bool lead);
  void stop();

  void peer_up(const net::PeerInfo& peer);
  void peer_down(const std::string& id);
  /// ELECTION / ELECTION_ANSWER / COORDINATOR, whose sender the network layer has verified.
  void receive(const protocol::Election& message) override;
  void receive(const protocol::ElectionAnswer& message) override;
  void receive(const protocol::Coordinator& message) override;
  /// Whether this node holds the cluster's playback state (see BullyElection::set_eligible).
  void set_eligible(bool eligible);
  /// See BullyElection::remember_epoch; before start().
  void remember_epoch(std::uint64_t epoch) { core_.remember_epoch(epoch); }

  const election::BullyElection& core() const { return core_; }
  /// Duration of the last election, from its first round until a leader was known.
  std::optional<std::chrono::milliseconds> last_election() const;

 private:
  void schedule_tick();
  void on_tick();
  /// Tells the core and on_stall if the process was frozen since the last tick. Checked before
  /// every input, so that a resumed node knows its state is stale before it reacts to the EOFs
  /// and messages that queued up meanwhile (in whatever order the io_context runs them).
  void check_stall();
  void step(const election::Envelope& envelope);
  void flush();

  boost::asio::steady_timer timer_;
  net::Transport& network_;
  ElectionTiming timing_;
  election::BullyElection core_;
  ChangeHandler on_change_;
  StallHandler on_stall_;
  std::chrono::steady_clock::time_point next_tick_;
  std::uint64_t ticks_ = 0;
  bool running_ = false;
};

}  // namespace chorus::node
