#include "chorus/protocol/codec.hpp"

#include <array>
#include <cassert>
#include <concepts>
#include <cstdint>
#include <exception>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/json/value.hpp>

#include "chorus/protocol/inert_text.hpp"
#include "wire_names.hpp"

namespace chorus::protocol {
namespace {

namespace json = boost::json;

// ---------------------------------------------------------------------------------------------
// Limits a field is checked against when decoding (encode ignores them).

struct Str {  ///< string length in bytes
  std::size_t min = 0;
  std::size_t max = kMaxStringBytes;
  bool inert = false;  ///< an identity: refused unless it prints as it is (is_inert)
};
struct Int {  ///< integer value
  std::int64_t min = std::numeric_limits<std::int64_t>::min();
  std::int64_t max = std::numeric_limits<std::int64_t>::max();
};
struct Count {  ///< array length
  std::size_t max = 0;
};

constexpr Str kText{};
constexpr Str kId{1, kMaxIdBytes, true};
constexpr Int kAnyInt{};
constexpr Int kNonNegative{0};
constexpr Int kVersion{1};
constexpr Int kPort{1, 65535};
constexpr Int kAnyPort{0, 65535};
constexpr Str kHash{1, 64, true};
constexpr Str kBinary{0, kMaxBinaryTextBytes};
constexpr Int kVolume{0, 100};
constexpr Int kVolumeChange{-100, 100};
constexpr Int kDriftPpb{-kMaxDriftPpb, kMaxDriftPpb};
constexpr Int kQueuePosition{0, static_cast<std::int64_t>(kMaxQueueLength)};

// ---------------------------------------------------------------------------------------------
// The wire form of every struct, listed once. `io` is a Reader (decode) or a Writer (encode);
// `m` is the struct, const when encoding. Field names are the member names. Enums are written as
// their names in wire_names.hpp.

template <class M, class... T>
concept OneOf = (std::same_as<std::remove_const_t<M>, T> || ...);

template <class Io, OneOf<Endpoint> M>
void fields(Io& io, M& m) {
  io("host", m.host, kId);
  io("port", m.port, kPort);
}

template <class Io, OneOf<Member> M>
void fields(Io& io, M& m) {
  io("id", m.id, kId);
  io("priority", m.priority, kAnyInt);
  io("endpoint", m.endpoint);
}

template <class Io, OneOf<TrackRef> M>
void fields(Io& io, M& m) {
  io("index", m.index, kNonNegative);
  io("name", m.name, kText);
  io("hash", m.hash, kText);
  io("frames", m.frames, kNonNegative);
  io("size", m.size);
  io("root", m.root, kText);
}

template <class Io, OneOf<Hello, Reconnect> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("priority", m.priority, kAnyInt);
  io("incarnation", m.incarnation);
  io("advertised", m.advertised);
  io("version", m.version, kVersion);
  io("cluster", m.cluster, kText);
  io("content_port", m.content_port, kAnyPort);
}

template <class Io, OneOf<HelloReject> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("reason", m.reason, kText);
}

template <class Io, OneOf<Discovery> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("members", m.members, Count{kMaxMembers});
}

template <class Io, OneOf<Heartbeat> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("sent_us", m.sent_us, kNonNegative);
  io("echo_us", m.echo_us, kNonNegative);
  io("echo_hold_us", m.echo_hold_us, kNonNegative);
}

template <class Io, OneOf<Leave, StateSyncRequest, QueueSyncRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
}

template <class Io, OneOf<Election, ElectionAnswer, Coordinator> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("epoch", m.epoch);
}

template <class Io, OneOf<PlayRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("epoch", m.epoch);
  io("seq", m.seq);
  io("track", m.track);
  io("frame", m.frame, kNonNegative);
  io("at_us", m.at_us, kNonNegative);
}

template <class Io, OneOf<PauseRequest, ResumeRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("epoch", m.epoch);
  io("seq", m.seq);
  io("frame", m.frame, kNonNegative);
  io("at_us", m.at_us, kNonNegative);
}

template <class Io, OneOf<StopRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("epoch", m.epoch);
  io("seq", m.seq);
  io("at_us", m.at_us, kNonNegative);
}

/// The whole playback state, flat beside the message's own fields.
template <class Io, class S>
void state_fields(Io& io, S& s) {
  io("epoch", s.epoch);
  io("seq", s.seq);
  io("status", s.status);
  io("track", s.track);
  io("anchor_us", s.anchor_us, kNonNegative);
  io("anchor_frame", s.anchor_frame, kNonNegative);
}

template <class Io, OneOf<StateSyncResponse> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  state_fields(io, m.state);
}

template <class Io, OneOf<StateOffer> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("clock", m.clock, kId);
  state_fields(io, m.state);
  io.maybe("restored", m.restored);
}

template <class Io, OneOf<TimeRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("id", m.id);
  io("t0_us", m.t0_us, kNonNegative);
}

template <class Io, OneOf<TimeResponse> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("id", m.id);
  io("t0_us", m.t0_us, kNonNegative);
  io("t1_us", m.t1_us, kNonNegative);
  io("t2_us", m.t2_us, kNonNegative);
  io("rate_before", m.rate_before);
}

template <class Io, OneOf<RateBefore> M>
void fields(Io& io, M& m) {
  io("leader", m.leader, kId);
  io("drift_ppb", m.drift_ppb, kDriftPpb);
}

template <class Io, OneOf<ControlRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("id", m.id);
  io("command", m.command);
  io.present_exactly_when(m.command == ControlCommand::play, "command is \"play\"", "track",
                          m.track, kNonNegative);
  io.present_exactly_when(m.command == ControlCommand::seek, "command is \"seek\"", "seek", m.seek);
  io.maybe("item", m.item);
  io.maybe("first", m.first, kNonNegative);
  io.maybe("count", m.count, kNonNegative);
  io.maybe("to", m.to, kNonNegative);
  io.maybe("position", m.position, kNonNegative);
  io.maybe("hash", m.hash, kHash);
  io.maybe("query", m.query, kText);
  io.maybe("uri", m.uri, kText);
  io.maybe("mode", m.mode);
}

template <class Io, OneOf<RoomSet> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("id", m.id);
  io("action", m.action);
  io.present_exactly_when(m.action == RoomAction::set, "action is \"set\"", "volume", m.volume,
                          kVolume);
  io.present_exactly_when(m.action == RoomAction::change, "action is \"change\"", "change",
                          m.change, kVolumeChange);
}

template <class Io, OneOf<RoomState> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("seq", m.seq);
  io("volume", m.volume, kVolume);
  io("muted", m.muted);
  io("reply_to", m.reply_to);
}

template <class Io, OneOf<SeekTarget> M>
void fields(Io& io, M& m) {
  io("position_us", m.position_us, kAnyInt);
  io("relative", m.relative);
}

template <class Io, OneOf<CatalogEntry> M>
void fields(Io& io, M& m) {
  io("hash", m.hash, kHash);
  io("root", m.root, kHash);
  io("name", m.name, kText);
  io("title", m.title, kText);
  io("artist", m.artist, kText);
  io("album", m.album, kText);
  io("format", m.format, kText);
  io("frames", m.frames, kNonNegative);
  io("size", m.size);
}

template <class Io, OneOf<ContentHello> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("cluster", m.cluster, kText);
  io("version", m.version, kVersion);
  io("catalog", m.catalog, kText);
  io("tracks", m.tracks);
}

template <class Io, OneOf<CatalogNotice> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("catalog", m.catalog, kText);
  io("tracks", m.tracks);
}

template <class Io, OneOf<CatalogRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("offset", m.offset);
}

template <class Io, OneOf<CatalogPage> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("catalog", m.catalog, kText);
  io("offset", m.offset);
  io("total", m.total);
  io("entries", m.entries, Count{kMaxCatalogPageEntries});
}

template <class Io, OneOf<Want, ManifestRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("hash", m.hash, kHash);
}

template <class Io, OneOf<Have> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("hash", m.hash, kHash);
  io("chunks", m.chunks);
  io("bitmap", m.bitmap, kBinary);
}

template <class Io, OneOf<Manifest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("hash", m.hash, kHash);
  io("size", m.size);
  io("digests", m.digests, kBinary);
}

template <class Io, OneOf<ChunkRequest> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("hash", m.hash, kHash);
  io("chunk", m.chunk);
}

template <class Io, OneOf<ChunkData> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("hash", m.hash, kHash);
  io("chunk", m.chunk);
  io("data", m.data, kBinary);
}

template <class Io, OneOf<ContentRefused> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("hash", m.hash, kHash);
  io("chunk", m.chunk, Int{-1});
  io("reason", m.reason, kText);
}

template <class Io, OneOf<ControlResponse> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("id", m.id);
  io("ok", m.ok);
  io("error", m.error, kText);
  io("refusal", m.refusal);
  io.maybe("item", m.item);
}

template <class Io, OneOf<QueueModes> M>
void fields(Io& io, M& m) {
  io("random", m.random);
  io("repeat", m.repeat);
  io("single", m.single);
  io("consume", m.consume);
}

template <class Io, OneOf<QueueEntry> M>
void fields(Io& io, M& m) {
  io("id", m.id);
  io("track", m.track);
}

/// One queue change, flat beside the message's own fields.
template <class Io, class C>
void change_fields(Io& io, C& c) {
  io("version", c.version);
  io("kind", c.kind);
  io("position", c.position, kQueuePosition);
  io("count", c.count, kQueuePosition);
  io("to", c.to, kQueuePosition);
  io("items", c.items, Count{kMaxQueuePageItems});
  io("modes", c.modes);
  io("library", c.library);
}

template <class Io, OneOf<QueueEdit> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("epoch", m.epoch);
  change_fields(io, m.change);
}

template <class Io, OneOf<QueueOffer> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("version", m.version);
  io.maybe("restored", m.restored);
}

template <class Io, OneOf<QueueSnapshot> M>
void fields(Io& io, M& m) {
  io("from", m.from, kId);
  io("epoch", m.epoch);
  io("version", m.version);
  io("next_id", m.next_id);
  io("library", m.library);
  io("modes", m.modes);
  io("total", m.total, kQueuePosition);
  io("offset", m.offset, kQueuePosition);
  io("items", m.items, Count{kMaxQueuePageItems});
}

// ---------------------------------------------------------------------------------------------
// Writer: struct -> json::object.

class Writer {
 public:
  explicit Writer(json::object& out) : out_(out) {}

  template <class T, class... Limits>
  void operator()(std::string_view key, const T& value, Limits...) {
    out_[key] = value_of(value);
  }
  template <class T>
  void operator()(std::string_view key, const std::optional<T>& value) {
    if (value) out_[key] = value_of(*value);
  }
  /// An optional scalar: written when present.
  template <class T, class... Limit>
  void maybe(std::string_view key, const std::optional<T>& value, Limit...) {
    (*this)(key, value);
  }
  /// Written when it has a value, whatever the rule says: the encoder checks nothing.
  template <class T, class... Limit>
  void present_exactly_when(bool, std::string_view, std::string_view key,
                            const std::optional<T>& value, Limit...) {
    (*this)(key, value);
  }

 private:
  static json::value value_of(const std::string& v) { return json::string(v); }
  static json::value value_of(std::int64_t v) { return v; }
  static json::value value_of(std::uint64_t v) { return v; }
  static json::value value_of(std::uint16_t v) { return std::int64_t{v}; }
  static json::value value_of(bool v) { return v; }
  template <class E>
    requires std::is_enum_v<E>
  static json::value value_of(E v) {
    const auto& names = detail::enum_names(v);
    const auto index = static_cast<std::size_t>(v);
    assert(index < names.size());
    return json::string(names[index]);
  }
  template <class T>
  static json::value value_of(const std::vector<T>& v) {
    json::array array;
    array.reserve(v.size());
    for (const auto& element : v) array.push_back(value_of(element));
    return array;
  }
  template <class T>
    requires std::is_class_v<T>
  static json::value value_of(const T& record) {
    json::object object;
    Writer writer(object);
    fields(writer, record);
    return object;
  }

  json::object& out_;
};

/// `"a", "b" or "c"`, for an error detail.
template <std::size_t N>
std::string quoted_list(const std::array<std::string_view, N>& names) {
  std::string out;
  for (std::size_t i = 0; i < N; ++i) {
    if (i > 0) out += i + 1 == N ? " or " : ", ";
    out += '"';
    out += names[i];
    out += '"';
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Reader: json::object -> struct, validating as it goes. Records the first error and does
// nothing after it; the error's detail is "<TYPE>.<path>: <what>".

class Reader {
 public:
  explicit Reader(std::string_view type) : path_(type) {}

  /// Reads every field of `out` from `object`.
  template <class T>
  void read_record(const json::object& object, T& out) {
    const json::object* outer = current_;
    current_ = &object;
    fields(*this, out);
    current_ = outer;
  }

  /// A required field of the current object.
  template <class T, class... Limits>
  void operator()(std::string_view key, T& out, Limits... limits) {
    if (error_) return;
    const std::size_t mark = enter(key);
    if (const json::value* v = current_->if_contains(key)) {
      read(*v, out, limits...);
    } else {
      fail(DecodeErrorCode::missing_field, "missing");
    }
    leave(mark);
  }
  /// An optional field: absent or null is std::nullopt.
  template <class T>
  void operator()(std::string_view key, std::optional<T>& out) {
    if (error_) return;
    out.reset();
    const json::value* v = current_->if_contains(key);
    if (v == nullptr || v->is_null()) return;
    const std::size_t mark = enter(key);
    if (!v->is_object()) fail(DecodeErrorCode::wrong_type, "expected object or null");
    else read(*v, out.emplace());
    leave(mark);
  }

  /// An optional scalar field: absent or null is std::nullopt.
  template <class T, class... Limit>
  void maybe(std::string_view key, std::optional<T>& out, Limit... limit) {
    if (error_) return;
    out.reset();
    const json::value* v = current_->if_contains(key);
    if (v == nullptr || v->is_null()) return;
    const std::size_t mark = enter(key);
    read(*v, out.emplace(), limit...);
    leave(mark);
  }

  /// A field required when `applies` (whose text is `rule`) and absent or null otherwise.
  template <class T, class... Limit>
  void present_exactly_when(bool applies, std::string_view rule, std::string_view key,
                            std::optional<T>& out, Limit... limit) {
    if (error_) return;
    out.reset();
    if (applies) return (*this)(key, out.emplace(), limit...);
    const json::value* v = current_->if_contains(key);
    if (v == nullptr || v->is_null()) return;
    const std::size_t mark = enter(key);
    fail(DecodeErrorCode::out_of_range, "out of range: present only when " + std::string(rule));
    leave(mark);
  }

  bool failed() const { return error_.has_value(); }
  DecodeError take_error() { return std::move(*error_); }

 private:
  void read(const json::value& v, std::string& out, Str limit = kText) {
    const json::string* s = v.if_string();
    if (s == nullptr) return fail(DecodeErrorCode::wrong_type, "expected string");
    if (s->size() < limit.min || s->size() > limit.max) {
      return fail(DecodeErrorCode::out_of_range, "out of range: length " + std::to_string(s->size()) +
                                                     ", must be " + std::to_string(limit.min) +
                                                     ".." + std::to_string(limit.max) + " bytes");
    }
    if (limit.inert && !is_inert(std::string_view(s->data(), s->size()))) {
      return fail(DecodeErrorCode::out_of_range,
                  "out of range: control or bidirectional formatting characters");
    }
    out.assign(s->data(), s->size());
  }

  void read(const json::value& v, std::int64_t& out, Int limit) {
    if (const std::int64_t* i = v.if_int64()) {
      if (*i >= limit.min && *i <= limit.max) {
        out = *i;
        return;
      }
    } else if (!v.is_uint64()) {  // a uint64 here is above INT64_MAX: out of range
      return fail(DecodeErrorCode::wrong_type, "expected integer");
    }
    std::string range = limit.max == kAnyInt.max
                            ? ">= " + std::to_string(limit.min)
                            : std::to_string(limit.min) + ".." + std::to_string(limit.max);
    fail(DecodeErrorCode::out_of_range, "out of range: must be " + range);
  }

  void read(const json::value& v, std::uint16_t& out, Int limit) {
    std::int64_t wide = 0;
    read(v, wide, limit);
    out = static_cast<std::uint16_t>(wide);
  }

  void read(const json::value& v, std::uint64_t& out, Int limit) {
    std::int64_t wide = 0;
    read(v, wide, limit);
    out = static_cast<std::uint64_t>(wide);
  }

  void read(const json::value& v, std::uint64_t& out) {
    if (const std::uint64_t* u = v.if_uint64()) {
      out = *u;
    } else if (const std::int64_t* i = v.if_int64()) {
      if (*i < 0) return fail(DecodeErrorCode::out_of_range, "out of range: must be >= 0");
      out = static_cast<std::uint64_t>(*i);
    } else {
      fail(DecodeErrorCode::wrong_type, "expected integer");
    }
  }

  void read(const json::value& v, bool& out) {
    const bool* b = v.if_bool();
    if (b == nullptr) return fail(DecodeErrorCode::wrong_type, "expected boolean");
    out = *b;
  }

  template <class E>
    requires std::is_enum_v<E>
  void read(const json::value& v, E& out) {
    const json::string* s = v.if_string();
    if (s == nullptr) return fail(DecodeErrorCode::wrong_type, "expected string");
    const auto& names = detail::enum_names(out);
    for (std::size_t i = 0; i < names.size(); ++i) {
      if (*s == names[i]) {
        out = static_cast<E>(i);
        return;
      }
    }
    fail(DecodeErrorCode::out_of_range, "out of range: must be " + quoted_list(names));
  }

  template <class T>
  void read(const json::value& v, std::vector<T>& out, Count limit) {
    const json::array* array = v.if_array();
    if (array == nullptr) return fail(DecodeErrorCode::wrong_type, "expected array");
    if (array->size() > limit.max) {
      return fail(DecodeErrorCode::out_of_range, "out of range: " + std::to_string(array->size()) +
                                                     " elements, at most " +
                                                     std::to_string(limit.max));
    }
    out.clear();
    out.reserve(array->size());
    for (std::size_t i = 0; i < array->size() && !error_; ++i) {
      const std::size_t mark = path_.size();
      path_ += '[' + std::to_string(i) + ']';
      read((*array)[i], out.emplace_back());
      leave(mark);
    }
  }

  template <class T>
    requires std::is_class_v<T>
  void read(const json::value& v, T& out) {
    const json::object* object = v.if_object();
    if (object == nullptr) return fail(DecodeErrorCode::wrong_type, "expected object");
    read_record(*object, out);
  }

  std::size_t enter(std::string_view key) {
    const std::size_t mark = path_.size();
    path_ += '.';
    path_ += key;
    return mark;
  }
  void leave(std::size_t mark) {
    if (!error_) path_.resize(mark);
  }
  void fail(DecodeErrorCode code, std::string_view what) {
    if (!error_) error_ = DecodeError{code, path_ + ": " + std::string(what)};
  }

  const json::object* current_ = nullptr;
  std::string path_;
  std::optional<DecodeError> error_;
};

// ---------------------------------------------------------------------------------------------
// Dispatch: wire name -> decode function, one entry per Message alternative (same order as
// detail::kWireNames).

template <std::size_t I>
DecodeResult decode_as(const json::object& object) {
  std::variant_alternative_t<I, Message> message;
  Reader reader(detail::kWireNames[I]);
  reader.read_record(object, message);
  if (reader.failed()) return reader.take_error();
  return Message(std::in_place_index<I>, std::move(message));
}

using DecodeFn = DecodeResult (*)(const json::object&);

template <std::size_t... I>
constexpr std::array<DecodeFn, sizeof...(I)> make_decoders(std::index_sequence<I...>) {
  return {&decode_as<I>...};
}

constexpr auto kDecoders = make_decoders(std::make_index_sequence<std::variant_size_v<Message>>{});

/// A peer-supplied string made safe for a log line: at most 64 printable ASCII bytes.
std::string printable(std::string_view s) {
  std::string out(s.substr(0, 64));
  for (char& c : out) {
    if (c < 0x20 || c > 0x7e) c = '?';
  }
  if (s.size() > 64) out += "...";
  return out;
}

std::string_view kind_name(json::kind kind) {
  switch (kind) {
    case json::kind::null: return "null";
    case json::kind::bool_: return "boolean";
    case json::kind::int64:
    case json::kind::uint64:
    case json::kind::double_: return "number";
    case json::kind::string: return "string";
    case json::kind::array: return "array";
    case json::kind::object: return "object";
  }
  return "unknown";
}

DecodeResult decode_value(std::string_view text) {
  unsigned char arena[4096];
  json::monotonic_resource resource(arena, sizeof arena);
  json::parse_options options;
  options.max_depth = kMaxJsonDepth;
  boost::system::error_code ec;
  const json::value document =
      json::parse(json::string_view(text.data(), text.size()), ec, &resource, options);
  if (ec) return DecodeError{DecodeErrorCode::invalid_json, "invalid JSON: " + ec.message()};

  const json::object* object = document.if_object();
  if (object == nullptr) {
    return DecodeError{DecodeErrorCode::not_an_object,
                       "expected a JSON object, got " + std::string(kind_name(document.kind()))};
  }
  const json::value* type = object->if_contains("type");
  if (type == nullptr || !type->is_string()) {
    return DecodeError{DecodeErrorCode::missing_type, "missing string \"type\""};
  }
  const std::string_view name(type->get_string().data(), type->get_string().size());
  for (std::size_t i = 0; i < detail::kWireNames.size(); ++i) {
    if (detail::kWireNames[i] == name) return kDecoders[i](*object);
  }
  return DecodeError{DecodeErrorCode::unknown_type, "unknown type \"" + printable(name) + "\""};
}

}  // namespace

std::string_view to_string(DecodeErrorCode code) {
  switch (code) {
    case DecodeErrorCode::invalid_json: return "invalid_json";
    case DecodeErrorCode::not_an_object: return "not_an_object";
    case DecodeErrorCode::missing_type: return "missing_type";
    case DecodeErrorCode::unknown_type: return "unknown_type";
    case DecodeErrorCode::missing_field: return "missing_field";
    case DecodeErrorCode::wrong_type: return "wrong_type";
    case DecodeErrorCode::out_of_range: return "out_of_range";
  }
  return "unknown";
}

std::string encode(const Message& message) {
  json::object object;
  object["type"] = json::string(type_name(message));
  std::visit([&object](const auto& m) {
    Writer writer(object);
    fields(writer, m);
  }, message);
  return json::serialize(object);
}

DecodeResult decode(std::string_view json) {
  try {
    return decode_value(json);
  } catch (const std::exception& e) {  // only allocation failure can get here
    return DecodeError{DecodeErrorCode::invalid_json, std::string("decode failed: ") + e.what()};
  } catch (...) {
    return DecodeError{DecodeErrorCode::invalid_json, "decode failed"};
  }
}

}  // namespace chorus::protocol
