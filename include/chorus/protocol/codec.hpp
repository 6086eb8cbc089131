#pragma once
// JSON codec: typed messages <-> one JSON object of text. Pure: no sockets, no clocks.

#include <string>
#include <string_view>
#include <variant>

#include "chorus/protocol/messages.hpp"

namespace chorus::protocol {

/// Why a frame body could not become a message.
enum class DecodeErrorCode {
  invalid_json,    ///< not JSON, invalid UTF-8, or nested deeper than kMaxJsonDepth
  not_an_object,   ///< valid JSON but not an object
  missing_type,    ///< no string "type" field
  unknown_type,    ///< a type this version does not know: ignored and counted, not fatal
  missing_field,   ///< a required field is absent
  wrong_type,      ///< a field has the wrong JSON type
  out_of_range,    ///< a field's value is outside its allowed range
};

struct DecodeError {
  DecodeErrorCode code;
  std::string detail;  ///< human-readable, names the field, e.g. "HELLO.version: expected integer"
};

/// Either a message or the reason there is none.
using DecodeResult = std::variant<Message, DecodeError>;

/// Name of an error code for logs and counters, e.g. "unknown_type".
std::string_view to_string(DecodeErrorCode code);

/// Serialises a message as one JSON object with its "type".
std::string encode(const Message& message);

/// Parses and validates one JSON object. Never throws.
DecodeResult decode(std::string_view json);

}  // namespace chorus::protocol
