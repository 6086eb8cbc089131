#pragma once
// Catalog: the cluster's library as one list — every node's own playable tracks, merged. Pure.
//
// Each node lists its own tracks (CatalogEntry) and pulls its peers' lists over content links;
// the merge is the same on every node that holds the same lists: ordered by name (the path in its
// library), then by hash, one entry per content hash. Lists of peers that went away are kept, so
// a track whose source died stays listed (and playable from whoever cached it).

#include <map>
#include <string>
#include <vector>

#include "chorus/protocol/messages.hpp"

namespace chorus::content {

struct Catalog {
  std::vector<protocol::CatalogEntry> entries;
  std::string version;  ///< digest of the entries (changes exactly when they do)
};

/// A list as its node offers it: sorted, one entry per hash, with its version.
Catalog make_catalog(std::vector<protocol::CatalogEntry> entries);

/// The cluster's list: own tracks and every peer's, merged.
Catalog merge_catalogs(const Catalog& own, const std::map<std::string, Catalog>& peers);

/// The entry whose name, title, artist or album contains `query` (ASCII case-insensitive); all
/// for an empty query.
bool matches(const protocol::CatalogEntry& entry, const std::string& query);

}  // namespace chorus::content
