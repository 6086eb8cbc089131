#pragma once
// The MPD protocol's request line: a command name, then arguments, each a bare word or a
// "double quoted" string in which a backslash takes the next byte as it is. Pure and total: any
// bytes give either the words or a one-line reason, never an exception.

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chorus::mpd {

/// The most words (the name included) a line may hold; MPD's own limit is of this order.
inline constexpr std::size_t kMaxWords = 4096;

/// Why a line could not be split (the text is printable ASCII: it goes into an ACK).
struct TokenizeError {
  std::string message;
  bool in_name = false;  ///< the command name itself is malformed (not the MPD protocol at all)
  friend bool operator==(const TokenizeError&, const TokenizeError&) = default;
};

/// The words of a line: the command name first. Empty for a blank line.
using Words = std::vector<std::string>;

/// Splits one request line (without its '\n'; a trailing '\r' is dropped as whitespace).
/// The command name must start with a letter and hold letters, digits and '_' only; an argument
/// is any run of bytes above ' ' without quotes, or a quoted string followed by a blank or the end.
std::variant<Words, TokenizeError> tokenize(std::string_view line);

/// `value` as an argument that tokenize() reads back unchanged (quoted when it has to be).
std::string quote_argument(std::string_view value);

}  // namespace chorus::mpd
