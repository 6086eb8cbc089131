#pragma once
// What `list [QUERY] [--page N]` prints: the cluster's catalog, filtered and paged, with where
// each track is on this node and its length.

#include <cstddef>
#include <functional>
#include <string>

#include "chorus/content/catalog.hpp"

namespace chorus::node {

/// Tracks per page of `list`.
inline constexpr std::size_t kListPageSize = 50;

/// Where a track's bytes are on this node: "local", "cached", "fetching 35%", "not here".
using WhereIs = std::function<std::string(const protocol::CatalogEntry&)>;

struct ListRequest {
  std::string query;   ///< matched against name, title, artist, album; empty: all
  std::size_t page = 1;
};

std::string track_list_text(const content::Catalog& catalog, const ListRequest& request, const WhereIs& where);
std::string track_list_json(const content::Catalog& catalog, const ListRequest& request, const WhereIs& where);

}  // namespace chorus::node
