#include "chorus/election/bully_election.hpp"

#include <algorithm>
#include <cassert>
#include <utility>

namespace chorus::election {

std::string_view to_string(Role role) {
  switch (role) {
    case Role::follower: return "follower";
    case Role::candidate: return "candidate";
    case Role::leader: return "leader";
  }
  return "?";
}

const BullyElection::Behaviour BullyElection::kFollower{
    &BullyElection::step_follower, &BullyElection::timeout_follower,
    &BullyElection::up_follower, &BullyElection::down_follower};
const BullyElection::Behaviour BullyElection::kCandidate{
    &BullyElection::step_candidate, &BullyElection::timeout_candidate,
    &BullyElection::up_candidate, &BullyElection::down_candidate};
const BullyElection::Behaviour BullyElection::kLeader{
    &BullyElection::step_leader, &BullyElection::timeout_leader,
    &BullyElection::up_leader, &BullyElection::down_leader};

namespace {

[[maybe_unused]] bool valid(const Timeouts& t) {
  return t.discovery >= 1 && t.answer >= 1 && t.coordinator >= 1 && t.jitter >= 0;
}

}  // namespace

BullyElection::BullyElection(Rank self, Config config, RandomSource random)
    : self_(std::move(self)),
      config_(config),
      random_(std::move(random)),
      eligible_(config.eligible_at_start) {
  assert(valid(config_.timeouts));
  become_follower(std::nullopt, 0);
  reported_ = status();
}

// ---- inputs ------------------------------------------------------------------------------------

void BullyElection::tick() {
  ++now_;
  if (deadline_ && now_ >= *deadline_) {
    deadline_.reset();
    (this->*behaviour_->timeout)();
  }
  end_of_input();
}

void BullyElection::step(const Envelope& m) {
  if (m.to != self_.id || m.from == self_.id || !peers_.contains(m.from)) {
    ++stats_.unknown_senders;
    end_of_input();
    return;
  }
  highest_seen_ = std::max(highest_seen_, m.epoch);
  // Someone led after a stalled leader did: what that leader plays is no longer the newest.
  if (stalled_leadership_ && highest_seen_ > *stalled_leadership_) become_ineligible();
  // The one staleness check. A leader gets every COORDINATOR: another leader's claim, whatever
  // its epoch, is resolved by rank in step_leader.
  if (m.kind == MessageKind::coordinator && m.epoch < epoch_ && role_ != Role::leader) {
    ++stats_.stale_coordinators;
    // Without a leader we may need this claimant: tell it our epoch so it re-announces above it.
    if (!leader_) send(MessageKind::election, m.from);
    end_of_input();
    return;
  }
  (this->*behaviour_->step)(m);
  end_of_input();
}

void BullyElection::peer_up(const Rank& peer) {
  assert(peer.id != self_.id);
  if (peer.id == self_.id) return;
  if (peers_.contains(peer.id)) remove_peer(peer.id);  // a restart we saw no EOF for
  peers_[peer.id] = peer;
  (this->*behaviour_->peer_up)(peer);
  end_of_input();
}

void BullyElection::peer_down(const std::string& id) {
  remove_peer(id);
  end_of_input();
}

void BullyElection::start_election() {
  if (role_ == Role::leader || !stands()) {
    ++stats_.ignored_commands;
  } else {
    become_candidate();
  }
  end_of_input();
}

void BullyElection::lead_now() {
  if (role_ == Role::leader) {
    ++stats_.ignored_commands;
  } else {
    eligible_ = true;  // the operator says this node's state is the cluster's
    become_leader();
  }
  end_of_input();
}

void BullyElection::stalled() {
  if (role_ != Role::leader) {
    // Commands may have gone by while we were frozen: our state is not the cluster's any more.
    become_ineligible();
  } else {
    ++stats_.step_downs;
    const std::uint64_t led = epoch_;
    become_follower(std::nullopt, epoch_);
    // Our state stays the newest unless someone led after us (step() watches for that).
    stalled_leadership_ = led;
    // Abdication: a follower that still follows us drops us on an ELECTION from its leader.
    broadcast(MessageKind::election);
  }
  end_of_input();
}

void BullyElection::remember_epoch(std::uint64_t epoch) { highest_seen_ = std::max(highest_seen_, epoch); }

void BullyElection::set_eligible(bool eligible) {
  if (role_ == Role::leader) {
    if (!eligible) ++stats_.ignored_commands;  // a leader's state is the cluster's by definition
  } else if (!eligible) {
    become_ineligible();
  } else if (!eligible_ || stalled_leadership_) {
    eligible_ = true;
    stalled_leadership_.reset();
    // A preempting node had to follow a lower-ranked leader while it lacked the state.
    if (leader_ && config_.preempt && outranks(*leader_)) become_candidate();
  }
  end_of_input();
}

void BullyElection::reannounce() {
  if (role_ != Role::leader) {
    ++stats_.ignored_commands;
  } else {
    announce(/*fresh_epoch=*/false);
  }
  end_of_input();
}

void BullyElection::set_timeouts(const Timeouts& timeouts) {
  assert(valid(timeouts));
  config_.timeouts = timeouts;
}

void BullyElection::set_random(RandomSource random) { random_ = std::move(random); }

// ---- outputs -----------------------------------------------------------------------------------

std::vector<Envelope> BullyElection::take_outbox() { return std::exchange(outbox_, {}); }

std::vector<Status> BullyElection::take_changes() { return std::exchange(changes_, {}); }

bool BullyElection::has_ready() const { return !outbox_.empty() || !changes_.empty(); }

bool BullyElection::stands() const {
  return eligible_ || (leaderless_since_ && now_ - *leaderless_since_ >= patience());
}

std::optional<std::int64_t> BullyElection::ticks_until_timeout() const {
  if (!deadline_) return std::nullopt;
  return *deadline_ - now_;
}

std::vector<Rank> BullyElection::live_peers() const {
  std::vector<Rank> out;
  out.reserve(peers_.size());
  for (const auto& [id, rank] : peers_) out.push_back(rank);
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> BullyElection::heir() const {
  if (role_ == Role::leader) return std::nullopt;
  const Rank* best = nullptr;
  for (const auto& [id, rank] : peers_) {
    if (id != leader_ && (best == nullptr || rank > *best)) best = &rank;
  }
  if (best == nullptr || self_ > *best) return std::nullopt;
  return best->id;
}

// ---- role transitions --------------------------------------------------------------------------

void BullyElection::set_role(Role role) {
  role_ = role;
  switch (role) {
    case Role::follower: behaviour_ = &kFollower; break;
    case Role::candidate: behaviour_ = &kCandidate; break;
    case Role::leader: behaviour_ = &kLeader; break;
  }
}

void BullyElection::become_follower(std::optional<std::string> leader, std::uint64_t epoch) {
  assert(epoch >= epoch_ && "epochs never go backwards");
  assert(!leader || *leader != self_.id);
  set_role(Role::follower);
  phase_ = Phase::none;
  epoch_ = epoch;
  highest_seen_ = std::max(highest_seen_, epoch_);
  const bool known = leader.has_value();
  set_leader(std::move(leader));
  if (known) {
    disarm();
    if (election_began_) {
      stats_.last_election_ticks = now_ - *election_began_;
      election_began_.reset();
    }
  } else {
    arm(config_.timeouts.discovery, true);
  }
}

void BullyElection::become_candidate() {
  assert(role_ != Role::leader && "a leader never campaigns; it steps down first");
  set_role(Role::candidate);
  set_leader(std::nullopt);
  ++stats_.elections_started;
  if (!election_began_) election_began_ = now_;
  if (!has_higher_live_peer()) {
    become_leader();
    return;
  }
  phase_ = Phase::awaiting_answers;
  arm(config_.timeouts.answer, false);
  for (const auto& [id, rank] : peers_) {
    if (rank > self_) send(MessageKind::election, id);
  }
}

void BullyElection::become_leader() {
  assert(role_ != Role::leader && "already leader: use announce()");
  set_role(Role::leader);
  phase_ = Phase::none;
  disarm();
  leads_without_state_ = !eligible_;
  if (leads_without_state_) ++stats_.stood_without_state;
  eligible_ = true;  // from now on this node's state is the cluster's
  stalled_leadership_.reset();
  epoch_ = highest_seen_ + 1;
  highest_seen_ = epoch_;
  set_leader(self_.id);
  ++stats_.elections_won;
  if (election_began_) {
    stats_.last_election_ticks = now_ - *election_began_;
    election_began_.reset();
  }
  broadcast(MessageKind::coordinator);
}

void BullyElection::step_down_to(const std::string& leader, std::uint64_t epoch) {
  assert(role_ == Role::leader);
  ++stats_.step_downs;
  become_follower(leader, std::max(epoch, epoch_));
  // Abdication, as in stalled(): our followers drop us and take the new leader's COORDINATOR.
  // The new leader gets it too: it re-announces, above our epoch if we were ahead.
  broadcast(MessageKind::election);
}

void BullyElection::become_ineligible() {
  eligible_ = false;
  stalled_leadership_.reset();
  // A campaign of ours could make us leader with a state that is not the cluster's.
  if (role_ == Role::candidate && !stands()) become_follower(std::nullopt, epoch_);
}

void BullyElection::announce(bool fresh_epoch) {
  assert(role_ == Role::leader);
  if (fresh_epoch || highest_seen_ > epoch_) {
    epoch_ = highest_seen_ + 1;
    highest_seen_ = epoch_;
  }
  ++stats_.reannouncements;
  broadcast(MessageKind::coordinator);
}

// ---- follower ----------------------------------------------------------------------------------

void BullyElection::step_follower(const Envelope& m) {
  switch (m.kind) {
    case MessageKind::election: {
      answer_if_outranking(m.from);
      if (leader_ == m.from) {
        // An ELECTION from our own leader: it abdicated (a leader never sends ELECTION). We do
        // not campaign: a leader it stepped down to, or the one the group settles on, will
        // announce itself; failing that, the discovery timeout makes us campaign.
        become_follower(std::nullopt, epoch_);
        return;
      }
      if (leader_) {
        // Stable leadership: we do not campaign, but the sender must learn the leader. Ask the
        // leader to re-announce (it then sends COORDINATOR to everyone, the sender included).
        if (last_nudge_tick_ != now_) {
          last_nudge_tick_ = now_;
          send(MessageKind::election, *leader_);
        }
      } else if (outranks(m.from) && stands() && !stalled_leadership_) {
        become_candidate();  // classic Bully: no leader, so we campaign ourselves
      }
      // A leader that stalled answers but does not campaign: this ELECTION may have waited in
      // its socket since the freeze, and a successor's COORDINATOR is likely on its way. Its
      // discovery timeout makes it campaign if none comes.
      return;
    }
    case MessageKind::answer:
      ++stats_.unexpected_messages;
      return;
    case MessageKind::coordinator: {
      if (leader_ == m.from) {
        follow(m.from, m.epoch);  // a re-announcement, perhaps with a newer epoch
      } else if (leader_) {
        // Two leaders claim us: keep the higher-ranked one, so followers move at most once.
        if (rank_of(m.from) > rank_of(*leader_)) {
          follow(m.from, m.epoch);
        } else {
          ++stats_.ignored_coordinators;
        }
      } else if (config_.preempt && outranks(m.from) && stands()) {
        ++stats_.ignored_coordinators;
        become_candidate();  // classic Bully: bully the lower-ranked claimant
      } else {
        // Without the state we follow even a lower-ranked claimant, and preempt it once we hold
        // the state (set_eligible).
        follow(m.from, m.epoch);
      }
      return;
    }
  }
}

void BullyElection::timeout_follower() {
  assert(!leader_ && "a follower with a leader arms no timer");
  if (stands()) {
    become_candidate();
  } else {
    // Not eligible: an eligible node may still win; if none has led by the end of our patience,
    // nobody alive holds the state and we stand anyway.
    arm(*leaderless_since_ + patience() - now_, false);
  }
}

void BullyElection::up_follower(const Rank&) {}

void BullyElection::down_follower(const std::string& id) {
  if (leader_ != id) return;
  if (stands()) {
    become_candidate();
  } else {
    become_follower(std::nullopt, epoch_);  // leave the election to those who hold the state
  }
}

// ---- candidate ---------------------------------------------------------------------------------

void BullyElection::step_candidate(const Envelope& m) {
  switch (m.kind) {
    case MessageKind::election:
      // We already campaign; answering is all the sender needs from us.
      if (outranks(m.from)) {
        send(MessageKind::answer, m.from);
      } else {
        ++stats_.unexpected_messages;
      }
      return;
    case MessageKind::answer:
      if (outranks(m.from)) {
        ++stats_.unexpected_messages;
      } else if (phase_ == Phase::awaiting_answers) {
        phase_ = Phase::awaiting_coordinator;
        arm(config_.timeouts.coordinator, true);
      }
      return;
    case MessageKind::coordinator:
      if (config_.preempt && outranks(m.from)) {
        ++stats_.ignored_coordinators;  // our own election will bully it
      } else {
        follow(m.from, m.epoch);
      }
      return;
  }
}

void BullyElection::timeout_candidate() {
  if (phase_ == Phase::awaiting_answers) {
    become_leader();
  } else {
    assert(phase_ == Phase::awaiting_coordinator);
    become_candidate();
  }
}

void BullyElection::up_candidate(const Rank& peer) {
  if (peer > self_) send(MessageKind::election, peer.id);
}

void BullyElection::down_candidate(const std::string&) {
  if (!has_higher_live_peer()) become_leader();
}

// ---- leader ------------------------------------------------------------------------------------

void BullyElection::step_leader(const Envelope& m) {
  switch (m.kind) {
    case MessageKind::election:
      // Someone has no leader (or was asked to find out for someone who has none): answer if we
      // outrank it, and re-announce to everyone, above its epoch if it knows a higher one.
      if (outranks(m.from)) send(MessageKind::answer, m.from);
      announce(false);
      return;
    case MessageKind::answer:
      ++stats_.unexpected_messages;
      if (highest_seen_ > epoch_) announce(false);
      return;
    case MessageKind::coordinator:
      // Two leaders met: the lower rank steps down at once, whatever the epochs; the higher one
      // re-announces above both. A leader that stood without the state yields whatever the
      // ranks: the other may hold the state it lacked (its "stopped" was only true while alone).
      if (leads_without_state_) {
        step_down_to(m.from, m.epoch);
        become_ineligible();
      } else if (rank_of(m.from) > self_) {
        step_down_to(m.from, m.epoch);
      } else {
        announce(true);
      }
      return;
  }
}

void BullyElection::timeout_leader() { assert(false && "a leader arms no timer"); }

void BullyElection::up_leader(const Rank& peer) { send(MessageKind::coordinator, peer.id); }

void BullyElection::down_leader(const std::string&) {}

// ---- helpers -----------------------------------------------------------------------------------

void BullyElection::remove_peer(const std::string& id) {
  if (peers_.erase(id) == 0) return;
  (this->*behaviour_->peer_down)(id);
}

void BullyElection::follow(const std::string& leader, std::uint64_t epoch) {
  become_follower(leader, epoch);
}

void BullyElection::set_leader(std::optional<std::string> leader) {
  if (leader && leader != last_known_leader_) {
    ++stats_.leader_changes;
    last_known_leader_ = leader;
  }
  if (leader) {
    leaderless_since_.reset();
  } else if (!leaderless_since_) {
    leaderless_since_ = now_;
  }
  leader_ = std::move(leader);
}

void BullyElection::answer_if_outranking(const std::string& sender) {
  if (!outranks(sender)) return;
  if (stands()) {
    send(MessageKind::answer, sender);
  } else {
    ++stats_.unanswered_elections;  // we must not stop it: it may hold the state, we do not
  }
}

void BullyElection::arm(std::int64_t ticks, bool jittered) {
  assert(ticks >= 1);
  std::int64_t extra = 0;
  if (jittered && config_.timeouts.jitter > 0 && random_) {
    extra = random_(config_.timeouts.jitter + 1);
    assert(extra >= 0 && extra <= config_.timeouts.jitter);
    extra = std::clamp<std::int64_t>(extra, 0, config_.timeouts.jitter);
  }
  deadline_ = now_ + ticks + extra;
}

void BullyElection::send(MessageKind kind, const std::string& to) {
  assert(peers_.contains(to) && "messages go to live peers only");
  const std::uint64_t epoch = kind == MessageKind::coordinator ? epoch_ : highest_seen_;
  outbox_.push_back(Envelope{kind, self_.id, to, epoch});
}

void BullyElection::broadcast(MessageKind kind) {
  for (const auto& [id, rank] : peers_) send(kind, id);
}

bool BullyElection::outranks(const std::string& id) const { return self_ > rank_of(id); }

std::int64_t BullyElection::patience() const {
  return config_.timeouts.discovery + config_.timeouts.coordinator;
}

bool BullyElection::has_higher_live_peer() const {
  return std::any_of(peers_.begin(), peers_.end(),
                     [&](const auto& entry) { return entry.second > self_; });
}

const Rank& BullyElection::rank_of(const std::string& id) const {
  auto it = peers_.find(id);
  assert(it != peers_.end());
  return it->second;
}

void BullyElection::end_of_input() {
  Status now = status();
  if (now != reported_) {
    changes_.push_back(now);
    reported_ = std::move(now);
  }
}

}  // namespace chorus::election
