#include <catch2/catch.hpp>

#include "chorus/mpd/response.hpp"
#include "chorus/mpd/tokenizer.hpp"

using namespace chorus::mpd;

namespace {

Words words_of(std::string_view line) {
  auto result = tokenize(line);
  REQUIRE(std::holds_alternative<Words>(result));
  return std::get<Words>(result);
}

std::string error_of(std::string_view line) {
  auto result = tokenize(line);
  REQUIRE(std::holds_alternative<TokenizeError>(result));
  return std::get<TokenizeError>(result).message;
}

}  // namespace

TEST_CASE("tokenize splits bare words and quoted strings") {
  CHECK(words_of("status") == Words{"status"});
  CHECK(words_of("  play   3  ") == Words{"play", "3"});
  CHECK(words_of("add \"Artist A/Album X/01 one.flac\"") ==
        Words{"add", "Artist A/Album X/01 one.flac"});
  CHECK(words_of("find \"(artist == 'A')\" window 0:2") ==
        Words{"find", "(artist == 'A')", "window", "0:2"});
  CHECK(words_of("add \"a \\\"quoted\\\" \\\\ name\"") == Words{"add", "a \"quoted\" \\ name"});
  CHECK(words_of("add \"\"") == Words{"add", ""});
  CHECK(words_of("status\r") == Words{"status"});
  CHECK(words_of("list_all 1") == Words{"list_all", "1"});
  CHECK(words_of("add caf\xc3\xa9") == Words{"add", "caf\xc3\xa9"});
}

TEST_CASE("tokenize gives an empty list for a blank line") {
  CHECK(words_of("").empty());
  CHECK(words_of("  \t ").empty());
}

TEST_CASE("tokenize refuses malformed lines with a reason") {
  CHECK(error_of("\"play\"") == "Letter expected");
  CHECK(error_of("3play") == "Letter expected");
  CHECK(error_of("pl-ay") == "Invalid word character");
  CHECK(error_of("add \"unterminated") == "Missing closing '\"'");
  CHECK(error_of("add \"x\"y") == "Space expected after closing '\"'");
  CHECK(error_of("add a'b") == "Invalid unquoted character");
  CHECK(error_of(std::string_view("add a\0b", 7)) == "Invalid unquoted character");
  CHECK(error_of("add \"x\\") == "Missing closing '\"'");
}

TEST_CASE("tokenize bounds the number of words") {
  std::string line = "add";
  for (std::size_t i = 0; i < kMaxWords; ++i) line += " x";
  CHECK(error_of(line) == "Too many arguments");
  line.resize(line.size() - 2);
  CHECK(words_of(line).size() == kMaxWords);
}

TEST_CASE("quote_argument reads back unchanged") {
  for (std::string value : {"plain", "with space", "quote\"d", "back\\slash", "", "a'b", "tab\there"}) {
    const auto words = words_of("add " + quote_argument(value));
    REQUIRE(words.size() == 2);
    CHECK(words[1] == value);
  }
}

TEST_CASE("ack_line has MPD's shape and no control bytes") {
  CHECK(ack_line(Ack::unknown, 0, "", "unknown command \"x\"") ==
        "ACK [5@0] {} unknown command \"x\"\n");
  CHECK(ack_line(Ack::no_exist, 3, "playid", "No such song") == "ACK [50@3] {playid} No such song\n");
  CHECK(ack_line(Ack::arg, 0, "a\nb", "c\rd") == "ACK [2@0] {a b} c d\n");
}

TEST_CASE("ResponseWriter writes key: value lines that a tag cannot break") {
  ResponseWriter out;
  out.field("Title", "two\nlines");
  out.field("Pos", 3);
  out.field("Id", std::uint64_t{18446744073709551615ull});
  out.seconds("elapsed", 30.5);
  CHECK(out.text() == "Title: two lines\nPos: 3\nId: 18446744073709551615\nelapsed: 30.500\n");
}
