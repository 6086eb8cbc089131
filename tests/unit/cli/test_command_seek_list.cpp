// The parser's seek positions and list options: every accepted form, and every malformed one
// rejected with the usage line, never thrown.

#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "chorus/cli/command.hpp"
#include "parse_results.hpp"

using chorus::cli::Command;
using chorus::cli::CommandKind;
using chorus::cli::ParseError;
using chorus::cli::ParseErrorKind;
using chorus::cli::SeekTarget;
using chorus::cli::parse_command;
using chorus::test::contains;
using chorus::test::parsed;
using chorus::test::rejected;
using chorus::cli::parse_seek_target;

namespace {

SeekTarget absolute(std::int64_t us) { return {us, false}; }
SeekTarget relative(std::int64_t us) { return {us, true}; }

constexpr std::int64_t kSecond = 1'000'000;

}  // namespace

// ---- seek -------------------------------------------------------------------------------------

TEST_CASE("seek accepts seconds, M:SS and H:MM:SS, absolute or relative", "[cli]") {
  const std::vector<std::pair<std::string, SeekTarget>> cases{
      {"75", absolute(75 * kSecond)},
      {"0", absolute(0)},
      {"007", absolute(7 * kSecond)},
      {"75.5", absolute(75'500'000)},
      {"0.000001", absolute(1)},
      {"1.25", absolute(1'250'000)},
      {"12.123456", absolute(12'123'456)},
      {"1:15", absolute(75 * kSecond)},
      {"0:05", absolute(5 * kSecond)},
      {"01:15", absolute(75 * kSecond)},
      {"1:15.5", absolute(75'500'000)},
      {"90:00", absolute(5400 * kSecond)},  // the leading part may exceed 59
      {"1:02:03", absolute(3723 * kSecond)},
      {"0:00:00", absolute(0)},
      {"1:02:03.25", absolute(3'723'250'000)},
      {"100:59:59", absolute((100 * 3600 + 59 * 60 + 59) * kSecond)},
      {"+10", relative(10 * kSecond)},
      {"-10", relative(-10 * kSecond)},
      {"+0", relative(0)},
      {"-0", relative(0)},
      {"-2.5", relative(-2'500'000)},
      {"+1:30", relative(90 * kSecond)},
      {"-1:30", relative(-90 * kSecond)},
      {"-1:00:00", relative(-3600 * kSecond)},
      {"1000000000", absolute(chorus::cli::kMaxSeekSeconds * kSecond)},
      {"-1000000000", relative(-chorus::cli::kMaxSeekSeconds * kSecond)},
  };
  for (const auto& [word, target] : cases) {
    INFO("seek " << word);
    const auto command = parsed("seek " + word);
    CHECK(command.kind == CommandKind::seek);
    REQUIRE(command.seek.has_value());
    CHECK(command.seek->position_us == target.position_us);
    CHECK(command.seek->relative == target.relative);
    CHECK(parse_seek_target(word) == target);
  }
}

TEST_CASE("only seek carries a seek target", "[cli]") {
  CHECK_FALSE(parsed("play 3").seek.has_value());
  CHECK_FALSE(parsed("pause").seek.has_value());
  CHECK_FALSE(parsed("list").seek.has_value());
  CHECK(parsed("  seek \t 1:15  ").seek == absolute(75 * kSecond));
}

TEST_CASE("seek without a position is a missing-argument error with usage", "[cli]") {
  for (const std::string line : {"seek", "seek ", "\tseek\t"}) {
    const auto error = rejected(line);
    CHECK(error.kind == ParseErrorKind::missing_argument);
    CHECK(error.message() == "seek: missing TIME; usage: seek [+|-]TIME");
  }
}

TEST_CASE("seek with two positions is an extra-argument error", "[cli]") {
  const auto error = rejected("seek 1 2");
  CHECK(error.kind == ParseErrorKind::extra_argument);
  CHECK(error.message() == "seek: unexpected argument '2'; usage: seek [+|-]TIME");
  CHECK(rejected("seek 1: 15").kind == ParseErrorKind::extra_argument);
  CHECK(rejected("seek + 5").kind == ParseErrorKind::extra_argument);
}

TEST_CASE("seek rejects malformed positions with usage", "[cli]") {
  const std::vector<std::string> words{
      "abc", "1x",   "x1",     "--5",      "+-5",     "-+5",    "++5",     "+",       "-",
      ".",   ".5",   "5.",     "+.5",      "1.2.3",   "1..2",   "1,5",     "1e3",     "0x10",
      ":",   ":15",  "1:",     "1::15",    "1:75",    "1:60",   "1:5",     "1:005",   "1:-5",
      "1:+5", "1:1a", "1:02:60", "1:60:00", "1:2:03", "1:02:03:04", "1.5:00", "1:02.5:03",
      "1:2.5", "5-",  "5+",     "٣",        "\xef\xbc\x91",  // fullwidth digit one
      "inf", "nan",  "--json", "-x",
  };
  for (const auto& word : words) {
    INFO("seek " << word);
    const auto error = rejected("seek " + word);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.message(), "usage: seek [+|-]TIME"));
    CHECK_FALSE(parse_seek_target(word).has_value());
  }
  CHECK(rejected("seek abc").message() ==
        "seek: TIME must be SECONDS, M:SS or H:MM:SS (optionally with .fraction), after + or - "
        "to move by it, got 'abc'; usage: seek [+|-]TIME");
  CHECK(rejected("seek 1:75").message() ==
        "seek: minutes and seconds after ':' must be two digits 00-59, got '1:75'; "
        "usage: seek [+|-]TIME");
}

TEST_CASE("seek rejects more than microsecond precision", "[cli]") {
  const auto error = rejected("seek 1.1234567");
  CHECK(error.kind == ParseErrorKind::bad_argument);
  CHECK(contains(error.problem, "at most 6 decimals"));
  CHECK(parsed("seek 1.123456").seek == absolute(1'123'456));
}

TEST_CASE("seek rejects positions too large to send", "[cli]") {
  const std::vector<std::string> words{
      "1000000001",           "1000000000.000001",     "-1000000001",
      "9223372036854775807",  "9223372036854775808",   "99999999999999999999999999999",
      "16666667:00",          "277778:00:00",          "+153722867280912930:00",
      "2562047788015215:00:00", "-99999999999999999999:00:00",
      std::string(300, '9'),
  };
  for (const auto& word : words) {
    INFO("seek " << word.substr(0, 40));
    const auto error = rejected("seek " + word);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.problem, "too large"));
    CHECK(contains(error.message(), "usage: seek [+|-]TIME"));
    CHECK(error.message().size() < 200);
  }
  CHECK(parsed("seek 16666666:40").seek == absolute(chorus::cli::kMaxSeekSeconds * kSecond));
  CHECK(parsed("seek 277777:46:40").seek == absolute(chorus::cli::kMaxSeekSeconds * kSecond));
}

TEST_CASE("seek positions made of odd bytes are rejected and echoed printably", "[cli]") {
  for (const auto& word : std::vector<std::string>{std::string("1\0", 2), "\x1b[2J", "\xff", "1\x7f"}) {
    const auto error = rejected("seek " + word);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    for (const char c : error.message()) {
      const auto byte = static_cast<unsigned char>(c);
      CHECK((byte >= 0x20 && byte < 0x7f));
    }
  }
}

TEST_CASE("every short position string parses or is rejected without throwing", "[cli]") {
  // All strings of up to 4 characters over the alphabet the grammar uses, plus a stray byte.
  const std::string alphabet = "0159:.+-x";
  std::vector<std::string> words{""};
  for (int length = 1; length <= 4; ++length) {
    std::vector<std::string> longer;
    for (const auto& word : words) {
      if (static_cast<int>(word.size()) != length - 1) continue;
      for (const char c : alphabet) longer.push_back(word + c);
    }
    words.insert(words.end(), longer.begin(), longer.end());
  }
  std::size_t accepted = 0;
  for (const auto& word : words) {
    INFO("word '" << word << "'");
    std::optional<SeekTarget> target;
    REQUIRE_NOTHROW(target = parse_seek_target(word));
    if (!target) continue;
    ++accepted;
    // Whatever is accepted is a number of the grammar, and the command line agrees.
    CHECK(word.find('x') == std::string::npos);
    CHECK(target->relative == (word.front() == '+' || word.front() == '-'));
    CHECK((target->position_us < 0) == (word.front() == '-' && target->position_us != 0));
    CHECK(parsed("seek " + word).seek == target);
  }
  CHECK(accepted > 100);
}

// ---- list -------------------------------------------------------------------------------------

TEST_CASE("list without arguments lists page 1 of everything", "[cli]") {
  const auto command = parsed("list");
  CHECK(command.kind == CommandKind::list);
  CHECK_FALSE(command.json);
  CHECK(command.query.empty());
  CHECK(command.page == 1);
}

TEST_CASE("list takes --json, --page N and a query in the documented order", "[cli]") {
  struct Case {
    std::string line;
    bool json;
    int page;
    std::string query;
  };
  const std::vector<Case> cases{
      {"list --json", true, 1, ""},
      {"list --page 3", false, 3, ""},
      {"list --page 1", false, 1, ""},
      {"list --page 007", false, 7, ""},
      {"list --page 2147483647", false, 2147483647, ""},
      {"list --json --page 2", true, 2, ""},
      {"list --page 2 --json", true, 2, ""},
      {"list beatles", false, 1, "beatles"},
      {"list Abbey   Road", false, 1, "Abbey Road"},
      {"list \tabbey\t road \r\n", false, 1, "abbey road"},
      {"list --json --page 4 the long and winding road", true, 4, "the long and winding road"},
      {"list --page 2 AC/DC", false, 2, "AC/DC"},
      {"list -", false, 1, "-"},
      {"list -x", false, 1, "-x"},
      {"list 3", false, 1, "3"},
      {"list a --json", false, 1, "a --json"},  // options come before the query
      {"list a --page 2", false, 1, "a --page 2"},
      {"list -- --json", false, 1, "--json"},  // after --, everything is the query
      {"list --json -- --page 2", true, 1, "--page 2"},
      {"list --", false, 1, ""},
      {"list -- -- x", false, 1, "-- x"},
      {"list Bj\xc3\xb6rk", false, 1, "Bj\xc3\xb6rk"},  // UTF-8 is text
  };
  for (const auto& c : cases) {
    INFO("line: " << c.line);
    const auto command = parsed(c.line);
    CHECK(command.kind == CommandKind::list);
    CHECK(command.json == c.json);
    CHECK(command.page == c.page);
    CHECK(command.query == c.query);
  }
}

TEST_CASE("list rejects a missing, malformed or out-of-range page", "[cli]") {
  const auto missing = rejected("list --page");
  CHECK(missing.kind == ParseErrorKind::missing_argument);
  CHECK(missing.message() ==
        "list: missing page number after --page; usage: list [--json] [--page N] [QUERY...]");
  CHECK(rejected("list --json --page").kind == ParseErrorKind::missing_argument);

  for (const std::string n : {"0", "00", "-1", "+2", "x", "2x", "1.5", "0x10", "--json", "-", ""}) {
    if (n.empty()) continue;
    INFO("page " << n);
    const auto error = rejected("list --page " + n + " beatles");
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.problem, "page must be a whole number from 1"));
    CHECK(contains(error.message(), "usage: list [--json] [--page N] [QUERY...]"));
  }
  for (const auto& n : std::vector<std::string>{"2147483648", "99999999999999999999", std::string(200, '9')}) {
    const auto error = rejected("list --page " + n);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.problem, "too large"));
    CHECK(error.message().size() < 200);
  }
}

TEST_CASE("list rejects unknown and repeated options", "[cli]") {
  const auto unknown = rejected("list --xml");
  CHECK(unknown.kind == ParseErrorKind::bad_argument);
  CHECK(unknown.message() == "list: unknown option '--xml'; usage: list [--json] [--page N] [QUERY...]");
  CHECK(rejected("list --JSON").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("list --page=2").kind == ParseErrorKind::bad_argument);
  CHECK(rejected("list --json --pages 2").kind == ParseErrorKind::bad_argument);

  const auto twice = rejected("list --json --json");
  CHECK(twice.kind == ParseErrorKind::bad_argument);
  CHECK(twice.problem == "list: repeated option '--json'");
  CHECK(rejected("list --page 1 --page 2").problem == "list: repeated option '--page'");
  CHECK(rejected("list --page 1 --json --page 2 x").problem == "list: repeated option '--page'");
}

TEST_CASE("a list query holds no control bytes", "[cli]") {
  for (const auto& word : std::vector<std::string>{"a\x1b[2J", "\x7f", std::string("a\0b", 3), "\x01"}) {
    const auto error = rejected("list " + word);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.problem, "printable"));
    for (const char c : error.message()) {
      const auto byte = static_cast<unsigned char>(c);
      CHECK((byte >= 0x20 && byte < 0x7f));
    }
  }
}

TEST_CASE("a list query can fill the whole line", "[cli]") {
  const std::string words(chorus::cli::kMaxLineBytes - 5, 'q');
  CHECK(parsed("list " + words).query == words);
  CHECK(rejected("list " + words + "q").kind == ParseErrorKind::line_too_long);
}

TEST_CASE("help shows the seek forms and the list options", "[cli]") {
  const auto help = chorus::cli::help_text();
  CHECK(contains(help, "seek [+|-]TIME"));
  CHECK(contains(help, "1:15"));
  CHECK(contains(help, "list [--json] [--page N] [QUERY...]"));
}
