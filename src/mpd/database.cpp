// The library as MPD's database: directories from the catalog's paths, find/search/list/count.
#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include "chorus/mpd/filter.hpp"
#include "commands.hpp"

namespace chorus::mpd::detail {
namespace {

using protocol::CatalogEntry;

/// `name`'s part below the directory `prefix` ("" or "dir/"), if it is below it.
std::optional<std::string_view> below(std::string_view name, std::string_view prefix) {
  if (!name.starts_with(prefix)) return std::nullopt;
  return name.substr(prefix.size());
}

std::string directory_prefix(std::string_view uri) {
  return uri.empty() ? std::string() : std::string(uri) + "/";
}

/// lsinfo's answer for a directory: its subdirectories, then its tracks.
void list_directory(ResponseWriter& out, const content::Catalog& library, std::string_view uri,
                    const TagMask& tags) {
  const std::string prefix = directory_prefix(uri);
  std::set<std::string> directories;
  for (const CatalogEntry& entry : library.entries) {
    auto rest = below(entry.name, prefix);
    if (!rest) continue;
    const auto slash = rest->find('/');
    if (slash != std::string_view::npos) directories.insert(prefix + std::string(rest->substr(0, slash)));
  }
  for (const std::string& directory : directories) out.field("directory", directory);
  for (const CatalogEntry& entry : library.entries) {
    auto rest = below(entry.name, prefix);
    if (rest && rest->find('/') == std::string_view::npos) write_song(out, entry, tags);
  }
}

/// listall/listallinfo: every directory and track below `uri`, each directory before its tracks.
Reply list_recursive(const Words& words, Context& context, bool with_info) {
  const std::string uri = words.size() > 1 ? normal_uri(words[1]) : std::string();
  const content::Catalog& library = *context.view.library;
  Reply reply;
  if (is_track(library, uri)) {
    for (const CatalogEntry& entry : library.entries) {
      if (entry.name != uri) continue;
      if (with_info) {
        write_song(reply.body, entry, context.tags);
      } else {
        reply.body.field("file", entry.name);
      }
    }
    return reply;
  }
  if (!is_directory(library, uri)) return failed(Ack::no_exist, "No such directory");
  const std::string prefix = directory_prefix(uri);
  std::set<std::string> shown;
  for (const CatalogEntry& entry : library.entries) {
    auto rest = below(entry.name, prefix);
    if (!rest) continue;
    for (auto slash = rest->find('/'); slash != std::string_view::npos;
         slash = rest->find('/', slash + 1)) {
      std::string directory = prefix + std::string(rest->substr(0, slash));
      if (shown.insert(directory).second) reply.body.field("directory", directory);
    }
    if (with_info) {
      write_song(reply.body, entry, context.tags);
    } else {
      reply.body.field("file", entry.name);
    }
  }
  return reply;
}

/// The words after a query command's name, split into filter arguments and options.
struct Query {
  std::vector<std::string> filter;
  std::optional<std::string> sort;
  std::optional<Range> window;
  std::vector<SongField> groups;
  std::vector<std::string> group_names;
};

std::variant<Query, Failure> split_query(const Words& words, std::size_t first) {
  Query query;
  for (std::size_t i = first; i < words.size();) {
    const std::string& word = words[i];
    const bool option = (word == "sort" || word == "window" || word == "group") && i + 1 < words.size();
    if (word.starts_with('(') || !option) {
      query.filter.push_back(word);
      if (!word.starts_with('(') && i + 1 < words.size()) query.filter.push_back(words[i + 1]);
      i += word.starts_with('(') ? 1 : 2;
      continue;
    }
    const std::string& value = words[i + 1];
    if (word == "sort") {
      query.sort = value;
    } else if (word == "window") {
      auto range = parse_range(value, std::size_t{1} << 40);
      if (!range) return Failure{Ack::arg, "Bad window: " + value};
      query.window = range;
    } else {
      auto field = song_field(value);
      if (!field) return Failure{Ack::arg, "Unknown tag type: " + value};
      query.groups.push_back(*field);
      query.group_names.push_back(value);
    }
    i += 2;
  }
  return query;
}

std::variant<std::vector<const CatalogEntry*>, Failure> select(const Query& query,
                                                              const content::Catalog& library,
                                                              Matching matching) {
  auto parsed = SongFilter::parse(query.filter, matching);
  if (auto* failure = std::get_if<Failure>(&parsed)) return *failure;
  const SongFilter& filter = std::get<SongFilter>(parsed);
  std::vector<const CatalogEntry*> found;
  for (const CatalogEntry& entry : library.entries) {
    if (filter.matches(entry)) found.push_back(&entry);
  }
  return found;
}

Reply find_songs(const Words& words, Context& context, Matching matching) {
  auto split = split_query(words, 1);
  if (auto* failure = std::get_if<Failure>(&split)) return failed(failure->code, failure->message);
  const Query& query = std::get<Query>(split);
  if (query.filter.empty()) return failed(Ack::arg, "too few arguments for \"" + words[0] + "\"");
  auto selected = select(query, *context.view.library, matching);
  if (auto* failure = std::get_if<Failure>(&selected)) return failed(failure->code, failure->message);
  auto& found = std::get<std::vector<const CatalogEntry*>>(selected);
  if (query.sort) {
    std::string_view tag = *query.sort;
    const bool descending = tag.starts_with('-');
    if (descending) tag.remove_prefix(1);
    auto field = song_field(tag);
    if (!field) return failed(Ack::arg, "Unknown sort tag: " + *query.sort);
    std::stable_sort(found.begin(), found.end(), [&](auto* a, auto* b) {
      return descending ? field_value(*b, *field) < field_value(*a, *field)
                        : field_value(*a, *field) < field_value(*b, *field);
    });
  }
  Range window{0, found.size()};
  if (query.window) window = *query.window;
  Reply reply;
  for (std::size_t i = window.start; i < std::min(window.end, found.size()); ++i) {
    write_song(reply.body, *found[i], context.tags);
  }
  return reply;
}

/// The name a field is listed under.
std::string_view field_key(SongField field, std::string_view asked) {
  switch (field) {
    case SongField::file: return "file";
    case SongField::title: return "Title";
    case SongField::album: return "Album";
    case SongField::artist: return asked.size() == 11 ? "AlbumArtist" : "Artist";
    case SongField::absent: break;
  }
  return asked;
}

}  // namespace

std::string normal_uri(std::string_view uri) {
  while (uri.starts_with('/')) uri.remove_prefix(1);
  while (uri.ends_with('/')) uri.remove_suffix(1);
  return std::string(uri);
}

bool is_track(const content::Catalog& library, std::string_view uri) {
  return std::any_of(library.entries.begin(), library.entries.end(),
                     [&](const CatalogEntry& entry) { return entry.name == uri; });
}

bool is_directory(const content::Catalog& library, std::string_view uri) {
  if (uri.empty()) return true;
  const std::string prefix = directory_prefix(uri);
  return std::any_of(library.entries.begin(), library.entries.end(),
                     [&](const CatalogEntry& entry) { return entry.name.starts_with(prefix); });
}

Reply lsinfo(const Words& words, Context& context) {
  const std::string uri = words.size() > 1 ? normal_uri(words[1]) : std::string();
  const content::Catalog& library = *context.view.library;
  Reply reply;
  if (is_track(library, uri)) {
    for (const CatalogEntry& entry : library.entries) {
      if (entry.name == uri) write_song(reply.body, entry, context.tags);
    }
    return reply;
  }
  if (!is_directory(library, uri)) return failed(Ack::no_exist, "No such directory");
  list_directory(reply.body, library, uri, context.tags);
  return reply;
}

Reply listall(const Words& words, Context& context) { return list_recursive(words, context, false); }
Reply listallinfo(const Words& words, Context& context) {
  return list_recursive(words, context, true);
}

Reply find(const Words& words, Context& context) {
  return find_songs(words, context, Matching::find);
}
Reply search(const Words& words, Context& context) {
  return find_songs(words, context, Matching::search);
}

Reply list(const Words& words, Context& context) {
  auto field = song_field(words[1]);
  if (!field) return failed(Ack::arg, "Unknown tag type: " + words[1]);
  Words rest = words;
  // MPD's oldest form: `list album ARTIST`
  if (*field == SongField::album && words.size() == 3 && !words[2].starts_with('(')) {
    rest = {words[0], words[1], "artist", words[2]};
  }
  auto split = split_query(rest, 2);
  if (auto* failure = std::get_if<Failure>(&split)) return failed(failure->code, failure->message);
  const Query& query = std::get<Query>(split);
  auto selected = select(query, *context.view.library, Matching::find);
  if (auto* failure = std::get_if<Failure>(&selected)) return failed(failure->code, failure->message);
  // Rows of (group values..., value), sorted and unique; a group line is written when it changes.
  std::set<std::vector<std::string_view>> rows;
  for (const CatalogEntry* entry : std::get<std::vector<const CatalogEntry*>>(selected)) {
    std::vector<std::string_view> row;
    for (SongField group : query.groups) row.push_back(field_value(*entry, group));
    row.push_back(field_value(*entry, *field));
    if (!row.back().empty()) rows.insert(std::move(row));
  }
  Reply reply;
  const std::vector<std::string_view>* previous = nullptr;
  for (const auto& row : rows) {
    for (std::size_t level = 0; level + 1 < row.size(); ++level) {
      const bool same = previous && std::equal(row.begin(), row.begin() + static_cast<long>(level) + 1,
                                               previous->begin());
      if (!same) reply.body.field(field_key(query.groups[level], query.group_names[level]), row[level]);
    }
    reply.body.field(field_key(*field, words[1]), row.back());
    previous = &row;
  }
  return reply;
}

Reply count(const Words& words, Context& context) {
  auto split = split_query(words, 1);
  if (auto* failure = std::get_if<Failure>(&split)) return failed(failure->code, failure->message);
  const Query& query = std::get<Query>(split);
  auto selected = select(query, *context.view.library, Matching::find);
  if (auto* failure = std::get_if<Failure>(&selected)) return failed(failure->code, failure->message);
  std::map<std::string_view, std::pair<std::uint64_t, double>> totals;
  for (const CatalogEntry* entry : std::get<std::vector<const CatalogEntry*>>(selected)) {
    const std::string_view key = query.groups.empty() ? "" : field_value(*entry, query.groups.front());
    totals[key].first += 1;
    totals[key].second += track_seconds(*entry);
  }
  Reply reply;
  if (query.groups.empty() && totals.empty()) totals[""] = {0, 0};
  for (const auto& [key, total] : totals) {
    if (!query.groups.empty()) {
      reply.body.field(field_key(query.groups.front(), query.group_names.front()), key);
    }
    reply.body.field("songs", total.first);
    reply.body.field("playtime", static_cast<std::int64_t>(std::llround(total.second)));
  }
  return reply;
}

}  // namespace chorus::mpd::detail

namespace chorus::mpd::detail {

Reply update(const Words&, Context&) {
  Reply reply;
  cli::Command command;
  command.kind = cli::CommandKind::update;
  reply.run.push_back(command);
  return reply;
}

}  // namespace chorus::mpd::detail
