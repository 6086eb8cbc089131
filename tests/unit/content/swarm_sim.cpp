#include "swarm_sim.hpp"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <memory>
#include <queue>
#include <set>
#include <tuple>

namespace chorus::content::sim {

namespace {

enum class Kind { arrive, stored, have, want, tick, kill };

struct Event {
  std::int64_t at = 0;
  std::uint64_t seq = 0;
  Kind kind = Kind::tick;
  std::size_t to = 0;
  std::size_t from = 0;
  std::uint64_t chunk = 0;
  bool corrupt = false;
  bool refused = false;
  std::vector<bool> bitmap;
};

struct Node {
  std::string id;
  NodeSpec spec;
  std::vector<bool> holds;
  std::unique_ptr<FetchPlanner> planner;  // none for the origin
  bool alive = true;
  bool done = false;
  std::int64_t done_at = -1;
  std::int64_t up_free = 0;
  std::deque<Event> inbox;  // arrived, not yet stored
  bool storing = false;
  std::uint64_t uploads = 0;
  std::map<std::string, std::vector<bool>> told;  // the last bitmap its planner got, per peer
  std::set<std::int64_t> ticks;                   // wake-ups already queued
  std::vector<std::int64_t> arrived_at;
};

Event event(std::int64_t at, Kind kind, std::size_t to, std::size_t from = 0, std::uint64_t chunk = 0) {
  Event e;
  e.at = at;
  e.kind = kind;
  e.to = to;
  e.from = from;
  e.chunk = chunk;
  return e;
}

struct Later {
  bool operator()(const Event& a, const Event& b) const {
    return std::tie(a.at, a.seq) > std::tie(b.at, b.seq);
  }
};

class Swarm {
 public:
  explicit Swarm(const SwarmConfig& config) : config_(config) {
    Node origin;
    origin.id = "origin";
    origin.spec = config.origin;
    origin.holds.assign(config.chunks, true);
    origin.done = true;
    nodes_.push_back(std::move(origin));
    for (std::size_t i = 0; i < config.fetchers.size(); ++i) {
      Node f;
      f.id = fetcher_id(i);
      f.spec = config.fetchers[i];
      f.holds = f.spec.held;
      f.holds.resize(config.chunks, false);
      f.arrived_at.assign(config.chunks, -1);
      f.planner = std::make_unique<FetchPlanner>(f.id, f.holds, config.planner);
      f.done = f.planner->done();
      if (f.done) f.done_at = 0;
      nodes_.push_back(std::move(f));
    }
  }

  SwarmResult run() {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (nodes_[n].spec.dies_at) push(event(*nodes_[n].spec.dies_at, Kind::kill, n));
    }
    for (std::size_t i = 1; i < nodes_.size(); ++i) {
      auto& f = nodes_[i];
      for (std::size_t n = 0; n < nodes_.size(); ++n) {
        if (n != i) tell_have(i, n, nodes_[n].holds);
      }
      f.planner->cofetchers(wanting(i));
      f.planner->demand(f.spec.demand);
    }
    for (std::size_t i = 1; i < nodes_.size(); ++i) pump(i, 0);

    while (!queue_.empty()) {
      Event e = queue_.top();
      queue_.pop();
      if (e.at > config_.time_limit_us) {
        result_.timed_out = true;
        break;
      }
      now_ = e.at;
      handle(e);
    }
    return finish();
  }

 private:
  void push(Event e) {
    e.seq = seq_++;
    queue_.push(std::move(e));
  }

  std::set<std::string> wanting(std::size_t except) const {
    std::set<std::string> out;
    for (std::size_t n = 1; n < nodes_.size(); ++n) {
      if (n != except && nodes_[n].alive && !nodes_[n].done) out.insert(nodes_[n].id);
    }
    return out;
  }

  void tell_have(std::size_t to, std::size_t about, const std::vector<bool>& bitmap) {
    auto& node = nodes_[to];
    node.planner->holder(nodes_[about].id, bitmap);
    node.told[nodes_[about].id] = bitmap;
  }

  void violation(const std::string& what) {
    if (result_.violations.size() < 50) result_.violations.push_back(what);
  }

  /// Asks the planner of fetcher `i` for requests, checks them and sends them.
  void pump(std::size_t i, std::int64_t now) {
    auto& node = nodes_[i];
    if (!node.alive) return;
    const auto asks = node.planner->next(now);
    const auto& cfg = config_.planner;
    std::set<std::uint64_t> seen;
    for (const auto& ask : asks) {
      const std::string where = node.id + " asked " + ask.peer + " for " + std::to_string(ask.chunk) +
                                " at " + std::to_string(now);
      ++result_.asks;
      if (ask.chunk >= config_.chunks) violation(where + ": no such chunk");
      else if (node.holds[ask.chunk] || node.planner->holds(ask.chunk)) violation(where + ": held");
      if (!seen.insert(ask.chunk).second) violation(where + ": twice in one batch");
      const auto told = node.told.find(ask.peer);
      if (told == node.told.end() || ask.chunk >= told->second.size() || !told->second[ask.chunk]) {
        violation(where + ": its bitmap lacks it");
      }
      if (node.planner->barred(ask.peer)) violation(where + ": barred");
      if (node.planner->outstanding_to(ask.peer) > cfg.per_peer) violation(where + ": per-peer limit");
      const auto server = index_of(ask.peer);
      if (!server || !nodes_[*server].alive) {
        violation(where + ": gone or unknown");
        continue;
      }
      send_request(i, *server, ask.chunk, now);
    }
    if (node.planner->outstanding() > cfg.window) violation(node.id + ": window exceeded");
    if (const auto at = node.planner->next_deadline(); at && *at > now && !node.ticks.contains(*at)) {
      node.ticks.insert(*at);
      push(event(*at, Kind::tick, i));
    }
  }

  std::optional<std::size_t> index_of(const std::string& id) const {
    for (std::size_t n = 0; n < nodes_.size(); ++n) {
      if (nodes_[n].id == id) return n;
    }
    return std::nullopt;
  }

  void send_request(std::size_t asker, std::size_t server, std::uint64_t chunk, std::int64_t now) {
    auto& s = nodes_[server];
    const bool has = chunk < s.holds.size() && s.holds[chunk];
    if (!has) {  // refused at once
      auto e = event(now + 2 * config_.latency_us, Kind::arrive, asker, server, chunk);
      e.refused = true;
      push(std::move(e));
      return;
    }
    const std::int64_t start = std::max(now + config_.latency_us, s.up_free);
    s.up_free = start + s.spec.upload_us;
    ++s.uploads;
    auto e = event(s.up_free + config_.latency_us, Kind::arrive, asker, server, chunk);
    e.corrupt = s.spec.corrupt;
    push(std::move(e));
  }

  void handle(const Event& e) {
    auto& node = nodes_[e.to];
    switch (e.kind) {
      case Kind::kill:
        kill(e.to);
        break;
      case Kind::tick:
        node.ticks.erase(e.at);
        pump(e.to, now_);
        break;
      case Kind::arrive:
        if (!node.alive || !nodes_[e.from].alive) break;  // the link went with the node
        node.inbox.push_back(e);
        if (!node.storing) store_next(e.to);
        break;
      case Kind::stored:
        node.storing = false;
        stored(e);
        store_next(e.to);
        break;
      case Kind::have:
        if (!node.alive || !nodes_[e.from].alive) break;
        tell_have(e.to, e.from, e.bitmap);
        pump(e.to, now_);
        break;
      case Kind::want:
        if (!node.alive) break;
        node.planner->cofetchers(wanting(e.to));
        pump(e.to, now_);
        break;
    }
  }

  /// The receiver verifies and writes what arrives one chunk at a time, in order of arrival; a
  /// copy of a chunk it already holds (a late answer to a request given up on) is dropped unread.
  void store_next(std::size_t to) {
    auto& node = nodes_[to];
    while (node.alive && !node.storing && !node.inbox.empty()) {
      Event e = node.inbox.front();
      node.inbox.pop_front();
      if (!e.refused && !e.corrupt && node.holds[e.chunk]) {
        ++result_.duplicates;
        node.planner->received(now_, nodes_[e.from].id, e.chunk);
        pump(to, now_);
        continue;
      }
      node.storing = true;
      e.kind = Kind::stored;
      e.at = now_ + (e.refused ? 0 : node.spec.download_us);
      push(std::move(e));
    }
  }

  void stored(const Event& e) {
    auto& node = nodes_[e.to];
    if (!node.alive) return;
    const auto& from = nodes_[e.from].id;
    if (e.refused) {
      node.planner->failed(now_, from, e.chunk, ChunkFailure::refused);
    } else if (e.corrupt) {
      node.planner->failed(now_, from, e.chunk, ChunkFailure::corrupt);
    } else {
      node.planner->received(now_, from, e.chunk);
      if (node.holds[e.chunk]) {
        ++result_.duplicates;
      } else {
        node.holds[e.chunk] = true;
        node.arrived_at[e.chunk] = now_;
        for (std::size_t n = 1; n < nodes_.size(); ++n) {
          if (n != e.to && nodes_[n].alive) {
            auto have = event(now_ + config_.have_delay_us, Kind::have, n, e.to);
            have.bitmap = node.holds;
            push(std::move(have));
          }
        }
        if (!node.done && node.planner->done()) {
          node.done = true;
          node.done_at = now_;
          for (std::size_t n = 1; n < nodes_.size(); ++n) {
            if (n != e.to && nodes_[n].alive) {
              push(event(now_ + config_.have_delay_us, Kind::want, n));
            }
          }
        }
      }
    }
    pump(e.to, now_);
  }

  void kill(std::size_t k) {
    if (!nodes_[k].alive) return;
    nodes_[k].alive = false;
    for (std::size_t n = 1; n < nodes_.size(); ++n) {
      if (n == k || !nodes_[n].alive) continue;
      nodes_[n].planner->holder_gone(nodes_[k].id);
      nodes_[n].told.erase(nodes_[k].id);
      nodes_[n].planner->cofetchers(wanting(n));
    }
    for (std::size_t n = 1; n < nodes_.size(); ++n) {
      if (n != k) pump(n, now_);
    }
  }

  SwarmResult finish() {
    result_.end_us = now_;
    result_.origin_uploads = nodes_[0].uploads;
    result_.origin_alive = nodes_[0].alive;
    for (std::size_t i = 1; i < nodes_.size(); ++i) {
      const auto& n = nodes_[i];
      FetcherResult r;
      r.id = n.id;
      r.alive = n.alive;
      r.done = n.planner->done();
      r.done_at = n.done_at;
      r.arrived_at = n.arrived_at;
      r.holds = n.holds;
      r.unavailable = n.planner->unavailable();
      r.corrupt_count = n.planner->corrupt_count();
      r.received_from = n.planner->received_from();
      r.uploads = n.uploads;
      for (std::size_t m = 0; m < nodes_.size(); ++m) {
        if (m != i && n.planner->barred(nodes_[m].id)) r.barred_any = true;
      }
      result_.fetchers.push_back(std::move(r));
    }
    return std::move(result_);
  }

  const SwarmConfig& config_;
  std::vector<Node> nodes_;
  std::priority_queue<Event, std::vector<Event>, Later> queue_;
  std::uint64_t seq_ = 0;
  std::int64_t now_ = 0;
  SwarmResult result_;
};

}  // namespace

std::string fetcher_id(std::size_t index) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "f%02zu", index + 1);
  return buf;
}

SwarmResult run_swarm(const SwarmConfig& config) { return Swarm(config).run(); }

std::vector<std::uint64_t> uncovered(const SwarmConfig& config, const SwarmResult& result,
                                     std::size_t fetcher) {
  std::vector<bool> covered(config.chunks, false);
  if (result.origin_alive && !config.origin.corrupt) covered.assign(config.chunks, true);
  for (std::size_t i = 0; i < result.fetchers.size(); ++i) {
    const auto& f = result.fetchers[i];
    if (i == fetcher || !f.alive || config.fetchers[i].corrupt) continue;
    for (std::uint64_t c = 0; c < config.chunks; ++c) {
      if (f.holds[c]) covered[c] = true;
    }
  }
  std::vector<std::uint64_t> out;
  const auto& mine = result.fetchers[fetcher].holds;
  for (std::uint64_t c = 0; c < config.chunks; ++c) {
    if (!mine[c] && !covered[c]) out.push_back(c);
  }
  return out;
}

}  // namespace chorus::content::sim
