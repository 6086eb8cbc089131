#pragma once
// SimNetwork: N BullyElection cores on a simulated, tick-driven network (test-only).
//
// It plays the network layer's part: it calls peer_up / peer_down on BOTH ends whenever a link
// comes or goes (crash, restart, partition, cut, freeze with detection), and it carries outboxes.
// Links behave like TCP connections: reliable and FIFO per direction while up; a link that goes
// down loses whatever was in flight on it, and a link that comes back is a new connection.
//
// Delivery: a message sent at tick t with delay d is delivered at t + d (d = 0: within the same
// call, "synchronously until quiet"). Every public call ends by delivering whatever is due.
// Within tick(): the clock advances, every running node ticks (in insertion order), then due
// messages are delivered.
//
// Invariants checked on every single input to every core (recorded in violations()):
// epoch() and highest_epoch_seen() never go backwards, and a core only sends to peers that the
// network has reported up to it.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "chorus/election/bully_election.hpp"

namespace chorus::election::test {

/// What the shell does when a frozen (SIGSTOPped) process resumes.
enum class Resume {
  plain,            ///< nothing special (a short freeze, below the stall threshold)
  stalled_then_eof, ///< calls stalled() first, then reads the EOFs of links peers closed
  eof_then_stalled, ///< reads the EOFs first, then calls stalled()
};

class SimNetwork {
 public:
  explicit SimNetwork(std::uint64_t seed = 1);
  SimNetwork(const SimNetwork&) = delete;
  SimNetwork& operator=(const SimNetwork&) = delete;

  // ---- membership ---------------------------------------------------------------------------

  /// Add a running node; it connects to every node it may reach. With `jitter_from_sim`, its
  /// random source draws from the simulation's seeded generator.
  void add(const Rank& rank, Config config = {}, bool jitter_from_sim = true);
  /// Shorthand: add(Rank{priority, id}, config).
  void add(const std::string& id, std::int64_t priority, Config config = {});

  BullyElection& core(const std::string& id);
  const BullyElection& core(const std::string& id) const;
  /// Every node ever added, in insertion order.
  const std::vector<std::string>& ids() const { return order_; }
  bool running(const std::string& id) const;
  bool frozen(const std::string& id) const;
  /// Running, unfrozen nodes.
  std::vector<std::string> live() const;

  // ---- time ---------------------------------------------------------------------------------

  void tick(std::int64_t n = 1);
  std::int64_t now() const { return now_; }
  /// Nothing in flight, nobody frozen, every live node leads or follows a leader, and no state
  /// sync is pending (see set_state_sync).
  bool quiet() const;
  /// Tick until quiet(); returns the ticks it took, or empty if not quiet within max_ticks.
  std::optional<std::int64_t> run_until_quiet(std::int64_t max_ticks);

  // ---- commands -----------------------------------------------------------------------------

  void start_election(const std::string& id);
  void lead_now(const std::string& id);
  void stalled(const std::string& id);
  /// The node's shell reports whether it holds the cluster's state (BullyElection::set_eligible).
  void set_eligible(const std::string& id, bool eligible);
  /// How the simulated playback hands out the state: a node not eligible becomes eligible once it
  /// has followed a live leader for `delay` ticks (its STATE_SYNC arrived). Empty: never by
  /// itself, only through set_eligible(). Default 0: at once.
  void set_state_sync(std::optional<std::int64_t> delay);
  void reannounce(const std::string& id);
  /// Hand a forged message to its receiver now, bypassing links (the receiver must be live).
  void inject(const Envelope& message);

  // ---- faults -------------------------------------------------------------------------------

  /// Block the link between a and b (both ends see peer_down).
  void cut(const std::string& a, const std::string& b);
  /// Unblock the link between a and b (both ends see peer_up if both can run).
  void heal(const std::string& a, const std::string& b);
  /// Put the node in a group of its own.
  void isolate(const std::string& id);
  /// Split into groups; nodes not listed join the first group. Links only within a group.
  void partition(const std::vector<std::vector<std::string>>& groups);
  /// One group again and no blocked links.
  void heal_all();
  /// Discard every message of this kind from now on (or stop doing so).
  void drop(MessageKind kind, bool on = true);
  /// Each message from now on is delayed by a uniform draw in [lo, hi] ticks (FIFO kept).
  void set_delay(std::int64_t lo, std::int64_t hi);
  /// kill -9: the process stops; its peers see peer_down at once; in-flight messages are lost.
  void crash(const std::string& id);
  /// A fresh process with the same rank and config; links re-form (peer_up at both ends).
  void restart(const std::string& id);
  /// SIGSTOP: no ticks, no deliveries. With `detected`, peers' failure detectors fire at once
  /// (they see peer_down and close the links); otherwise the links stay up and messages queue.
  void freeze(const std::string& id, bool detected);
  /// SIGCONT, then what the shell does on resuming; closed links re-form afterwards.
  void thaw(const std::string& id, Resume resume);

  // ---- observation --------------------------------------------------------------------------

  /// Connected components of live nodes over up links.
  std::vector<std::vector<std::string>> groups() const;
  /// The leader every member of `group` follows, if they all agree, it leads, it belongs to the
  /// group and all members share its epoch.
  std::optional<std::string> agreed_leader(const std::vector<std::string>& group) const;
  /// Status changes of the node's current incarnation, oldest first.
  const std::vector<Status>& history(const std::string& id) const;
  /// Broken invariants seen so far (empty = fine).
  const std::vector<std::string>& violations() const { return violations_; }
  std::size_t in_flight() const { return queue_.size(); }
  std::uint64_t delivered() const { return delivered_; }
  std::uint64_t lost() const { return lost_; }
  /// One line per node: role, leader, epoch, stats; for failure messages.
  std::string describe() const;
  /// Human-readable log of the faults and commands applied (and, with trace on, of every
  /// delivery, peer_up/peer_down and status change).
  const std::vector<std::string>& events() const { return events_; }
  void set_trace(bool on) { trace_ = on; }

 private:
  using Pair = std::pair<std::string, std::string>;
  struct Node {
    Rank rank;
    Config config;
    bool jitter_from_sim = true;
    std::unique_ptr<BullyElection> core;
    bool running = true;
    bool frozen = false;
    bool detached = false;  // frozen and detected: peers closed the links
    int group = 0;
    std::map<std::string, std::uint64_t> view;  // peers reported up -> link generation
    std::vector<Status> history;
    std::uint64_t last_epoch = 0;
    std::uint64_t last_seen = 0;
    std::optional<std::string> followed;  // the leader whose state is on its way
    std::int64_t following_since = 0;
  };
  struct Link {
    bool up = false;
    std::uint64_t generation = 0;
  };
  struct InFlight {
    Envelope message;
    std::uint64_t generation = 0;
  };

  static Pair key(const std::string& a, const std::string& b);
  Node& node(const std::string& id);
  const Node& node(const std::string& id) const;
  std::unique_ptr<BullyElection> make_core(const Node& n);
  bool wanted(const Node& a, const Node& b) const;
  void sync_links();
  void reconcile(const std::string& id);
  void collect(const std::string& id);
  void deliver();
  /// What the shell does on a stall: the core's stalled(), and a new request for the state.
  void on_stalled(Node& n);
  void deliver_due();
  /// Hands the state to followers that have waited the sync delay; true if any got it.
  bool sync_states();
  /// A follower not eligible whose live leader's state is on its way.
  bool awaits_state(const Node& n) const;
  void note(std::string event);

  std::mt19937_64 rng_;
  std::int64_t now_ = 0;
  std::map<std::string, Node> nodes_;
  std::vector<std::string> order_;
  std::map<Pair, Link> links_;
  std::set<Pair> blocked_;
  std::map<Pair, std::int64_t> fifo_;  // directed (from, to) -> latest delivery tick queued
  std::map<std::pair<std::int64_t, std::uint64_t>, InFlight> queue_;  // (due tick, seq)
  std::uint64_t seq_ = 0;
  std::int64_t delay_lo_ = 0;
  std::int64_t delay_hi_ = 0;
  std::set<MessageKind> dropped_kinds_;
  std::optional<std::int64_t> state_sync_delay_ = 0;
  std::uint64_t delivered_ = 0;
  std::uint64_t lost_ = 0;
  std::vector<std::string> violations_;
  std::vector<std::string> events_;
  bool trace_ = false;
};

}  // namespace chorus::election::test
