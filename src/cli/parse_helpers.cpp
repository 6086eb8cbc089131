// Helpers shared by the prompt's argument parsers.

#include "parse_helpers.hpp"

#include <algorithm>

namespace chorus::cli::detail {
namespace {
constexpr std::size_t kMaxEcho = 32;
}  // namespace

/// Quotes user text for an error message: printable ASCII kept, other bytes as \xNN, long text cut.
std::string echo(std::string_view text) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out = "'";
  const std::size_t shown = std::min(text.size(), kMaxEcho);
  for (std::size_t i = 0; i < shown; ++i) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte >= 0x20 && byte < 0x7f && byte != '\\') {
      out += static_cast<char>(byte);
    } else {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0x0f];
    }
  }
  if (shown < text.size()) out += "...";
  out += '\'';
  return out;
}

std::string usage_of(const CommandSpec& row) {
  std::string text(row.name);
  if (!row.arg_names.empty()) {
    text += ' ';
    text += row.arg_names;
  }
  return text;
}

ParseError error_for(const CommandSpec& row, ParseErrorKind kind, std::string detail) {
  return ParseError{kind, std::string(row.name) + ": " + detail, usage_of(row)};
}

bool all_digits(std::string_view text) {
  return !text.empty() &&
         std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
}

/// A control byte (C0 or DEL) in `text`, if any: a query holds printable text only.
bool has_control_byte(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    const auto byte = static_cast<unsigned char>(c);
    return byte < 0x20 || byte == 0x7f;
  });
}

}  // namespace chorus::cli::detail
