#pragma once
// How Catch2 prints election types in failure messages.

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <vector>

#include "chorus/election/bully_election.hpp"

namespace Catch {

template <>
struct StringMaker<chorus::election::Envelope> {
  static std::string convert(const chorus::election::Envelope& e) {
    return chorus::election::to_string(e);
  }
};

template <>
struct StringMaker<chorus::election::Role> {
  static std::string convert(chorus::election::Role r) {
    return std::string(chorus::election::to_string(r));
  }
};

template <>
struct StringMaker<std::optional<std::string>> {
  static std::string convert(const std::optional<std::string>& s) {
    return s ? "\"" + *s + "\"" : std::string("(none)");
  }
};

template <>
struct StringMaker<chorus::election::Status> {
  static std::string convert(const chorus::election::Status& s) {
    return "{" + std::string(chorus::election::to_string(s.role)) +
           " leader=" + s.leader.value_or("-") + " epoch=" + std::to_string(s.epoch) + "}";
  }
};

}  // namespace Catch
