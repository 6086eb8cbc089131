#pragma once
// Helpers shared by the prompt's argument parsers (command.cpp, queue_room_args.cpp). Pure.

#include <span>
#include <string>
#include <string_view>

#include "chorus/cli/command.hpp"

namespace chorus::cli::detail {

/// Quotes user text for an error message: printable ASCII kept, other bytes as \xNN, long text cut.
std::string echo(std::string_view text);
/// "name args", e.g. "play N".
std::string usage_of(const CommandSpec& row);
/// An error about `row`'s arguments, with its usage.
ParseError error_for(const CommandSpec& row, ParseErrorKind kind, std::string detail);
bool all_digits(std::string_view text);
/// A control byte (C0 or DEL) in `text`, if any: queries and names hold printable text only.
bool has_control_byte(std::string_view text);

// The queue's and rooms' argument syntaxes (queue_room_args.cpp).
ParseResult parse_add_source(const CommandSpec& row, std::span<const std::string_view> args, Command command);
ParseResult parse_queue_range(const CommandSpec& row, std::span<const std::string_view> args, Command command);
ParseResult parse_queue_move(const CommandSpec& row, std::span<const std::string_view> args, Command command);
/// on_off and on_off_oneshot.
ParseResult parse_switch(const CommandSpec& row, std::span<const std::string_view> args, Command command);
ParseResult parse_room_volume(const CommandSpec& row, std::span<const std::string_view> args, Command command);
ParseResult parse_room(const CommandSpec& row, std::span<const std::string_view> args, Command command);

}  // namespace chorus::cli::detail
