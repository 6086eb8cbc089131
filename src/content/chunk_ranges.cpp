#include "chorus/content/chunk_ranges.hpp"

namespace chorus::content {

ChunkRanges held_ranges(const std::vector<bool>& held, std::size_t max_ranges) {
  ChunkRanges out;
  std::uint64_t c = 0;
  const std::uint64_t n = held.size();
  while (c < n) {
    if (!held[c]) {
      ++c;
      continue;
    }
    if (out.ranges.size() == max_ranges) {
      out.truncated = true;
      break;
    }
    const std::uint64_t first = c;
    while (c < n && held[c]) ++c;
    out.ranges.push_back(ChunkRange{first, c - 1});
  }
  return out;
}

}  // namespace chorus::content
