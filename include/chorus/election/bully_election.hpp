#pragma once
// BullyElection: the pure Bully leader-election core. No sockets, no clock, no threads, no
// randomness of its own. docs/election.md explains the rules and the reasoning behind them.
//
// The shell drives it with four kinds of input and drains two outputs after EVERY input:
//
//   inputs                                 outputs (drain after each input)
//   tick()          <- periodic timer      take_outbox()  -> envelopes to send, in order
//   step(envelope)  <- ELECTION/ANSWER/    take_changes() -> Status after each input that
//                      COORDINATOR rx                        changed role, leader or epoch
//   peer_up(rank) / peer_down(id) <- failure detector
//   set_eligible(bool)  <- the node holds the cluster's state (or no longer trusts it)
//   start_election() / lead_now() / stalled() / set_timeouts() <- commands
//
// At most one timer is armed at any time, and which one depends on the role:
//
//   follower, no leader   --discovery (+jitter)-->  start an election (if eligible, or once
//                                                   leaderless for discovery + coordinator)
//   follower, with leader    (no timer: the failure detector reports the leader's death)
//   candidate, unanswered --answer------------->    become leader
//   candidate, answered   --coordinator (+jitter)-> start the election again
//   leader                   (no timer)

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/election/election_config.hpp"
#include "chorus/election/envelope.hpp"
#include "chorus/rank.hpp"

namespace chorus::election {

/// What a node currently does in the election.
enum class Role { follower, candidate, leader };

/// "follower", "candidate" or "leader".
std::string_view to_string(Role role);

/// The leadership a node believes in. The shell stamps leader commands with `epoch` and accepts
/// playback commands only from `leader` with an epoch at least `epoch`.
struct Status {
  Role role = Role::follower;
  std::optional<std::string> leader;  ///< own id while leader; empty while no leader is known
  std::uint64_t epoch = 0;            ///< epoch of the leadership followed or held; never decreases

  friend bool operator==(const Status&, const Status&) = default;
};

/// Counters, for `debug` output, logs and tests.
struct Stats {
  std::uint64_t elections_started = 0;     ///< election rounds begun (including retries)
  std::uint64_t elections_won = 0;         ///< times this node became leader (lead_now included)
  std::uint64_t step_downs = 0;            ///< leaderships given up (a higher leader met, stalled())
  std::uint64_t reannouncements = 0;       ///< COORDINATOR broadcasts by a sitting leader
  std::uint64_t leader_changes = 0;        ///< times the known leader became a different node
  std::uint64_t stale_coordinators = 0;    ///< COORDINATORs below our epoch, ignored
  std::uint64_t ignored_coordinators = 0;  ///< current COORDINATORs not followed (see docs)
  std::uint64_t unexpected_messages = 0;   ///< late ANSWERs and ELECTIONs that need no reaction
  std::uint64_t unknown_senders = 0;       ///< messages from peers not up, or misaddressed
  /// start_election()/lead_now() while leader, start_election() while not standing,
  /// set_eligible(false) while leader
  std::uint64_t ignored_commands = 0;
  std::uint64_t unanswered_elections = 0;  ///< lower ranks' ELECTIONs not answered: not eligible
  /// Leaderships taken without the state: no eligible node had led within the patience.
  std::uint64_t stood_without_state = 0;
  /// Ticks from the start of the last election (first round) until a leader was known.
  std::optional<std::int64_t> last_election_ticks;
};

/// The Bully election state machine for one node.
class BullyElection {
 public:
  /// A fresh node: follower, no leader, epoch 0, no live peers, discovery timer armed.
  explicit BullyElection(Rank self, Config config = {}, RandomSource random = {});

  // ---- inputs -------------------------------------------------------------------------------

  /// Advance time by one tick; fires the armed timer when it expires.
  void tick();
  /// Handle one received election message. Messages not addressed to us, or from a peer that is
  /// not up, are ignored (counted in unknown_senders).
  void step(const Envelope& message);
  /// The failure detector reports `peer` reachable (handshake done). A second peer_up for a peer
  /// already up means it restarted: handled as peer_down then peer_up.
  void peer_up(const Rank& peer);
  /// The failure detector reports the peer unreachable (EOF, heartbeat silence, LEAVE).
  void peer_down(const std::string& id);

  /// An epoch seen before a restart (kept on disk): leaderships from now on take a higher one,
  /// so states of this run order after those kept (docs/playback.md, "After a restart").
  void remember_epoch(std::uint64_t epoch);
  /// Hold an election now (ignored while leader).
  void start_election();
  /// The --leader flag: become leader at once with a new epoch (ignored while leader).
  void lead_now();
  /// The shell saw its own process frozen for longer than the peers' failure detection. A leader
  /// steps down to follower with no known leader (epoch kept) and tells its live peers so; it
  /// stays eligible until it hears of an epoch above the one it led (someone led after it). A
  /// follower or candidate becomes not eligible: it may have missed commands.
  void stalled();
  /// Whether this node holds the cluster's state: true once the shell applied its leader's
  /// STATE_SYNC. A node that is not eligible does not answer ELECTIONs from lower ranks, does not
  /// campaign or preempt, until it has been without a leader for discovery + coordinator ticks
  /// (then nobody alive holds the state and it stands anyway). Leading makes a node eligible; a
  /// leader ignores false. Becoming eligible with `preempt` while following a lower-ranked leader
  /// starts the preemption that was held back.
  void set_eligible(bool eligible);
  /// A leader sends COORDINATOR to every live peer again (ignored when not leader). The shell
  /// calls it periodically: if an announcement was ever lost (a link replaced mid-flight), a
  /// second leader or a stray follower still meets the leader within one period.
  void reannounce();
  /// New timeouts for timers armed from now on (the running timer keeps its deadline).
  void set_timeouts(const Timeouts& timeouts);
  /// Replace the random source used for jitter.
  void set_random(RandomSource random);

  // ---- outputs ------------------------------------------------------------------------------

  /// Envelopes produced since the last call, in the order they must be sent.
  std::vector<Envelope> take_outbox();
  /// One Status per input that changed role, leader or epoch, oldest first (intermediate states
  /// inside one input are not reported). Leadership changes are observed here.
  std::vector<Status> take_changes();
  /// True when take_outbox() or take_changes() would return something.
  bool has_ready() const;

  // ---- observable state ---------------------------------------------------------------------

  const Rank& rank() const { return self_; }
  Role role() const { return role_; }
  /// The known leader (own id while leader).
  const std::optional<std::string>& leader() const { return leader_; }
  /// Epoch of the leadership followed or held; never decreases.
  std::uint64_t epoch() const { return epoch_; }
  /// Highest epoch seen in any message or used; never decreases; at least epoch().
  std::uint64_t highest_epoch_seen() const { return highest_seen_; }
  Status status() const { return Status{role_, leader_, epoch_}; }
  const Stats& stats() const { return stats_; }
  bool eligible() const { return eligible_; }
  /// Whether the node may stand for election now: eligible, or leaderless for so long that
  /// nobody alive holds the state.
  bool stands() const;
  const Config& config() const { return config_; }
  /// Ticks seen since construction.
  std::int64_t now() const { return now_; }
  /// Ticks until the armed timer fires (1 = on the next tick), or empty if none is armed.
  std::optional<std::int64_t> ticks_until_timeout() const;
  bool is_up(const std::string& id) const { return peers_.contains(id); }
  /// Peers currently up, in rank order (lowest first).
  std::vector<Rank> live_peers() const;
  /// The peer that would lead if the leader went away now: the highest-ranked live peer other
  /// than the leader. None while this node leads, or when it outranks every such peer (it would
  /// lead itself). A follower keeps an estimate of the heir's clock ready for that moment.
  std::optional<std::string> heir() const;

 private:
  enum class Phase { none, awaiting_answers, awaiting_coordinator };

  /// Per-role behaviour; swapped only by set_role().
  struct Behaviour {
    void (BullyElection::*step)(const Envelope&);
    void (BullyElection::*timeout)();
    void (BullyElection::*peer_up)(const Rank&);
    void (BullyElection::*peer_down)(const std::string&);
  };
  static const Behaviour kFollower;
  static const Behaviour kCandidate;
  static const Behaviour kLeader;

  // role transitions (the only writers of role_)
  void set_role(Role role);
  void become_follower(std::optional<std::string> leader, std::uint64_t epoch);
  void become_candidate();
  void become_leader();
  void step_down_to(const std::string& leader, std::uint64_t epoch);
  void become_ineligible();
  void announce(bool fresh_epoch);

  // role behaviours
  void step_follower(const Envelope& m);
  void step_candidate(const Envelope& m);
  void step_leader(const Envelope& m);
  void timeout_follower();
  void timeout_candidate();
  void timeout_leader();
  void up_follower(const Rank& peer);
  void up_candidate(const Rank& peer);
  void up_leader(const Rank& peer);
  void down_follower(const std::string& id);
  void down_candidate(const std::string& id);
  void down_leader(const std::string& id);

  // helpers
  void remove_peer(const std::string& id);
  void follow(const std::string& leader, std::uint64_t epoch);
  void set_leader(std::optional<std::string> leader);
  void arm(std::int64_t ticks, bool jittered);
  /// Ticks a node that is not eligible waits without a leader before it stands anyway.
  std::int64_t patience() const;
  void disarm() { deadline_.reset(); }
  void send(MessageKind kind, const std::string& to);
  /// ANSWER a lower-ranked sender's ELECTION, if this node stands for election.
  void answer_if_outranking(const std::string& sender);
  void broadcast(MessageKind kind);
  bool outranks(const std::string& id) const;
  bool has_higher_live_peer() const;
  const Rank& rank_of(const std::string& id) const;
  void end_of_input();

  Rank self_;
  Config config_;
  RandomSource random_;
  std::map<std::string, Rank> peers_;
  Role role_ = Role::follower;
  const Behaviour* behaviour_ = &kFollower;
  Phase phase_ = Phase::none;
  std::optional<std::string> leader_;
  std::optional<std::string> last_known_leader_;
  std::uint64_t epoch_ = 0;
  std::uint64_t highest_seen_ = 0;
  bool eligible_ = true;
  /// This leadership was taken without the state (no eligible node had led within the patience).
  bool leads_without_state_ = false;
  /// The epoch a stalled leader led: it distrusts its state once it sees any higher epoch.
  std::optional<std::uint64_t> stalled_leadership_;
  /// Since when no leader is known (candidates included); empty while a leader is known.
  std::optional<std::int64_t> leaderless_since_;
  std::int64_t now_ = 0;
  std::optional<std::int64_t> deadline_;
  std::optional<std::int64_t> election_began_;
  std::int64_t last_nudge_tick_ = -1;
  std::vector<Envelope> outbox_;
  std::vector<Status> changes_;
  Status reported_;
  Stats stats_;
};

}  // namespace chorus::election
