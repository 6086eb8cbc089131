#pragma once
// Sample messages and small helpers shared by the protocol tests.

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "chorus/protocol/codec.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::protocol::test {

inline constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t kI64Min = std::numeric_limits<std::int64_t>::min();
inline constexpr std::uint64_t kU64Max = std::numeric_limits<std::uint64_t>::max();
inline constexpr std::uint64_t kAbove2To53 = (std::uint64_t{1} << 53) + 1;

/// Hex SHA-256 digests, as content hashes, chunk roots and catalog digests are written.
inline const std::string kHashA = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
inline const std::string kRootA = "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0";
inline const std::string kHashB = "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d";
inline const std::string kRootB = "6036c41849da9c076ed79654d434017387a88fb833c2856b32e18218b3341c5f";
inline const std::string kCatalog = "652f55016243bf1b9f1bbea46d5749ef892dbe394e46de9d66ab1aacf0b4af57";

inline TrackRef sample_track() {
  return TrackRef{.index = 3,
                  .name = "\xc3\x85lborg \xe2\x80\x93 intro.flac",  // "Ålborg – intro.flac"
                  .hash = kHashA,
                  .frames = 1'234'567,
                  .size = 9'876'543,
                  .root = kRootA};
}

inline HandshakeFields sample_handshake() {
  return HandshakeFields{.from = "node-a",
                         .priority = 10,
                         .incarnation = 0xfeedface12345678u,
                         .advertised = {.host = "10.0.0.1", .port = 7000},
                         .version = kProtocolVersion,
                         .cluster = "living-room",
                         .content_port = 7100};
}

/// A catalog entry with every field set.
inline CatalogEntry sample_entry() {
  return CatalogEntry{.hash = kHashA, .root = kRootA,
                      .name = "live/\xc3\x85lborg \xe2\x80\x93 intro.flac",
                      .title = "Intro", .artist = "The Fjords", .album = "\xc3\x85lborg Live",
                      .format = "flac", .frames = 1'234'567, .size = 9'876'543};
}

/// One ordinary message of every type, in Message variant order: optional track present,
/// vectors non-empty (so every field, nested ones included, appears in the JSON). The control
/// request is a play; field_messages() adds the seek, whose fields a play leaves out.
inline std::vector<Message> typical_messages() {
  const Endpoint b{.host = "node-b.local", .port = 7001};
  return {
      Hello{sample_handshake()},
      Reconnect{sample_handshake()},
      HelloReject{.from = "node-b", .reason = "cluster \"kitchen\" != \"living-room\""},
      Discovery{.from = "node-a",
                .members = {{.id = "node-a", .priority = 10, .endpoint = {"10.0.0.1", 7000}},
                            {.id = "node-b", .priority = -3, .endpoint = b}}},
      Heartbeat{.from = "node-a", .sent_us = 1'000'000, .echo_us = 999'000, .echo_hold_us = 250},
      Leave{.from = "node-a"},
      Election{.from = "node-a", .epoch = 4},
      ElectionAnswer{.from = "node-b", .epoch = 4},
      Coordinator{.from = "node-b", .epoch = 5},
      PlayRequest{.from = "node-b", .epoch = 5, .seq = 17, .track = sample_track(),
                  .frame = 48'000, .at_us = 123'456'789},
      PauseRequest{.from = "node-b", .epoch = 5, .seq = 18, .frame = 96'000, .at_us = 124'456'789},
      ResumeRequest{.from = "node-b", .epoch = 5, .seq = 19, .frame = 96'000, .at_us = 130'000'000},
      StopRequest{.from = "node-b", .epoch = 5, .seq = 20, .at_us = 140'000'000},
      StateSyncRequest{.from = "node-c"},
      StateSyncResponse{.from = "node-b", .state = {.epoch = 5, .seq = 19, .status = PlaybackStatus::playing,
                        .track = sample_track(), .anchor_us = 130'000'000, .anchor_frame = 96'000}},
      StateOffer{.from = "node-c", .clock = "node-a", .state = {.epoch = 5, .seq = 4,
                 .status = PlaybackStatus::paused, .track = sample_track(),
                 .anchor_us = 124'456'789, .anchor_frame = 96'000}, .restored = std::nullopt},
      TimeRequest{.from = "node-c", .id = 42, .t0_us = 5'000},
      TimeResponse{.from = "node-b", .id = 43, .t0_us = 5'000, .t1_us = 9'000'100,
                   .t2_us = 9'000'180, .rate_before = RateBefore{.leader = "node-a", .drift_ppb = -100'000}},
      ControlRequest{.from = "node-c", .id = 7, .command = ControlCommand::play, .track = 3, .seek = std::nullopt},
      ControlResponse{.from = "node-b", .id = 7, .ok = false, .error = "no track 3",
                      .refusal = Refusal::bad_argument, .item = std::nullopt},
      RoomSet{.from = "node-a", .id = 3, .action = RoomAction::set, .volume = 40,
              .change = std::nullopt},
      RoomState{.from = "node-b", .seq = 12, .volume = 40, .muted = false, .reply_to = 3},
      QueueEdit{.from = "node-b", .epoch = 5,
                .change = {.version = 12, .kind = QueueEditKind::add, .position = 2, .count = 0, .to = 0,
                           .items = {{.id = 40, .track = sample_entry()}},
                           .modes = {.random = true, .repeat = false, .single = ModeSwitch::oneshot,
                                     .consume = ModeSwitch::off},
                           .library = false}},
      QueueSyncRequest{.from = "node-c"},
      QueueSnapshot{.from = "node-b", .epoch = 5, .version = 12, .next_id = 41, .library = false,
                    .modes = {.random = false, .repeat = true, .single = ModeSwitch::off, .consume = ModeSwitch::on},
                    .total = 3, .offset = 2, .items = {{.id = 40, .track = sample_entry()}}},
      QueueOffer{.from = "node-c", .version = 13, .restored = std::nullopt},
      ContentHello{.from = "node-b", .cluster = "living-room", .version = kProtocolVersion,
                   .catalog = kCatalog, .tracks = 42},
      CatalogNotice{.from = "node-b", .catalog = kCatalog, .tracks = 43},
      CatalogRequest{.from = "node-c", .offset = 256},
      CatalogPage{.from = "node-b", .catalog = kCatalog, .offset = 0, .total = 2,
                  .entries = {sample_entry(),
                              {.hash = kHashB, .root = kRootB, .name = "untagged.wav", .title = "",
                               .artist = "", .album = "", .format = "wav", .frames = 0,
                               .size = 44}}},
      Want{.from = "node-c", .hash = kHashA},
      // Chunks 0, 1 and 3..37 of 38: bit i of byte i / 8, least significant first.
      Have{.from = "node-b", .hash = kHashA, .chunks = 38, .bitmap = "+////z8="},
      ManifestRequest{.from = "node-c", .hash = kHashB},
      // Three SHA-256 digests, concatenated, base64.
      Manifest{.from = "node-b", .hash = kHashB, .size = 600'000,
               .digests = "bjQLnP+zepicpUTmu3gKLHiQHT+zNzh2hRGjBhevoB1L9RIvNEVUxTveLruM0rfj0WAK1jH"
                          "DhaXXzOI8d4VFmtvBtMkA/+SNV1tdpcY4BAEl9l2w/j4kSUt26phkV9mG"},
      ChunkRequest{.from = "node-c", .hash = kHashA, .chunk = 0},
      ChunkData{.from = "node-b", .hash = kHashA, .chunk = 0, .data = "ZkxhQwAAACIQABAA"},
      ContentRefused{.from = "node-b", .hash = kHashB, .chunk = 2, .reason = "not held"},
  };
}

/// A seek control request: with typical_messages() and sample_room_change(), every field of every
/// type appears at least once (the field-by-field refusal tests walk them all).
inline ControlRequest sample_seek() {
  return ControlRequest{.from = "node-c", .id = 9, .command = ControlCommand::seek,
                        .track = std::nullopt,
                        .seek = SeekTarget{.position_us = 90'000'000, .relative = false}};
}

/// A room volume change: the one place ROOM_SET.change appears.
inline RoomSet sample_room_change() {
  return RoomSet{.from = "node-a", .id = 4, .action = RoomAction::change, .volume = std::nullopt,
                 .change = -10};
}

/// An add control request with every optional argument: its fields walked too.
inline ControlRequest sample_add() {
  return ControlRequest{.from = "node-c", .id = 10, .command = ControlCommand::add, .track = std::nullopt,
                        .seek = std::nullopt, .item = 7, .first = 2, .count = 3, .to = 4, .position = 1,
                        .hash = kHashB, .query = "intro", .uri = "live/", .mode = ModeSwitch::oneshot};
}

/// typical_messages(), sample_seek(), sample_room_change() and sample_add(), and a response
/// naming an item.
inline std::vector<Message> field_messages() {
  std::vector<Message> messages = typical_messages();
  messages.emplace_back(sample_seek());
  messages.emplace_back(sample_room_change());
  messages.emplace_back(sample_add());
  messages.emplace_back(ControlResponse{.from = "node-b", .id = 10, .ok = true, .error = "",
                                        .refusal = Refusal::none, .item = 40});
  return messages;
}

/// Boundary cases: extreme integers, empty and maximal strings and vectors, absent track, every
/// control command, the shortest and longest hashes, the longest binary fields.
inline std::vector<Message> extreme_messages() {
  const std::string longest_id(kMaxIdBytes, 'i');
  // Exactly kMaxStringBytes bytes of awkward text: quotes, backslashes, control characters,
  // multi-byte UTF-8 (2, 3 and 4 bytes).
  std::string awkward;
  while (awkward.size() + 16 <= kMaxStringBytes) awkward += "\"\\\n\t\x01/\xc3\xa9\xe2\x82\xac\xf0\x9f\x8e\xb5";
  awkward.append(kMaxStringBytes - awkward.size(), 'x');

  HandshakeFields low{.from = longest_id, .priority = kI64Min, .incarnation = kU64Max,
                      .advertised = {.host = std::string(kMaxIdBytes, 'h'), .port = 65535},
                      .version = kI64Max, .cluster = "", .content_port = 65535};
  HandshakeFields high{.from = "x", .priority = kI64Max, .incarnation = 0,
                       .advertised = {.host = "::1", .port = 1}, .version = 1,
                       .cluster = awkward, .content_port = 0};
  const std::string longest_hash(64, 'f');
  // The longest binary field accepted: valid base64 (a whole number of 4-character groups).
  static_assert(kMaxBinaryTextBytes % 4 == 0);
  const std::string longest_binary(kMaxBinaryTextBytes, '/');

  CatalogPage full_page{.from = "node-b", .catalog = kCatalog, .offset = kU64Max, .total = kU64Max,
                        .entries = {}};
  for (std::size_t i = 0; i < kMaxCatalogPageEntries; ++i) {
    CatalogEntry entry = sample_entry();
    entry.name = "track-" + std::to_string(i) + ".flac";
    entry.frames = static_cast<std::int64_t>(i);
    entry.size = i;
    full_page.entries.push_back(std::move(entry));
  }
  full_page.entries.front() = {.hash = "a", .root = "b", .name = "", .title = "", .artist = "",
                               .album = "", .format = "", .frames = 0, .size = 0};
  full_page.entries.back() = {.hash = longest_hash, .root = longest_hash, .name = awkward,
                              .title = awkward, .artist = awkward, .album = awkward,
                              .format = awkward, .frames = kI64Max, .size = kU64Max};

  QueueEdit full_queue_edit{.from = "node-b", .epoch = kU64Max,
                            .change = {.version = kU64Max, .kind = QueueEditKind::move,
                                       .position = kMaxQueueLength, .count = kMaxQueueLength,
                                       .to = kMaxQueueLength, .items = {}, .modes = {}, .library = false}};
  for (std::size_t i = 0; i < kMaxQueuePageItems; ++i) {
    full_queue_edit.change.items.push_back({.id = kU64Max - i, .track = full_page.entries[i]});
  }

  Discovery full{.from = "node-a", .members = {}};
  for (std::size_t i = 0; i < kMaxMembers; ++i) {
    full.members.push_back({.id = "n" + std::to_string(i), .priority = static_cast<std::int64_t>(i),
                            .endpoint = {.host = "10.0." + std::to_string(i / 256) + "." +
                                                 std::to_string(i % 256),
                                         .port = static_cast<std::uint16_t>(1 + i)}});
  }
  const TrackRef edge_track{.index = kI64Max, .name = "", .hash = "", .frames = 0,
                            .size = kU64Max, .root = ""};
  const TrackRef zero_track{.index = 0, .name = awkward, .hash = longest_hash, .frames = kI64Max,
                            .size = 0, .root = longest_hash};
  return {
      Hello{low},
      Reconnect{high},
      HelloReject{.from = "node-b", .reason = awkward},
      HelloReject{.from = "node-b", .reason = ""},
      Discovery{.from = "node-a", .members = {}},
      full,
      Heartbeat{.from = "node-a", .sent_us = kI64Max, .echo_us = kI64Max, .echo_hold_us = kI64Max},
      Heartbeat{.from = "node-a", .sent_us = 0, .echo_us = 0, .echo_hold_us = 0},
      Election{.from = "node-a", .epoch = kAbove2To53},
      ElectionAnswer{.from = "node-b", .epoch = kU64Max},
      Coordinator{.from = "node-b", .epoch = 0},
      PlayRequest{.from = "node-b", .epoch = kU64Max, .seq = kAbove2To53, .track = edge_track,
                  .frame = kI64Max, .at_us = kI64Max},
      PlayRequest{.from = "node-b", .epoch = 0, .seq = 0, .track = zero_track, .frame = 0,
                  .at_us = 0},
      PauseRequest{.from = "node-b", .epoch = kAbove2To53, .seq = kU64Max, .frame = 0,
                   .at_us = kI64Max},
      ResumeRequest{.from = "node-b", .epoch = kAbove2To53, .seq = kU64Max, .frame = kI64Max,
                    .at_us = 0},
      StopRequest{.from = "node-b", .epoch = kU64Max, .seq = kAbove2To53, .at_us = kI64Max},
      StateSyncRequest{.from = longest_id},
      StateSyncResponse{.from = "node-b", .state = {.epoch = 0, .seq = 0, .status = PlaybackStatus::stopped,
                        .track = std::nullopt, .anchor_us = 0, .anchor_frame = 0}},
      StateSyncResponse{.from = "node-b", .state = {.epoch = kU64Max, .seq = kAbove2To53,
                        .status = PlaybackStatus::paused, .track = edge_track,
                        .anchor_us = kI64Max, .anchor_frame = kI64Max}},
      StateOffer{.from = longest_id, .clock = longest_id, .state = {.epoch = kU64Max, .seq = kAbove2To53,
                 .status = PlaybackStatus::playing, .track = edge_track, .anchor_us = kI64Max,
                 .anchor_frame = kI64Max}, .restored = true},
      StateOffer{.from = "x", .clock = "y", .state = {.epoch = 0, .seq = 0, .status = PlaybackStatus::stopped,
                 .track = std::nullopt, .anchor_us = 0, .anchor_frame = 0}, .restored = false},
      TimeRequest{.from = "node-c", .id = kU64Max, .t0_us = kI64Max},
      TimeResponse{.from = "node-b", .id = kAbove2To53, .t0_us = kI64Max, .t1_us = 0,
                   .t2_us = kI64Max},
      TimeResponse{.from = "node-b", .id = 1, .t0_us = 0, .t1_us = 0, .t2_us = 0,
                   .rate_before = RateBefore{.leader = longest_id, .drift_ppb = kMaxDriftPpb}},
      TimeResponse{.from = "node-b", .id = 42, .t0_us = 5'000, .t1_us = 9'000'100,
                   .t2_us = 9'000'180, .rate_before = std::nullopt},
      TimeResponse{.from = "node-b", .id = 1, .t0_us = 0, .t1_us = 0, .t2_us = 0,
                   .rate_before = RateBefore{.leader = "x", .drift_ppb = -kMaxDriftPpb}},
      ControlRequest{.from = longest_id, .id = kU64Max, .command = ControlCommand::play,
                     .track = kI64Max, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = 0, .command = ControlCommand::play, .track = 0, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = kAbove2To53, .command = ControlCommand::pause,
                     .track = std::nullopt, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = 1, .command = ControlCommand::resume,
                     .track = std::nullopt, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = 2, .command = ControlCommand::stop,
                     .track = std::nullopt, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = 3, .command = ControlCommand::next,
                     .track = std::nullopt, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = 4, .command = ControlCommand::prev,
                     .track = std::nullopt, .seek = std::nullopt},
      ControlRequest{.from = "node-c", .id = 5, .command = ControlCommand::seek,
                     .track = std::nullopt, .seek = SeekTarget{.position_us = kI64Max,
                                                               .relative = false}},
      ControlRequest{.from = "node-c", .id = kU64Max, .command = ControlCommand::seek,
                     .track = std::nullopt, .seek = SeekTarget{.position_us = kI64Min,
                                                               .relative = true}},
      ControlRequest{.from = "node-c", .id = 0, .command = ControlCommand::seek,
                     .track = std::nullopt, .seek = SeekTarget{.position_us = 0, .relative = true}},
      ControlResponse{.from = "node-b", .id = kU64Max, .ok = true, .error = "", .refusal = Refusal::none,
                      .item = kU64Max},
      ControlResponse{.from = "node-b", .id = 0, .ok = false, .error = awkward, .refusal = Refusal::unavailable,
                      .item = std::nullopt},
      ControlRequest{.from = "node-c", .id = 0, .command = ControlCommand::consume, .track = std::nullopt,
                     .seek = std::nullopt, .item = kU64Max, .first = kI64Max, .count = 0, .to = kI64Max,
                     .position = 0, .hash = longest_hash, .query = awkward, .uri = "", .mode = ModeSwitch::off},
      full_queue_edit,
      QueueEdit{.from = "x", .epoch = 0, .change = {.version = 0, .kind = QueueEditKind::clear, .position = 0,
                                                    .count = 0, .to = 0, .items = {}, .modes = {}, .library = true}},
      QueueSyncRequest{.from = longest_id},
      QueueOffer{.from = longest_id, .version = kU64Max, .restored = true},
      QueueOffer{.from = "x", .version = 0, .restored = false},
      QueueSnapshot{.from = "node-b", .epoch = kU64Max, .version = kU64Max, .next_id = kU64Max, .library = true,
                    .modes = {}, .total = kMaxQueueLength, .offset = kMaxQueueLength, .items = {}},
      RoomSet{.from = longest_id, .id = kU64Max, .action = RoomAction::set, .volume = 100,
              .change = std::nullopt},
      RoomSet{.from = "x", .id = 0, .action = RoomAction::set, .volume = 0, .change = std::nullopt},
      RoomSet{.from = "x", .id = 1, .action = RoomAction::change, .volume = std::nullopt,
              .change = -100},
      RoomSet{.from = "x", .id = 2, .action = RoomAction::change, .volume = std::nullopt,
              .change = 100},
      RoomSet{.from = "x", .id = 3, .action = RoomAction::mute, .volume = std::nullopt,
              .change = std::nullopt},
      RoomSet{.from = "x", .id = 4, .action = RoomAction::unmute, .volume = std::nullopt,
              .change = std::nullopt},
      RoomState{.from = longest_id, .seq = kU64Max, .volume = 100, .muted = true,
                .reply_to = kU64Max},
      RoomState{.from = "x", .seq = 0, .volume = 0, .muted = false, .reply_to = 0},
      ContentHello{.from = longest_id, .cluster = awkward, .version = kI64Max, .catalog = awkward,
                   .tracks = kU64Max},
      ContentHello{.from = "x", .cluster = "", .version = 1, .catalog = "", .tracks = 0},
      CatalogNotice{.from = longest_id, .catalog = awkward, .tracks = kU64Max},
      CatalogNotice{.from = "x", .catalog = "", .tracks = 0},
      CatalogRequest{.from = "node-c", .offset = kU64Max},
      CatalogRequest{.from = "node-c", .offset = 0},
      full_page,
      CatalogPage{.from = "node-b", .catalog = "", .offset = 0, .total = 0, .entries = {}},
      Want{.from = longest_id, .hash = longest_hash},
      Want{.from = "x", .hash = "a"},
      Have{.from = "node-b", .hash = longest_hash, .chunks = kU64Max, .bitmap = longest_binary},
      // "No longer wanted": no bitmap.
      Have{.from = "node-b", .hash = "a", .chunks = 0, .bitmap = ""},
      ManifestRequest{.from = longest_id, .hash = longest_hash},
      ManifestRequest{.from = "x", .hash = "a"},
      Manifest{.from = "node-b", .hash = longest_hash, .size = kU64Max, .digests = longest_binary},
      Manifest{.from = "node-b", .hash = "a", .size = 0, .digests = ""},
      ChunkRequest{.from = "node-c", .hash = longest_hash, .chunk = kU64Max},
      ChunkRequest{.from = "node-c", .hash = "a", .chunk = 0},
      ChunkData{.from = "node-b", .hash = longest_hash, .chunk = kAbove2To53,
                .data = longest_binary},
      ChunkData{.from = "node-b", .hash = "a", .chunk = 0, .data = ""},
      // chunk -1: the manifest was refused.
      ContentRefused{.from = "node-b", .hash = longest_hash, .chunk = -1, .reason = awkward},
      ContentRefused{.from = "node-b", .hash = "a", .chunk = kI64Max, .reason = ""},
  };
}

/// Decodes `json`, failing the test if it is not a message.
inline Message decode_ok(const std::string& json) {
  DecodeResult result = decode(json);
  if (const auto* error = std::get_if<DecodeError>(&result)) {
    INFO("json: " << json.substr(0, 400));
    FAIL("decode failed: " << to_string(error->code) << ": " << error->detail);
  }
  return std::get<Message>(std::move(result));
}

/// Decodes `json`, failing the test if it is a message.
inline DecodeError decode_error(const std::string& json) {
  DecodeResult result = decode(json);
  if (std::holds_alternative<Message>(result)) {
    INFO("json: " << json.substr(0, 400));
    FAIL("decoded as " << type_name(std::get<Message>(result)) << " but an error was expected");
  }
  return std::get<DecodeError>(std::move(result));
}

}  // namespace chorus::protocol::test

namespace Catch {
template <>
struct StringMaker<chorus::protocol::DecodeErrorCode> {
  static std::string convert(chorus::protocol::DecodeErrorCode code) {
    return std::string(chorus::protocol::to_string(code));
  }
};
}  // namespace Catch
