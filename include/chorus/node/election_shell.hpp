#pragma once
// ElectionShell: runs the pure BullyElection core on the io thread.
//
//   before every input (wake-up, peer up/down, message), see election_ticker.hpp:
//     the armed wake-up is far overdue (process was frozen) -> core.stalled(), then on_stall
//     every tick of 20 ms that came due since (on a grid from the start), in order:
//       every 25 ticks: timeouts re-derived from the peers' measured RTT
//       every 50 ticks, while leader: core.reannounce()
//       core.tick()
//   network events -> core.peer_up / peer_down; election messages -> core.step
//   a leader's state held (arrived, one clock sample) -> core.set_eligible(true)
//   after every input: outbox -> wire messages to peers; changes -> on_change callback; the timer
//     re-armed for the tick where the core's timer expires, or the freeze watch (an interval,
//     sharing the network manager's wake-up when it comes sooner)

#include <chrono>
#include <functional>
#include <optional>

#include <boost/asio/steady_timer.hpp>

#include "chorus/election/bully_election.hpp"
#include "chorus/net/network_manager.hpp"
#include "chorus/net/transport.hpp"
#include "chorus/node/election_ticker.hpp"
#include "chorus/node/message_handler.hpp"

namespace chorus::node {

/// How the shell turns wall time into the core's ticks and timeouts.
struct ElectionTiming {
  std::chrono::milliseconds tick{20};
  /// Longest sleep while the core has no timer armed: how soon a freeze is noticed (see
  /// ElectionTicker). The node sets it to the heartbeat interval.
  std::chrono::microseconds stall_watch{200'000};
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

  /// Starts the tick grid; with `lead`, becomes leader of a new cluster at once.
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
  /// When the shell's timer is armed for (for tests); none before start().
  std::optional<std::chrono::steady_clock::time_point> armed() const;
  /// See BullyElection::remember_epoch; before start().
  void remember_epoch(std::uint64_t epoch) { core_.remember_epoch(epoch); }

  const election::BullyElection& core() const { return core_; }
  /// Duration of the last election, from its first round until a leader was known.
  std::optional<std::chrono::milliseconds> last_election() const;

 private:
  /// Before every input: tells the core and on_stall if the process was frozen since the armed
  /// wake-up, so that a resumed node knows its state is stale before it reacts to the EOFs and
  /// messages that queued up meanwhile (in whatever order the io_context runs them); then runs
  /// the ticks that came due.
  void catch_up();
  void run_tick(std::int64_t tick);
  void on_wakeup();
  /// After every input: arms the timer for what the core needs next.
  void rearm();
  void step(const election::Envelope& envelope);
  void flush();

  boost::asio::steady_timer timer_;
  net::Transport& network_;
  ElectionTiming timing_;
  election::BullyElection core_;
  ChangeHandler on_change_;
  StallHandler on_stall_;
  std::optional<ElectionTicker> ticker_;  ///< from start()
  std::optional<std::chrono::steady_clock::time_point> timer_at_;
  bool running_ = false;
};

}  // namespace chorus::node
