#include "chorus/security/control_secrets.hpp"

#include <array>

#include "sodium_ready.hpp"

namespace chorus::security {
namespace {

constexpr char kContext[crypto_kdf_CONTEXTBYTES + 1] = "chorusUI";
constexpr std::uint64_t kMpdPasswordId = 1;
constexpr std::uint64_t kWebTokenId = 2;

/// `bytes` hex digits' worth of the subkey `id`.
std::string derived_hex(const ClusterKey& key, std::uint64_t id, std::size_t digits) {
  std::array<unsigned char, crypto_kdf_BYTES_MIN> subkey{};
  crypto_kdf_derive_from_key(subkey.data(), subkey.size(), id, kContext, key.bytes.data());
  std::array<char, 2 * crypto_kdf_BYTES_MIN + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), subkey.data(), subkey.size());
  sodium_memzero(subkey.data(), subkey.size());
  return std::string(hex.data(), digits);
}

}  // namespace

ControlSecrets derive_control_secrets(const ClusterKey& key) {
  ensure_sodium();
  return {derived_hex(key, kMpdPasswordId, 24), derived_hex(key, kWebTokenId, 32)};
}

bool secret_matches(std::string_view given, std::string_view expected) {
  ensure_sodium();
  // The length is not secret (it is fixed); the content is compared in constant time.
  if (given.size() != expected.size()) return false;
  return sodium_memcmp(given.data(), expected.data(), given.size()) == 0;
}

}  // namespace chorus::security
