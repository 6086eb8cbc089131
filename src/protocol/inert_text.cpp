#include "chorus/protocol/inert_text.hpp"

#include <algorithm>
#include <array>

#include <fmt/format.h>

namespace chorus::protocol {
namespace {

/// One character of the input: a valid UTF-8 sequence and its code point, or one byte that does
/// not start a valid sequence.
struct Unit {
  std::size_t length = 1;  ///< input bytes
  char32_t code = 0;
  bool valid = false;
};

/// Decodes the character at `at` (< text.size()), accepting exactly the well-formed sequences of
/// Unicode's table 3-7: no overlong forms, no surrogates, nothing above U+10FFFF.
Unit next_unit(std::string_view text, std::size_t at) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(at);
  if (lead < 0x80) return {1, lead, true};
  std::size_t continuation = 0;
  char32_t code = 0;
  unsigned char low = 0x80;   // the second byte's range; later ones are always 80..BF
  unsigned char high = 0xbf;
  if (lead >= 0xc2 && lead <= 0xdf) {
    continuation = 1;
    code = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    continuation = 2;
    code = lead & 0x0f;
    if (lead == 0xe0) low = 0xa0;   // overlong below
    if (lead == 0xed) high = 0x9f;  // surrogates above
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    continuation = 3;
    code = lead & 0x07;
    if (lead == 0xf0) low = 0x90;   // overlong below
    if (lead == 0xf4) high = 0x8f;  // above U+10FFFF
  } else {
    return {};  // a continuation byte, C0, C1 or F5..FF: never starts a character
  }
  for (std::size_t i = 1; i <= continuation; ++i) {
    if (at + i >= text.size()) return {};
    const unsigned char b = byte(at + i);
    if (b < (i == 1 ? low : 0x80) || b > (i == 1 ? high : 0xbf)) return {};
    code = (code << 6) | (b & 0x3f);
  }
  return {continuation + 1, code, true};
}

/// The characters inert() escapes although they are valid UTF-8.
bool escaped(char32_t code) {
  return code < 0x20 || code == 0x7f ||
         (code >= 0x80 && code <= 0x9f) ||          // C1 controls
         code == 0x061c ||                          // ARABIC LETTER MARK
         code == 0x200e || code == 0x200f ||        // LRM, RLM
         (code >= 0x2028 && code <= 0x202e) ||      // line/paragraph separators, LRE..RLO
         (code >= 0x2066 && code <= 0x2069);        // LRI..PDI
}

constexpr std::string_view kHex = "0123456789abcdef";

/// The printed form of one unit, in `buffer`.
std::string_view render(std::string_view text, std::size_t at, const Unit& unit,
                        std::array<char, 12>& buffer) {
  if (unit.valid && !escaped(unit.code)) return text.substr(at, unit.length);
  if (unit.valid && unit.code == '\t') return "\\t";
  if (unit.valid && unit.code == '\n') return "\\n";
  if (unit.valid && unit.code == '\r') return "\\r";
  if (!unit.valid || unit.code < 0x80) {
    const auto b = static_cast<unsigned char>(text[at]);
    buffer = {'\\', 'x', kHex[b >> 4], kHex[b & 0xf]};
    return {buffer.data(), 4};
  }
  // An escaped code point: all of them are below U+10000, four hex digits.
  const char32_t c = unit.code;
  buffer = {'\\', 'u', '{', kHex[(c >> 12) & 0xf], kHex[(c >> 8) & 0xf], kHex[(c >> 4) & 0xf],
            kHex[c & 0xf], '}'};
  return {buffer.data(), 8};
}

}  // namespace

std::string inert(std::string_view text, std::size_t max_bytes) {
  std::string out;
  out.reserve(std::min(text.size(), max_bytes) + 24);
  std::array<char, 12> buffer{};
  std::size_t at = 0;
  while (at < text.size()) {
    const Unit unit = next_unit(text, at);
    const std::string_view piece = render(text, at, unit, buffer);
    if (out.size() + piece.size() > max_bytes) break;
    out += piece;
    at += unit.length;
  }
  if (at < text.size()) {
    const std::size_t cut = text.size() - at;
    out += fmt::format("…(+{} {})", cut, cut == 1 ? "byte" : "bytes");
  }
  return out;
}

bool is_inert(std::string_view text) {
  for (std::size_t at = 0; at < text.size();) {
    const Unit unit = next_unit(text, at);
    if (!unit.valid || escaped(unit.code)) return false;
    at += unit.length;
  }
  return true;
}

}  // namespace chorus::protocol
