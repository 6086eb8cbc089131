// inert(): any byte string made printable. Exhaustive over every code point and every one- and
// two-byte string, plus seeded random strings for the properties that must always hold.

#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>

#include <fmt/format.h>

#include "chorus/protocol/inert_text.hpp"

using chorus::protocol::inert;
using chorus::protocol::is_inert;
using chorus::protocol::kInertMaxBytes;

namespace {

constexpr std::size_t kUnbounded = std::string::npos;

/// The UTF-8 encoding of a code point (surrogates included: the caller decides).
std::string utf8(char32_t c) {
  std::string out;
  if (c < 0x80) {
    out += static_cast<char>(c);
  } else if (c < 0x800) {
    out += static_cast<char>(0xc0 | (c >> 6));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else if (c < 0x10000) {
    out += static_cast<char>(0xe0 | (c >> 12));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (c >> 18));
    out += static_cast<char>(0x80 | ((c >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((c >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (c & 0x3f));
  }
  return out;
}

std::string hex_byte(unsigned char b) { return fmt::format("\\x{:02x}", b); }

/// The code points escaped although valid, as docs and the header list them.
bool listed(char32_t c) {
  return c < 0x20 || c == 0x7f || (c >= 0x80 && c <= 0x9f) || c == 0x61c || c == 0x200e ||
         c == 0x200f || c == 0x2028 || c == 0x2029 || (c >= 0x202a && c <= 0x202e) ||
         (c >= 0x2066 && c <= 0x2069);
}

/// True if `s` holds no byte a terminal acts on: nothing below 0x20 and no DEL.
bool no_control_bytes(const std::string& s) {
  for (char ch : s) {
    const auto b = static_cast<unsigned char>(ch);
    if (b < 0x20 || b == 0x7f) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("printable ASCII is kept as it is") {
  std::string all;
  for (int c = 0x20; c < 0x7f; ++c) all += static_cast<char>(c);
  CHECK(inert(all) == all);
  CHECK(is_inert(all));
  CHECK(inert("") == "");
  CHECK(is_inert(""));
  CHECK(inert("node-a") == "node-a");
  CHECK(inert("a\\nb") == "a\\nb");  // a backslash is kept: harmless, if ambiguous
}

TEST_CASE("every C0 control character and DEL is escaped, tab, newline and return by name") {
  for (int b = 0; b < 0x20; ++b) {
    const std::string in(1, static_cast<char>(b));
    std::string expected = hex_byte(static_cast<unsigned char>(b));
    if (b == '\t') expected = "\\t";
    if (b == '\n') expected = "\\n";
    if (b == '\r') expected = "\\r";
    CAPTURE(b);
    CHECK(inert(in) == expected);
    CHECK_FALSE(is_inert(in));
  }
  CHECK(inert("\x7f") == "\\x7f");
  CHECK_FALSE(is_inert("\x7f"));
}

TEST_CASE("a track name that would forge a log line and clear the screen prints on one line") {
  CHECK(inert("song\n\x1b[2J") == "song\\n\\x1b[2J");
  CHECK(inert("ok\r\n[info] peer x is up\x1b]0;title\x07") ==
        "ok\\r\\n[info] peer x is up\\x1b]0;title\\x07");
}

TEST_CASE("every code point: escaped exactly when listed, kept byte for byte otherwise") {
  std::size_t kept = 0;
  for (char32_t c = 0; c <= 0x10ffff; ++c) {
    if (c >= 0xd800 && c <= 0xdfff) continue;  // surrogates are not characters: see invalid UTF-8
    const std::string in = utf8(c);
    const std::string out = inert(in);
    if (!listed(c)) {
      if (out != in || !is_inert(in)) FAIL("U+" << fmt::format("{:04X}", static_cast<std::uint32_t>(c)));
      ++kept;
    } else if (c >= 0x80) {
      CHECK(out == fmt::format("\\u{{{:04x}}}", static_cast<std::uint32_t>(c)));
      CHECK_FALSE(is_inert(in));
    }
  }
  CHECK(kept == 0x110000 - 0x800 - 32 - 1 - 32 - 14);
}

TEST_CASE("the C1 controls, line separators and bidi overrides are escaped as code points") {
  CHECK(inert("\xc2\x85") == "\\u{0085}");              // NEXT LINE
  CHECK(inert("\xc2\x9b" "2J") == "\\u{009b}2J");         // CSI, an 8-bit escape sequence
  CHECK(inert("a\xe2\x80\xa8" "b") == "a\\u{2028}b");     // LINE SEPARATOR
  CHECK(inert("\xe2\x80\xae" "gpj.exe") == "\\u{202e}gpj.exe");  // RIGHT-TO-LEFT OVERRIDE
  CHECK(inert("\xe2\x81\xa6x\xe2\x81\xa9") == "\\u{2066}x\\u{2069}");
  // Neighbours of the escaped ranges are ordinary characters.
  CHECK(inert("\xc2\xa0") == "\xc2\xa0");          // U+00A0 NO-BREAK SPACE
  CHECK(inert("\xe2\x80\xa7") == "\xe2\x80\xa7");  // U+2027 HYPHENATION POINT
  CHECK(inert("\xe2\x80\xaf") == "\xe2\x80\xaf");  // U+202F NARROW NO-BREAK SPACE
}

TEST_CASE("valid multi-byte UTF-8 is kept") {
  const std::string text = "n\xc5\x93ud-\xc3\xa9 \xe2\x82\xac \xf0\x9f\x8e\xb5 \xe6\x97\xa5\xe6\x9c\xac";
  CHECK(inert(text) == text);
  CHECK(is_inert(text));
}

TEST_CASE("invalid UTF-8 is escaped one byte at a time and decoding resumes after it") {
  CHECK(inert("\xff") == "\\xff");
  CHECK(inert("\x80") == "\\x80");                         // a lone continuation byte
  CHECK(inert("\xc0\xaf") == "\\xc0\\xaf");                // overlong '/'
  CHECK(inert("\xe0\x80\xaf") == "\\xe0\\x80\\xaf");       // overlong, three bytes
  CHECK(inert("\xf0\x80\x80\xaf") == "\\xf0\\x80\\x80\\xaf");
  CHECK(inert("\xed\xa0\x80") == "\\xed\\xa0\\x80");       // a surrogate
  CHECK(inert("\xf4\x90\x80\x80") == "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  CHECK(inert("\xf8\x88\x80\x80\x80") == "\\xf8\\x88\\x80\\x80\\x80");
  CHECK(inert("a\xe2\x82" "b") == "a\\xe2\\x82b");         // truncated, then ASCII
  CHECK(inert("\xe2\x82") == "\\xe2\\x82");                // truncated at the end
  CHECK(inert("\xc3\xc3\xa9") == "\\xc3\xc3\xa9");         // a bad lead, then a good character
  CHECK(inert("\xc2\x1b") == "\\xc2\\x1b");                // a lead byte does not swallow ESC
  for (const char* bad : {"\xff", "\x80", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf4\x90\x80\x80"}) {
    CHECK_FALSE(is_inert(bad));
  }
}

TEST_CASE("every byte alone and every pair of bytes comes out as inert text") {
  for (int b = 0; b < 256; ++b) {
    const std::string in(1, static_cast<char>(b));
    const std::string out = inert(in);
    CAPTURE(b);
    if (b >= 0x20 && b < 0x7f) CHECK(out == in);
    else if (b >= 0x80) CHECK(out == hex_byte(static_cast<unsigned char>(b)));
    CHECK(is_inert(out));
  }
  for (int a = 0; a < 256; ++a) {
    for (int b = 0; b < 256; ++b) {
      const std::string in{static_cast<char>(a), static_cast<char>(b)};
      const std::string out = inert(in);
      // A valid pair is one character; otherwise each byte stands on its own.
      std::string expected = inert(in.substr(0, 1)) + inert(in.substr(1, 1));
      if (a >= 0xc2 && a <= 0xdf && b >= 0x80 && b <= 0xbf) {
        const auto code = static_cast<std::uint32_t>(((a & 0x1f) << 6) | (b & 0x3f));
        expected = listed(code) ? fmt::format("\\u{{{:04x}}}", code) : in;
      }
      if (out != expected || !is_inert(out) || !no_control_bytes(out) ||
          is_inert(in) != (out == in)) {
        FAIL(fmt::format("bytes {:02x} {:02x}: {}", a, b, out));
      }
    }
  }
}

TEST_CASE("random byte strings: the output is inert, stable, and the input's own text if inert") {
  std::mt19937_64 rng(20250101);
  // Biased towards the interesting bytes: controls, lead and continuation bytes, ESC, '['.
  const std::string alphabet =
      "ab\\[\n\r\t\x1b\x7f\x80\x85\x9b\xa0\xbf\xc2\xc3\xe2\xed\xef\xf0\xf4\xff\x01 ";
  for (int round = 0; round < 50'000; ++round) {
    std::string in;
    const std::size_t length = rng() % 24;
    for (std::size_t i = 0; i < length; ++i) in += alphabet[rng() % alphabet.size()];
    const std::string out = inert(in, kUnbounded);
    if (!is_inert(out) || !no_control_bytes(out) || inert(out, kUnbounded) != out ||
        (is_inert(in) && out != in) || (!is_inert(in) && out == in)) {
      std::string bytes;
      for (char ch : in) bytes += fmt::format("{:02x} ", static_cast<unsigned char>(ch));
      FAIL("input " << bytes << ": " << out);
    }
  }
}

TEST_CASE("a long string is cut to the bound with a marker naming the bytes left out") {
  const std::string reason(4096, 'r');
  const std::string out = inert(reason);
  CHECK(out == std::string(kInertMaxBytes, 'r') + "…(+3840 bytes)");
  CHECK(inert("abc", 2) == "ab…(+1 byte)");
  CHECK(inert("abc", 0) == "…(+3 bytes)");
  CHECK(inert("abc", 3) == "abc");
  CHECK(inert(std::string(kInertMaxBytes, 'i')) == std::string(kInertMaxBytes, 'i'));  // a longest id
}

TEST_CASE("a cut never splits a character or an escape") {
  // 'é' is two bytes: 255 bytes hold 127 of them.
  std::string accents;
  for (int i = 0; i < 200; ++i) accents += "\xc3\xa9";
  std::string expected;
  for (int i = 0; i < 127; ++i) expected += "\xc3\xa9";
  CHECK(inert(accents, 255) == expected + "…(+146 bytes)");
  // Each ESC prints as four bytes: 10 bytes hold two of them.
  CHECK(inert(std::string(100, '\x1b'), 10) == "\\x1b\\x1b…(+98 bytes)");
  CHECK(inert("ab\xf0\x9f\x8e\xb5", 5) == "ab…(+4 bytes)");
}

TEST_CASE("whatever the input, the output is at most the bound plus the marker") {
  std::mt19937_64 rng(7);
  for (int round = 0; round < 2'000; ++round) {
    std::string in;
    const std::size_t length = rng() % 600;
    for (std::size_t i = 0; i < length; ++i) in += static_cast<char>(rng() % 256);
    const std::size_t bound = rng() % 300;
    const std::string out = inert(in, bound);
    const std::string marker = "…(+" + std::to_string(in.size()) + " bytes)";
    CHECK(out.size() <= bound + marker.size());
    CHECK(is_inert(out));
  }
}
