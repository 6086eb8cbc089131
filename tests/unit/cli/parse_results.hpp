#pragma once
// What the parser tests expect of a line: that it parses (to this command) or is rejected (with
// this error); either expectation failing fails the test with the parser's own words.

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <variant>

#include "chorus/cli/command.hpp"

namespace chorus::test {

/// The command a line must parse to; fails the test with the error text otherwise.
inline cli::Command parsed(std::string_view line) {
  const auto result = cli::parse_command(line);
  if (const auto* error = std::get_if<cli::ParseError>(&result)) {
    FAIL("'" << std::string(line) << "' was rejected: " << error->message());
  }
  REQUIRE(std::holds_alternative<cli::Command>(result));
  return std::get<cli::Command>(result);
}

/// The error a line must produce; fails the test if it parses.
inline cli::ParseError rejected(std::string_view line) {
  const auto result = cli::parse_command(line);
  REQUIRE(std::holds_alternative<cli::ParseError>(result));
  return std::get<cli::ParseError>(result);
}

inline bool contains(const std::string& text, std::string_view part) {
  return text.find(part) != std::string::npos;
}

}  // namespace chorus::test
