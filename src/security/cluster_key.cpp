#include "chorus/security/cluster_key.hpp"

#include <algorithm>
#include <cctype>

#include "sodium_ready.hpp"

namespace chorus::security {
namespace {

constexpr char kHexDigits[] = "0123456789abcdef";

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <std::size_t N>
std::string hex(const std::array<unsigned char, N>& bytes) {
  std::string text;
  text.reserve(2 * N);
  for (unsigned char b : bytes) {
    text.push_back(kHexDigits[b >> 4]);
    text.push_back(kHexDigits[b & 0x0f]);
  }
  return text;
}

bool is_space(char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; }

}  // namespace

KeyId ClusterKey::id() const {
  ensure_sodium();
  // The KDF's shortest output is 16 bytes; the id keeps the first 8 of a subkey no other use of
  // the key derives (its own context).
  std::array<unsigned char, crypto_kdf_BYTES_MIN> subkey{};
  crypto_kdf_derive_from_key(subkey.data(), subkey.size(), 0, "chorusID", bytes.data());
  KeyId key_id{};
  std::copy_n(subkey.begin(), key_id.size(), key_id.begin());
  return key_id;
}

std::string to_hex(const KeyId& id) { return hex(id); }

std::string key_text(const ClusterKey& key) { return hex(key.bytes) + "\n"; }

std::variant<ClusterKey, KeyTextError> parse_key_text(std::string_view text) {
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.size() != 2 * kKeyBytes) {
    return KeyTextError{"a key is 64 hex digits; this file holds " + std::to_string(text.size()) +
                        " characters (make one with --gen-key)"};
  }
  ClusterKey key;
  for (std::size_t i = 0; i < kKeyBytes; ++i) {
    int high = hex_value(text[2 * i]);
    int low = hex_value(text[2 * i + 1]);
    if (high < 0 || low < 0) {
      return KeyTextError{"a key is 64 hex digits; character " +
                          std::to_string(2 * i + (high < 0 ? 1 : 2)) + " is not one"};
    }
    key.bytes[i] = static_cast<unsigned char>(high << 4 | low);
  }
  return key;
}

std::optional<ClusterKey> KeyRing::find(const KeyId& id) const {
  if (primary.id() == id) return primary;
  for (const auto& key : also_accepted) {
    if (key.id() == id) return key;
  }
  return std::nullopt;
}

}  // namespace chorus::security
