#pragma once
// When a node rescans its music directory (docs/library.md "New music"). Pure: time is passed in.
//
// Changes seen in the directory (inotify events) are coalesced: the rescan comes kQuietUs after
// the last change, so copying a thousand files costs one or a few rescans, not a thousand; a
// steady trickle of changes (a long copy) still gets a rescan kMaxWaitUs after its first change.
// Without a watch on the directory (no inotify, the watch limit reached) the node polls: a rescan
// every kPollIntervalUs.

#include <cstdint>
#include <optional>

namespace chorus::node {

inline constexpr std::int64_t kQuietUs = 2'000'000;
inline constexpr std::int64_t kMaxWaitUs = 30'000'000;
inline constexpr std::int64_t kPollIntervalUs = 300'000'000;

class RescanSchedule {
 public:
  /// Something in the directory changed.
  void changed(std::int64_t now);
  /// From now on, rescan every kPollIntervalUs (the directory cannot be watched, or not all of it).
  void poll(std::int64_t now);
  bool polling() const { return next_poll_.has_value(); }
  /// When take() will say yes; nullopt: nothing is due ever without another change.
  std::optional<std::int64_t> due() const;
  /// Whether to rescan at `now`; a yes counts as the rescan (the changes are served, the next
  /// poll is a full interval later).
  bool take(std::int64_t now);

 private:
  std::optional<std::int64_t> first_change_;  ///< of the changes not served yet
  std::int64_t last_change_ = 0;
  std::optional<std::int64_t> next_poll_;
};

}  // namespace chorus::node
