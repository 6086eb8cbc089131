// web::parse_client_message on arbitrary WebSocket messages (what a web page, or anyone who can
// reach the web port, sends).
//
// Checked, beyond "never crashes or throws" (the translator's contract, client_message.hpp):
//   the same text gives the same result twice;
//   an id is echoed only when it is an integer or a string of at most 64 bytes;
//   a Command is one a web page may run (never exit, status, list...), with its fields in their
//   ranges: positions and counts from 1, volume 0..100 (relative -100..100), a seek target exactly
//   for seek and an absolute one never negative, texts at most kMaxTextField bytes;
//   its canonical message ({"cmd":"move","position":3,"to":1}) translates back to the same Command;
//   a refusal is one line.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include <boost/json/object.hpp>
#include <boost/json/serialize.hpp>

#include "chorus/web/client_message.hpp"
#include "check.hpp"

namespace {

using namespace chorus;
using cli::CommandKind;
namespace json = boost::json;

bool same(const web::ClientMessage& a, const web::ClientMessage& b) {
  if (a.index() != b.index()) return false;
  if (const auto* ca = std::get_if<web::CommandMessage>(&a)) {
    const auto& cb = std::get<web::CommandMessage>(b);
    return ca->id == cb.id && ca->command == cb.command;
  }
  if (const auto* la = std::get_if<web::LibraryQuery>(&a)) {
    const auto& lb = std::get<web::LibraryQuery>(b);
    return la->id == lb.id && la->query == lb.query && la->page == lb.page;
  }
  const auto& ea = std::get<web::MessageError>(a);
  const auto& eb = std::get<web::MessageError>(b);
  return ea.id == eb.id && ea.text == eb.text;
}

std::string_view name_of(CommandKind kind) {
  switch (kind) {
    case CommandKind::play: return "play";
    case CommandKind::pause: return "pause";
    case CommandKind::resume: return "resume";
    case CommandKind::stop: return "stop";
    case CommandKind::next: return "next";
    case CommandKind::prev: return "prev";
    case CommandKind::seek: return "seek";
    case CommandKind::add: return "add";
    case CommandKind::remove: return "delete";
    case CommandKind::move: return "move";
    case CommandKind::clear: return "clear";
    case CommandKind::random: return "random";
    case CommandKind::repeat: return "repeat";
    case CommandKind::single: return "single";
    case CommandKind::consume: return "consume";
    case CommandKind::volume: return "volume";
    case CommandKind::mute: return "mute";
    case CommandKind::unmute: return "unmute";
    case CommandKind::update: return "update";
    default: return {};
  }
}

std::string_view switch_name(cli::Switch mode) {
  return mode == cli::Switch::on ? "on" : mode == cli::Switch::oneshot ? "oneshot" : "off";
}

/// The message a page would send for `command`.
std::string canonical(const cli::Command& command) {
  json::object message{{"cmd", name_of(command.kind)}};
  if (command.item_id) message["item_id"] = *command.item_id;
  if (command.kind == CommandKind::add) {
    if (command.uri) message["uri"] = *command.uri;
    if (!command.uri) message["number"] = command.track;
    if (command.position) message["position"] = *command.position;
  } else if (command.track != 0) {
    message["position"] = command.track;
  }
  if ((command.kind == CommandKind::remove || command.kind == CommandKind::move) && !command.item_id) {
    message["count"] = command.count;
  }
  if (command.kind == CommandKind::move) message["to"] = command.to;
  if (command.seek) {
    message["seconds"] = static_cast<double>(command.seek->position_us) / 1e6;
    message["relative"] = command.seek->relative;
  }
  if (command.kind == CommandKind::random || command.kind == CommandKind::repeat) {
    message["on"] = command.mode == cli::Switch::on;
  }
  if (command.kind == CommandKind::single || command.kind == CommandKind::consume) {
    message["mode"] = switch_name(command.mode);
  }
  if (!command.room.empty()) message["room"] = command.room;
  if (command.volume) message["volume"] = *command.volume;
  if (command.relative_volume) message["relative"] = true;
  return json::serialize(message);
}

void check_id(const json::value& id) {
  CHORUS_FUZZ_CHECK(id.is_null() || id.is_int64() || id.is_uint64() || (id.is_string() && id.get_string().size() <= 64),
                    "an id is an integer or a short string");
}

void check_command(const cli::Command& c) {
  CHORUS_FUZZ_CHECK(!name_of(c.kind).empty(), "only commands a page may run");
  CHORUS_FUZZ_CHECK(!c.json && c.query.empty() && c.page == 1, "no prompt-only fields");
  CHORUS_FUZZ_CHECK(c.seek.has_value() == (c.kind == CommandKind::seek), "a seek target exactly for seek");
  CHORUS_FUZZ_CHECK(!c.seek || c.seek->relative || c.seek->position_us >= 0, "an absolute seek is never negative");
  CHORUS_FUZZ_CHECK(c.track >= 0 && c.count >= 1 && c.to >= 0, "positions and counts in range");
  CHORUS_FUZZ_CHECK(c.kind != CommandKind::move || c.to >= 1, "move has a target from 1");
  CHORUS_FUZZ_CHECK(!c.position || *c.position >= 1, "an insert position from 1");
  CHORUS_FUZZ_CHECK(!c.volume || (c.relative_volume ? *c.volume >= -100 && *c.volume <= 100
                                                    : *c.volume >= 0 && *c.volume <= 100),
                    "a volume in range");
  CHORUS_FUZZ_CHECK((!c.uri || c.uri->size() <= web::kMaxTextField) && c.room.size() <= web::kMaxTextField,
                    "texts within the limit");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const web::ClientMessage message = web::parse_client_message(text);
  CHORUS_FUZZ_CHECK(same(message, web::parse_client_message(text)), "the same text, the same result");

  if (const auto* command = std::get_if<web::CommandMessage>(&message)) {
    check_id(command->id);
    check_command(command->command);
    const auto again = web::parse_client_message(canonical(command->command));
    const auto* round_trip = std::get_if<web::CommandMessage>(&again);
    CHORUS_FUZZ_CHECK(round_trip != nullptr && round_trip->command == command->command,
                      "the canonical message translates to the same command");
  } else if (const auto* query = std::get_if<web::LibraryQuery>(&message)) {
    check_id(query->id);
    CHORUS_FUZZ_CHECK(query->page >= 1 && query->query.size() <= web::kMaxTextField, "a page from 1, a short query");
  } else {
    const auto& error = std::get<web::MessageError>(message);
    check_id(error.id);
    CHORUS_FUZZ_CHECK(!error.text.empty() && error.text.find('\n') == std::string::npos, "a refusal is one line");
  }
  return 0;
}
