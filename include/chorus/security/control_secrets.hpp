#pragma once
// The secrets of the control surfaces, derived from the cluster key: the MPD password and the
// web page's token. Every node of a keyed cluster derives the same ones, so a client that knows
// them may control the cluster through any node; a cluster without a key has none (its control
// ports are as open as its cluster port). Pure: no files, no randomness.

#include <string>
#include <string_view>

#include "chorus/security/cluster_key.hpp"

namespace chorus::security {

struct ControlSecrets {
  std::string mpd_password;  ///< 24 hex digits (no '@' or quote: `mpc -h PASSWORD@host` works)
  std::string web_token;     ///< 32 hex digits, for `?token=` and `Authorization: Bearer`
};

/// The secrets `key` gives (libsodium's KDF, a context of their own: the key cannot be recovered
/// from them, and neither reveals the other).
ControlSecrets derive_control_secrets(const ClusterKey& key);

/// Whether `given` is `expected`, in time independent of where they differ.
bool secret_matches(std::string_view given, std::string_view expected);

}  // namespace chorus::security
