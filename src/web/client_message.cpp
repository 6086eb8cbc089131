// The web page's messages, translated to commands: one table of command names, each with the
// fields it reads (docs/web.md).

#include "chorus/web/client_message.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <optional>
#include <utility>

#include <boost/json/parse.hpp>
#include <boost/json/parse_options.hpp>

namespace chorus::web {
namespace {

namespace json = boost::json;
using cli::Command;
using cli::CommandKind;

/// A message nests nothing deeper than an object; deeper input is refused before it costs.
constexpr unsigned kMaxJsonDepth = 8;

/// `text` safe to echo in an error: printable ASCII, at most 40 characters.
std::string echo(std::string_view text) {
  std::string out;
  for (const char c : text.substr(0, 40)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 40) out += "...";
  return out;
}

/// Reads a message's fields by name; the first problem found is kept and later reads are no-ops.
class Fields {
 public:
  Fields(const json::object& object, std::string_view command) : object_(object), command_(command) {}

  const std::optional<std::string>& problem() const { return problem_; }
  bool has(std::string_view key) const { return object_.contains(key); }

  /// An integer in [low, high]; nullopt when absent (or after a problem).
  std::optional<std::int64_t> integer(std::string_view key, std::int64_t low, std::int64_t high) {
    const json::value* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_int64() && !value->is_uint64()) {
      fail(key, "must be an integer");
      return std::nullopt;
    }
    // The parser keeps uint64 for values past int64's range only: out of any range here.
    const bool in_range = value->is_int64() && value->get_int64() >= low && value->get_int64() <= high;
    if (!in_range) {
      fail(key, "must be " + std::to_string(low) + ".." + std::to_string(high));
      return std::nullopt;
    }
    return value->get_int64();
  }

  std::optional<std::uint64_t> id_number(std::string_view key) {
    const json::value* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (value->is_uint64()) return value->get_uint64();
    if (value->is_int64() && value->get_int64() >= 0) return static_cast<std::uint64_t>(value->get_int64());
    fail(key, "must be a non-negative integer");
    return std::nullopt;
  }

  std::optional<double> number(std::string_view key) {
    const json::value* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_number()) {
      fail(key, "must be a number");
      return std::nullopt;
    }
    return value->to_number<double>();
  }

  std::optional<bool> boolean(std::string_view key) {
    const json::value* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_bool()) {
      fail(key, "must be true or false");
      return std::nullopt;
    }
    return value->get_bool();
  }

  std::optional<std::string> text(std::string_view key) {
    const json::value* value = find(key);
    if (value == nullptr) return std::nullopt;
    if (!value->is_string()) {
      fail(key, "must be a string");
      return std::nullopt;
    }
    const json::string& string = value->get_string();
    if (string.size() > kMaxTextField) {
      fail(key, "is longer than " + std::to_string(kMaxTextField) + " bytes");
      return std::nullopt;
    }
    return std::string(string);
  }

  void fail(std::string_view key, const std::string& why) {
    if (!problem_) problem_ = std::string(command_) + ": '" + std::string(key) + "' " + why;
  }
  void fail(const std::string& why) {
    if (!problem_) problem_ = std::string(command_) + ": " + why;
  }

 private:
  const json::value* find(std::string_view key) const {
    if (problem_) return nullptr;
    const json::value* value = object_.if_contains(key);
    return value == nullptr || value->is_null() ? nullptr : value;
  }

  const json::object& object_;
  std::string_view command_;
  std::optional<std::string> problem_;
};

constexpr std::int64_t kMaxPosition = std::numeric_limits<int>::max();

int to_int(std::int64_t value) { return static_cast<int>(value); }

/// A queue position from 1, or a queue item's id: what play, delete and move name.
void read_queue_target(Fields& fields, Command& command, bool required) {
  if (auto id = fields.id_number("item_id")) {
    command.item_id = *id;
  } else if (auto position = fields.integer("position", 1, kMaxPosition)) {
    command.track = to_int(*position);
  } else if (required) {
    fields.fail("needs 'position' or 'item_id'");
  }
}

void read_seek(Fields& fields, Command& command) {
  const auto seconds = fields.number("seconds");
  const bool relative = fields.boolean("relative").value_or(false);
  if (!seconds) return fields.fail("needs 'seconds'");
  const auto limit = static_cast<double>(cli::kMaxSeekSeconds);
  if (!std::isfinite(*seconds) || std::fabs(*seconds) > limit || (!relative && *seconds < 0)) {
    return fields.fail("seconds", relative ? "must be within ±" + std::to_string(cli::kMaxSeekSeconds)
                                           : "must be 0.." + std::to_string(cli::kMaxSeekSeconds));
  }
  command.seek = cli::SeekTarget{.position_us = std::llround(*seconds * 1e6), .relative = relative};
}

void read_add(Fields& fields, Command& command) {
  if (auto uri = fields.text("uri")) {
    command.uri = std::move(*uri);
  } else if (auto number = fields.integer("number", 1, kMaxPosition)) {
    command.track = to_int(*number);
  } else {
    fields.fail("needs 'uri' (a library path) or 'number' (a library number)");
  }
  if (auto position = fields.integer("position", 1, kMaxPosition)) command.position = to_int(*position);
}

void read_range(Fields& fields, Command& command) {
  read_queue_target(fields, command, true);
  if (auto count = fields.integer("count", 1, kMaxPosition)) {
    if (command.item_id) return fields.fail("count", "goes with 'position', not 'item_id'");
    command.count = to_int(*count);
  }
}

void read_move(Fields& fields, Command& command) {
  read_range(fields, command);
  if (auto to = fields.integer("to", 1, kMaxPosition)) {
    command.to = to_int(*to);
  } else {
    fields.fail("needs 'to'");
  }
}

void read_on_off(Fields& fields, Command& command) {
  if (auto on = fields.boolean("on")) {
    command.mode = *on ? cli::Switch::on : cli::Switch::off;
  } else {
    fields.fail("needs 'on' (true or false)");
  }
}

/// single and consume: "on" as for random, or "mode": "off" | "on" | "oneshot".
void read_switch(Fields& fields, Command& command) {
  if (!fields.has("mode")) return read_on_off(fields, command);
  const auto mode = fields.text("mode");
  if (!mode) return;
  if (*mode == "off") {
    command.mode = cli::Switch::off;
  } else if (*mode == "on") {
    command.mode = cli::Switch::on;
  } else if (*mode == "oneshot") {
    command.mode = cli::Switch::oneshot;
  } else {
    fields.fail("mode", "must be off, on or oneshot");
  }
}

void read_room(Fields& fields, Command& command) {
  if (auto room = fields.text("room")) command.room = std::move(*room);
}

void read_volume(Fields& fields, Command& command) {
  read_room(fields, command);
  command.relative_volume = fields.boolean("relative").value_or(false);
  if (command.relative_volume) {
    if (auto change = fields.integer("volume", -100, 100)) command.volume = to_int(*change);
  } else if (auto volume = fields.integer("volume", 0, 100)) {
    command.volume = to_int(*volume);
  }
}

using Reader = void (*)(Fields&, Command&);

struct CommandName {
  std::string_view name;
  CommandKind kind;
  Reader read;  ///< nullptr: the command takes no fields
};

void read_play(Fields& fields, Command& command) { read_queue_target(fields, command, false); }

constexpr CommandName kCommands[] = {
    {"play", CommandKind::play, read_play},
    {"pause", CommandKind::pause, nullptr},
    {"resume", CommandKind::resume, nullptr},
    {"stop", CommandKind::stop, nullptr},
    {"next", CommandKind::next, nullptr},
    {"prev", CommandKind::prev, nullptr},
    {"seek", CommandKind::seek, read_seek},
    {"add", CommandKind::add, read_add},
    {"delete", CommandKind::remove, read_range},
    {"remove", CommandKind::remove, read_range},
    {"move", CommandKind::move, read_move},
    {"clear", CommandKind::clear, nullptr},
    {"update", CommandKind::update, nullptr},
    {"random", CommandKind::random, read_on_off},
    {"repeat", CommandKind::repeat, read_on_off},
    {"single", CommandKind::single, read_switch},
    {"consume", CommandKind::consume, read_switch},
    {"volume", CommandKind::volume, read_volume},
    {"mute", CommandKind::mute, read_room},
    {"unmute", CommandKind::unmute, read_room},
};

const CommandName* find_name(std::string_view name) {
  for (const auto& row : kCommands) {
    if (row.name == name) return &row;
  }
  return nullptr;
}

/// The message's id when it is one the answer can carry (an integer or a short string).
json::value read_id(const json::object& object) {
  const json::value* id = object.if_contains("id");
  if (id == nullptr) return nullptr;
  if (id->is_int64() || id->is_uint64()) return *id;
  if (id->is_string() && id->get_string().size() <= 64) return *id;
  return nullptr;
}

ClientMessage library_query(const json::object& object, json::value id) {
  Fields fields(object, "library");
  LibraryQuery query{.id = id, .query = fields.text("query").value_or(""), .page = 1};
  if (auto page = fields.integer("page", 1, kMaxPosition)) query.page = to_int(*page);
  if (fields.problem()) return MessageError{std::move(id), *fields.problem()};
  return query;
}

}  // namespace

ClientMessage parse_client_message(std::string_view text) {
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code error;
  json::value message = json::parse(text, error, {}, options);
  if (error) return MessageError{nullptr, "not JSON: " + error.message()};
  if (!message.is_object()) return MessageError{nullptr, "a message is a JSON object"};
  const json::object& object = message.get_object();
  json::value id = read_id(object);

  const json::value* cmd = object.if_contains("cmd");
  if (cmd == nullptr || !cmd->is_string()) return MessageError{std::move(id), "missing 'cmd' (a string)"};
  const std::string_view name = cmd->get_string();
  if (name == "library") return library_query(object, std::move(id));
  const CommandName* row = find_name(name);
  if (row == nullptr) return MessageError{std::move(id), "unknown command '" + echo(name) + "'"};

  Command command;
  command.kind = row->kind;
  Fields fields(object, row->name);
  if (row->read != nullptr) row->read(fields, command);
  if (fields.problem()) return MessageError{std::move(id), *fields.problem()};
  return CommandMessage{std::move(id), std::move(command)};
}

}  // namespace chorus::web
