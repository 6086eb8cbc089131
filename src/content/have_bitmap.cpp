#include "chorus/content/have_bitmap.hpp"

#include "chorus/content/chunking.hpp"

namespace chorus::content {

std::string encode_bitmap(const std::vector<bool>& held) {
  std::vector<std::uint8_t> bytes((held.size() + 7) / 8, 0);
  for (std::size_t i = 0; i < held.size(); ++i) {
    if (held[i]) bytes[i / 8] = static_cast<std::uint8_t>(bytes[i / 8] | (1u << (i % 8)));
  }
  return to_base64(bytes);
}

std::optional<std::vector<bool>> decode_bitmap(std::string_view text, std::uint64_t chunks) {
  if (chunks > kMaxChunks) return std::nullopt;
  auto bytes = from_base64(text);
  if (!bytes || bytes->size() != (chunks + 7) / 8) return std::nullopt;
  std::vector<bool> held(chunks);
  for (std::size_t i = 0; i < chunks; ++i) held[i] = ((*bytes)[i / 8] >> (i % 8)) & 1u;
  return held;
}

}  // namespace chorus::content
