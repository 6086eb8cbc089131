#include "election/sim_network.hpp"

#include <algorithm>
#include <cassert>
#include <sstream>
#include <stdexcept>

namespace chorus::election::test {

namespace {

/// A runaway exchange (a message loop) is reported instead of hanging the test.
constexpr std::uint64_t kMaxDeliveriesPerCall = 200000;

}  // namespace

SimNetwork::SimNetwork(std::uint64_t seed) : rng_(seed) {}

// ---- membership -------------------------------------------------------------------------------

void SimNetwork::add(const Rank& rank, Config config, bool jitter_from_sim) {
  if (nodes_.contains(rank.id)) throw std::logic_error("duplicate node " + rank.id);
  Node n;
  n.rank = rank;
  n.config = config;
  n.jitter_from_sim = jitter_from_sim;
  n.core = make_core(n);
  nodes_.emplace(rank.id, std::move(n));
  order_.push_back(rank.id);
  note("add " + rank.id);
  sync_links();
  deliver();
}

void SimNetwork::add(const std::string& id, std::int64_t priority, Config config) {
  add(Rank{priority, id}, config);
}

std::unique_ptr<BullyElection> SimNetwork::make_core(const Node& n) {
  RandomSource random;
  if (n.jitter_from_sim) {
    random = [this](std::int64_t bound) {
      return std::uniform_int_distribution<std::int64_t>(0, bound - 1)(rng_);
    };
  }
  return std::make_unique<BullyElection>(n.rank, n.config, std::move(random));
}

SimNetwork::Node& SimNetwork::node(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::logic_error("no node " + id);
  return it->second;
}

const SimNetwork::Node& SimNetwork::node(const std::string& id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::logic_error("no node " + id);
  return it->second;
}

BullyElection& SimNetwork::core(const std::string& id) { return *node(id).core; }
const BullyElection& SimNetwork::core(const std::string& id) const { return *node(id).core; }
bool SimNetwork::running(const std::string& id) const { return node(id).running; }
bool SimNetwork::frozen(const std::string& id) const { return node(id).frozen; }

std::vector<std::string> SimNetwork::live() const {
  std::vector<std::string> out;
  for (const auto& id : order_) {
    const Node& n = node(id);
    if (n.running && !n.frozen) out.push_back(id);
  }
  return out;
}

const std::vector<Status>& SimNetwork::history(const std::string& id) const {
  return node(id).history;
}

// ---- time -------------------------------------------------------------------------------------

void SimNetwork::tick(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    ++now_;
    for (const auto& id : order_) {
      Node& nd = node(id);
      if (!nd.running || nd.frozen) continue;
      nd.core->tick();
      collect(id);
    }
    deliver();
  }
}

bool SimNetwork::quiet() const {
  if (!queue_.empty()) return false;
  for (const auto& [id, n] : nodes_) {
    if (!n.running) continue;
    if (n.frozen) return false;
    const BullyElection& c = *n.core;
    if (c.role() == Role::candidate) return false;
    if (c.role() == Role::follower && !c.leader()) return false;
    if (awaits_state(n)) return false;  // it may preempt once the state is there
  }
  return true;
}

std::optional<std::int64_t> SimNetwork::run_until_quiet(std::int64_t max_ticks) {
  for (std::int64_t t = 0; t <= max_ticks; ++t) {
    if (quiet()) return t;
    if (t < max_ticks) tick();
  }
  return std::nullopt;
}

// ---- commands ---------------------------------------------------------------------------------

void SimNetwork::start_election(const std::string& id) {
  note("start_election " + id);
  node(id).core->start_election();
  collect(id);
  deliver();
}

void SimNetwork::reannounce(const std::string& id) {
  note("reannounce " + id);
  node(id).core->reannounce();
  collect(id);
  deliver();
}

void SimNetwork::lead_now(const std::string& id) {
  note("lead_now " + id);
  node(id).core->lead_now();
  collect(id);
  deliver();
}

void SimNetwork::stalled(const std::string& id) {
  note("stalled " + id);
  on_stalled(node(id));
  collect(id);
  deliver();
}

void SimNetwork::set_eligible(const std::string& id, bool eligible) {
  note(std::string(eligible ? "eligible " : "not eligible ") + id);
  node(id).core->set_eligible(eligible);
  collect(id);
  deliver();
}

void SimNetwork::set_state_sync(std::optional<std::int64_t> delay) {
  note(delay ? "state sync after " + std::to_string(*delay) + " ticks" : "state sync off");
  state_sync_delay_ = delay;
  deliver();
}

void SimNetwork::inject(const Envelope& message) {
  note("inject " + to_string(message));
  Node& n = node(message.to);
  if (!n.running || n.frozen) throw std::logic_error("inject into a node that is not live");
  n.core->step(message);
  collect(message.to);
  deliver();
}

// ---- faults -----------------------------------------------------------------------------------

void SimNetwork::cut(const std::string& a, const std::string& b) {
  note("cut " + a + " " + b);
  blocked_.insert(key(a, b));
  sync_links();
  deliver();
}

void SimNetwork::heal(const std::string& a, const std::string& b) {
  note("heal " + a + " " + b);
  blocked_.erase(key(a, b));
  sync_links();
  deliver();
}

void SimNetwork::isolate(const std::string& id) {
  note("isolate " + id);
  int top = 0;
  for (const auto& [other, n] : nodes_) top = std::max(top, n.group);
  node(id).group = top + 1;
  sync_links();
  deliver();
}

void SimNetwork::partition(const std::vector<std::vector<std::string>>& groups) {
  std::string text = "partition";
  for (auto& [id, n] : nodes_) n.group = 0;
  for (std::size_t g = 0; g < groups.size(); ++g) {
    text += " {";
    for (const auto& id : groups[g]) {
      node(id).group = static_cast<int>(g);
      text += " " + id;
    }
    text += " }";
  }
  note(text);
  sync_links();
  deliver();
}

void SimNetwork::heal_all() {
  note("heal_all");
  for (auto& [id, n] : nodes_) n.group = 0;
  blocked_.clear();
  sync_links();
  deliver();
}

void SimNetwork::drop(MessageKind kind, bool on) {
  note(std::string(on ? "drop " : "undrop ") + std::string(to_string(kind)));
  if (on) {
    dropped_kinds_.insert(kind);
  } else {
    dropped_kinds_.erase(kind);
  }
}

void SimNetwork::set_delay(std::int64_t lo, std::int64_t hi) {
  if (lo < 0 || hi < lo) throw std::logic_error("bad delay range");
  note("delay " + std::to_string(lo) + ".." + std::to_string(hi));
  delay_lo_ = lo;
  delay_hi_ = hi;
}

void SimNetwork::crash(const std::string& id) {
  note("crash " + id);
  Node& n = node(id);
  n.running = false;
  n.frozen = false;
  n.detached = false;
  n.view.clear();
  sync_links();
  deliver();
}

void SimNetwork::restart(const std::string& id) {
  note("restart " + id);
  Node& n = node(id);
  if (n.running) throw std::logic_error("restart of a running node " + id);
  n.core = make_core(n);
  n.running = true;
  n.view.clear();
  n.history.clear();
  n.last_epoch = 0;
  n.last_seen = 0;
  n.followed.reset();
  sync_links();
  deliver();
}

void SimNetwork::freeze(const std::string& id, bool detected) {
  note(std::string("freeze ") + id + (detected ? " (detected)" : " (unnoticed)"));
  Node& n = node(id);
  if (!n.running || n.frozen) throw std::logic_error("freeze of a node that is not live");
  n.frozen = true;
  n.detached = detected;
  sync_links();
  deliver();
}

void SimNetwork::thaw(const std::string& id, Resume resume) {
  note("thaw " + id +
       (resume == Resume::plain              ? ""
        : resume == Resume::stalled_then_eof ? " (stalled, then EOFs)"
                                             : " (EOFs, then stalled)"));
  Node& n = node(id);
  if (!n.frozen) throw std::logic_error("thaw of a node that is not frozen");
  n.frozen = false;
  if (resume == Resume::stalled_then_eof) {
    on_stalled(n);
    collect(id);
  }
  reconcile(id);  // EOFs of the links peers closed while we were stopped
  if (resume == Resume::eof_then_stalled) {
    on_stalled(n);
    collect(id);
  }
  n.detached = false;
  sync_links();  // links re-form
  deliver();
}

void SimNetwork::on_stalled(Node& n) {
  n.core->stalled();
  n.following_since = now_;  // the shell asks its leader for the state again
}

// ---- observation ------------------------------------------------------------------------------

std::vector<std::vector<std::string>> SimNetwork::groups() const {
  std::vector<std::vector<std::string>> out;
  std::set<std::string> seen;
  for (const auto& start : live()) {
    if (seen.contains(start)) continue;
    std::vector<std::string> group;
    std::vector<std::string> todo{start};
    seen.insert(start);
    while (!todo.empty()) {
      std::string cur = todo.back();
      todo.pop_back();
      group.push_back(cur);
      for (const auto& other : live()) {
        if (seen.contains(other)) continue;
        auto it = links_.find(key(cur, other));
        if (it != links_.end() && it->second.up) {
          seen.insert(other);
          todo.push_back(other);
        }
      }
    }
    std::sort(group.begin(), group.end());
    out.push_back(std::move(group));
  }
  return out;
}

std::optional<std::string> SimNetwork::agreed_leader(const std::vector<std::string>& group) const {
  if (group.empty()) return std::nullopt;
  const auto& first = core(group.front()).leader();
  if (!first || std::find(group.begin(), group.end(), *first) == group.end()) return std::nullopt;
  const BullyElection& leader = core(*first);
  if (leader.role() != Role::leader) return std::nullopt;
  for (const auto& id : group) {
    const BullyElection& c = core(id);
    if (c.leader() != first || c.epoch() != leader.epoch()) return std::nullopt;
    if (id != *first && c.role() != Role::follower) return std::nullopt;
  }
  return first;
}

std::string SimNetwork::describe() const {
  std::ostringstream out;
  out << "t=" << now_ << " in_flight=" << queue_.size() << "\n";
  for (const auto& id : order_) {
    const Node& n = node(id);
    const BullyElection& c = *n.core;
    const Stats& s = c.stats();
    out << "  " << id << " (prio " << n.rank.priority << ", group " << n.group << ")"
        << (n.running ? "" : " CRASHED") << (n.frozen ? " FROZEN" : "") << ": "
        << to_string(c.role()) << " leader=" << c.leader().value_or("-") << " epoch=" << c.epoch()
        << " seen=" << c.highest_epoch_seen() << " timer=";
    if (auto t = c.ticks_until_timeout()) {
      out << *t;
    } else {
      out << "-";
    }
    out << " peers=";
    for (const auto& [peer, gen] : n.view) out << peer << ",";
    out << " elections=" << s.elections_started << " won=" << s.elections_won
        << " changes=" << s.leader_changes << " stale=" << s.stale_coordinators
        << " ignored=" << s.ignored_coordinators << "\n";
  }
  return out.str();
}

// ---- internals --------------------------------------------------------------------------------

SimNetwork::Pair SimNetwork::key(const std::string& a, const std::string& b) {
  return a < b ? Pair{a, b} : Pair{b, a};
}

bool SimNetwork::wanted(const Node& a, const Node& b) const {
  return a.running && b.running && !a.detached && !b.detached && a.group == b.group &&
         !blocked_.contains(key(a.rank.id, b.rank.id));
}

void SimNetwork::sync_links() {
  for (std::size_t i = 0; i < order_.size(); ++i) {
    for (std::size_t j = i + 1; j < order_.size(); ++j) {
      const Node& a = node(order_[i]);
      const Node& b = node(order_[j]);
      Link& link = links_[key(a.rank.id, b.rank.id)];
      const bool want = wanted(a, b);
      if (want == link.up) continue;
      link.up = want;
      ++link.generation;  // a new connection, or none: what was in flight is lost
    }
  }
  for (const auto& id : order_) reconcile(id);
}

void SimNetwork::reconcile(const std::string& id) {
  Node& n = node(id);
  if (!n.running || n.frozen) return;
  for (const auto& other : order_) {  // downs first, as EOFs arrive before new connections
    if (other == id) continue;
    auto seen = n.view.find(other);
    if (seen == n.view.end()) continue;
    const Link& link = links_[key(id, other)];
    if (!link.up || link.generation != seen->second) {
      if (trace_) note("  " + id + " peer_down " + other);
      n.view.erase(seen);
      n.core->peer_down(other);
      collect(id);
    }
  }
  if (n.detached) return;
  for (const auto& other : order_) {
    if (other == id || n.view.contains(other)) continue;
    const Link& link = links_[key(id, other)];
    if (link.up) {
      if (trace_) note("  " + id + " peer_up " + other);
      n.view[other] = link.generation;
      n.core->peer_up(node(other).rank);
      collect(id);
    }
  }
}

void SimNetwork::collect(const std::string& id) {
  Node& n = node(id);
  BullyElection& c = *n.core;
  for (auto& m : c.take_outbox()) {
    if (m.from != id) violations_.push_back(id + " sent as " + m.from);
    if (!n.view.contains(m.to)) {
      violations_.push_back("t=" + std::to_string(now_) + " " + id +
                            " sent to a peer not up: " + to_string(m));
      continue;
    }
    if (dropped_kinds_.contains(m.kind)) {
      ++lost_;
      continue;
    }
    const std::int64_t delay =
        delay_lo_ == delay_hi_
            ? delay_lo_
            : std::uniform_int_distribution<std::int64_t>(delay_lo_, delay_hi_)(rng_);
    std::int64_t& last = fifo_[Pair{m.from, m.to}];
    const std::int64_t due = std::max(now_ + delay, last);
    last = due;
    const Link& link = links_[key(m.from, m.to)];
    if (!link.up) {  // written to a connection the peer has already closed
      if (trace_) note("  lost " + to_string(m));
      ++lost_;
      continue;
    }
    const std::uint64_t generation = link.generation;
    queue_.emplace(std::pair{due, seq_++}, InFlight{std::move(m), generation});
  }
  for (auto& s : c.take_changes()) {
    if (trace_) {
      note("  " + id + " is " + std::string(to_string(s.role)) + " leader=" +
           s.leader.value_or("-") + " epoch=" + std::to_string(s.epoch));
    }
    n.history.push_back(std::move(s));
  }
  const auto& leader = c.leader();
  if (!leader || *leader == id) {
    n.followed.reset();
  } else if (n.followed != leader) {
    n.followed = leader;
    n.following_since = now_;
  }
  if (c.epoch() < n.last_epoch) {
    violations_.push_back("t=" + std::to_string(now_) + " " + id + " epoch went back from " +
                          std::to_string(n.last_epoch) + " to " + std::to_string(c.epoch()));
  }
  if (c.highest_epoch_seen() < n.last_seen) {
    violations_.push_back("t=" + std::to_string(now_) + " " + id + " highest epoch went back");
  }
  if (c.highest_epoch_seen() < c.epoch()) {
    violations_.push_back("t=" + std::to_string(now_) + " " + id + " epoch above highest seen");
  }
  n.last_epoch = c.epoch();
  n.last_seen = c.highest_epoch_seen();
}

void SimNetwork::deliver() {
  do {
    deliver_due();
  } while (sync_states());
}

bool SimNetwork::sync_states() {
  if (!state_sync_delay_) return false;
  bool any = false;
  for (const auto& id : order_) {
    Node& n = node(id);
    if (!awaits_state(n) || now_ - n.following_since < *state_sync_delay_) continue;
    if (trace_) note("  " + id + " holds the state of " + *n.followed);
    n.core->set_eligible(true);
    collect(id);
    any = true;
  }
  return any;
}

bool SimNetwork::awaits_state(const Node& n) const {
  if (!state_sync_delay_ || !n.running || n.frozen || n.core->eligible() || !n.followed) {
    return false;
  }
  // The state comes over the link from a leader that is live and still leads.
  const Node& leader = node(*n.followed);
  return n.view.contains(*n.followed) && leader.running && !leader.frozen &&
         leader.core->role() == Role::leader;
}

void SimNetwork::deliver_due() {
  std::uint64_t count = 0;
  for (;;) {
    auto it = queue_.begin();
    while (it != queue_.end() && it->first.first <= now_) {
      const Node& to = node(it->second.message.to);
      if (!(to.running && to.frozen)) break;  // held in a stopped process's socket buffer
      ++it;
    }
    if (it == queue_.end() || it->first.first > now_) return;
    InFlight item = std::move(it->second);
    queue_.erase(it);
    const Envelope& m = item.message;
    const Node& to = node(m.to);
    const Link& link = links_[key(m.from, m.to)];
    if (!to.running || !link.up || link.generation != item.generation) {
      if (trace_) note("  lost " + to_string(item.message));
      ++lost_;
      continue;
    }
    if (++count > kMaxDeliveriesPerCall) {
      violations_.push_back("message storm: more than " + std::to_string(kMaxDeliveriesPerCall) +
                            " deliveries without a tick");
      queue_.clear();
      return;
    }
    ++delivered_;
    if (trace_) note("  deliver " + to_string(m));
    node(m.to).core->step(m);
    collect(m.to);
  }
}

void SimNetwork::note(std::string event) {
  events_.push_back("t=" + std::to_string(now_) + " " + std::move(event));
}

}  // namespace chorus::election::test
