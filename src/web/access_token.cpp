// The web token: a subkey of the cluster key (docs/web.md, "Access").

#include "chorus/web/access_token.hpp"

#include <array>

#include "../security/sodium_ready.hpp"

namespace chorus::web {

std::string access_token(const security::ClusterKey& key) {
  security::ensure_sodium();
  std::array<unsigned char, 32> subkey{};
  crypto_kdf_derive_from_key(subkey.data(), subkey.size(), 1, "chorusWB", key.bytes.data());
  std::array<char, 2 * 32 + 1> hex{};
  sodium_bin2hex(hex.data(), hex.size(), subkey.data(), subkey.size());
  sodium_memzero(subkey.data(), subkey.size());
  return std::string(hex.data(), 2 * 32);
}

}  // namespace chorus::web
