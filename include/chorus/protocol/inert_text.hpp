#pragma once
// Inert text: any byte string made safe to print in a log line or at the prompt. Text a peer
// supplies (a track name, a HELLO_REJECT reason, a cluster name, a leader's error message) goes
// through inert() before it is printed, so that newlines cannot forge log lines, escape
// sequences cannot move or clear the terminal, and a 4 KB string cannot flood a line. Pure.
//
// Escaped, visibly:
//   - C0 control characters and DEL: \t, \n, \r by name, the others as \xHH (e.g. ESC is \x1b);
//   - C1 control characters U+0080..U+009F, the line and paragraph separators U+2028, U+2029 and
//     the bidirectional formatting characters (U+061C, U+200E, U+200F, U+202A..U+202E,
//     U+2066..U+2069), which reorder what a terminal shows, as \u{HHHH};
//   - every byte that is not part of valid UTF-8 (stray continuation bytes, truncated or overlong
//     sequences, surrogates, code points above U+10FFFF) as \xHH, one byte at a time.
// Every other character is kept as it is, multi-byte UTF-8 included. A backslash is kept too:
// the result is meant to be harmless and readable, not reversible.
//
// Node ids and host names are refused at decode unless is_inert() (docs/protocol.md), so they
// print as they are.

#include <cstddef>
#include <string>
#include <string_view>

namespace chorus::protocol {

/// Default bound on the printed text, in bytes: every valid node id fits whole.
inline constexpr std::size_t kInertMaxBytes = 256;

/// `text` with every character listed above escaped. At most `max_bytes` bytes of that are kept,
/// never splitting a character or an escape; what is cut is replaced by a visible marker naming
/// how many input bytes it stands for, e.g. "…(+3012 bytes)".
std::string inert(std::string_view text, std::size_t max_bytes = kInertMaxBytes);

/// True if `text` is valid UTF-8 holding nothing inert() escapes, so that it prints as it is
/// (when within the length bound).
bool is_inert(std::string_view text);

}  // namespace chorus::protocol
