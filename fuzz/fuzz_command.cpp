// cli::parse_command on arbitrary lines (what a user or a pipe types at the node's prompt).
//
// Checked, beyond "never crashes or throws" (the parser's contract, command.hpp):
//   EmptyLine exactly for a line of whitespace; line_too_long exactly past kMaxLineBytes;
//   a Command's first word names it, it has --json only where its syntax allows, a seek target
//   exactly for seek, a query or page only for list (page >= 1, no control byte in the query),
//   and its canonical spelling ("play 3", "list --json --page 2 -- abba", "seek -1.500000")
//   parses back to the same Command;
//   a ParseError's message() is one line of printable ASCII, with the usage of the command named
//   (none for an unknown command or an overlong line);
//   a trailing "\n" or "\r\n" changes nothing.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <variant>

#include "chorus/cli/command.hpp"
#include "check.hpp"

namespace {

using namespace chorus::cli;

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

std::string_view first_word(std::string_view line) {
  std::size_t start = 0;
  while (start < line.size() && is_space(line[start])) ++start;
  std::size_t end = start;
  while (end < line.size() && !is_space(line[end])) ++end;
  return line.substr(start, end - start);
}

bool printable_ascii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

bool same(const ParseResult& a, const ParseResult& b) {
  if (a.index() != b.index()) return false;
  if (const auto* ea = std::get_if<ParseError>(&a)) {
    const auto& eb = std::get<ParseError>(b);
    return ea->kind == eb.kind && ea->problem == eb.problem && ea->usage == eb.usage;
  }
  if (const auto* ca = std::get_if<Command>(&a)) return *ca == std::get<Command>(b);
  return true;
}

std::string seconds(std::int64_t us) {
  std::string fraction = std::to_string(std::llabs(us % 1'000'000));
  fraction.insert(0, 6 - fraction.size(), '0');
  return std::to_string(std::llabs(us / 1'000'000)) + "." + fraction;
}

std::string switch_word(chorus::cli::Switch mode) {
  switch (mode) {
    case chorus::cli::Switch::on: return "on";
    case chorus::cli::Switch::oneshot: return "oneshot";
    case chorus::cli::Switch::off: break;
  }
  return "off";
}

/// "N" or "N-M" for a queue range.
std::string range(const Command& command) {
  std::string text = std::to_string(command.track);
  // In 64 bits: a range may end at the largest int.
  const std::int64_t last = std::int64_t{command.track} + command.count - 1;
  if (command.count != 1) text += "-" + std::to_string(last);
  return text;
}

/// The arguments of the queue's and rooms' commands.
std::string queue_and_room_args(const Command& command) {
  switch (command.kind) {
    case CommandKind::add: return " " + (command.track != 0 ? std::to_string(command.track) : command.query);
    case CommandKind::remove: return " " + range(command);
    case CommandKind::move: return " " + range(command) + " " + std::to_string(command.to);
    case CommandKind::random:
    case CommandKind::repeat:
    case CommandKind::single:
    case CommandKind::consume: return " " + switch_word(command.mode);
    case CommandKind::volume:
    case CommandKind::mute:
    case CommandKind::unmute: {
      std::string text = command.room.empty() ? "" : " " + command.room;
      if (command.volume) {
        text += " ";
        if (command.relative_volume) text += *command.volume < 0 ? "-" : "+";
        text += std::to_string(std::abs(*command.volume));
      }
      return text;
    }
    default: return "";
  }
}

std::string canonical(const Command& command) {
  std::string line(spec(command.kind).name);
  if (command.json) line += " --json";
  if (command.kind == CommandKind::play) line += " " + std::to_string(command.track);
  line += queue_and_room_args(command);
  if (command.kind == CommandKind::list) {
    if (command.page != 1) line += " --page " + std::to_string(command.page);
    if (command.query.starts_with("--")) line += " --";
    if (!command.query.empty()) line += " " + command.query;
  }
  if (command.seek) {
    line += " ";
    if (command.seek->relative) line += command.seek->position_us < 0 ? "-" : "+";
    line += seconds(command.seek->position_us);
  }
  return line;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const ParseResult result = parse_command(line);

  if (std::holds_alternative<EmptyLine>(result)) {
    for (const char c : line) CHORUS_FUZZ_CHECK(is_space(c), "EmptyLine only for whitespace");
  } else if (const auto* command = std::get_if<Command>(&result)) {
    CHORUS_FUZZ_CHECK(line.size() <= kMaxLineBytes, "no command from an overlong line");
    const CommandSpec* row = find_command(first_word(line));
    CHORUS_FUZZ_CHECK(row != nullptr && row->kind == command->kind, "the first word names the command");
    CHORUS_FUZZ_CHECK(!command->json || row->args == ArgSyntax::optional_json ||
                          row->args == ArgSyntax::list_query,
                      "--json only where allowed");
    CHORUS_FUZZ_CHECK(command->seek.has_value() == (command->kind == CommandKind::seek),
                      "a seek target exactly for seek");
    CHORUS_FUZZ_CHECK(!command->seek || command->seek->relative || command->seek->position_us >= 0,
                      "an absolute seek is never negative");
    CHORUS_FUZZ_CHECK(command->page >= 1, "pages count from 1");
    CHORUS_FUZZ_CHECK(command->kind == CommandKind::list || command->page == 1, "only list has a page");
    CHORUS_FUZZ_CHECK(command->kind == CommandKind::list || command->kind == CommandKind::add ||
                          command->query.empty(),
                      "only list and add have a query");
    for (const char c : command->query) {
      CHORUS_FUZZ_CHECK(static_cast<unsigned char>(c) >= 0x20 && c != 0x7f, "a query has no control byte");
    }
    CHORUS_FUZZ_CHECK(command->track >= 0, "a track index is never negative");
    CHORUS_FUZZ_CHECK(command->kind == CommandKind::play || command->kind == CommandKind::add ||
                          command->kind == CommandKind::remove || command->kind == CommandKind::move ||
                          command->track == 0,
                      "only play, add, delete and move have a number");
    CHORUS_FUZZ_CHECK(command->count >= 1, "a range holds at least one position");
    CHORUS_FUZZ_CHECK(!command->volume || (command->relative_volume ? std::abs(*command->volume) <= 100
                                                                    : *command->volume >= 0 && *command->volume <= 100),
                      "a volume is 0..100, a change -100..100");
    const ParseResult again = parse_command(canonical(*command));
    CHORUS_FUZZ_CHECK(same(again, result), "the canonical spelling parses to the same command");
  } else {
    const auto& error = std::get<ParseError>(result);
    CHORUS_FUZZ_CHECK((error.kind == ParseErrorKind::line_too_long) == (line.size() > kMaxLineBytes),
                      "line_too_long exactly past kMaxLineBytes");
    const std::string message = error.message();
    CHORUS_FUZZ_CHECK(!message.empty() && printable_ascii(message), "an error is one printable line");
    const bool names_no_command =
        error.kind == ParseErrorKind::unknown_command || error.kind == ParseErrorKind::line_too_long;
    CHORUS_FUZZ_CHECK(error.usage.empty() == names_no_command, "the usage of the command named");
    if (!names_no_command) {
      CHORUS_FUZZ_CHECK(usage(first_word(line)) == error.usage, "the usage of the first word's command");
    }
  }

  if (size + 2 <= kMaxLineBytes) {
    CHORUS_FUZZ_CHECK(same(parse_command(std::string(line) + "\n"), result), "a trailing \\n changes nothing");
    CHORUS_FUZZ_CHECK(same(parse_command(std::string(line) + "\r\n"), result), "a trailing \\r\\n changes nothing");
  }
  return 0;
}
