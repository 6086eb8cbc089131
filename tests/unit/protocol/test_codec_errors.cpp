// Everything decode must refuse, and how it says so.

#include <catch2/catch.hpp>

#include <algorithm>

#include <cctype>
#include <functional>
#include <random>
#include <set>
#include <string>
#include <variant>
#include <vector>

#include <boost/json.hpp>

#include "chorus/protocol/codec.hpp"
#include "protocol/samples.hpp"

namespace json = boost::json;
using namespace chorus::protocol;
using namespace chorus::protocol::test;

namespace {

/// A key inside a JSON document: the steps from the root (object keys and array indexes).
struct FieldPath {
  std::vector<std::variant<std::string, std::size_t>> steps;

  /// The path as the codec's error detail spells it, e.g. "DISCOVERY.members[0].endpoint.port".
  std::string spelled(std::string_view type) const {
    std::string out(type);
    for (const auto& step : steps) {
      if (const auto* key = std::get_if<std::string>(&step)) out += "." + *key;
      else out += "[" + std::to_string(std::get<std::size_t>(step)) + "]";
    }
    return out;
  }
  const std::string& key() const { return std::get<std::string>(steps.back()); }
  /// The object holding this key inside `doc`.
  json::object& parent(json::value& doc) const {
    json::value* v = &doc;
    for (std::size_t i = 0; i + 1 < steps.size(); ++i) {
      if (const auto* key = std::get_if<std::string>(&steps[i])) v = &v->as_object().at(*key);
      else v = &v->as_array().at(std::get<std::size_t>(steps[i]));
    }
    return v->as_object();
  }
  json::value& value(json::value& doc) const { return parent(doc).at(key()); }
};

/// Every key of every object in `v`, objects inside arrays included; the top-level "type" is left out.
void collect_fields(const json::value& v, FieldPath& at, std::vector<FieldPath>& out) {
  if (const auto* object = v.if_object()) {
    for (const auto& entry : *object) {
      if (at.steps.empty() && entry.key() == "type") continue;
      at.steps.emplace_back(std::string(entry.key()));
      out.push_back(at);
      collect_fields(entry.value(), at, out);
      at.steps.pop_back();
    }
  } else if (const auto* array = v.if_array()) {
    for (std::size_t i = 0; i < array->size(); ++i) {
      at.steps.emplace_back(i);
      collect_fields((*array)[i], at, out);
      at.steps.pop_back();
    }
  }
}

/// Calls `check(type, doc, field)` once for every field of every typical message and of the
/// seek control request (field_messages()).
void for_each_field(const std::function<void(std::string_view, const json::value&, const FieldPath&)>& check) {
  for (const Message& message : field_messages()) {
    const json::value doc = json::parse(encode(message));
    std::vector<FieldPath> paths;
    FieldPath root;
    collect_fields(doc, root, paths);
    for (const FieldPath& path : paths) check(type_name(message), doc, path);
  }
}

bool is_integer(const json::value& v) { return v.is_int64() || v.is_uint64(); }

/// Same JSON type as far as the protocol is concerned (int64 and uint64 are both "integer").
bool same_json_type(const json::value& a, const json::value& b) {
  return a.kind() == b.kind() || (is_integer(a) && is_integer(b));
}

/// `message` encoded, with `path` (keys and array indexes, no type prefix) replaced by `value`.
std::string with_field(const Message& message, const std::vector<std::string>& path,
                       const json::value& value) {
  json::value doc = json::parse(encode(message));
  json::value* v = &doc;
  for (const std::string& key : path) {
    if (auto* array = v->if_array()) v = &array->at(std::stoul(key));
    else v = &v->as_object()[key];
  }
  *v = value;
  return json::serialize(doc);
}

/// The typical `type` message with `path` (dotted keys, no type prefix) replaced by `value`.
std::string with_field(std::string_view type, const std::vector<std::string>& path,
                       const json::value& value) {
  for (const Message& message : typical_messages()) {
    if (type_name(message) == type) return with_field(message, path, value);
  }
  FAIL("no typical message of type " << type);
  return {};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Not JSON, or not an object

TEST_CASE("invalid UTF-8 inside a string is rejected as invalid_json") {
  const std::string head = R"({"type":"LEAVE","from":")";
  for (const std::string bad : {"\xff", "a\xc3", "\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xf8\x88\x80\x80\x80",
                                "\xf4\x90\x80\x80"}) {
    INFO("bytes: " << bad.size());
    CHECK(decode_error(head + bad + "\"}").code == DecodeErrorCode::invalid_json);
  }
  // ... and in a key, and in an escaped lone surrogate.
  CHECK(decode_error("{\"type\":\"LEAVE\",\"from\":\"a\",\"\xff\":1}").code == DecodeErrorCode::invalid_json);
  CHECK(decode_error(R"({"type":"LEAVE","from":"\ud800"})").code == DecodeErrorCode::invalid_json);
  CHECK(decode_error(R"({"type":"LEAVE","from":"\udc00"})").code == DecodeErrorCode::invalid_json);
}

TEST_CASE("valid multi-byte UTF-8 and escapes decode to the same bytes") {
  const Message m = decode_ok(R"({"type":"LEAVE","from":"\u00c5\u20ac\ud83c\udfb5 \u00e9"})");
  CHECK(sender(m) == "\xc3\x85\xe2\x82\xac\xf0\x9f\x8e\xb5 \xc3\xa9");
  const Message reject = decode_ok(R"({"type":"HELLO_REJECT","from":"b","reason":"\u00e9\n\u001b"})");
  CHECK(std::get<HelloReject>(reject).reason == "\xc3\xa9\n\x1b");
}

TEST_CASE("a node id or host name with a control or bidi character is out_of_range") {
  // An id is an identity: refused rather than escaped, so every id prints as it is.
  for (const char* bad : {R"(a\nb)", R"(\u001b[2J)", R"(\u0000)", R"(x\u007f)", R"(\u0085)",
                          R"(\u009b2J)", R"(\u2028)", R"(\u202egpj.exe)", R"(\u2066x)", R"(\t)"}) {
    INFO(bad);
    const std::string leave = R"({"type":"LEAVE","from":")" + std::string(bad) + R"("})";
    const DecodeError error = decode_error(leave);
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail == "LEAVE.from: out of range: control or bidirectional formatting characters");
  }
  const auto expect_refused = [](std::string_view type, const std::vector<std::string>& path,
                                 const std::string& spelled) {
    const std::string text = with_field(type, path, json::value("node\n[info] forged"));
    INFO(text);
    const DecodeError error = decode_error(text);
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail.rfind(spelled + ": out of range: control", 0) == 0);
  };
  expect_refused("HELLO", {"from"}, "HELLO.from");
  expect_refused("RECONNECT", {"advertised", "host"}, "RECONNECT.advertised.host");
  expect_refused("HELLO_REJECT", {"from"}, "HELLO_REJECT.from");
  expect_refused("DISCOVERY", {"members", "0", "id"}, "DISCOVERY.members[0].id");
  expect_refused("DISCOVERY", {"members", "0", "endpoint", "host"},
                 "DISCOVERY.members[0].endpoint.host");
  expect_refused("STATE_OFFER", {"clock"}, "STATE_OFFER.clock");
  expect_refused("TIME_RESPONSE", {"from"}, "TIME_RESPONSE.from");
  expect_refused("CONTENT_HELLO", {"from"}, "CONTENT_HELLO.from");
  expect_refused("CHUNK_DATA", {"from"}, "CHUNK_DATA.from");
  // Free text is escaped where it is printed, not refused: a track name may hold anything.
  CHECK(std::holds_alternative<Message>(
      decode(with_field("PLAY_REQUEST", {"track", "name"}, json::value("a\n\x1b[2J")))));
  CHECK(std::holds_alternative<Message>(
      decode(with_field("HELLO", {"cluster"}, json::value("c\u202e")))));
  CHECK(std::holds_alternative<Message>(
      decode(with_field("CATALOG_PAGE", {"entries", "0", "title"}, json::value("t\n\x1b[2J")))));
  CHECK(std::holds_alternative<Message>(
      decode(with_field("CONTENT_REFUSED", {"reason"}, json::value("r\x07")))));
  // Printable non-ASCII ids are fine.
  CHECK(std::holds_alternative<Message>(
      decode(with_field("LEAVE", {"from"}, json::value("n\xc5\x93ud-\xc3\xa9 \xf0\x9f\x8e\xb5")))));
}

TEST_CASE("JSON that is not an object is rejected as not_an_object") {
  for (const char* text : {"[]", R"([{"type":"LEAVE","from":"a"}])", "1", "-2.5", R"("LEAVE")", "null",
                           "true"}) {
    INFO(text);
    CHECK(decode_error(text).code == DecodeErrorCode::not_an_object);
  }
}

TEST_CASE("every truncation of a valid message is rejected as invalid_json") {
  for (const Message& message : typical_messages()) {
    const std::string text = encode(message);
    for (std::size_t n = 0; n < text.size(); ++n) {
      INFO(text.substr(0, n));
      CHECK(decode_error(text.substr(0, n)).code == DecodeErrorCode::invalid_json);
    }
  }
}

TEST_CASE("trailing bytes after the object are rejected as invalid_json") {
  const std::string text = encode(Leave{.from = "a"});
  CHECK(decode_error(text + "x").code == DecodeErrorCode::invalid_json);
  CHECK(decode_error(text + text).code == DecodeErrorCode::invalid_json);
  CHECK(decode_error(text + std::string(1, '\0')).code == DecodeErrorCode::invalid_json);
  CHECK(decode_ok(" \n" + text + " \t\r\n") == Message{Leave{.from = "a"}});
}

TEST_CASE("comments and other non-standard JSON are rejected as invalid_json") {
  for (const char* text : {R"({"type":"LEAVE","from":"a"/*c*/})", R"({"type":"LEAVE","from":"a",})",
                           R"({'type':'LEAVE','from':'a'})", R"({"type":"ELECTION","from":"a","epoch":NaN})",
                           R"({"type":"ELECTION","from":"a","epoch":01})"}) {
    INFO(text);
    CHECK(decode_error(text).code == DecodeErrorCode::invalid_json);
  }
}

TEST_CASE("nesting up to the depth cap is accepted and one level deeper is invalid_json") {
  // The message object itself is level 1; an ignored extra field carries the nesting.
  const auto nested = [](std::size_t levels) {
    return R"({"type":"LEAVE","from":"a","x":)" + std::string(levels - 1, '[') +
           std::string(levels - 1, ']') + "}";
  };
  CHECK(decode_ok(nested(kMaxJsonDepth)) == Message{Leave{.from = "a"}});
  CHECK(decode_error(nested(kMaxJsonDepth + 1)).code == DecodeErrorCode::invalid_json);
}

TEST_CASE("absurdly deep nesting is rejected as invalid_json without exhausting the stack") {
  const std::size_t n = 1'000'000;
  CHECK(decode_error(std::string(n, '[') + std::string(n, ']')).code == DecodeErrorCode::invalid_json);
  std::string objects;
  for (std::size_t i = 0; i < n / 10; ++i) objects += R"({"a":)";
  CHECK(decode_error(objects).code == DecodeErrorCode::invalid_json);
}

// ---------------------------------------------------------------------------------------------
// The type field

TEST_CASE("a missing or non-string type is reported as missing_type") {
  for (const char* text : {R"({"from":"a"})", R"({})", R"({"type":5,"from":"a"})",
                           R"({"type":null,"from":"a"})", R"({"type":["LEAVE"],"from":"a"})",
                           R"({"Type":"LEAVE","from":"a"})"}) {
    INFO(text);
    CHECK(decode_error(text).code == DecodeErrorCode::missing_type);
  }
}

TEST_CASE("an unknown type is reported as unknown_type whatever the other fields hold") {
  for (const char* text : {R"({"type":"FOO","from":"a"})", R"({"type":"hello","from":"a"})",
                           R"({"type":"","from":"a"})", R"({"type":"HELLO ","from":"a"})",
                           R"({"type":"GOSSIP_V2"})", R"({"type":"FOO","from":5,"epoch":-1})"}) {
    INFO(text);
    CHECK(decode_error(text).code == DecodeErrorCode::unknown_type);
  }
  CHECK(decode_error(R"({"type":"GOSSIP_V2"})").detail.find("GOSSIP_V2") != std::string::npos);
}

TEST_CASE("an unknown type is quoted in the detail only as short printable ASCII") {
  // A terminal escape sequence (escaped in the JSON) followed by 5000 bytes.
  const std::string name = R"(\u001b[31m\u0000)" + std::string(5000, 'Z');
  const DecodeError error = decode_error(R"({"type":")" + name + R"("})");
  CHECK(error.code == DecodeErrorCode::unknown_type);
  CHECK(error.detail.size() < 100);
  for (char c : error.detail) CHECK((c >= 0x20 && c < 0x7f));
}

// ---------------------------------------------------------------------------------------------
// Required fields, JSON types, ranges: exhaustive loops over every field of every type

namespace {

/// The optional fields (docs/protocol.md): absent or null means no track.
bool is_optional(const std::string& spelled) {
  static const std::set<std::string> optional = {
      "STATE_SYNC_RESPONSE.track", "STATE_OFFER.track",      "CONTROL_REQUEST.item",
      "CONTROL_REQUEST.first",     "CONTROL_REQUEST.count",  "CONTROL_REQUEST.to",
      "CONTROL_REQUEST.position",  "CONTROL_REQUEST.hash",   "CONTROL_REQUEST.query",
      "CONTROL_REQUEST.uri",       "CONTROL_REQUEST.mode",   "CONTROL_RESPONSE.item",
      "TIME_RESPONSE.rate_before"};
  return optional.count(spelled) > 0;
}

}  // namespace

TEST_CASE("deleting any required field of any message type is reported as missing_field naming it") {
  std::size_t checked = 0;
  for_each_field([&](std::string_view type, const json::value& original, const FieldPath& path) {
    json::value doc = original;
    path.parent(doc).erase(path.key());
    const std::string text = json::serialize(doc);
    INFO(text);
    if (is_optional(path.spelled(type))) {
      CHECK(std::holds_alternative<Message>(decode(text)));
      return;
    }
    const DecodeError error = decode_error(text);
    CHECK(error.code == DecodeErrorCode::missing_field);
    CHECK(error.detail == path.spelled(type) + ": missing");
    ++checked;
  });
  CHECK(checked > 80);  // the loop really walked the nested fields too
}

TEST_CASE("a value of the wrong JSON type in any field is reported as wrong_type naming it") {
  const std::vector<json::value> candidates = {nullptr, true, 42, 4.5, "x", json::array{},
                                               json::object{}};
  std::size_t checked = 0;
  for_each_field([&](std::string_view type, const json::value& original, const FieldPath& path) {
    for (const json::value& candidate : candidates) {
      json::value doc = original;
      json::value& field = path.value(doc);
      if (same_json_type(field, candidate)) continue;
      const bool optional = is_optional(path.spelled(type));
      if (optional && candidate.is_null()) continue;  // null means absent
      field = candidate;
      const std::string text = json::serialize(doc);
      INFO(text);
      const DecodeError error = decode_error(text);
      CHECK(error.code == DecodeErrorCode::wrong_type);
      CHECK(error.detail.rfind(path.spelled(type) + ": expected ", 0) == 0);
      ++checked;
    }
  });
  CHECK(checked > 400);
}

TEST_CASE("a number as a string is wrong_type") {
  CHECK(decode_error(with_field("ELECTION", {"epoch"}, "4")).code == DecodeErrorCode::wrong_type);
  CHECK(decode_error(with_field("HEARTBEAT", {"sent_us"}, "1000")).code == DecodeErrorCode::wrong_type);
  CHECK(decode_error(with_field("HELLO", {"advertised", "port"}, "7000")).code ==
        DecodeErrorCode::wrong_type);
}

TEST_CASE("an element of the wrong JSON type inside an array is wrong_type naming its index") {
  const DecodeError member = decode_error(with_field("DISCOVERY", {"members", "1"}, "node-b"));
  CHECK(member.code == DecodeErrorCode::wrong_type);
  CHECK(member.detail == "DISCOVERY.members[1]: expected object");
}

TEST_CASE("every integer field rejects a value below its least as out_of_range naming it") {
  // The least is 0 but for priority and a seek's position_us (any int64), the chunk of a
  // refusal (-1: the manifest was refused), a volume change and a rate (negative ranges).
  std::size_t checked = 0;
  for_each_field([&](std::string_view type, const json::value& original, const FieldPath& path) {
    json::value doc = original;
    json::value& field = path.value(doc);
    if (!is_integer(field)) return;
    const std::string spelled = path.spelled(type);
    std::int64_t least = 0;
    if (path.key() == "priority" || spelled == "CONTROL_REQUEST.seek.position_us") least = kI64Min;
    if (spelled == "CONTENT_REFUSED.chunk") least = -1;
    if (spelled == "ROOM_SET.change") least = -100;
    if (spelled == "TIME_RESPONSE.rate_before.drift_ppb") least = -kMaxDriftPpb;
    if (least < 0) {
      field = least;
      const std::string text = json::serialize(doc);
      INFO(text);
      CHECK(std::holds_alternative<Message>(decode(text)));
      if (least == kI64Min) return;
    }
    field = least - 1;
    const std::string text = json::serialize(doc);
    INFO(text);
    const DecodeError error = decode_error(text);
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail.rfind(spelled + ": out of range", 0) == 0);
    ++checked;
  });
  CHECK(checked > 60);
}

TEST_CASE("values outside their documented ranges are out_of_range naming the field") {
  const std::string id_too_long(kMaxIdBytes + 1, 'i');
  const std::string text_too_long(kMaxStringBytes + 1, 't');
  json::array members;
  for (std::size_t i = 0; i <= kMaxMembers; ++i) {
    members.push_back(json::object{{"id", "n" + std::to_string(i)}, {"priority", 0},
                                   {"endpoint", json::object{{"host", "h"}, {"port", 1}}}});
  }
  const auto expect_out_of_range = [](std::string_view type, const std::vector<std::string>& path,
                                      const json::value& value) {
    std::string field(type);
    for (const std::string& key : path) {
      field += std::isdigit(static_cast<unsigned char>(key[0])) ? "[" + key + "]" : "." + key;
    }
    const std::string text = with_field(type, path, value);
    INFO(field << " in " << text.substr(0, 300));
    const DecodeError error = decode_error(text);
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail.rfind(field + ": out of range", 0) == 0);
  };
  expect_out_of_range("HELLO", {"advertised", "port"}, json::value(0));
  expect_out_of_range("HELLO", {"advertised", "port"}, json::value(65536));
  expect_out_of_range("RECONNECT", {"advertised", "port"}, json::value(70000));
  expect_out_of_range("HELLO", {"advertised", "host"}, json::value(""));
  expect_out_of_range("HELLO", {"advertised", "host"}, json::value(id_too_long));
  expect_out_of_range("HELLO", {"version"}, json::value(0));
  expect_out_of_range("HELLO", {"from"}, json::value(""));
  expect_out_of_range("LEAVE", {"from"}, json::value(""));
  expect_out_of_range("HEARTBEAT", {"from"}, json::value(id_too_long));
  expect_out_of_range("HELLO", {"cluster"}, json::value(text_too_long));
  expect_out_of_range("HELLO_REJECT", {"reason"}, json::value(text_too_long));
  expect_out_of_range("DISCOVERY", {"members"}, json::value(members));
  expect_out_of_range("DISCOVERY", {"members", "1", "id"}, json::value(""));
  expect_out_of_range("DISCOVERY", {"members", "0", "endpoint", "port"}, json::value(0));
  expect_out_of_range("CONTROL_REQUEST", {"command"}, json::value("rewind"));
  expect_out_of_range("CONTROL_REQUEST", {"command"}, json::value("PLAY"));
  expect_out_of_range("CONTROL_REQUEST", {"command"}, json::value(text_too_long));
  expect_out_of_range("CONTROL_RESPONSE", {"error"}, json::value(text_too_long));
  expect_out_of_range("PLAY_REQUEST", {"track", "name"}, json::value(text_too_long));
  expect_out_of_range("PLAY_REQUEST", {"track", "hash"}, json::value(text_too_long));
  expect_out_of_range("STATE_SYNC_RESPONSE", {"status"}, json::value("rewinding"));
  expect_out_of_range("STATE_SYNC_RESPONSE", {"status"}, json::value("PLAYING"));
  // Above INT64_MAX: Boost.JSON holds it as a uint64, which no int64 field accepts.
  expect_out_of_range("PLAY_REQUEST", {"at_us"}, json::value(std::uint64_t{9223372036854775808u}));
  expect_out_of_range("HELLO", {"priority"}, json::value(std::uint64_t{9223372036854775808u}));
  expect_out_of_range("PLAY_REQUEST", {"track", "root"}, json::value(text_too_long));
  expect_out_of_range("CONTENT_HELLO", {"catalog"}, json::value(text_too_long));
  expect_out_of_range("CATALOG_NOTICE", {"catalog"}, json::value(text_too_long));
  expect_out_of_range("CATALOG_PAGE", {"entries", "1", "title"}, json::value(text_too_long));
  expect_out_of_range("CONTENT_REFUSED", {"reason"}, json::value(text_too_long));
  expect_out_of_range("CONTENT_HELLO", {"version"}, json::value(0));
  expect_out_of_range("CONTENT_HELLO", {"from"}, json::value(""));
  expect_out_of_range("CHUNK_DATA", {"from"}, json::value(id_too_long));
  expect_out_of_range("TIME_RESPONSE", {"rate_before", "drift_ppb"}, json::value(kMaxDriftPpb + 1));
  expect_out_of_range("TIME_RESPONSE", {"rate_before", "drift_ppb"}, json::value(-kMaxDriftPpb - 1));
  expect_out_of_range("TIME_RESPONSE", {"rate_before", "leader"}, json::value(""));
}

TEST_CASE("a content port is 0..65535, 0 meaning none") {
  for (const char* type : {"HELLO", "RECONNECT"}) {
    INFO(type);
    for (const json::value& bad : {json::value(65536), json::value(-1), json::value(kI64Max)}) {
      const DecodeError error = decode_error(with_field(type, {"content_port"}, bad));
      CHECK(error.code == DecodeErrorCode::out_of_range);
      CHECK(error.detail == std::string(type) + ".content_port: out of range: must be 0..65535");
    }
    for (const std::int64_t port : {0, 1, 65535}) {
      const Message m = decode_ok(with_field(type, {"content_port"}, json::value(port)));
      const auto* hello = std::get_if<Hello>(&m);
      const auto* reconnect = std::get_if<Reconnect>(&m);
      REQUIRE((hello != nullptr || reconnect != nullptr));
      CHECK((hello != nullptr ? hello->content_port : reconnect->content_port) == port);
    }
  }
  CHECK(decode_error(with_field("HELLO", {"content_port"}, "7100")).code == DecodeErrorCode::wrong_type);
  CHECK(decode_error(with_field("HELLO", {"content_port"}, nullptr)).detail ==
        "HELLO.content_port: expected integer");
}

TEST_CASE("a content hash is 1..64 bytes of inert text, wherever it appears") {
  // Every hash of the content messages, a catalog entry's root included: [type, path...].
  const std::vector<std::vector<std::string>> hashes = {
      {"CATALOG_PAGE", "entries", "0", "hash"}, {"CATALOG_PAGE", "entries", "1", "root"},
      {"WANT", "hash"}, {"HAVE", "hash"}, {"MANIFEST_REQUEST", "hash"}, {"MANIFEST", "hash"},
      {"CHUNK_REQUEST", "hash"}, {"CHUNK_DATA", "hash"}, {"CONTENT_REFUSED", "hash"}};
  for (const auto& where : hashes) {
    const std::string type = where.front();
    const std::vector<std::string> path(where.begin() + 1, where.end());
    std::string spelled = type;
    for (const std::string& key : path) {
      spelled += std::isdigit(static_cast<unsigned char>(key[0])) ? "[" + key + "]" : "." + key;
    }
    INFO(spelled);
    const DecodeError too_long = decode_error(with_field(type, path, json::value(std::string(65, 'a'))));
    CHECK(too_long.code == DecodeErrorCode::out_of_range);
    CHECK(too_long.detail == spelled + ": out of range: length 65, must be 1..64 bytes");
    const DecodeError empty = decode_error(with_field(type, path, ""));
    CHECK(empty.code == DecodeErrorCode::out_of_range);
    CHECK(empty.detail == spelled + ": out of range: length 0, must be 1..64 bytes");
    // A newline, ESC, U+202E (right-to-left override), U+0085 (C1 NEL), U+2028.
    for (const char* bad : {"ab\ncd", "\x1b[2J", "\xe2\x80\xae" "abc", "ab\xc2\x85", "\xe2\x80\xa8"}) {
      const std::string text = with_field(type, path, json::value(bad));
      INFO(text);
      const DecodeError error = decode_error(text);
      CHECK(error.code == DecodeErrorCode::out_of_range);
      CHECK(error.detail == spelled + ": out of range: control or bidirectional formatting characters");
    }
    CHECK(std::holds_alternative<Message>(decode(with_field(type, path, json::value(std::string(64, 'F'))))));
    CHECK(std::holds_alternative<Message>(decode(with_field(type, path, "x"))));
  }
}

TEST_CASE("a binary field longer than kMaxBinaryTextBytes is out_of_range") {
  const std::string longest(kMaxBinaryTextBytes, 'A');
  const std::string too_long(kMaxBinaryTextBytes + 1, 'A');
  const std::string limit = std::to_string(kMaxBinaryTextBytes);
  for (const auto& [type, key] : {std::pair{"HAVE", "bitmap"}, std::pair{"MANIFEST", "digests"},
                                  std::pair{"CHUNK_DATA", "data"}}) {
    const std::string spelled = std::string(type) + "." + key;
    INFO(spelled);
    const DecodeError error = decode_error(with_field(type, {key}, json::value(too_long)));
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail == spelled + ": out of range: length " + std::to_string(too_long.size()) +
                              ", must be 0.." + limit + " bytes");
    CHECK(std::holds_alternative<Message>(decode(with_field(type, {key}, json::value(longest)))));
    CHECK(std::holds_alternative<Message>(decode(with_field(type, {key}, ""))));
    CHECK(decode_error(with_field(type, {key}, json::value(json::array{1, 2}))).code ==
          DecodeErrorCode::wrong_type);
  }
  // The other strings keep their own limit: a binary-sized catalog digest is refused.
  CHECK(decode_error(with_field("CONTENT_HELLO", {"catalog"}, json::value(longest))).detail ==
        "CONTENT_HELLO.catalog: out of range: length " + limit + ", must be 0..4096 bytes");
}

TEST_CASE("a catalog page holds at most kMaxCatalogPageEntries entries") {
  const json::value entry = json::parse(encode(CatalogPage{.from = "node-b", .catalog = kCatalog,
                                                           .offset = 0, .total = 1,
                                                           .entries = {sample_entry()}}))
                                .at("entries")
                                .at(0);
  json::array entries(kMaxCatalogPageEntries + 1, entry);
  const DecodeError error = decode_error(with_field("CATALOG_PAGE", {"entries"}, json::value(entries)));
  CHECK(error.code == DecodeErrorCode::out_of_range);
  CHECK(error.detail == "CATALOG_PAGE.entries: out of range: 257 elements, at most 256");
  entries.pop_back();
  const Message full = decode_ok(with_field("CATALOG_PAGE", {"entries"}, json::value(entries)));
  CHECK(std::get<CatalogPage>(full).entries.size() == kMaxCatalogPageEntries);
  CHECK(decode_ok(with_field("CATALOG_PAGE", {"entries"}, json::value(json::array{}))) ==
        Message{CatalogPage{.from = "node-b", .catalog = kCatalog, .offset = 0, .total = 2,
                            .entries = {}}});
  // An element that is not an entry names its index.
  const DecodeError element = decode_error(with_field("CATALOG_PAGE", {"entries", "1"}, "x"));
  CHECK(element.code == DecodeErrorCode::wrong_type);
  CHECK(element.detail == "CATALOG_PAGE.entries[1]: expected object");
  const DecodeError frames = decode_error(with_field("CATALOG_PAGE", {"entries", "0", "frames"}, -5));
  CHECK(frames.detail == "CATALOG_PAGE.entries[0].frames: out of range: must be >= 0");
}

TEST_CASE("the chunk of a refusal is -1 (the manifest) or a chunk number, nothing below") {
  for (const std::int64_t chunk : {std::int64_t{-1}, std::int64_t{0}, kI64Max}) {
    const Message m = decode_ok(with_field("CONTENT_REFUSED", {"chunk"}, chunk));
    CHECK(std::get<ContentRefused>(m).chunk == chunk);
  }
  for (const std::int64_t chunk : {std::int64_t{-2}, std::int64_t{-1000}, kI64Min}) {
    INFO(chunk);
    const DecodeError error = decode_error(with_field("CONTENT_REFUSED", {"chunk"}, chunk));
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail == "CONTENT_REFUSED.chunk: out of range: must be >= -1");
  }
  // The chunk numbers of requests and data are unsigned: no -1 there.
  CHECK(decode_error(with_field("CHUNK_REQUEST", {"chunk"}, -1)).detail ==
        "CHUNK_REQUEST.chunk: out of range: must be >= 0");
  CHECK(decode_error(with_field("CHUNK_DATA", {"chunk"}, -1)).detail ==
        "CHUNK_DATA.chunk: out of range: must be >= 0");
}

TEST_CASE("the error detail reads type.field: what went wrong") {
  CHECK(decode_error(with_field("HELLO", {"advertised", "port"}, 0)).detail ==
        "HELLO.advertised.port: out of range: must be 1..65535");
  CHECK(decode_error(with_field("HELLO", {"version"}, 1.5)).detail == "HELLO.version: expected integer");
  CHECK(decode_error(with_field("LEAVE", {"from"}, "")).detail ==
        "LEAVE.from: out of range: length 0, must be 1..256 bytes");
  CHECK(decode_error(with_field("ELECTION", {"epoch"}, -1)).detail ==
        "ELECTION.epoch: out of range: must be >= 0");
}

TEST_CASE("a control request is one of the playback commands, with a track exactly for play") {
  const auto request = [](std::string_view fields) {
    return R"({"type":"CONTROL_REQUEST","from":"node-c","id":7,)" + std::string(fields) + "}";
  };
  const DecodeError unknown = decode_error(request(R"("command":"shuffle")"));
  CHECK(unknown.code == DecodeErrorCode::out_of_range);
  CHECK(unknown.detail == "CONTROL_REQUEST.command: out of range: must be \"play\", \"pause\", "
                          "\"resume\", \"stop\", \"next\", \"prev\", \"seek\", \"add\", \"remove\", "
                          "\"move\", \"clear\", \"random\", \"repeat\", \"single\" or \"consume\"");

  const DecodeError no_track = decode_error(request(R"("command":"play")"));
  CHECK(no_track.code == DecodeErrorCode::missing_field);
  CHECK(no_track.detail == "CONTROL_REQUEST.track: missing");
  CHECK(decode_error(request(R"("command":"play","track":null)")).code == DecodeErrorCode::wrong_type);

  const DecodeError track_on_pause = decode_error(request(R"("command":"pause","track":3)"));
  CHECK(track_on_pause.code == DecodeErrorCode::out_of_range);
  CHECK(track_on_pause.detail ==
        "CONTROL_REQUEST.track: out of range: present only when command is \"play\"");
  for (const char* command : {"resume", "stop", "next", "prev", "seek", "add", "remove", "move", "clear",
                              "random", "repeat", "single", "consume"}) {
    INFO(command);
    const std::string with_track = R"("command":")" + std::string(command) + R"(","track":0)" +
                                   (command == std::string("seek") ? R"(,"seek":{"position_us":0,"relative":false})" : "");
    const DecodeError error = decode_error(request(with_track));
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail == "CONTROL_REQUEST.track: out of range: present only when command is \"play\"");
  }
  // Absent and null are alike for a field that must not be there.
  CHECK(decode_ok(request(R"("command":"pause","track":null)")) ==
        Message{ControlRequest{.from = "node-c", .id = 7, .command = ControlCommand::pause,
                               .track = std::nullopt, .seek = std::nullopt}});

  const DecodeError negative = decode_error(request(R"("command":"play","track":-1)"));
  CHECK(negative.code == DecodeErrorCode::out_of_range);
  CHECK(negative.detail == "CONTROL_REQUEST.track: out of range: must be >= 0");
  CHECK(decode_error(request(R"("command":"play","track":"3")")).code == DecodeErrorCode::wrong_type);
  CHECK(decode_error(request(R"("command":"play","track":3.0)")).code == DecodeErrorCode::wrong_type);
}

TEST_CASE("a room set carries a volume 0..100 exactly for set and a change -100..100 exactly for change") {
  const auto request = [](std::string_view fields) {
    return R"({"type":"ROOM_SET","from":"node-a","id":7,)" + std::string(fields) + "}";
  };
  CHECK(decode_error(request(R"("action":"louder")")).detail ==
        "ROOM_SET.action: out of range: must be \"set\", \"change\", \"mute\" or \"unmute\"");
  CHECK(decode_error(request(R"("action":"set")")).detail == "ROOM_SET.volume: missing");
  CHECK(decode_error(request(R"("action":"set","volume":101)")).detail ==
        "ROOM_SET.volume: out of range: must be 0..100");
  CHECK(decode_error(request(R"("action":"set","volume":-1)")).code == DecodeErrorCode::out_of_range);
  CHECK(decode_error(request(R"("action":"change")")).detail == "ROOM_SET.change: missing");
  CHECK(decode_error(request(R"("action":"change","change":101)")).detail ==
        "ROOM_SET.change: out of range: must be -100..100");
  CHECK(decode_error(request(R"("action":"change","change":-101)")).code ==
        DecodeErrorCode::out_of_range);
  CHECK(decode_error(request(R"("action":"mute","volume":3)")).detail ==
        "ROOM_SET.volume: out of range: present only when action is \"set\"");
  CHECK(decode_error(request(R"("action":"set","volume":3,"change":1)")).detail ==
        "ROOM_SET.change: out of range: present only when action is \"change\"");
  CHECK(decode_error(request(R"("action":"set","volume":50.5)")).code == DecodeErrorCode::wrong_type);
  CHECK(decode_ok(request(R"("action":"unmute","volume":null)")) ==
        Message{RoomSet{.from = "node-a", .id = 7, .action = RoomAction::unmute,
                        .volume = std::nullopt, .change = std::nullopt}});
}

TEST_CASE("a room state's volume is 0..100 and its mute a boolean") {
  const auto state = [](std::string_view fields) {
    return R"({"type":"ROOM_STATE","from":"node-b","seq":4,"reply_to":0,)" + std::string(fields) + "}";
  };
  CHECK(decode_error(state(R"("volume":101,"muted":false)")).detail ==
        "ROOM_STATE.volume: out of range: must be 0..100");
  CHECK(decode_error(state(R"("volume":50,"muted":1)")).code == DecodeErrorCode::wrong_type);
  CHECK(decode_error(state(R"("volume":50)")).detail == "ROOM_STATE.muted: missing");
  CHECK(decode_ok(state(R"("volume":50,"muted":true)")) ==
        Message{RoomState{.from = "node-b", .seq = 4, .volume = 50, .muted = true, .reply_to = 0}});
}

TEST_CASE("a control request carries a seek target exactly for seek") {
  const auto request = [](std::string_view fields) {
    return R"({"type":"CONTROL_REQUEST","from":"node-c","id":9,)" + std::string(fields) + "}";
  };
  const std::string target = R"("seek":{"position_us":-5000000,"relative":true})";
  CHECK(decode_ok(request(R"("command":"seek",)" + target)) ==
        Message{ControlRequest{.from = "node-c", .id = 9, .command = ControlCommand::seek,
                               .track = std::nullopt,
                               .seek = SeekTarget{.position_us = -5'000'000, .relative = true}}});

  const DecodeError absent = decode_error(request(R"("command":"seek")"));
  CHECK(absent.code == DecodeErrorCode::missing_field);
  CHECK(absent.detail == "CONTROL_REQUEST.seek: missing");
  const DecodeError null = decode_error(request(R"("command":"seek","seek":null)"));
  CHECK(null.code == DecodeErrorCode::wrong_type);
  CHECK(null.detail == "CONTROL_REQUEST.seek: expected object");
  const DecodeError no_position = decode_error(request(R"("command":"seek","seek":{"relative":true})"));
  CHECK(no_position.code == DecodeErrorCode::missing_field);
  CHECK(no_position.detail == "CONTROL_REQUEST.seek.position_us: missing");
  const DecodeError no_relative = decode_error(request(R"("command":"seek","seek":{"position_us":0})"));
  CHECK(no_relative.detail == "CONTROL_REQUEST.seek.relative: missing");
  CHECK(decode_error(request(R"("command":"seek","seek":{"position_us":0,"relative":1})")).detail ==
        "CONTROL_REQUEST.seek.relative: expected boolean");
  CHECK(decode_error(request(R"("command":"seek","seek":{"position_us":1.5,"relative":false})"))
            .code == DecodeErrorCode::wrong_type);
  CHECK(decode_error(request(R"("command":"seek","seek":{"position_us":9223372036854775808,)"
                             R"("relative":false})"))
            .code == DecodeErrorCode::out_of_range);

  for (const char* command : {"pause", "resume", "stop", "next", "prev"}) {
    INFO(command);
    const DecodeError error =
        decode_error(request(R"("command":")" + std::string(command) + R"(",)" + target));
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail == "CONTROL_REQUEST.seek: out of range: present only when command is \"seek\"");
    // Null is absent.
    CHECK(std::holds_alternative<Message>(
        decode(request(R"("command":")" + std::string(command) + R"(","seek":null)"))));
  }
  const DecodeError on_play = decode_error(request(R"("command":"play","track":3,)" + target));
  CHECK(on_play.code == DecodeErrorCode::out_of_range);
  CHECK(on_play.detail == "CONTROL_REQUEST.seek: out of range: present only when command is \"seek\"");
}

TEST_CASE("a number too large for any integer type is wrong_type, not silently rounded") {
  const std::string text = R"({"type":"ELECTION","from":"a","epoch":18446744073709551616})";
  CHECK(decode_error(text).code == DecodeErrorCode::wrong_type);
}

TEST_CASE("with duplicate keys the last one wins") {
  const Message m = decode_ok(R"({"type":"ELECTION","from":"a","epoch":-5,"epoch":7})");
  CHECK(m == Message{Election{.from = "a", .epoch = 7}});
}

// ---------------------------------------------------------------------------------------------
// Robustness

TEST_CASE("decoding randomly mutated messages never throws and anything accepted re-encodes equal") {
  std::mt19937 rng(20240611);
  const auto messages = typical_messages();
  const std::string alphabet = "{}[]\":,0123456789-.eE \\nulltruefalse\xff\xc3\x80";
  std::size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::string text = encode(messages[rng() % messages.size()]);
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !text.empty(); ++e) {
      const std::size_t at = rng() % text.size();
      switch (rng() % 3) {
        case 0: text[at] = alphabet[rng() % alphabet.size()]; break;
        case 1: text.erase(at, 1 + rng() % 8); break;
        default: text.insert(at, 1, alphabet[rng() % alphabet.size()]); break;
      }
    }
    DecodeResult result;
    REQUIRE_NOTHROW(result = decode(text));
    if (const Message* m = std::get_if<Message>(&result)) {
      ++accepted;
      INFO(text);
      CHECK(decode_ok(encode(*m)) == *m);
    }
  }
  CHECK(accepted > 0);
}

TEST_CASE("queue messages: positions, counts and pages beyond the queue's limits are out_of_range") {
  const auto expect = [](std::string_view type, const std::vector<std::string>& path, const json::value& value,
                         const std::string& detail) {
    const DecodeError error = decode_error(with_field(type, path, value));
    CHECK(error.code == DecodeErrorCode::out_of_range);
    CHECK(error.detail.rfind(detail, 0) == 0);
  };
  const auto over = static_cast<std::int64_t>(kMaxQueueLength) + 1;
  expect("QUEUE_EDIT", {"position"}, over, "QUEUE_EDIT.position: out of range: must be 0..16384");
  expect("QUEUE_EDIT", {"count"}, over, "QUEUE_EDIT.count: out of range");
  expect("QUEUE_EDIT", {"to"}, over, "QUEUE_EDIT.to: out of range");
  expect("QUEUE_SNAPSHOT", {"total"}, over, "QUEUE_SNAPSHOT.total: out of range");
  expect("QUEUE_SNAPSHOT", {"offset"}, over, "QUEUE_SNAPSHOT.offset: out of range");
  expect("QUEUE_EDIT", {"kind"}, "shuffle", "QUEUE_EDIT.kind: out of range: must be \"add\"");
  expect("QUEUE_EDIT", {"modes", "single"}, "twice", "QUEUE_EDIT.modes.single: out of range");
  expect("QUEUE_EDIT", {"items", "0", "track", "hash"}, json::value(std::string(65, 'a')),
         "QUEUE_EDIT.items[0].track.hash: out of range");
  expect("CONTROL_RESPONSE", {"refusal"}, "maybe", "CONTROL_RESPONSE.refusal: out of range");
  const auto samples = typical_messages();
  const auto edit = std::find_if(samples.begin(), samples.end(),
                                 [](const Message& m) { return std::holds_alternative<QueueEdit>(m); });
  REQUIRE(edit != samples.end());
  const json::value doc = json::parse(encode(*edit));
  json::array items;
  for (std::size_t i = 0; i <= kMaxQueuePageItems; ++i) items.push_back(doc.at("items").at(0));
  expect("QUEUE_EDIT", {"items"}, items, "QUEUE_EDIT.items: out of range: 257 elements, at most 256");
  // An optional argument of the wrong kind is refused like any field.
  CHECK(decode_error(R"({"type":"CONTROL_REQUEST","from":"c","id":1,"command":"single","mode":"twice"})").code ==
        DecodeErrorCode::out_of_range);
  CHECK(decode_error(R"({"type":"CONTROL_REQUEST","from":"c","id":1,"command":"add","position":-1})").code ==
        DecodeErrorCode::out_of_range);
}
