#include "chorus/mpd/filter.hpp"

#include <algorithm>
#include <array>
#include <optional>
#include <utility>

namespace chorus::mpd {
namespace {

char fold(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

std::string folded(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(), fold);
  return out;
}

bool equal_folded(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return fold(x) == fold(y); });
}

/// Tags MPD knows that the library does not hold: a filter on them sees an empty value.
constexpr std::array<std::string_view, 30> kAbsentTags = {
    "artistsort", "albumsort", "albumartistsort", "titlesort", "track", "name", "genre", "mood",
    "date", "originaldate", "composer", "composersort", "performer", "conductor", "work",
    "ensemble", "movement", "movementnumber", "location", "grouping", "comment", "disc", "label",
    "musicbrainz_artistid", "musicbrainz_albumid", "musicbrainz_albumartistid",
    "musicbrainz_trackid", "musicbrainz_releasetrackid", "musicbrainz_workid", "showmovement"};

enum class Op { equals, not_equals, contains, starts_with, base, any_of };

}  // namespace

std::optional<SongField> song_field(std::string_view tag) {
  const std::string name = folded(tag);
  if (name == "file") return SongField::file;
  if (name == "title") return SongField::title;
  if (name == "artist" || name == "albumartist") return SongField::artist;
  if (name == "album") return SongField::album;
  if (std::find(kAbsentTags.begin(), kAbsentTags.end(), name) != kAbsentTags.end()) {
    return SongField::absent;
  }
  return std::nullopt;
}

std::string_view field_value(const protocol::CatalogEntry& entry, SongField field) {
  switch (field) {
    case SongField::file: return entry.name;
    case SongField::title: return entry.title;
    case SongField::artist: return entry.artist;
    case SongField::album: return entry.album;
    case SongField::absent: break;
  }
  return {};
}

/// One condition, a negation or a conjunction.
struct SongFilter::Node {
  enum class Kind { condition, negation, conjunction } kind = Kind::condition;
  Op op = Op::equals;
  std::optional<SongField> field;  ///< absent: "any" (file or any tag)
  std::string value;               ///< folded for search
  std::vector<std::unique_ptr<Node>> children;

  bool matches(const protocol::CatalogEntry& entry, Matching matching) const {
    switch (kind) {
      case Kind::negation: return !children.front()->matches(entry, matching);
      case Kind::conjunction:
        return std::all_of(children.begin(), children.end(),
                           [&](const auto& child) { return child->matches(entry, matching); });
      case Kind::condition: break;
    }
    if (op == Op::base) return entry.name.starts_with(value) && (value.empty() ||
               entry.name.size() == value.size() || entry.name[value.size()] == '/' ||
               value.back() == '/');
    if (field) return compare(field_value(entry, *field), matching);
    for (auto each : {SongField::file, SongField::title, SongField::artist, SongField::album}) {
      if (compare(field_value(entry, each), matching) != (op == Op::not_equals)) {
        return op != Op::not_equals;
      }
    }
    return op == Op::not_equals;
  }

  bool compare(std::string_view actual, Matching matching) const {
    const bool fold_case = matching == Matching::search;
    std::string haystack = fold_case ? folded(actual) : std::string(actual);
    switch (op) {
      case Op::equals: return haystack == value;
      case Op::not_equals: return haystack != value;
      case Op::contains: return haystack.find(value) != std::string::npos;
      case Op::starts_with: return haystack.starts_with(value);
      case Op::base:
      case Op::any_of: break;
    }
    return false;
  }
};

namespace {

using Node = SongFilter::Node;
using NodeResult = std::variant<std::unique_ptr<Node>, Failure>;

Failure bad(std::string message) { return Failure{Ack::arg, std::move(message)}; }

/// Reads one expression argument, e.g. `((artist == 'A') AND (!(album contains "b")))`.
class ExpressionParser {
 public:
  ExpressionParser(std::string_view text, Matching matching) : text_(text), matching_(matching) {}

  NodeResult parse() {
    auto node = expression(0);
    if (std::holds_alternative<Failure>(node)) return node;
    skip_spaces();
    if (pos_ != text_.size()) return bad("Unparsed garbage after expression");
    return node;
  }

 private:
  NodeResult expression(std::size_t depth) {
    if (depth >= kMaxFilterDepth) return bad("Filter expression nested too deeply");
    skip_spaces();
    if (!take('(')) return bad("'(' expected");
    skip_spaces();
    if (peek() == '(') return conjunction(depth);
    if (take('!')) return negation(depth);
    return condition();
  }

  NodeResult conjunction(std::size_t depth) {
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::conjunction;
    while (true) {
      auto child = expression(depth + 1);
      if (auto* failure = std::get_if<Failure>(&child)) return *failure;
      node->children.push_back(std::move(std::get<std::unique_ptr<Node>>(child)));
      skip_spaces();
      if (take(')')) return node;
      if (!take_word("AND")) return bad("')' or 'AND' expected");
      skip_spaces();
    }
  }

  NodeResult negation(std::size_t depth) {
    auto child = expression(depth + 1);
    if (auto* failure = std::get_if<Failure>(&child)) return *failure;
    skip_spaces();
    if (!take(')')) return bad("')' expected");
    auto node = std::make_unique<Node>();
    node->kind = Node::Kind::negation;
    node->children.push_back(std::move(std::get<std::unique_ptr<Node>>(child)));
    return node;
  }

  NodeResult condition() {
    const std::string tag = word();
    if (tag.empty()) return bad("Tag name expected");
    auto node = std::make_unique<Node>();
    skip_spaces();
    if (equal_folded(tag, "base")) {
      node->op = Op::base;
    } else {
      if (equal_folded(tag, "modified-since") || equal_folded(tag, "added-since") ||
          equal_folded(tag, "audioformat")) {
        return bad("Filter on " + tag + " is not supported");
      }
      if (!equal_folded(tag, "any")) {
        node->field = song_field(tag);
        if (!node->field) return bad("Unknown filter type: " + tag);
      }
      auto op = operation();
      if (auto* failure = std::get_if<Failure>(&op)) return *failure;
      node->op = std::get<Op>(op);
      skip_spaces();
    }
    auto value = quoted();
    if (!value) return bad("Quoted value expected");
    node->value = (matching_ == Matching::search && node->op != Op::base) ? folded(*value) : *value;
    skip_spaces();
    if (!take(')')) return bad("')' expected");
    return node;
  }

  std::variant<Op, Failure> operation() {
    if (take_word("==")) return Op::equals;
    if (take_word("!=")) return Op::not_equals;
    if (take_word("contains")) return Op::contains;
    if (take_word("starts_with")) return Op::starts_with;
    if (take_word("=~") || take_word("!~")) return bad("Regular expressions are not supported");
    return bad("Unknown filter operator");
  }

  std::optional<std::string> quoted() {
    const char quote = peek();
    if (quote != '\'' && quote != '"') return std::nullopt;
    ++pos_;
    std::string value;
    while (pos_ < text_.size() && text_[pos_] != quote) {
      if (text_[pos_] == '\\' && pos_ + 1 < text_.size()) ++pos_;
      value.push_back(text_[pos_++]);
    }
    if (!take(quote)) return std::nullopt;
    return value;
  }

  std::string word() {
    const std::size_t start = pos_;
    while (pos_ < text_.size() && text_[pos_] != ' ' && text_[pos_] != '(' &&
           text_[pos_] != ')' && text_[pos_] != '\'' && text_[pos_] != '"') {
      ++pos_;
    }
    return std::string(text_.substr(start, pos_ - start));
  }

  bool take_word(std::string_view expected) {
    if (!text_.substr(pos_).starts_with(expected)) return false;
    pos_ += expected.size();
    return true;
  }
  bool take(char c) {
    if (peek() != c) return false;
    ++pos_;
    return true;
  }
  char peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  void skip_spaces() {
    while (pos_ < text_.size() && text_[pos_] == ' ') ++pos_;
  }

  std::string_view text_;
  Matching matching_;
  std::size_t pos_ = 0;
};

/// The old form's pair: TYPE VALUE (find: equal, search: contains).
NodeResult pair_condition(std::string_view type, std::string_view value, Matching matching) {
  auto node = std::make_unique<Node>();
  node->op = matching == Matching::search ? Op::contains : Op::equals;
  node->value = matching == Matching::search ? folded(value) : std::string(value);
  if (equal_folded(type, "base")) {
    node->op = Op::base;
    node->value = std::string(value);
  } else if (!equal_folded(type, "any")) {
    node->field = song_field(type);
    if (!node->field) return bad("Unknown filter type: " + std::string(type));
  }
  return node;
}

}  // namespace

SongFilter::SongFilter() = default;
SongFilter::~SongFilter() = default;
SongFilter::SongFilter(SongFilter&&) noexcept = default;
SongFilter& SongFilter::operator=(SongFilter&&) noexcept = default;

bool SongFilter::matches(const protocol::CatalogEntry& entry) const {
  return std::all_of(all_.begin(), all_.end(),
                     [&](const auto& node) { return node->matches(entry, matching_); });
}

std::variant<SongFilter, Failure> SongFilter::parse(std::span<const std::string> args,
                                                    Matching matching) {
  SongFilter filter;
  filter.matching_ = matching;
  for (std::size_t i = 0; i < args.size();) {
    NodeResult node;
    if (args[i].starts_with('(')) {
      node = ExpressionParser(args[i], matching).parse();
      i += 1;
    } else {
      if (i + 1 >= args.size()) return bad("Incorrect number of filter arguments");
      node = pair_condition(args[i], args[i + 1], matching);
      i += 2;
    }
    if (auto* failure = std::get_if<Failure>(&node)) return *failure;
    filter.all_.push_back(std::move(std::get<std::unique_ptr<Node>>(node)));
  }
  return filter;
}

}  // namespace chorus::mpd
