#pragma once
// What the web page sends over its WebSocket: one JSON object per message, translated to a
// cli::Command (so the page is held to the prompt's rules and refusals) or to a library search.
// Pure and total: any bytes give exactly one ClientMessage, never an exception.
//
//   {"id":7,"cmd":"pause"}                        -> Command{pause}
//   {"id":8,"cmd":"seek","seconds":42.5}          -> Command{seek, SeekTarget{42'500'000}}
//   {"id":9,"cmd":"library","query":"abba","page":2} -> LibraryQuery
//   {"cmd":"bogus"}                               -> MessageError("unknown command 'bogus'")
//
// docs/web.md lists every command and its fields. "id" is optional; when it is an integer or a
// string it is echoed in the answer, so the page can match answers to what it sent.

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include <boost/json/value.hpp>

#include "chorus/cli/command.hpp"

namespace chorus::web {

/// A command to run through ControlPort::run.
struct CommandMessage {
  boost::json::value id;  ///< null when the message had none
  cli::Command command;
};

/// A search of the cluster's library, answered with one page of matches.
struct LibraryQuery {
  boost::json::value id;
  std::string query;  ///< empty: every track
  int page = 1;       ///< from 1
};

/// Why a message was refused; the connection stays open.
struct MessageError {
  boost::json::value id;  ///< the message's id when it could be read
  std::string text;       ///< one line for a person, e.g. "volume: 'volume' must be 0..100"
};

using ClientMessage = std::variant<CommandMessage, LibraryQuery, MessageError>;

/// The longest text field accepted (a path, a query, a room id), in bytes.
inline constexpr std::size_t kMaxTextField = 4096;

/// Translates one WebSocket text message. Pure and total.
ClientMessage parse_client_message(std::string_view text);

}  // namespace chorus::web
