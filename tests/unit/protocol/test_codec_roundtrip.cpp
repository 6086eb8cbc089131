// Encode -> decode round trips and the exact JSON shape of messages.

#include <catch2/catch.hpp>

#include <set>
#include <string>

#include <boost/json.hpp>

#include "chorus/protocol/codec.hpp"
#include "protocol/samples.hpp"

namespace json = boost::json;
using namespace chorus::protocol;
using namespace chorus::protocol::test;

namespace {

void check_round_trip(const Message& message) {
  const std::string text = encode(message);
  INFO(type_name(message) << ": " << text.substr(0, 300));
  const Message back = decode_ok(text);
  CHECK(back.index() == message.index());
  CHECK(back == message);
}

}  // namespace

TEST_CASE("the typical samples cover every message type exactly once") {
  const auto messages = typical_messages();
  REQUIRE(messages.size() == std::variant_size_v<Message>);
  for (std::size_t i = 0; i < messages.size(); ++i) CHECK(messages[i].index() == i);
}

TEST_CASE("every message type survives an encode-decode round trip unchanged") {
  for (const Message& message : typical_messages()) check_round_trip(message);
}

TEST_CASE("extreme values survive an encode-decode round trip unchanged") {
  // int64 min/max, uint64 max and 2^53+1 (not representable as a double), port 1 and 65535,
  // empty and maximal strings, escapes and multi-byte UTF-8, empty and maximal vectors,
  // track absent and present.
  for (const Message& message : extreme_messages()) check_round_trip(message);
}

TEST_CASE("a uint64 above 2^53 is written as exact digits, not as a double") {
  const std::string text = encode(Election{.from = "a", .epoch = kAbove2To53});
  CHECK(text.find("\"epoch\":9007199254740993") != std::string::npos);
  const std::string max = encode(Coordinator{.from = "a", .epoch = kU64Max});
  CHECK(max.find("\"epoch\":18446744073709551615") != std::string::npos);
}

TEST_CASE("encode writes the type first and the struct member names as keys") {
  CHECK(encode(Heartbeat{.from = "a", .sent_us = 1, .echo_us = 2, .echo_hold_us = 3}) ==
        R"({"type":"HEARTBEAT","from":"a","sent_us":1,"echo_us":2,"echo_hold_us":3})");
  CHECK(encode(Hello{sample_handshake()}) ==
        R"({"type":"HELLO","from":"node-a","priority":10,"incarnation":18369614218089748088,)"
        R"("advertised":{"host":"10.0.0.1","port":7000},"version":4,"cluster":"living-room",)"
        R"("content_port":7100})");
  CHECK(encode(Discovery{.from = "a", .members = {{.id = "b", .priority = -1,
                                                   .endpoint = {.host = "h", .port = 9}}}}) ==
        R"({"type":"DISCOVERY","from":"a","members":[{"id":"b","priority":-1,)"
        R"("endpoint":{"host":"h","port":9}}]})");
  CHECK(encode(ControlResponse{.from = "b", .id = 7, .ok = true, .error = ""}) ==
        R"({"type":"CONTROL_RESPONSE","from":"b","id":7,"ok":true,"error":"","refusal":"none"})");
}

TEST_CASE("playback status is written as a lower-case string and an absent track is omitted") {
  const std::string stopped = encode(StateSyncResponse{.from = "b", .state = {.epoch = 1, .seq = 2,
                                                       .status = PlaybackStatus::stopped,
                                                       .track = std::nullopt, .anchor_us = 3,
                                                       .anchor_frame = 4}});
  CHECK(stopped ==
        R"({"type":"STATE_SYNC_RESPONSE","from":"b","epoch":1,"seq":2,"status":"stopped",)"
        R"("anchor_us":3,"anchor_frame":4})");
  StateSyncResponse playing{.from = "b", .state = {.epoch = 1, .seq = 2, .status = PlaybackStatus::playing,
                            .track = TrackRef{.index = 0, .name = "n", .hash = "ab", .frames = 9, .size = 0, .root = ""},
                            .anchor_us = 3, .anchor_frame = 4}};
  CHECK(encode(playing).find(R"("status":"playing","track":{"index":0,"name":"n","hash":"ab",)"
                             R"("frames":9,"size":0,"root":""})") != std::string::npos);
  playing.state.status = PlaybackStatus::paused;
  CHECK(encode(playing).find(R"("status":"paused")") != std::string::npos);
}

TEST_CASE("a control request names its command, the track for play only, the target for seek only") {
  CHECK(encode(ControlRequest{.from = "c", .id = 7, .command = ControlCommand::play, .track = 3,
                              .seek = std::nullopt}) ==
        R"({"type":"CONTROL_REQUEST","from":"c","id":7,"command":"play","track":3})");
  CHECK(encode(ControlRequest{.from = "c", .id = 8, .command = ControlCommand::prev,
                              .track = std::nullopt, .seek = std::nullopt}) ==
        R"({"type":"CONTROL_REQUEST","from":"c","id":8,"command":"prev"})");
  CHECK(encode(ControlRequest{.from = "c", .id = 9, .command = ControlCommand::seek,
                              .track = std::nullopt,
                              .seek = SeekTarget{.position_us = -10'000'000, .relative = true}}) ==
        R"({"type":"CONTROL_REQUEST","from":"c","id":9,"command":"seek",)"
        R"("seek":{"position_us":-10000000,"relative":true}})");
}

TEST_CASE("a track reference carries the file's size and chunk root") {
  const std::string text = encode(PlayRequest{.from = "b", .epoch = 1, .seq = 2,
                                              .track = sample_track(), .frame = 0, .at_us = 5});
  CHECK(text.find(R"("frames":1234567,"size":9876543,"root":")" + kRootA + R"("})") !=
        std::string::npos);
}

TEST_CASE("content messages have the documented JSON shape") {
  CHECK(encode(ContentHello{.from = "b", .cluster = "c", .version = 3, .catalog = "ab",
                            .tracks = 2}) ==
        R"({"type":"CONTENT_HELLO","from":"b","cluster":"c","version":3,"catalog":"ab","tracks":2})");
  CHECK(encode(CatalogPage{.from = "b", .catalog = "ab", .offset = 0, .total = 1,
                           .entries = {{.hash = "h", .root = "r", .name = "n", .title = "t",
                                        .artist = "a", .album = "l", .format = "flac",
                                        .frames = 9, .size = 10}}}) ==
        R"({"type":"CATALOG_PAGE","from":"b","catalog":"ab","offset":0,"total":1,"entries":[)"
        R"({"hash":"h","root":"r","name":"n","title":"t","artist":"a","album":"l",)"
        R"("format":"flac","frames":9,"size":10}]})");
  CHECK(encode(Have{.from = "b", .hash = "h", .chunks = 3, .bitmap = "BQ=="}) ==
        R"({"type":"HAVE","from":"b","hash":"h","chunks":3,"bitmap":"BQ=="})");
  CHECK(encode(ContentRefused{.from = "b", .hash = "h", .chunk = -1, .reason = "not held"}) ==
        R"({"type":"CONTENT_REFUSED","from":"b","hash":"h","chunk":-1,"reason":"not held"})");
}

TEST_CASE("a state offer names the clock its times are in") {
  CHECK(encode(StateOffer{.from = "c", .clock = "a", .state = {.epoch = 5, .seq = 4,
                          .status = PlaybackStatus::paused,
                          .track = TrackRef{.index = 0, .name = "n", .hash = "ab", .frames = 9, .size = 0, .root = ""},
                          .anchor_us = 3, .anchor_frame = 4}, .restored = std::nullopt}) ==
        R"({"type":"STATE_OFFER","from":"c","clock":"a","epoch":5,"seq":4,"status":"paused",)"
        R"("track":{"index":0,"name":"n","hash":"ab","frames":9,"size":0,"root":""},)"
        R"("anchor_us":3,"anchor_frame":4})");
  CHECK(decode_error(R"({"type":"STATE_OFFER","from":"c","clock":"","epoch":5,"seq":4,)"
                     R"("status":"stopped","anchor_us":3,"anchor_frame":4})")
            .detail == "STATE_OFFER.clock: out of range: length 0, must be 1..256 bytes");
}

TEST_CASE("a null track decodes as an absent track") {
  const Message m = decode_ok(
      R"({"type":"STATE_SYNC_RESPONSE","from":"b","epoch":1,"seq":2,"status":"stopped",)"
      R"("track":null,"anchor_us":3,"anchor_frame":4})");
  REQUIRE(std::holds_alternative<StateSyncResponse>(m));
  CHECK_FALSE(std::get<StateSyncResponse>(m).state.track.has_value());
}

TEST_CASE("unknown extra fields are ignored at every level") {
  for (const Message& message : field_messages()) {
    json::value doc = json::parse(encode(message));
    doc.as_object()["zz_future"] = json::parse(R"({"nested":[1,2,{"x":null}],"s":"t"})");
    if (auto* advertised = doc.as_object().if_contains("advertised")) {
      advertised->as_object()["scope"] = "link";
    }
    if (auto* track = doc.as_object().if_contains("track"); track != nullptr && track->is_object()) {
      track->as_object()["codec"] = "flac";
    }
    if (auto* members = doc.as_object().if_contains("members")) {
      members->as_array()[0].as_object()["rtt_us"] = 120;
    }
    if (auto* entries = doc.as_object().if_contains("entries")) {
      entries->as_array()[0].as_object()["bitrate"] = 900;
    }
    if (auto* seek = doc.as_object().if_contains("seek")) {
      seek->as_object()["frames"] = true;
    }
    const std::string text = json::serialize(doc);
    INFO(text);
    CHECK(decode_ok(text) == message);
  }
}

TEST_CASE("the order of keys in the JSON object does not matter") {
  for (const Message& message : field_messages()) {
    const json::object original = json::parse(encode(message)).as_object();
    json::object reversed;
    for (auto it = original.end(); it != original.begin();) {
      --it;
      reversed[it->key()] = it->value();
    }
    const std::string text = json::serialize(reversed);
    INFO(text);
    CHECK(decode_ok(text) == message);
  }
}

TEST_CASE("integers written with an exponent or a fraction are not accepted as integers") {
  // Boost.JSON parses 1e3 and 1.0 as doubles: the codec must not round them into integers.
  for (const char* epoch : {"1e3", "1.0", "4.5", "-0.0"}) {
    const DecodeError error =
        decode_error(std::string(R"({"type":"ELECTION","from":"a","epoch":)") + epoch + "}");
    CHECK(error.code == DecodeErrorCode::wrong_type);
  }
}

TEST_CASE("type_name gives the wire name of every message type and the names are unique") {
  const std::vector<std::string_view> expected = {
      "HELLO",        "RECONNECT",      "HELLO_REJECT",       "DISCOVERY",
      "HEARTBEAT",    "LEAVE",          "ELECTION",           "ELECTION_ANSWER",
      "COORDINATOR",  "PLAY_REQUEST",   "PAUSE_REQUEST",      "RESUME_REQUEST",
      "STOP_REQUEST", "STATE_SYNC_REQUEST", "STATE_SYNC_RESPONSE", "STATE_OFFER",
      "TIME_REQUEST", "TIME_RESPONSE", "CONTROL_REQUEST", "CONTROL_RESPONSE",
      "ROOM_SET",     "ROOM_STATE",
      "QUEUE_EDIT",   "QUEUE_SYNC_REQUEST", "QUEUE_SNAPSHOT", "QUEUE_OFFER",
      "CONTENT_HELLO", "CATALOG_NOTICE", "CATALOG_REQUEST", "CATALOG_PAGE",
      "WANT",         "HAVE",           "MANIFEST_REQUEST", "MANIFEST",
      "CHUNK_REQUEST", "CHUNK_DATA",    "CONTENT_REFUSED"};
  const auto messages = typical_messages();
  REQUIRE(messages.size() == expected.size());
  std::set<std::string_view> seen;
  for (std::size_t i = 0; i < messages.size(); ++i) {
    CHECK(type_name(messages[i]) == expected[i]);
    seen.insert(type_name(messages[i]));
    const json::value doc = json::parse(encode(messages[i]));
    CHECK(doc.at("type").as_string() == expected[i]);
  }
  CHECK(seen.size() == expected.size());
}

TEST_CASE("is_content_message is true for exactly the eleven content-link types") {
  const std::set<std::string_view> content = {
      "CONTENT_HELLO", "CATALOG_NOTICE", "CATALOG_REQUEST", "CATALOG_PAGE",   "WANT",
      "HAVE",          "MANIFEST_REQUEST", "MANIFEST",      "CHUNK_REQUEST", "CHUNK_DATA",
      "CONTENT_REFUSED"};
  std::size_t counted = 0;
  for (const auto& messages : {typical_messages(), extreme_messages(), field_messages()}) {
    for (const Message& message : messages) {
      INFO(type_name(message));
      CHECK(is_content_message(message) == content.contains(type_name(message)));
      counted += is_content_message(message) ? 1 : 0;
    }
  }
  CHECK(counted >= 2 * content.size());
  // Default-constructed messages (what a caller may build before filling in) are classed alike.
  CHECK_FALSE(is_content_message(Hello{}));
  CHECK_FALSE(is_content_message(ControlRequest{}));
  CHECK_FALSE(is_content_message(ControlResponse{}));
  CHECK(is_content_message(ContentHello{}));
  CHECK(is_content_message(ContentRefused{}));
}

TEST_CASE("sender returns the from field of every message type") {
  auto messages = typical_messages();
  for (std::size_t i = 0; i < messages.size(); ++i) {
    std::visit([i](auto& m) { m.from = "node-" + std::to_string(i); }, messages[i]);
    CHECK(sender(messages[i]) == "node-" + std::to_string(i));
  }
}

TEST_CASE("every decode error code has a distinct name") {
  std::set<std::string_view> names;
  for (auto code : {DecodeErrorCode::invalid_json, DecodeErrorCode::not_an_object,
                    DecodeErrorCode::missing_type, DecodeErrorCode::unknown_type,
                    DecodeErrorCode::missing_field, DecodeErrorCode::wrong_type,
                    DecodeErrorCode::out_of_range}) {
    names.insert(to_string(code));
  }
  CHECK(names == std::set<std::string_view>{"invalid_json", "not_an_object", "missing_type",
                                            "unknown_type", "missing_field", "wrong_type",
                                            "out_of_range"});
}
