// The REPL parser: line → Command | EmptyLine | ParseError, and help from the same table.

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "chorus/cli/command.hpp"
#include "parse_results.hpp"

using chorus::cli::Command;
using chorus::cli::CommandKind;
using chorus::cli::EmptyLine;
using chorus::cli::ParseError;
using chorus::cli::ParseErrorKind;
using chorus::cli::parse_command;
using chorus::test::contains;
using chorus::test::parsed;
using chorus::test::rejected;

namespace {


bool single_printable_line(const std::string& text) {
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte >= 0x7f) return false;
  }
  return true;
}

}  // namespace

TEST_CASE("every command without arguments parses to its kind", "[cli]") {
  const std::vector<std::pair<std::string, CommandKind>> cases{
      {"peers", CommandKind::peers},   {"list", CommandKind::list},
      {"pause", CommandKind::pause},   {"resume", CommandKind::resume},
      {"stop", CommandKind::stop},     {"next", CommandKind::next},
      {"prev", CommandKind::prev},     {"status", CommandKind::status},
      {"debug", CommandKind::debug},   {"help", CommandKind::help},
      {"exit", CommandKind::exit},
  };
  for (const auto& [line, kind] : cases) {
    INFO("line: " << line);
    const auto command = parsed(line);
    CHECK(command.kind == kind);
    CHECK_FALSE(command.json);
  }
}

TEST_CASE("play with a track index parses to play with that index", "[cli]") {
  const auto command = parsed("play 3");
  CHECK(command.kind == CommandKind::play);
  CHECK(command.track == 3);
  CHECK(parsed("play 0").track == 0);
  CHECK(parsed("play 2147483647").track == 2147483647);
  CHECK(parsed("play 007").track == 7);
}

TEST_CASE("quit is an alias of exit", "[cli]") {
  CHECK(parsed("quit") == parsed("exit"));
  CHECK(parsed("quit").kind == CommandKind::exit);
}

TEST_CASE("the --json flag is accepted by peers, list, status and debug", "[cli]") {
  for (const auto kind : {CommandKind::peers, CommandKind::list, CommandKind::status,
                          CommandKind::debug}) {
    const std::string name(chorus::cli::spec(kind).name);
    INFO("command: " << name);
    const auto command = parsed(name + " --json");
    CHECK(command.kind == kind);
    CHECK(command.json);
  }
}

TEST_CASE("the --json flag is rejected by commands that do not list it", "[cli]") {
  for (const std::string name : {"play", "pause", "resume", "stop", "next", "prev", "seek", "help",
                                 "exit", "quit"}) {
    INFO("command: " << name);
    const auto error = rejected(name + " --json");
    CHECK(contains(error.message(), "--json"));
    CHECK(contains(error.message(), "usage: "));
  }
}

TEST_CASE("a repeated or unknown option is an error naming it", "[cli]") {
  const auto twice = rejected("peers --json --json");
  CHECK(twice.kind == ParseErrorKind::extra_argument);
  CHECK(twice.message() == "peers: unexpected argument '--json'; usage: peers [--json]");

  const auto unknown = rejected("status --xml");
  CHECK(unknown.kind == ParseErrorKind::bad_argument);
  CHECK(unknown.message() == "status: unknown option '--xml'; usage: status [--json]");

  const auto word = rejected("status all");
  CHECK(word.kind == ParseErrorKind::extra_argument);
  CHECK(word.message() == "status: unexpected argument 'all'; usage: status [--json]");
}

TEST_CASE("command names are case-sensitive", "[cli]") {
  CHECK(rejected("PEERS").kind == ParseErrorKind::unknown_command);
  CHECK(rejected("Play 3").kind == ParseErrorKind::unknown_command);
  CHECK(rejected("peers --JSON").kind == ParseErrorKind::bad_argument);
}

TEST_CASE("an unknown command names it and hints at help", "[cli]") {
  const auto error = rejected("xyz");
  CHECK(error.kind == ParseErrorKind::unknown_command);
  CHECK(error.usage.empty());
  CHECK(contains(error.message(), "unknown command 'xyz'"));
  CHECK(contains(error.message(), "help"));
}

TEST_CASE("an unknown command with arguments still names only the command", "[cli]") {
  CHECK(rejected("frobnicate 1 2").problem == "unknown command 'frobnicate'");
}

TEST_CASE("a blank line parses to the empty result without error", "[cli]") {
  for (const std::string line : {"", " ", "\t", "  \t  ", "\n", "\r\n", " \t \r\n"}) {
    INFO("line bytes: " << line.size());
    CHECK(std::holds_alternative<EmptyLine>(parse_command(line)));
  }
}

TEST_CASE("leading, trailing and repeated spaces and tabs are ignored", "[cli]") {
  Command play3;
  play3.kind = CommandKind::play;
  play3.track = 3;
  Command peers_json;
  peers_json.kind = CommandKind::peers;
  peers_json.json = true;
  Command status;
  status.kind = CommandKind::status;
  CHECK(parsed("   play    3   ") == play3);
  CHECK(parsed("\tplay\t\t3\t") == play3);
  CHECK(parsed(" \t peers \t --json \t ") == peers_json);
  CHECK(parsed("status\n") == status);
  CHECK(parsed("status\r\n") == status);
}

TEST_CASE("play without a track index is a missing-argument error with usage", "[cli]") {
  for (const std::string line : {"play", "play ", "  play\t"}) {
    const auto error = rejected(line);
    CHECK(error.kind == ParseErrorKind::missing_argument);
    CHECK(error.message() == "play: missing track index; usage: play N");
  }
}

TEST_CASE("play with a negative index is an error", "[cli]") {
  const auto error = rejected("play -1");
  CHECK(error.kind == ParseErrorKind::bad_argument);
  CHECK(contains(error.problem, "negative"));
  CHECK(contains(error.problem, "'-1'"));
  CHECK(contains(error.message(), "usage: play N"));
}

TEST_CASE("play with a non-numeric index is an error", "[cli]") {
  for (const std::string line : {"play x", "play 3x", "play +3", "play 1.5", "play 0x10", "play -",
                                 "play --json", "play -x"}) {
    INFO("line: " << line);
    const auto error = rejected(line);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.message(), "usage: play N"));
  }
  CHECK(rejected("play x").message() ==
        "play: track index must be a non-negative integer, got 'x'; usage: play N");
}

TEST_CASE("play with two arguments is an extra-argument error", "[cli]") {
  const auto error = rejected("play 3 4");
  CHECK(error.kind == ParseErrorKind::extra_argument);
  CHECK(error.message() == "play: unexpected argument '4'; usage: play N");
}

TEST_CASE("play with an index that does not fit in int is an error", "[cli]") {
  for (const std::string line : {"play 99999999999999999999", "play 2147483648"}) {
    INFO("line: " << line);
    const auto error = rejected(line);
    CHECK(error.kind == ParseErrorKind::bad_argument);
    CHECK(contains(error.problem, "too large"));
    CHECK(contains(error.message(), "usage: play N"));
  }
}

TEST_CASE("commands without arguments reject any argument", "[cli]") {
  for (const std::string name : {"pause", "resume", "stop", "next", "prev", "help", "exit",
                                 "quit"}) {
    INFO("command: " << name);
    const auto error = rejected(name + " now");
    CHECK(error.kind == ParseErrorKind::extra_argument);
    CHECK(contains(error.message(), "unexpected argument 'now'"));
    CHECK(contains(error.message(), "usage: " + *chorus::cli::usage(std::string_view(name))));
  }
}

TEST_CASE("an extremely long line is rejected without crashing", "[cli]") {
  const std::string huge(1'000'000, 'a');
  CHECK(rejected(huge).kind == ParseErrorKind::line_too_long);
  CHECK(rejected("play " + std::string(10'000, '7')).kind == ParseErrorKind::line_too_long);

  const std::string long_word(chorus::cli::kMaxLineBytes, 'z');
  const auto error = rejected(long_word);
  CHECK(error.kind == ParseErrorKind::unknown_command);
  CHECK(error.message().size() < 200);
}

TEST_CASE("odd bytes are rejected and echoed as printable text", "[cli]") {
  const std::string nul("play \0", 6);
  const auto error = rejected(nul);
  CHECK(error.kind == ParseErrorKind::bad_argument);
  CHECK(contains(error.message(), "\\x00"));

  const std::vector<std::string> lines{"\x1b[2J", "\xff\xfe", "p\x01lay 3", "play \x80",
                                       "peers \x7f", "h\xc3\xa9lp", std::string(1, '\0')};
  for (const auto& line : lines) {
    const auto result = parse_command(line);
    REQUIRE(std::holds_alternative<ParseError>(result));
    CHECK(single_printable_line(std::get<ParseError>(result).message()));
  }
}

TEST_CASE("every possible single byte line parses without crashing", "[cli]") {
  for (int byte = 0; byte < 256; ++byte) {
    const std::string line(1, static_cast<char>(byte));
    const auto result = parse_command(line);
    if (const auto* error = std::get_if<ParseError>(&result)) {
      CHECK(single_printable_line(error->message()));
    }
  }
}

TEST_CASE("the command table has one row per command kind and unique names", "[cli]") {
  const auto table = chorus::cli::command_table();
  std::set<CommandKind> kinds;
  std::set<std::string_view> names;
  for (const auto& row : table) {
    CHECK(kinds.insert(row.kind).second);
    CHECK(names.insert(row.name).second);
    if (!row.alias.empty()) CHECK(names.insert(row.alias).second);
    CHECK_FALSE(row.description.empty());
    CHECK(&chorus::cli::spec(row.kind) == &row);
  }
  CHECK(kinds.size() == 27);
}

TEST_CASE("help text lists every command with its usage line", "[cli]") {
  const auto help = chorus::cli::help_text();
  for (const std::string line : {"peers [--json]", "list [--json] [--page N] [QUERY...]", "play N",
                                 "pause", "resume", "stop", "next", "prev", "seek [+|-]TIME",
                                 "status [--json]", "debug [--json]", "help", "exit", "quit"}) {
    INFO("expected in help: " << line);
    CHECK(contains(help, line));
  }
  for (const auto& row : chorus::cli::command_table()) {
    CHECK(contains(help, chorus::cli::usage(row.kind)));
    CHECK(contains(help, row.description));
  }
}

TEST_CASE("one command's usage can be looked up by kind or by name", "[cli]") {
  CHECK(chorus::cli::usage(CommandKind::play) == "play N");
  CHECK(chorus::cli::usage(CommandKind::peers) == "peers [--json]");
  CHECK(chorus::cli::usage(CommandKind::pause) == "pause");
  CHECK(chorus::cli::usage(CommandKind::seek) == "seek [+|-]TIME");
  CHECK(chorus::cli::usage(CommandKind::list) == "list [--json] [--page N] [QUERY...]");
  CHECK(chorus::cli::usage(std::string_view("quit")) == std::optional<std::string>("exit"));
  CHECK(chorus::cli::usage(std::string_view("debug")) ==
        std::optional<std::string>("debug [--json]"));
  CHECK_FALSE(chorus::cli::usage(std::string_view("xyz")).has_value());
}

TEST_CASE("error usage lines come from the command table", "[cli]") {
  for (const auto& row : chorus::cli::command_table()) {
    if (row.args == chorus::cli::ArgSyntax::none) {
      const auto error = rejected(std::string(row.name) + " 1 2");
      CHECK(error.usage == chorus::cli::usage(row.kind));
    }
  }
  CHECK(rejected("play").usage == chorus::cli::usage(CommandKind::play));
  CHECK(rejected("seek").usage == chorus::cli::usage(CommandKind::seek));
  CHECK(rejected("list --page").usage == chorus::cli::usage(CommandKind::list));
}
