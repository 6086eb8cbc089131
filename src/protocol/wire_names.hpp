#pragma once
// Private to src/protocol: the wire names of each Message alternative (in variant order) and of
// each enum's values (in declaration order).

#include <array>
#include <string_view>
#include <variant>

#include "chorus/protocol/messages.hpp"

namespace chorus::protocol::detail {

inline constexpr std::array<std::string_view, 37> kWireNames = {
    "HELLO",         "RECONNECT",       "HELLO_REJECT",   "DISCOVERY",
    "HEARTBEAT",     "LEAVE",           "ELECTION",       "ELECTION_ANSWER",
    "COORDINATOR",   "PLAY_REQUEST",    "PAUSE_REQUEST",  "RESUME_REQUEST",
    "STOP_REQUEST",  "STATE_SYNC_REQUEST", "STATE_SYNC_RESPONSE", "STATE_OFFER",
    "TIME_REQUEST",  "TIME_RESPONSE",   "CONTROL_REQUEST", "CONTROL_RESPONSE",
    "ROOM_SET",      "ROOM_STATE",
    "QUEUE_EDIT",    "QUEUE_SYNC_REQUEST", "QUEUE_SNAPSHOT", "QUEUE_OFFER",
    "CONTENT_HELLO", "CATALOG_NOTICE",  "CATALOG_REQUEST", "CATALOG_PAGE",
    "WANT",          "HAVE",            "MANIFEST_REQUEST", "MANIFEST",
    "CHUNK_REQUEST", "CHUNK_DATA",      "CONTENT_REFUSED",
};
static_assert(kWireNames.size() == std::variant_size_v<Message>,
              "every Message alternative needs exactly one wire name");

inline constexpr std::array<std::string_view, 3> kStatusNames = {"stopped", "playing", "paused"};
static_assert(static_cast<std::size_t>(PlaybackStatus::paused) + 1 == kStatusNames.size());

inline constexpr std::array<std::string_view, 15> kControlCommandNames = {
    "play", "pause", "resume", "stop", "next", "prev", "seek",
    "add", "remove", "move", "clear", "random", "repeat", "single", "consume"};
static_assert(static_cast<std::size_t>(ControlCommand::consume) + 1 == kControlCommandNames.size());

inline constexpr std::array<std::string_view, 3> kModeSwitchNames = {"off", "on", "oneshot"};
static_assert(static_cast<std::size_t>(ModeSwitch::oneshot) + 1 == kModeSwitchNames.size());

inline constexpr std::array<std::string_view, 5> kRefusalNames = {
    "none", "bad_argument", "no_such", "not_now", "unavailable"};
static_assert(static_cast<std::size_t>(Refusal::unavailable) + 1 == kRefusalNames.size());

inline constexpr std::array<std::string_view, 5> kQueueEditKindNames = {
    "add", "remove", "move", "clear", "modes"};
static_assert(static_cast<std::size_t>(QueueEditKind::modes) + 1 == kQueueEditKindNames.size());

inline constexpr std::array<std::string_view, 4> kRoomActionNames = {"set", "change", "mute",
                                                                    "unmute"};
static_assert(static_cast<std::size_t>(RoomAction::unmute) + 1 == kRoomActionNames.size());

/// The wire names of an enum's values, indexed by value.
constexpr const auto& enum_names(PlaybackStatus) { return kStatusNames; }
constexpr const auto& enum_names(ControlCommand) { return kControlCommandNames; }
constexpr const auto& enum_names(RoomAction) { return kRoomActionNames; }
constexpr const auto& enum_names(ModeSwitch) { return kModeSwitchNames; }
constexpr const auto& enum_names(Refusal) { return kRefusalNames; }
constexpr const auto& enum_names(QueueEditKind) { return kQueueEditKindNames; }

}  // namespace chorus::protocol::detail
