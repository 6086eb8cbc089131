#pragma once
// The <hash>.meta file of a partial cache entry: what is being fetched and which chunks are in.
// docs/library.md, "Cache".
//
// Layout (integers little-endian):
//   0   8 bytes  magic "CHORUSPF"
//   8   u32      format version (1)
//   12  u32      chunk size in bytes (kChunkBytes; another size makes the file stale)
//   16  u64      file size in bytes
//   24  u64      chunk count n
//   32  n * 32   chunk digests, in order
//   ..  ceil(n / 8) bytes: the held bitmap, chunk i in byte i / 8, bit i % 8 (least significant
//                first); set once the chunk's data is written
// The bitmap is updated in place, one byte per stored chunk.

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "chorus/content/chunking.hpp"

namespace chorus::content::detail {

inline constexpr std::uint64_t kMetaHeaderBytes = 32;

struct Meta {
  std::uint64_t size = 0;
  std::vector<Digest> digests;
  std::vector<bool> held;
};

/// The whole file.
std::vector<std::uint8_t> encode_meta(const Meta& meta);
/// nullopt unless `bytes` is a complete meta file of this version and chunk size, consistent
/// with itself (chunk count matching the size).
std::optional<Meta> decode_meta(std::span<const std::uint8_t> bytes);

/// Where the bitmap byte holding chunk `chunk` is, in a meta file of `chunks` chunks.
constexpr std::uint64_t meta_bitmap_byte_offset(std::uint64_t chunks, std::uint64_t chunk) {
  return kMetaHeaderBytes + chunks * 32 + chunk / 8;
}
/// The value of that byte for the bitmap `held`.
std::uint8_t meta_bitmap_byte(const std::vector<bool>& held, std::uint64_t chunk);

}  // namespace chorus::content::detail
