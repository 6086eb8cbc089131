#pragma once
// PlayQueue: the cluster's play queue, pure (docs/queue.md). Items with stable ids (MPD's
// songid), a version that grows by one with every change (MPD's playlist version), the play
// modes, and whether the queue still mirrors the library (no edit was ever made).
//
// The leader edits it (add, remove, move, clear, set_modes, mirror_library, finished): each edit
// is applied and returned as protocol::QueueChange records, in order, for QUEUE_EDIT. A follower
// applies those records (apply) and detects a gap by their versions; it rebuilds the whole queue
// from QUEUE_SNAPSHOT pages (QueueAssembly). The playback rules (following, preceding) say which
// item comes next given the modes; they are pure functions of the queue, the random round and a
// seed, so the same inputs always pick the same item.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chorus/control/control_port.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::node {

/// Why a queue operation was refused, for the prompt and for CONTROL_RESPONSE.
struct QueueRefusal {
  control::Refusal refusal = control::Refusal::bad_argument;
  std::string text;
};

/// What one of the leader's edits did: the changes made (already applied, to broadcast in
/// order), or why nothing changed.
struct QueueEdits {
  std::optional<QueueRefusal> refused;
  std::vector<protocol::QueueChange> changes;
  std::optional<std::uint64_t> first_id;  ///< add: the id of the first item added
};

/// Why the current item is left.
enum class Advance {
  end_of_track,  ///< it played to its end: single and consume apply
  next_command,  ///< `next`: single does not hold playback on this item
};

class PlayQueue {
 public:
  /// What apply() did with a change from the leader.
  enum class Applied { applied, stale, gap, invalid };

  PlayQueue() = default;
  /// A queue as a snapshot describes it; nullopt if the items are not a valid queue (too many,
  /// an id 0 or twice).
  static std::optional<PlayQueue> restore(std::uint64_t version, std::uint64_t next_id, bool library,
                                          const protocol::QueueModes& modes,
                                          std::vector<protocol::QueueEntry> items);

  // ---- reading --------------------------------------------------------------------------------

  const std::vector<protocol::QueueEntry>& items() const { return items_; }
  std::size_t size() const { return items_.size(); }
  bool empty() const { return items_.empty(); }
  std::uint64_t version() const { return version_; }
  std::uint64_t next_id() const { return next_id_; }
  const protocol::QueueModes& modes() const { return modes_; }
  /// No edit was ever made: the leader keeps the queue equal to the library.
  bool mirrors_library() const { return library_; }
  std::optional<std::size_t> position_of(std::uint64_t id) const;
  const protocol::QueueEntry* find(std::uint64_t id) const;

  // ---- the leader's edits ---------------------------------------------------------------------

  /// Adds `tracks` so that the first is at `position` (from 0), or at the end.
  QueueEdits add(const std::vector<protocol::CatalogEntry>& tracks, std::optional<std::size_t> position);
  /// Removes `count` items from position `first` (from 0).
  QueueEdits remove(std::size_t first, std::size_t count);
  QueueEdits remove_id(std::uint64_t id);
  /// Moves `count` items from `first` so that the first of them ends at `to` (from 0).
  QueueEdits move(std::size_t first, std::size_t count, std::size_t to);
  QueueEdits move_id(std::uint64_t id, std::size_t to);
  QueueEdits clear();
  QueueEdits set_modes(const protocol::QueueModes& modes);
  /// While the queue mirrors the library: makes it equal to `catalog` (in its order), keeping
  /// the ids of tracks already in it. No change otherwise.
  QueueEdits mirror_library(const std::vector<protocol::CatalogEntry>& catalog);
  /// Playback left item `id` (`how`): consume removes it, and a oneshot mode that was used turns
  /// itself off.
  QueueEdits finished(std::uint64_t id, Advance how);

  // ---- a follower's replica -------------------------------------------------------------------

  /// Applies a change the leader made: only the one right after this version.
  Applied apply(const protocol::QueueChange& change);
  /// The whole queue as QUEUE_SNAPSHOT pages (at least one).
  std::vector<protocol::QueueSnapshot> snapshot(const std::string& from, std::uint64_t epoch) const;

  // ---- the playback rules ---------------------------------------------------------------------

  /// The item that plays after `current` (none: nothing plays yet), or nullopt: playback stops.
  /// `seed` picks the item in random mode (the same seed, the same pick).
  std::optional<std::uint64_t> following(std::optional<std::uint64_t> current, Advance how,
                                         std::uint64_t seed) const;
  /// The item `prev` goes to from `current`.
  std::optional<std::uint64_t> preceding(std::optional<std::uint64_t> current) const;
  /// Item `id` started playing: random mode does not pick it again in this round. (The round is
  /// the leader's own; a new leader starts a new round.)
  void started(std::uint64_t id);

 private:
  /// Raises the version, applies `change` (valid) and records it in `edits`.
  void commit(protocol::QueueChange change, QueueEdits& edits);
  void perform(const protocol::QueueChange& change);
  bool valid(const protocol::QueueChange& change) const;
  protocol::QueueChange change_of(protocol::QueueEditKind kind) const;
  /// Adds `items` at `position` as one change per page.
  void add_pages(std::vector<protocol::QueueEntry> items, std::size_t position, bool library,
                 QueueEdits& edits);
  std::optional<std::uint64_t> pick_random(std::optional<std::uint64_t> current, std::uint64_t seed) const;

  std::vector<protocol::QueueEntry> items_;
  std::uint64_t version_ = 0;
  std::uint64_t next_id_ = 1;
  protocol::QueueModes modes_;
  bool library_ = true;
  /// Random mode: the items played in this round, in order (not replicated).
  std::vector<std::uint64_t> round_;
  std::set<std::uint64_t> in_round_;
};

/// Rebuilds a queue from QUEUE_SNAPSHOT pages, which come in order (offset 0 first).
class QueueAssembly {
 public:
  /// Takes one page; the queue once the last page is in. A page that does not continue the ones
  /// so far (another version, a gap) drops them: `broken()` says so, and the caller asks again.
  std::optional<PlayQueue> take(const protocol::QueueSnapshot& page);
  bool broken() const { return broken_; }
  bool assembling() const { return header_.has_value(); }
  void reset();

 private:
  std::optional<protocol::QueueSnapshot> header_;  ///< the first page's fields, items gathered
  bool broken_ = false;
};

/// Splits `items` into pages that respect kMaxQueuePageItems and kQueuePageBudgetBytes (at
/// least one item per page).
std::vector<std::vector<protocol::QueueEntry>> queue_pages(std::vector<protocol::QueueEntry> items);

/// Conversions between the wire's modes and the control port's.
control::PlayModes to_control(const protocol::QueueModes& modes);
protocol::QueueModes to_wire(const control::PlayModes& modes);

}  // namespace chorus::node
