#include "cache_meta.hpp"

#include <algorithm>
#include <cstring>

namespace chorus::content::detail {

namespace {

constexpr char kMagic[8] = {'C', 'H', 'O', 'R', 'U', 'S', 'P', 'F'};
constexpr std::uint32_t kVersion = 1;

void put_le(std::uint8_t* at, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) at[i] = static_cast<std::uint8_t>(value >> (8 * i));
}

std::uint64_t get_le(std::span<const std::uint8_t> bytes, std::size_t at, int count) {
  std::uint64_t value = 0;
  for (int i = 0; i < count; ++i) value |= std::uint64_t{bytes[at + static_cast<std::size_t>(i)]} << (8 * i);
  return value;
}

}  // namespace

std::vector<std::uint8_t> encode_meta(const Meta& meta) {
  const std::uint64_t n = meta.digests.size();
  std::vector<std::uint8_t> out(kMetaHeaderBytes + n * 32 + (n + 7) / 8);
  std::memcpy(out.data(), kMagic, sizeof kMagic);
  put_le(out.data() + 8, kVersion, 4);
  put_le(out.data() + 12, kChunkBytes, 4);
  put_le(out.data() + 16, meta.size, 8);
  put_le(out.data() + 24, n, 8);
  for (std::uint64_t i = 0; i < n; ++i) std::memcpy(out.data() + kMetaHeaderBytes + i * 32, meta.digests[i].data(), 32);
  for (std::uint64_t i = 0; i < n; i += 8) out[kMetaHeaderBytes + n * 32 + i / 8] = meta_bitmap_byte(meta.held, i);
  return out;
}

std::optional<Meta> decode_meta(std::span<const std::uint8_t> bytes) {
  if (bytes.size() < kMetaHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) return std::nullopt;
  if (get_le(bytes, 8, 4) != kVersion || get_le(bytes, 12, 4) != kChunkBytes) return std::nullopt;
  Meta meta;
  meta.size = get_le(bytes, 16, 8);
  const std::uint64_t n = get_le(bytes, 24, 8);
  if (n > kMaxChunks || n != chunk_count(meta.size)) return std::nullopt;
  if (bytes.size() != kMetaHeaderBytes + n * 32 + (n + 7) / 8) return std::nullopt;
  meta.digests.resize(n);
  for (std::uint64_t i = 0; i < n; ++i) {
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(kMetaHeaderBytes + i * 32), 32, meta.digests[i].begin());
  }
  meta.held.resize(n);
  const std::size_t bitmap = kMetaHeaderBytes + n * 32;
  for (std::uint64_t i = 0; i < n; ++i) meta.held[i] = ((bytes[bitmap + i / 8] >> (i % 8)) & 1u) != 0;
  return meta;
}

std::uint8_t meta_bitmap_byte(const std::vector<bool>& held, std::uint64_t chunk) {
  const std::uint64_t first = chunk / 8 * 8;
  std::uint8_t byte = 0;
  for (std::uint64_t i = first; i < first + 8 && i < held.size(); ++i) {
    if (held[i]) byte = static_cast<std::uint8_t>(byte | (1u << (i - first)));
  }
  return byte;
}

}  // namespace chorus::content::detail
