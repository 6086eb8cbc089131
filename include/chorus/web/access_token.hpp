#pragma once
// The web server's token for a keyed cluster: derived from the cluster key (its own BLAKE2b KDF
// context, "chorusWB"), so every node of the cluster serves the page under the same token and
// no one without the key can compute it; the key itself cannot be recovered from it (the token
// travels in URLs and Authorization headers, the key never does). Pure.

#include <string>

#include "chorus/security/cluster_key.hpp"

namespace chorus::web {

/// 64 lowercase hex digits.
std::string access_token(const security::ClusterKey& key);

}  // namespace chorus::web
