// The control surfaces' secrets: derived from the cluster key, distinct, stable, and compared in
// constant time.

#include <catch2/catch.hpp>

#include <set>

#include "chorus/security/control_secrets.hpp"

using chorus::security::ClusterKey;
using chorus::security::derive_control_secrets;
using chorus::security::key_text;
using chorus::security::secret_matches;

namespace {

ClusterKey key_of(unsigned char fill) {
  ClusterKey key;
  key.bytes.fill(fill);
  return key;
}

bool lower_hex(const std::string& text) {
  return text.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

TEST_CASE("control secrets are hex of fixed length, stable for a key", "[security]") {
  const auto secrets = derive_control_secrets(key_of(7));
  CHECK(secrets.mpd_password.size() == 24);
  CHECK(secrets.web_token.size() == 32);
  CHECK(lower_hex(secrets.mpd_password));
  CHECK(lower_hex(secrets.web_token));
  CHECK(derive_control_secrets(key_of(7)).mpd_password == secrets.mpd_password);
  CHECK(derive_control_secrets(key_of(7)).web_token == secrets.web_token);
}

TEST_CASE("control secrets differ between keys and from each other and the key", "[security]") {
  std::set<std::string> seen;
  for (unsigned char fill = 0; fill < 32; ++fill) {
    const auto key = key_of(fill);
    const auto secrets = derive_control_secrets(key);
    CHECK(seen.insert(secrets.mpd_password).second);
    CHECK(seen.insert(secrets.web_token).second);
    CHECK(secrets.web_token.substr(0, 24) != secrets.mpd_password);
    CHECK(key_text(key).find(secrets.mpd_password) == std::string::npos);
    CHECK(key_text(key).find(secrets.web_token) == std::string::npos);
  }
}

TEST_CASE("secret_matches accepts exactly the secret", "[security]") {
  const auto token = derive_control_secrets(key_of(1)).web_token;
  CHECK(secret_matches(token, token));
  CHECK_FALSE(secret_matches(token.substr(1), token));
  CHECK_FALSE(secret_matches(token + "0", token));
  CHECK_FALSE(secret_matches("", token));
  auto changed = token;
  changed.back() = changed.back() == 'a' ? 'b' : 'a';
  CHECK_FALSE(secret_matches(changed, token));
}
