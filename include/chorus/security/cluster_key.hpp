#pragma once
// The cluster key: 32 secret bytes every member holds, written in its key file as 64 hex digits.
// A key's id is a one-way fingerprint of it: peers name the key they use by its id in the
// handshake, and `status` shows it, without revealing the key. Pure: no files, no randomness.

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chorus::security {

inline constexpr std::size_t kKeyBytes = 32;
inline constexpr std::size_t kKeyIdBytes = 8;

using KeyId = std::array<unsigned char, kKeyIdBytes>;

struct ClusterKey {
  std::array<unsigned char, kKeyBytes> bytes{};

  /// The key's fingerprint (a keyed-hash derivation: the key cannot be recovered from it).
  KeyId id() const;
  friend bool operator==(const ClusterKey&, const ClusterKey&) = default;
};

/// 16 hex digits.
std::string to_hex(const KeyId& id);

/// The key file's text: 64 lowercase hex digits and a newline.
std::string key_text(const ClusterKey& key);

/// Why a key file's text is not a key.
struct KeyTextError {
  std::string message;
};

/// Parses a key file's text: 64 hex digits (either case), surrounded by optional whitespace.
std::variant<ClusterKey, KeyTextError> parse_key_text(std::string_view text);

/// The keys a node proves and accepts. It dials with `primary`; it accepts a peer proving the
/// primary or any of `also_accepted` (a key being rotated in or out).
struct KeyRing {
  ClusterKey primary;
  std::vector<ClusterKey> also_accepted;

  /// The key with this id, if the ring holds one.
  std::optional<ClusterKey> find(const KeyId& id) const;
};

}  // namespace chorus::security
