#pragma once
// Which chunks of a file a node holds, as runs: what `status` shows of a fetch. An operator (or a
// benchmark) can tell from them which chunks would be lost with a node, and whether the nodes
// still fetching hold the whole file between them. Pure.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace chorus::content {

/// Chunks first..last, both included.
struct ChunkRange {
  std::uint64_t first = 0;
  std::uint64_t last = 0;
  friend bool operator==(const ChunkRange&, const ChunkRange&) = default;
};

struct ChunkRanges {
  std::vector<ChunkRange> ranges;  ///< in order, disjoint, never adjacent
  bool truncated = false;          ///< more runs were held than the limit: only the first are listed
  friend bool operator==(const ChunkRanges&, const ChunkRanges&) = default;
};

/// A status line stays small whatever the bitmap: a file of 16384 chunks held every other chunk
/// would be 8192 runs.
constexpr std::size_t kMaxListedRanges = 64;

/// The runs of set bits of `held`, at most `max_ranges` of them (the first ones).
ChunkRanges held_ranges(const std::vector<bool>& held, std::size_t max_ranges = kMaxListedRanges);

}  // namespace chorus::content
