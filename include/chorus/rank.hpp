#pragma once
// Rank: the total order among nodes that the Bully election uses.

#include <compare>
#include <cstdint>
#include <string>

namespace chorus {

/// A node's rank: configured priority first, then its unique id, so no two nodes tie.
struct Rank {
  std::int64_t priority = 0;
  std::string id;

  friend auto operator<=>(const Rank&, const Rank&) = default;
  friend bool operator==(const Rank&, const Rank&) = default;
};

}  // namespace chorus
