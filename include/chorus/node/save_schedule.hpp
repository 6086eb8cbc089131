#pragma once
// When a node writes the state it keeps between runs (node/saved_state.hpp). Pure: time is
// passed in. Changes are coalesced: the first after a quiet spell is written at once, later ones
// at most every kMinSaveGapUs; while playing, the state (its position) is written again every
// kPlayingSaveIntervalUs, so after a power cut the position kept is at most that old.

#include <cstdint>
#include <optional>

namespace chorus::node {

inline constexpr std::int64_t kMinSaveGapUs = 2'000'000;
inline constexpr std::int64_t kPlayingSaveIntervalUs = 5'000'000;

/// What to write.
struct SaveParts {
  bool queue = false;
  bool playback = false;
  friend bool operator==(const SaveParts&, const SaveParts&) = default;
};

class SaveSchedule {
 public:
  /// The queue's items or modes changed.
  void queue_changed(std::int64_t now);
  /// The playback state changed; `playing` says whether its position now moves.
  void state_changed(std::int64_t now, bool playing);
  /// When take() has something to write; nullopt: nothing to write.
  std::optional<std::int64_t> due() const;
  /// What to write at `now` (nothing before due()); it counts as written.
  SaveParts take(std::int64_t now);

 private:
  void pending_from(std::int64_t now);

  SaveParts pending_;
  std::optional<std::int64_t> pending_since_;
  std::optional<std::int64_t> last_write_;
  bool playing_ = false;
};

}  // namespace chorus::node
