#include "chorus/content/catalog.hpp"

#include <algorithm>
#include <cctype>
#include <set>
#include <span>

#include "chorus/content/chunking.hpp"

namespace chorus::content {

namespace {

bool by_name_then_hash(const protocol::CatalogEntry& a, const protocol::CatalogEntry& b) {
  return a.name != b.name ? a.name < b.name : a.hash < b.hash;
}

/// The version: SHA-256 over every field of every entry, each field length-prefixed so that no
/// two different lists hash alike.
std::string version_of(const std::vector<protocol::CatalogEntry>& entries) {
  std::string text;
  const auto add = [&text](const std::string& field) {
    text += std::to_string(field.size());
    text += ':';
    text += field;
  };
  for (const auto& e : entries) {
    for (const auto* field : {&e.hash, &e.root, &e.name, &e.title, &e.artist, &e.album, &e.format}) add(*field);
    add(std::to_string(e.frames));
    add(std::to_string(e.size));
  }
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(text.data());
  return to_hex(sha256(std::span(bytes, text.size())));
}

bool contains_folded(const std::string& haystack, const std::string& needle) {
  const auto fold = [](char a, char b) {
    return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
  };
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(), fold) != haystack.end();
}

}  // namespace

Catalog make_catalog(std::vector<protocol::CatalogEntry> entries) {
  std::sort(entries.begin(), entries.end(), by_name_then_hash);
  std::set<std::string> seen;
  std::erase_if(entries, [&seen](const protocol::CatalogEntry& e) { return !seen.insert(e.hash).second; });
  Catalog catalog;
  catalog.version = version_of(entries);
  catalog.entries = std::move(entries);
  return catalog;
}

Catalog merge_catalogs(const Catalog& own, const std::map<std::string, Catalog>& peers) {
  std::vector<protocol::CatalogEntry> all = own.entries;
  for (const auto& [peer, catalog] : peers) all.insert(all.end(), catalog.entries.begin(), catalog.entries.end());
  return make_catalog(std::move(all));
}

bool matches(const protocol::CatalogEntry& entry, const std::string& query) {
  if (query.empty()) return true;
  return contains_folded(entry.name, query) || contains_folded(entry.title, query) ||
         contains_folded(entry.artist, query) || contains_folded(entry.album, query);
}

}  // namespace chorus::content
