#include "chorus/content/fetch_planner.hpp"

#include <algorithm>
#include <tuple>
#include <utility>

namespace chorus::content {

FetchPlanner::FetchPlanner(std::string self, std::vector<bool> held, FetchConfig config)
    : self_(std::move(self)), config_(config), held_(std::move(held)) {
  held_count_ = static_cast<std::uint64_t>(std::count(held_.begin(), held_.end(), true));
  rebuild_order();
}

// ---- inputs ----

void FetchPlanner::holder(const std::string& peer, const std::vector<bool>& chunks) {
  if (peer == self_) return;
  Holder h;
  h.chunks.assign(held_.size(), false);
  // A bitmap of the wrong length (a buggy peer): bits past the end are ignored, missing ones
  // count as not held.
  const std::size_t known = std::min(chunks.size(), held_.size());
  for (std::size_t c = 0; c < known; ++c) {
    if (chunks[c]) {
      h.chunks[c] = true;
      ++h.count;
    }
  }
  holders_[peer] = std::move(h);
}

void FetchPlanner::holder_gone(const std::string& peer) {
  holders_.erase(peer);
  cofetchers_.erase(peer);
  drop_outstanding_of(peer);
}

void FetchPlanner::cofetchers(const std::set<std::string>& peers) {
  cofetchers_ = peers;
  cofetchers_.erase(self_);
}

void FetchPlanner::demand(std::uint64_t chunk) {
  if (held_.empty()) return;
  const std::uint64_t cursor = std::min<std::uint64_t>(chunk, held_.size() - 1);
  if (cursor == demand_) return;
  demand_ = cursor;
  rebuild_order();
}

void FetchPlanner::received(std::int64_t /*now*/, const std::string& peer, std::uint64_t chunk) {
  if (chunk >= held_.size()) return;
  if (auto it = outstanding_.find(chunk); it != outstanding_.end()) {
    // Whoever it was asked of: the chunk is in, so the slot is free.
    --outstanding_by_peer_[it->second.peer];
    outstanding_.erase(it);
  }
  if (held_[chunk]) return;
  held_[chunk] = true;
  ++held_count_;
  ++received_from_[peer];
  due_since_.erase(chunk);
  failed_from_.erase(chunk);
  excluded_.erase(chunk);
  timeouts_.erase(chunk);
}

void FetchPlanner::failed(std::int64_t /*now*/, const std::string& peer, std::uint64_t chunk,
                          ChunkFailure why) {
  if (chunk >= held_.size()) return;
  const auto it = outstanding_.find(chunk);
  const bool asked = it != outstanding_.end() && it->second.peer == peer;
  if (asked) {
    --outstanding_by_peer_[peer];
    outstanding_.erase(it);
  }
  if (why == ChunkFailure::corrupt) {
    // Counted even when late: the peer did send bad bytes.
    ++corrupt_total_;
    excluded_[chunk].insert(peer);
    if (++corrupt_by_peer_[peer] >= config_.corrupt_limit) drop_outstanding_of(peer);
    return;
  }
  // A refusal or timeout of a request no longer outstanding (ours already expired, or it was
  // answered by another peer) is not charged twice.
  if (!asked) return;
  ++failures_by_peer_[peer];
  failed_from_[chunk].insert(peer);
  if (why == ChunkFailure::timeout) ++timeouts_[chunk];
}

// ---- outputs ----

std::vector<ChunkAsk> FetchPlanner::next(std::int64_t now) {
  last_now_ = now;
  next_called_ = true;
  std::vector<ChunkAsk> asks;

  // Rule 5: expired requests are dropped, the peer charged, the chunk due again.
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (it->second.deadline <= now) {
      --outstanding_by_peer_[it->second.peer];
      ++failures_by_peer_[it->second.peer];
      failed_from_[it->first].insert(it->second.peer);
      ++timeouts_[it->first];
      it = outstanding_.erase(it);
    } else {
      ++it;
    }
  }
  if (done()) {
    due_since_.clear();
    return asks;
  }

  // The co-fetchers, self included, sorted by id; a barred peer fetches nothing for anyone.
  std::vector<const std::string*> members;
  bool self_placed = false;
  for (const auto& peer : cofetchers_) {
    if (barred(peer)) continue;
    if (!self_placed && self_ < peer) {
      members.push_back(&self_);
      self_placed = true;
    }
    members.push_back(&peer);
  }
  if (!self_placed) members.push_back(&self_);

  std::map<std::uint64_t, std::int64_t> due;  // the waits still running after this pass
  std::size_t pending = 0;  // chunks passed that have a holder but were not asked for
  std::vector<const std::string*> all;
  std::vector<const std::string*> candidates;
  // Chunks whose wait for their co-fetcher ran out, held back from a source's last free slot
  // (rule 3b): asked after the walk if that slot is still free.
  std::vector<std::pair<std::uint64_t, const std::string*>> held_back;

  const auto ask = [&](std::uint64_t c, const std::string& peer) {
    outstanding_[c] = Outstanding{peer, now + timeout_for(c)};
    ++outstanding_by_peer_[peer];
    asks.push_back(ChunkAsk{peer, c});
    due.erase(c);
  };

  for (const std::uint64_t c : order_) {
    const bool slots = outstanding_.size() < config_.window;
    if (!slots && pending >= config_.window) break;
    if (held_[c] || outstanding_.contains(c)) continue;

    all.clear();
    for (const auto& [peer, h] : holders_) {
      if (eligible(peer, c)) all.push_back(&peer);
    }
    if (all.empty()) continue;  // unavailable: nothing to wait for

    const bool is_due = pending < config_.window;
    const auto failed_it = failed_from_.find(c);
    const auto excluded_it = excluded_.find(c);
    const auto failed_by = [&](const std::string& peer) {
      return failed_it != failed_from_.end() && failed_it->second.contains(peer);
    };

    bool fallback = false;  // asked of any holder because the wait for the co-fetcher ran out
    if (urgent(c)) {
      candidates = all;  // rule 2
    } else {
      const std::string& designated = *members[c % members.size()];
      const bool waived = designated == self_ || failed_by(designated) ||
                          (excluded_it != excluded_.end() && excluded_it->second.contains(designated));
      if (waived) {
        candidates = all;
      } else {
        candidates.clear();
        if (eligible(designated, c)) {
          candidates.push_back(&designated);
        } else {
          // It does not hold c yet. Another co-fetcher that does costs no source an upload:
          // ask it rather than wait.
          for (const auto* peer : all) {
            if (cofetchers_.contains(*peer)) candidates.push_back(peer);
          }
        }
        if (is_due) {
          const auto stamp = due_since_.find(c);
          const std::int64_t since = stamp != due_since_.end() ? stamp->second : now;
          if (now - since >= config_.peer_wait_us) {
            candidates = all;  // waited long enough: any holder
            fallback = true;
          }
          due[c] = since;
        }
      }
    }

    if (slots) {
      const std::string* best = nullptr;
      auto key = [&](const std::string* peer) {
        // Rule 4, after "not one that failed this chunk before": still fetching, least busy, id.
        return std::tuple<bool, bool, std::size_t, const std::string&>(
            failed_by(*peer), holders_.at(*peer).count == held_.size(), outstanding_to(*peer),
            *peer);
      };
      for (const auto* peer : candidates) {
        if (outstanding_to(*peer) >= config_.per_peer) continue;
        if (best == nullptr || key(peer) < key(best)) best = peer;
      }
      if (best != nullptr && fallback && reserved_for_own_share(*best)) {
        held_back.emplace_back(c, best);
        best = nullptr;
      }
      if (best != nullptr) {
        ask(c, *best);
        continue;
      }
    }
    ++pending;
  }
  // Rule 3b: no chunk of this node's own share wanted the slot: the held-back chunks may have it.
  for (const auto& [c, source] : held_back) {
    if (outstanding_.size() >= config_.window) break;
    if (outstanding_to(*source) < config_.per_peer) ask(c, *source);
  }
  due_since_ = std::move(due);
  return asks;
}

std::optional<std::int64_t> FetchPlanner::next_deadline() const {
  std::optional<std::int64_t> earliest;
  const auto consider = [&](std::int64_t at) {
    if (!earliest || at < *earliest) earliest = at;
  };
  for (const auto& [chunk, o] : outstanding_) consider(o.deadline);
  for (const auto& [chunk, since] : due_since_) {
    const std::int64_t ends = since + config_.peer_wait_us;
    // A wait that had ended by the last next() is waiting for a free slot, not for time.
    if (!next_called_ || ends > last_now_) consider(ends);
  }
  return earliest;
}

// ---- state ----

bool FetchPlanner::done() const { return held_count_ == held_.size(); }
std::uint64_t FetchPlanner::chunk_count() const { return held_.size(); }
std::uint64_t FetchPlanner::held_count() const { return held_count_; }
bool FetchPlanner::holds(std::uint64_t chunk) const { return chunk < held_.size() && held_[chunk]; }

std::vector<std::uint64_t> FetchPlanner::unavailable() const {
  std::vector<std::uint64_t> out;
  for (std::uint64_t c = 0; c < held_.size(); ++c) {
    if (held_[c]) continue;
    const bool any = std::any_of(holders_.begin(), holders_.end(),
                                 [&](const auto& entry) { return eligible(entry.first, c); });
    if (!any) out.push_back(c);
  }
  return out;
}

std::size_t FetchPlanner::outstanding() const { return outstanding_.size(); }

const std::map<std::string, std::uint64_t>& FetchPlanner::received_from() const {
  return received_from_;
}

std::uint64_t FetchPlanner::corrupt_count() const { return corrupt_total_; }

std::size_t FetchPlanner::outstanding_to(const std::string& peer) const {
  const auto it = outstanding_by_peer_.find(peer);
  return it == outstanding_by_peer_.end() ? 0 : it->second;
}

std::uint64_t FetchPlanner::failures_of(const std::string& peer) const {
  const auto it = failures_by_peer_.find(peer);
  return it == failures_by_peer_.end() ? 0 : it->second;
}

bool FetchPlanner::barred(const std::string& peer) const {
  const auto it = corrupt_by_peer_.find(peer);
  return it != corrupt_by_peer_.end() && it->second >= config_.corrupt_limit;
}

// ---- helpers ----

bool FetchPlanner::urgent(std::uint64_t chunk) const {
  if (chunk == 0) return true;
  return chunk >= demand_ && chunk - demand_ <= config_.urgent_chunks;
}

std::int64_t FetchPlanner::timeout_for(std::uint64_t chunk) const {
  // Doubled for each time this chunk already timed out: when answers are slow because the
  // senders' queues (or our own link) are long, asking again at the same pace only lengthens
  // the queues with copies; backing off lets the answers catch up.
  const auto it = timeouts_.find(chunk);
  const int doublings = it == timeouts_.end() ? 0 : std::min(it->second, kMaxTimeoutDoublings);
  const std::int64_t base =
      urgent(chunk) ? std::min(config_.urgent_timeout_us, config_.request_timeout_us) : config_.request_timeout_us;
  return base << doublings;
}

bool FetchPlanner::eligible(const std::string& peer, std::uint64_t chunk) const {
  if (peer == self_) return false;
  const auto h = holders_.find(peer);
  if (h == holders_.end() || !h->second.chunks[chunk]) return false;
  if (barred(peer)) return false;
  const auto ex = excluded_.find(chunk);
  return ex == excluded_.end() || !ex->second.contains(peer);
}

bool FetchPlanner::reserved_for_own_share(const std::string& peer) const {
  // Only a source's (a holder not fetching the file) last free slot is kept, and only when there
  // are two or more: with one, the reader's next chunks would wait for this node's share.
  if (cofetchers_.contains(peer) || config_.per_peer < 2) return false;
  return outstanding_to(peer) + 1 >= config_.per_peer;
}

void FetchPlanner::rebuild_order() {
  const std::uint64_t n = held_.size();
  order_.clear();
  order_.reserve(n);
  if (n == 0) return;
  std::vector<bool> placed(n, false);
  const auto place = [&](std::uint64_t c) {
    if (!placed[c]) {
      placed[c] = true;
      order_.push_back(c);
    }
  };
  // The header first; the end of the file only in its turn, or when the decoder asks for it (an
  // Ogg file's length is read there): every chunk fetched ahead of need delays the ones the
  // reader needs next, which on a slow link is audible.
  place(0);
  for (std::uint64_t c = demand_; c < n; ++c) place(c);
  for (std::uint64_t c = 0; c < demand_; ++c) place(c);
}

void FetchPlanner::drop_outstanding_of(const std::string& peer) {
  for (auto it = outstanding_.begin(); it != outstanding_.end();) {
    if (it->second.peer == peer) {
      it = outstanding_.erase(it);
    } else {
      ++it;
    }
  }
  outstanding_by_peer_.erase(peer);
}

}  // namespace chorus::content
