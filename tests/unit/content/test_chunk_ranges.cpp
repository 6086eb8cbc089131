#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "chorus/content/chunk_ranges.hpp"

using namespace chorus::content;

namespace {

std::vector<bool> bits(const char* pattern) {
  std::vector<bool> out;
  for (const char* p = pattern; *p != '\0'; ++p) out.push_back(*p == '1');
  return out;
}

ChunkRanges listed(std::vector<ChunkRange> ranges, bool truncated = false) {
  return ChunkRanges{std::move(ranges), truncated};
}

}  // namespace

TEST_CASE("held ranges: nothing held, all held, empty file") {
  CHECK(held_ranges({}) == listed({}));
  CHECK(held_ranges(bits("0000")) == listed({}));
  CHECK(held_ranges(bits("1111")) == listed({{0, 3}}));
  CHECK(held_ranges(bits("1")) == listed({{0, 0}}));
}

TEST_CASE("held ranges: runs at the start, in the middle and at the end, single chunks") {
  CHECK(held_ranges(bits("1101110")) == listed({{0, 1}, {3, 5}}));
  CHECK(held_ranges(bits("0100001")) == listed({{1, 1}, {6, 6}}));
  CHECK(held_ranges(bits("0011")) == listed({{2, 3}}));
}

TEST_CASE("held ranges: every bitmap of 10 chunks round-trips") {
  for (std::uint32_t pattern = 0; pattern < (1u << 10); ++pattern) {
    std::vector<bool> held(10);
    for (std::size_t i = 0; i < 10; ++i) held[i] = ((pattern >> i) & 1u) != 0;
    const auto got = held_ranges(held);
    REQUIRE_FALSE(got.truncated);
    std::vector<bool> back(10, false);
    std::uint64_t previous_end = 0;
    for (std::size_t r = 0; r < got.ranges.size(); ++r) {
      const auto& range = got.ranges[r];
      REQUIRE(range.first <= range.last);
      REQUIRE(range.last < 10);
      if (r > 0) REQUIRE(range.first > previous_end + 1);  // disjoint, not adjacent
      previous_end = range.last;
      for (auto c = range.first; c <= range.last; ++c) back[c] = true;
    }
    REQUIRE(back == held);
  }
}

TEST_CASE("held ranges: no more than the limit, flagged as truncated") {
  const auto every_other = bits("1010101010");
  CHECK(held_ranges(every_other, 5) == listed({{0, 0}, {2, 2}, {4, 4}, {6, 6}, {8, 8}}));
  CHECK(held_ranges(every_other, 2) == listed({{0, 0}, {2, 2}}, true));
  CHECK(held_ranges(every_other, 0) == listed({}, true));
  CHECK(held_ranges(bits("0000"), 0) == listed({}));
  std::vector<bool> large(16384, false);
  for (std::size_t c = 0; c < large.size(); c += 2) large[c] = true;
  const auto got = held_ranges(large);
  CHECK(got.truncated);
  CHECK(got.ranges.size() == kMaxListedRanges);
  CHECK(got.ranges.back() == ChunkRange{2 * (kMaxListedRanges - 1), 2 * (kMaxListedRanges - 1)});
}
