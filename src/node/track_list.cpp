#include "chorus/node/track_list.hpp"

#include <algorithm>
#include <vector>

#include <boost/json/serialize.hpp>
#include <fmt/format.h>

#include "chorus/node/playback_reports.hpp"
#include "chorus/protocol/inert_text.hpp"

namespace chorus::node {

namespace json = boost::json;
using protocol::inert;

namespace {

/// The numbers (1-based, as `play N` takes them) of the entries matching the query.
std::vector<std::size_t> matching(const content::Catalog& catalog, const std::string& query) {
  std::vector<std::size_t> out;
  for (std::size_t i = 0; i < catalog.entries.size(); ++i) {
    if (content::matches(catalog.entries[i], query)) out.push_back(i);
  }
  return out;
}

struct Page {
  std::size_t first = 0;  ///< into the matches
  std::size_t end = 0;
  std::size_t pages = 1;
  std::size_t number = 1;
};

Page page_of(std::size_t matches, std::size_t wanted) {
  Page p;
  p.pages = std::max<std::size_t>(1, (matches + kListPageSize - 1) / kListPageSize);
  p.number = std::clamp<std::size_t>(wanted, 1, p.pages);
  p.first = (p.number - 1) * kListPageSize;
  p.end = std::min(matches, p.first + kListPageSize);
  return p;
}

std::string label(const protocol::CatalogEntry& e) {
  if (e.title.empty()) return inert(e.name);
  if (e.artist.empty()) return inert(e.title);
  return inert(e.artist) + " - " + inert(e.title);
}

}  // namespace

std::string track_list_text(const content::Catalog& catalog, const ListRequest& request, const WhereIs& where) {
  if (catalog.entries.empty()) return "no tracks in the cluster's library yet";
  const auto found = matching(catalog, request.query);
  if (found.empty()) return fmt::format("no track matches '{}' (of {})", inert(request.query), catalog.entries.size());
  const auto page = page_of(found.size(), request.page);
  std::string text;
  for (auto i = page.first; i < page.end; ++i) {
    const auto& e = catalog.entries[found[i]];
    text += fmt::format("{:>5}  {:>9}  {:<12}  {}", found[i] + 1, format_frames(e.frames), where(e), label(e));
    if (!e.title.empty()) text += fmt::format("  ({})", inert(e.name));
    text += "\n";
  }
  text += fmt::format("{} of {} tracks{}", page.end - page.first, found.size(),
                      request.query.empty() ? "" : fmt::format(" matching '{}'", inert(request.query)));
  if (page.pages > 1) text += fmt::format(", page {} of {} (list --page N)", page.number, page.pages);
  return text;
}

std::string track_list_json(const content::Catalog& catalog, const ListRequest& request, const WhereIs& where) {
  const auto found = matching(catalog, request.query);
  const auto page = page_of(found.size(), request.page);
  json::array tracks;
  for (auto i = page.first; i < page.end; ++i) {
    const auto& e = catalog.entries[found[i]];
    tracks.push_back(json::object{{"index", found[i] + 1},     {"name", e.name},
                                  {"title", e.title},          {"artist", e.artist},
                                  {"album", e.album},          {"format", e.format},
                                  {"frames", e.frames},        {"duration_ms", e.frames / 48},
                                  {"size", e.size},            {"hash", e.hash},
                                  {"where", where(e)}});
  }
  return json::serialize(json::object{{"tracks", std::move(tracks)},
                                      {"total", catalog.entries.size()},
                                      {"matched", found.size()},
                                      {"page", page.number},
                                      {"pages", page.pages}});
}

}  // namespace chorus::node
