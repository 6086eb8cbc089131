#include "chorus/node/play_queue.hpp"

#include <algorithm>
#include <iterator>
#include <map>
#include <utility>

#include <fmt/format.h>

namespace chorus::node {

using protocol::QueueChange;
using protocol::QueueEditKind;
using protocol::QueueEntry;

namespace {

constexpr std::size_t kMaxLength = protocol::kMaxQueueLength;

QueueEdits refused(control::Refusal refusal, std::string text) {
  QueueEdits edits;
  edits.refused = QueueRefusal{refusal, std::move(text)};
  return edits;
}

QueueEdits bad_range(std::size_t first, std::size_t count, std::size_t size) {
  if (count == 1) return refused(control::Refusal::bad_argument, fmt::format("no position {} (the queue has {})", first + 1, size));
  return refused(control::Refusal::bad_argument,
                 fmt::format("no positions {}-{} (the queue has {})", first + 1, first + count, size));
}

/// An upper bound of an item's encoded size: every text byte may become a 6-byte escape.
std::size_t encoded_bound(const QueueEntry& item) {
  const auto& t = item.track;
  const std::size_t text = t.hash.size() + t.root.size() + t.name.size() + t.title.size() + t.artist.size() +
                           t.album.size() + t.format.size();
  return 256 + 6 * text;
}

/// splitmix64: spreads a seed made of small numbers (epoch, seq) over all 64 bits.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

protocol::ModeSwitch used_up(protocol::ModeSwitch mode) {
  return mode == protocol::ModeSwitch::oneshot ? protocol::ModeSwitch::off : mode;
}

}  // namespace

std::vector<std::vector<QueueEntry>> queue_pages(std::vector<QueueEntry> items) {
  std::vector<std::vector<QueueEntry>> pages;
  std::size_t bytes = 0;
  for (auto& item : items) {
    const auto size = encoded_bound(item);
    if (pages.empty() || pages.back().size() >= protocol::kMaxQueuePageItems ||
        (!pages.back().empty() && bytes + size > protocol::kQueuePageBudgetBytes)) {
      pages.emplace_back();
      bytes = 0;
    }
    bytes += size;
    pages.back().push_back(std::move(item));
  }
  return pages;
}

control::PlayModes to_control(const protocol::QueueModes& modes) {
  return {.random = modes.random,
          .repeat = modes.repeat,
          .single = static_cast<cli::Switch>(modes.single),
          .consume = static_cast<cli::Switch>(modes.consume)};
}

protocol::QueueModes to_wire(const control::PlayModes& modes) {
  return {.random = modes.random,
          .repeat = modes.repeat,
          .single = static_cast<protocol::ModeSwitch>(modes.single),
          .consume = static_cast<protocol::ModeSwitch>(modes.consume)};
}

// ---- reading ---------------------------------------------------------------------------------

std::optional<PlayQueue> PlayQueue::restore(std::uint64_t version, std::uint64_t next_id, bool library,
                                            const protocol::QueueModes& modes, std::vector<QueueEntry> items) {
  if (items.size() > kMaxLength) return std::nullopt;
  std::set<std::uint64_t> ids;
  for (const auto& item : items) {
    if (item.id == 0 || !ids.insert(item.id).second) return std::nullopt;
  }
  PlayQueue queue;
  queue.items_ = std::move(items);
  queue.version_ = version;
  queue.next_id_ = std::max<std::uint64_t>({next_id, 1, ids.empty() ? 1 : *ids.rbegin() + 1});
  queue.library_ = library;
  queue.modes_ = modes;
  return queue;
}

std::optional<std::size_t> PlayQueue::position_of(std::uint64_t id) const {
  for (std::size_t i = 0; i < items_.size(); ++i) {
    if (items_[i].id == id) return i;
  }
  return std::nullopt;
}

const QueueEntry* PlayQueue::find(std::uint64_t id) const {
  auto position = position_of(id);
  return position ? &items_[*position] : nullptr;
}

// ---- the leader's edits ----------------------------------------------------------------------

QueueChange PlayQueue::change_of(QueueEditKind kind) const {
  QueueChange change;
  change.kind = kind;
  change.modes = modes_;
  change.library = false;  // any edit but the library's own ends the mirroring
  return change;
}

void PlayQueue::commit(QueueChange change, QueueEdits& edits) {
  change.version = version_ + 1;
  perform(change);
  edits.changes.push_back(std::move(change));
}

void PlayQueue::add_pages(std::vector<QueueEntry> items, std::size_t position, bool library, QueueEdits& edits) {
  for (auto& page : queue_pages(std::move(items))) {
    auto change = change_of(QueueEditKind::add);
    change.library = library;
    change.position = position;
    position += page.size();
    change.items = std::move(page);
    commit(std::move(change), edits);
  }
}

QueueEdits PlayQueue::add(const std::vector<protocol::CatalogEntry>& tracks, std::optional<std::size_t> position) {
  if (tracks.empty()) return refused(control::Refusal::no_such, "no track to add");
  const auto at = position.value_or(items_.size());
  if (at > items_.size()) {
    return refused(control::Refusal::bad_argument,
                   fmt::format("no position {} (the queue has {})", at + 1, items_.size()));
  }
  if (tracks.size() > kMaxLength - items_.size()) {
    return refused(control::Refusal::bad_argument,
                   fmt::format("the queue is full: {} tracks would make it longer than {}",
                               tracks.size(), kMaxLength));
  }
  std::vector<QueueEntry> items;
  items.reserve(tracks.size());
  QueueEdits edits;
  edits.first_id = next_id_;
  for (const auto& track : tracks) items.push_back({next_id_++, track});
  add_pages(std::move(items), at, false, edits);
  return edits;
}

QueueEdits PlayQueue::remove(std::size_t first, std::size_t count) {
  if (count == 0 || first >= items_.size() || count > items_.size() - first) {
    return bad_range(first, std::max<std::size_t>(count, 1), items_.size());
  }
  auto change = change_of(QueueEditKind::remove);
  change.position = first;
  change.count = count;
  QueueEdits edits;
  commit(std::move(change), edits);
  return edits;
}

QueueEdits PlayQueue::remove_id(std::uint64_t id) {
  auto position = position_of(id);
  if (!position) return refused(control::Refusal::no_such, fmt::format("no queue item with id {}", id));
  return remove(*position, 1);
}

QueueEdits PlayQueue::move(std::size_t first, std::size_t count, std::size_t to) {
  if (count == 0 || first >= items_.size() || count > items_.size() - first) {
    return bad_range(first, std::max<std::size_t>(count, 1), items_.size());
  }
  if (to > items_.size() - count) {
    return refused(control::Refusal::bad_argument,
                   fmt::format("cannot move {} item(s) to position {} (the queue has {})", count, to + 1,
                               items_.size()));
  }
  auto change = change_of(QueueEditKind::move);
  change.position = first;
  change.count = count;
  change.to = to;
  QueueEdits edits;
  commit(std::move(change), edits);
  return edits;
}

QueueEdits PlayQueue::move_id(std::uint64_t id, std::size_t to) {
  auto position = position_of(id);
  if (!position) return refused(control::Refusal::no_such, fmt::format("no queue item with id {}", id));
  return move(*position, 1, to);
}

QueueEdits PlayQueue::clear() {
  QueueEdits edits;
  commit(change_of(QueueEditKind::clear), edits);
  return edits;
}

QueueEdits PlayQueue::set_modes(const protocol::QueueModes& modes) {
  QueueEdits edits;
  if (modes == modes_) return edits;
  auto change = change_of(QueueEditKind::modes);
  change.modes = modes;
  change.library = library_;  // the modes are not an edit of the queue's items
  commit(std::move(change), edits);
  return edits;
}

QueueEdits PlayQueue::mirror_library(const std::vector<protocol::CatalogEntry>& catalog) {
  QueueEdits edits;
  if (!library_) return edits;
  std::map<std::string, std::uint64_t> known;
  for (const auto& item : items_) known.emplace(item.track.hash, item.id);
  const auto capped = std::min(catalog.size(), kMaxLength);
  std::vector<QueueEntry> wanted;
  wanted.reserve(capped);
  for (std::size_t i = 0; i < capped; ++i) {
    auto it = known.find(catalog[i].hash);
    wanted.push_back({it != known.end() ? it->second : 0, catalog[i]});
  }
  // Items whose track left the library go first (from the end, so positions hold)...
  std::set<std::string> kept;
  for (const auto& item : wanted) kept.insert(item.track.hash);
  for (std::size_t end = items_.size(); end > 0;) {
    if (kept.count(items_[end - 1].track.hash)) {
      --end;
      continue;
    }
    std::size_t begin = end - 1;
    while (begin > 0 && !kept.count(items_[begin - 1].track.hash)) --begin;
    auto change = change_of(QueueEditKind::remove);
    change.library = true;
    change.position = begin;
    change.count = end - begin;
    commit(std::move(change), edits);
    end = begin;
  }
  // ... then the new ones, each run of them where the library has it. The library's order is
  // by name, so the items kept are in order already; if not (it never happens), start afresh.
  std::size_t kept_seen = 0;
  for (const auto& item : wanted) {
    if (item.id == 0) continue;
    if (kept_seen >= items_.size() || items_[kept_seen].id != item.id) {
      auto change = change_of(QueueEditKind::clear);
      change.library = true;
      commit(std::move(change), edits);
      break;
    }
    ++kept_seen;
  }
  // Position i of `wanted` is position i of the queue once the runs before it are in.
  for (std::size_t i = 0; i < wanted.size();) {
    const std::uint64_t kept_here = i < items_.size() ? items_[i].id : 0;
    if (kept_here != 0 && wanted[i].id == kept_here) {
      ++i;
      continue;
    }
    std::vector<QueueEntry> run;
    while (i + run.size() < wanted.size() && (kept_here == 0 || wanted[i + run.size()].id != kept_here)) {
      auto item = wanted[i + run.size()];
      if (item.id == 0) item.id = next_id_++;
      run.push_back(std::move(item));
    }
    const auto added = run.size();
    add_pages(std::move(run), i, true, edits);
    i += added;
  }
  return edits;
}

QueueEdits PlayQueue::finished(std::uint64_t id, Advance how) {
  QueueEdits edits;
  auto modes = modes_;
  if (how == Advance::end_of_track) modes.single = used_up(modes.single);
  const bool consume = modes.consume != protocol::ModeSwitch::off;
  if (consume) modes.consume = used_up(modes.consume);
  if (consume) {
    if (auto position = position_of(id)) {
      auto change = change_of(QueueEditKind::remove);
      change.position = *position;
      change.count = 1;
      change.library = false;
      commit(std::move(change), edits);
    }
  }
  auto changed = set_modes(modes);
  for (auto& change : changed.changes) edits.changes.push_back(std::move(change));
  return edits;
}

// ---- a follower's replica --------------------------------------------------------------------

bool PlayQueue::valid(const QueueChange& change) const {
  const auto size = items_.size();
  switch (change.kind) {
    case QueueEditKind::add: {
      if (change.items.empty() || change.position > size || change.items.size() > kMaxLength - size) return false;
      std::set<std::uint64_t> ids;
      for (const auto& item : change.items) {
        if (item.id == 0 || !ids.insert(item.id).second) return false;
      }
      return std::none_of(items_.begin(), items_.end(), [&](const QueueEntry& item) { return ids.count(item.id) > 0; });
    }
    case QueueEditKind::remove:
      return change.count > 0 && change.position < size && change.count <= size - change.position;
    case QueueEditKind::move:
      return change.count > 0 && change.position < size && change.count <= size - change.position &&
             change.to <= size - change.count;
    case QueueEditKind::clear:
    case QueueEditKind::modes:
      return true;
  }
  return false;
}

void PlayQueue::perform(const QueueChange& change) {
  const auto at = [this](std::uint64_t position) { return items_.begin() + static_cast<std::ptrdiff_t>(position); };
  switch (change.kind) {
    case QueueEditKind::add:
      items_.insert(at(change.position), change.items.begin(), change.items.end());
      for (const auto& item : change.items) next_id_ = std::max(next_id_, item.id + 1);
      break;
    case QueueEditKind::remove:
      items_.erase(at(change.position), at(change.position + change.count));
      break;
    case QueueEditKind::move: {
      std::vector<QueueEntry> moved(std::make_move_iterator(at(change.position)),
                                    std::make_move_iterator(at(change.position + change.count)));
      items_.erase(at(change.position), at(change.position + change.count));
      items_.insert(at(change.to), std::make_move_iterator(moved.begin()), std::make_move_iterator(moved.end()));
      break;
    }
    case QueueEditKind::clear:
      items_.clear();
      break;
    case QueueEditKind::modes:
      break;
  }
  if (modes_.random != change.modes.random) {
    round_.clear();
    in_round_.clear();
  }
  modes_ = change.modes;
  library_ = change.library;
  version_ = change.version;
}

PlayQueue::Applied PlayQueue::apply(const QueueChange& change) {
  if (change.version <= version_) return Applied::stale;
  if (change.version != version_ + 1) return Applied::gap;
  if (!valid(change)) return Applied::invalid;
  perform(change);
  return Applied::applied;
}

std::vector<protocol::QueueSnapshot> PlayQueue::snapshot(const std::string& from, std::uint64_t epoch) const {
  std::vector<protocol::QueueSnapshot> pages;
  const protocol::QueueSnapshot header{.from = from, .epoch = epoch, .version = version_, .next_id = next_id_,
                                       .library = library_, .modes = modes_, .total = items_.size(),
                                       .offset = 0, .items = {}};
  std::uint64_t offset = 0;
  for (auto& items : queue_pages(items_)) {
    pages.push_back(header);
    pages.back().offset = offset;
    offset += items.size();
    pages.back().items = std::move(items);
  }
  if (pages.empty()) pages.push_back(header);
  return pages;
}

// ---- the playback rules ----------------------------------------------------------------------

std::optional<std::uint64_t> PlayQueue::pick_random(std::optional<std::uint64_t> current, std::uint64_t seed) const {
  std::vector<std::uint64_t> candidates;
  for (const auto& item : items_) {
    if (item.id != current && !in_round_.count(item.id)) candidates.push_back(item.id);
  }
  if (candidates.empty()) {
    if (!modes_.repeat) return std::nullopt;  // the round is over
    for (const auto& item : items_) {
      if (item.id != current) candidates.push_back(item.id);
    }
    if (candidates.empty()) return current;  // one item, repeated
  }
  return candidates[mix(seed) % candidates.size()];
}

std::optional<std::uint64_t> PlayQueue::following(std::optional<std::uint64_t> current, Advance how,
                                                  std::uint64_t seed) const {
  if (items_.empty()) return std::nullopt;
  const auto position = current ? position_of(*current) : std::nullopt;
  if (how == Advance::end_of_track && position && modes_.single != protocol::ModeSwitch::off) {
    return modes_.repeat ? current : std::nullopt;
  }
  if (modes_.random) return pick_random(position ? current : std::nullopt, seed);
  if (!position) return items_.front().id;
  if (*position + 1 < items_.size()) return items_[*position + 1].id;
  return modes_.repeat ? std::optional(items_.front().id) : std::nullopt;
}

std::optional<std::uint64_t> PlayQueue::preceding(std::optional<std::uint64_t> current) const {
  if (items_.empty()) return std::nullopt;
  const auto position = current ? position_of(*current) : std::nullopt;
  if (!position) return items_.front().id;
  if (modes_.random) {
    // Back along the round, to items still queued; at its start, the current one again.
    auto it = std::find(round_.begin(), round_.end(), *current);
    while (it != round_.begin()) {
      --it;
      if (position_of(*it)) return *it;
    }
    return current;
  }
  if (*position > 0) return items_[*position - 1].id;
  return modes_.repeat ? items_.back().id : items_.front().id;
}

void PlayQueue::started(std::uint64_t id) {
  if (in_round_.count(id)) {  // repeat began a new round
    round_.clear();
    in_round_.clear();
  }
  round_.push_back(id);
  in_round_.insert(id);
}

// ---- QueueAssembly ---------------------------------------------------------------------------

void QueueAssembly::reset() {
  header_.reset();
  broken_ = false;
}

std::optional<PlayQueue> QueueAssembly::take(const protocol::QueueSnapshot& page) {
  broken_ = false;
  if (page.offset == 0) {
    header_ = page;
  } else if (!header_ || header_->version != page.version || header_->epoch != page.epoch ||
             header_->total != page.total || header_->items.size() != page.offset) {
    header_.reset();
    broken_ = true;
    return std::nullopt;
  } else {
    header_->items.insert(header_->items.end(), page.items.begin(), page.items.end());
  }
  if (header_->items.size() < header_->total) return std::nullopt;
  auto whole = std::move(*header_);
  header_.reset();
  auto queue = whole.items.size() == whole.total
                   ? PlayQueue::restore(whole.version, whole.next_id, whole.library, whole.modes, std::move(whole.items))
                   : std::nullopt;
  if (!queue) broken_ = true;
  return queue;
}

}  // namespace chorus::node
