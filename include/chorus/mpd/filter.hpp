#pragma once
// find/search/list/count's song filter: the old form `TYPE VALUE [TYPE VALUE...]` and the
// expression form `(artist == 'X')`, `(title contains "y")`, `(!EXPR)`, `(EXPR AND EXPR ...)`,
// `(base 'dir')`. Pure and total; expressions nest at most kMaxFilterDepth deep.

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "chorus/mpd/response.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::mpd {

inline constexpr std::size_t kMaxFilterDepth = 32;

/// The song fields a filter or `list` can name. `absent` is a tag MPD knows and the library does
/// not hold (genre, date, ...): its value is always empty.
enum class SongField { file, title, artist, album, absent };

/// The field a tag name (case-insensitive, as MPD spells it: "Artist", "albumartist", "file")
/// names; nullopt for a name MPD does not know. AlbumArtist reads Artist (as MPD falls back).
std::optional<SongField> song_field(std::string_view tag);

/// A field's value in an entry.
std::string_view field_value(const protocol::CatalogEntry& entry, SongField field);

/// How find (exact, case-sensitive) and search (substring, case-insensitive) compare.
enum class Matching { find, search };

/// A parsed filter: every entry it matches. An empty filter matches everything.
class SongFilter {
 public:
  struct Node;
  SongFilter();
  ~SongFilter();
  SongFilter(SongFilter&&) noexcept;
  SongFilter& operator=(SongFilter&&) noexcept;

  bool matches(const protocol::CatalogEntry& entry) const;

  /// Parses the arguments after the command name (stopping at none: the caller has taken off
  /// `sort`, `window` and `group`). Errors name the problem for an ACK [2@N].
  static std::variant<SongFilter, Failure> parse(std::span<const std::string> args,
                                                 Matching matching);

 private:
  std::vector<std::unique_ptr<Node>> all_;  ///< every one must match
  Matching matching_ = Matching::find;
};

}  // namespace chorus::mpd
