// The web page's messages to commands: every command, its fields, and refusals that name the
// problem (the connection stays; nothing runs).

#include <catch2/catch.hpp>

#include <string>
#include <variant>

#include "chorus/web/client_message.hpp"

namespace {

using namespace chorus;
using cli::CommandKind;
using web::parse_client_message;

cli::Command command_of(const std::string& text) {
  auto message = parse_client_message(text);
  if (const auto* error = std::get_if<web::MessageError>(&message)) FAIL(text << " was refused: " << error->text);
  REQUIRE(std::holds_alternative<web::CommandMessage>(message));
  return std::get<web::CommandMessage>(message).command;
}

std::string refusal_of(const std::string& text) {
  auto message = parse_client_message(text);
  INFO(text);
  REQUIRE(std::holds_alternative<web::MessageError>(message));
  return std::get<web::MessageError>(message).text;
}

/// A command of `kind` with the fields `fill` sets (every other one at its default).
cli::Command command(CommandKind kind, void (*fill)(cli::Command&) = nullptr) {
  cli::Command command;
  command.kind = kind;
  if (fill != nullptr) fill(command);
  return command;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("commands without fields translate to their kind") {
  CHECK(command_of(R"({"cmd":"pause"})").kind == CommandKind::pause);
  CHECK(command_of(R"({"cmd":"resume"})").kind == CommandKind::resume);
  CHECK(command_of(R"({"cmd":"stop"})").kind == CommandKind::stop);
  CHECK(command_of(R"({"cmd":"next"})").kind == CommandKind::next);
  CHECK(command_of(R"({"cmd":"prev"})").kind == CommandKind::prev);
  CHECK(command_of(R"({"cmd":"clear"})").kind == CommandKind::clear);
  CHECK(command_of(R"({"cmd":"update"})").kind == CommandKind::update);
  // Fields a command does not read are ignored (a newer page may send more).
  CHECK(command_of(R"({"cmd":"pause","extra":[1,2]})") == command(CommandKind::pause));
}

TEST_CASE("the id is echoed: an integer or a short string, else none") {
  auto message = parse_client_message(R"({"id":7,"cmd":"pause"})");
  CHECK(std::get<web::CommandMessage>(message).id == boost::json::value(7));
  message = parse_client_message(R"({"id":"a1","cmd":"next"})");
  CHECK(std::get<web::CommandMessage>(message).id == boost::json::value("a1"));
  message = parse_client_message(R"({"id":{"x":1},"cmd":"next"})");
  CHECK(std::get<web::CommandMessage>(message).id.is_null());
  message = parse_client_message(R"({"id":9,"cmd":"nope"})");
  CHECK(std::get<web::MessageError>(message).id == boost::json::value(9));
}

TEST_CASE("play: nothing, a queue position from 1, or an item id") {
  CHECK(command_of(R"({"cmd":"play"})") == command(CommandKind::play, [](cli::Command& c) { c.track = 0; }));
  CHECK(command_of(R"({"cmd":"play","position":3})") == command(CommandKind::play, [](cli::Command& c) { c.track = 3; }));
  const auto by_id = command_of(R"({"cmd":"play","item_id":42})");
  CHECK(by_id.item_id == 42u);
  CHECK(by_id.track == 0);
  CHECK(contains(refusal_of(R"({"cmd":"play","position":0})"), "'position' must be 1.."));
  CHECK(contains(refusal_of(R"({"cmd":"play","position":"3"})"), "'position' must be an integer"));
  CHECK(contains(refusal_of(R"({"cmd":"play","position":2.5})"), "must be an integer"));
  CHECK(contains(refusal_of(R"({"cmd":"play","position":99999999999})"), "must be 1.."));
  CHECK(contains(refusal_of(R"({"cmd":"play","item_id":-1})"), "non-negative"));
}

TEST_CASE("seek: seconds, absolute or relative, in microseconds") {
  CHECK(command_of(R"({"cmd":"seek","seconds":42.5})").seek == cli::SeekTarget{42'500'000, false});
  CHECK(command_of(R"({"cmd":"seek","seconds":0})").seek == cli::SeekTarget{0, false});
  CHECK(command_of(R"({"cmd":"seek","seconds":-10,"relative":true})").seek == cli::SeekTarget{-10'000'000, true});
  CHECK(command_of(R"({"cmd":"seek","seconds":1e9})").seek == cli::SeekTarget{cli::kMaxSeekSeconds * 1'000'000, false});
  CHECK(contains(refusal_of(R"({"cmd":"seek"})"), "needs 'seconds'"));
  CHECK(contains(refusal_of(R"({"cmd":"seek","seconds":-1})"), "'seconds' must be 0.."));
  CHECK(contains(refusal_of(R"({"cmd":"seek","seconds":1e10})"), "'seconds' must be"));
  CHECK(contains(refusal_of(R"({"cmd":"seek","seconds":"10"})"), "must be a number"));
  CHECK(contains(refusal_of(R"({"cmd":"seek","seconds":5,"relative":1})"), "'relative' must be true or false"));
}

TEST_CASE("add: a library path or number, optionally at a position") {
  const auto by_path = command_of(R"({"cmd":"add","uri":"albums/a.flac"})");
  CHECK(by_path.kind == CommandKind::add);
  CHECK(by_path.uri == "albums/a.flac");
  CHECK_FALSE(by_path.position.has_value());
  const auto whole_library = command_of(R"({"cmd":"add","uri":""})");
  CHECK(whole_library.uri == "");
  const auto by_number = command_of(R"({"cmd":"add","number":12,"position":2})");
  CHECK(by_number.track == 12);
  CHECK(by_number.position == 2);
  CHECK_FALSE(by_number.uri.has_value());
  CHECK(contains(refusal_of(R"({"cmd":"add"})"), "needs 'uri'"));
  CHECK(contains(refusal_of(R"({"cmd":"add","uri":5})"), "'uri' must be a string"));
  CHECK(contains(refusal_of(R"({"cmd":"add","uri":")" + std::string(5000, 'x') + R"("})"), "longer than"));
}

TEST_CASE("delete (or remove): a position and count, or an item id") {
  CHECK(command_of(R"({"cmd":"delete","position":2})") ==
        command(CommandKind::remove, [](cli::Command& c) { c.track = 2; c.count = 1; }));
  CHECK(command_of(R"({"cmd":"remove","position":2,"count":3})") ==
        command(CommandKind::remove, [](cli::Command& c) { c.track = 2; c.count = 3; }));
  CHECK(command_of(R"({"cmd":"delete","item_id":5})").item_id == 5u);
  CHECK(contains(refusal_of(R"({"cmd":"delete"})"), "needs 'position' or 'item_id'"));
  CHECK(contains(refusal_of(R"({"cmd":"delete","item_id":5,"count":2})"), "'count' goes with 'position'"));
  CHECK(contains(refusal_of(R"({"cmd":"delete","position":1,"count":0})"), "'count' must be 1.."));
}

TEST_CASE("move: a position (and count) or an item id, to a position") {
  CHECK(command_of(R"({"cmd":"move","position":3,"to":1})") ==
        command(CommandKind::move, [](cli::Command& c) { c.track = 3; c.count = 1; c.to = 1; }));
  CHECK(command_of(R"({"cmd":"move","position":3,"count":2,"to":5})") ==
        command(CommandKind::move, [](cli::Command& c) { c.track = 3; c.count = 2; c.to = 5; }));
  const auto by_id = command_of(R"({"cmd":"move","item_id":8,"to":2})");
  CHECK(by_id.item_id == 8u);
  CHECK(by_id.to == 2);
  CHECK(contains(refusal_of(R"({"cmd":"move","position":3})"), "needs 'to'"));
  CHECK(contains(refusal_of(R"({"cmd":"move","position":3,"to":0})"), "'to' must be 1.."));
}

TEST_CASE("play modes: on for random and repeat, a mode for single and consume") {
  CHECK(command_of(R"({"cmd":"random","on":true})").mode == cli::Switch::on);
  CHECK(command_of(R"({"cmd":"repeat","on":false})").mode == cli::Switch::off);
  CHECK(command_of(R"({"cmd":"single","on":true})").mode == cli::Switch::on);
  CHECK(command_of(R"({"cmd":"single","mode":"oneshot"})").mode == cli::Switch::oneshot);
  CHECK(command_of(R"({"cmd":"consume","mode":"off"})").kind == CommandKind::consume);
  CHECK(contains(refusal_of(R"({"cmd":"random"})"), "needs 'on'"));
  CHECK(contains(refusal_of(R"({"cmd":"random","on":"yes"})"), "must be true or false"));
  CHECK(contains(refusal_of(R"({"cmd":"single","mode":"twice"})"), "must be off, on or oneshot"));
}

TEST_CASE("rooms: volume absolute or relative, mute and unmute, this node by default") {
  CHECK(command_of(R"({"cmd":"volume","room":"kitchen","volume":40})") ==
        command(CommandKind::volume, [](cli::Command& c) { c.room = "kitchen"; c.volume = 40; }));
  CHECK(command_of(R"({"cmd":"volume","volume":-5,"relative":true})") ==
        command(CommandKind::volume, [](cli::Command& c) { c.volume = -5; c.relative_volume = true; }));
  CHECK_FALSE(command_of(R"({"cmd":"volume"})").volume.has_value());
  CHECK(command_of(R"({"cmd":"mute","room":"X"})") == command(CommandKind::mute, [](cli::Command& c) { c.room = "X"; }));
  CHECK(command_of(R"({"cmd":"unmute"})") == command(CommandKind::unmute));
  CHECK(contains(refusal_of(R"({"cmd":"volume","volume":101})"), "'volume' must be 0..100"));
  CHECK(contains(refusal_of(R"({"cmd":"volume","volume":-1})"), "'volume' must be 0..100"));
  CHECK(contains(refusal_of(R"({"cmd":"volume","volume":-101,"relative":true})"), "must be -100..100"));
  CHECK(contains(refusal_of(R"({"cmd":"mute","room":7})"), "'room' must be a string"));
}

TEST_CASE("library: a query and a page") {
  auto message = parse_client_message(R"({"id":3,"cmd":"library","query":"abba","page":2})");
  REQUIRE(std::holds_alternative<web::LibraryQuery>(message));
  const auto& query = std::get<web::LibraryQuery>(message);
  CHECK(query.query == "abba");
  CHECK(query.page == 2);
  CHECK(query.id == boost::json::value(3));
  message = parse_client_message(R"({"cmd":"library"})");
  CHECK(std::get<web::LibraryQuery>(message).page == 1);
  CHECK(std::get<web::LibraryQuery>(message).query.empty());
  CHECK(contains(refusal_of(R"({"cmd":"library","page":0})"), "'page' must be 1.."));
}

TEST_CASE("malformed messages are refused with a reason") {
  CHECK(contains(refusal_of("not json"), "not JSON"));
  CHECK(contains(refusal_of(""), "not JSON"));
  CHECK(contains(refusal_of(R"({"cmd":"pause")"), "not JSON"));
  CHECK(contains(refusal_of("[1,2]"), "a JSON object"));
  CHECK(contains(refusal_of(R"({"id":1})"), "missing 'cmd'"));
  CHECK(contains(refusal_of(R"({"cmd":5})"), "missing 'cmd'"));
  CHECK(refusal_of(R"({"cmd":"exit"})") == "unknown command 'exit'");
  CHECK(refusal_of(R"({"cmd":"a\nb"})") == "unknown command 'a?b'");
  // Deep nesting is refused by the parser before it costs anything.
  CHECK(contains(refusal_of(std::string(10000, '[') + std::string(10000, ']')), "not JSON"));
}
