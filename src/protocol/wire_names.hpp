#pragma once
// Private to src/protocol: the wire name of each Message alternative, in variant order.

#include <array>
#include <string_view>
#include <variant>

#include "chorus/protocol/messages.hpp"

namespace chorus::protocol::detail {

inline constexpr std::array<std::string_view, 20> kWireNames = {
    "HELLO",         "RECONNECT",       "HELLO_REJECT",   "DISCOVERY",
    "HEARTBEAT",     "LEAVE",           "ELECTION",       "ELECTION_ANSWER",
    "COORDINATOR",   "PLAY_REQUEST",    "PAUSE_REQUEST",  "RESUME_REQUEST",
    "STOP_REQUEST",  "STATE_SYNC_REQUEST", "STATE_SYNC_RESPONSE", "STATE_OFFER",
    "TIME_REQUEST",  "TIME_RESPONSE",   "CONTROL_REQUEST", "CONTROL_RESPONSE",
};
static_assert(kWireNames.size() == std::variant_size_v<Message>,
              "every Message alternative needs exactly one wire name");

}  // namespace chorus::protocol::detail
