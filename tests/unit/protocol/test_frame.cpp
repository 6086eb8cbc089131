// The length-prefixed framing and the incremental FrameDecoder.

#include <catch2/catch.hpp>

#include <random>
#include <string>
#include <variant>
#include <vector>

#include "chorus/protocol/codec.hpp"
#include "chorus/protocol/frame.hpp"
#include "protocol/samples.hpp"

using namespace chorus::protocol;
using namespace chorus::protocol::test;

namespace {

/// The four header bytes for a length.
std::string header(std::uint32_t length) {
  return {static_cast<char>(length >> 24), static_cast<char>((length >> 16) & 0xff),
          static_cast<char>((length >> 8) & 0xff), static_cast<char>(length & 0xff)};
}

/// Calls next() until NeedMore, appending frame bodies; stops at an error (returned).
std::optional<FrameError> drain(FrameDecoder& decoder, std::vector<std::string>& bodies) {
  for (;;) {
    FrameResult result = decoder.next();
    if (auto* frame = std::get_if<Frame>(&result)) {
      bodies.push_back(std::move(frame->body));
    } else if (auto* error = std::get_if<FrameError>(&result)) {
      return *error;
    } else {
      return std::nullopt;
    }
  }
}

/// Three frames of different sizes, the middle one longer than 255 bytes so that more than
/// one header byte is non-zero.
std::vector<std::string> sample_bodies() {
  return {encode(Leave{.from = "a"}), encode(typical_messages()[3]) + std::string(300, ' '),
          "{}"};
}

std::string stream_of(const std::vector<std::string>& bodies) {
  std::string stream;
  for (const auto& body : bodies) stream += encode_frame(body);
  return stream;
}

}  // namespace

TEST_CASE("encode_frame prefixes the body with its length as 4 big-endian bytes") {
  CHECK(encode_frame("abc") == std::string("\0\0\0\3abc", 7));
  const std::string body(0x010203, 'x');
  const std::string frame = encode_frame(body);
  CHECK(frame.substr(0, 4) == std::string("\0\x01\x02\x03", 4));
  CHECK(frame.substr(4) == body);
}

TEST_CASE("encode_message_frame frames the encoded message") {
  const Message message = typical_messages()[0];
  CHECK(encode_message_frame(message) == encode_frame(encode(message)));
}

TEST_CASE("a fresh decoder needs more bytes and buffers nothing") {
  FrameDecoder decoder;
  CHECK(std::holds_alternative<NeedMore>(decoder.next()));
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("several frames in one feed come out in order and then the decoder needs more") {
  const auto bodies = sample_bodies();
  FrameDecoder decoder;
  decoder.feed(stream_of(bodies));
  std::vector<std::string> out;
  CHECK_FALSE(drain(decoder, out).has_value());
  CHECK(out == bodies);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("a stream split in two at every byte boundary yields exactly its frames") {
  const auto bodies = sample_bodies();
  const std::string stream = stream_of(bodies);
  for (std::size_t split = 0; split <= stream.size(); ++split) {
    INFO("split at " << split);
    FrameDecoder decoder;
    std::vector<std::string> out;
    decoder.feed(std::string_view(stream).substr(0, split));
    REQUIRE_FALSE(drain(decoder, out).has_value());
    decoder.feed(std::string_view(stream).substr(split));
    REQUIRE_FALSE(drain(decoder, out).has_value());
    CHECK(out == bodies);
    CHECK(decoder.buffered() == 0);
  }
}

TEST_CASE("a stream split in three at every pair of byte boundaries yields exactly its frames") {
  const std::vector<std::string> bodies = {R"({"a":1})", std::string(260, 'b'), "c"};
  const std::string stream = stream_of(bodies);
  for (std::size_t i = 0; i <= stream.size(); ++i) {
    for (std::size_t j = i; j <= stream.size(); ++j) {
      FrameDecoder decoder;
      std::vector<std::string> out;
      bool failed = false;
      for (auto piece : {std::string_view(stream).substr(0, i),
                         std::string_view(stream).substr(i, j - i),
                         std::string_view(stream).substr(j)}) {
        decoder.feed(piece);
        failed = failed || drain(decoder, out).has_value();
      }
      if (failed || out != bodies) {
        FAIL("split at " << i << " and " << j << " gave " << out.size() << " frames");
      }
    }
  }
}

TEST_CASE("a stream fed one byte at a time yields exactly its frames") {
  const auto bodies = sample_bodies();
  const std::string stream = stream_of(bodies);
  FrameDecoder decoder;
  std::vector<std::string> out;
  for (char byte : stream) {
    decoder.feed(std::string_view(&byte, 1));
    REQUIRE_FALSE(drain(decoder, out).has_value());
  }
  CHECK(out == bodies);
}

TEST_CASE("a stream fed in random chunks without draining between feeds yields exactly its frames") {
  std::mt19937 rng(7);
  std::vector<std::string> bodies;
  for (int i = 0; i < 200; ++i) bodies.push_back(std::string(1 + rng() % 700, static_cast<char>('a' + i % 26)));
  const std::string stream = stream_of(bodies);
  FrameDecoder decoder;
  std::vector<std::string> out;
  for (std::size_t at = 0; at < stream.size();) {
    const std::size_t n = std::min<std::size_t>(stream.size() - at, rng() % 3000);
    decoder.feed(std::string_view(stream).substr(at, n));
    at += n;
    if (rng() % 3 == 0) REQUIRE_FALSE(drain(decoder, out).has_value());
  }
  REQUIRE_FALSE(drain(decoder, out).has_value());
  CHECK(out == bodies);
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("buffered counts the bytes received but not yet returned as frames") {
  FrameDecoder decoder;
  decoder.feed(encode_frame("hello") + header(10) + "par");
  CHECK(decoder.buffered() == 9 + 7);
  CHECK(std::get<Frame>(decoder.next()).body == "hello");
  CHECK(decoder.buffered() == 7);
  CHECK(std::holds_alternative<NeedMore>(decoder.next()));
  CHECK(decoder.buffered() == 7);
  decoder.feed("tial-body");
  CHECK(std::get<Frame>(decoder.next()).body == "partial-bo");
  CHECK(decoder.buffered() == 2);
}

TEST_CASE("a frame of exactly the maximum length is accepted") {
  FrameDecoder small(16);
  small.feed(encode_frame(std::string(16, 'x')));
  CHECK(std::get<Frame>(small.next()).body == std::string(16, 'x'));

  FrameDecoder full;
  const std::string body(kMaxFrameBytes, 'y');
  full.feed(encode_frame(body));
  CHECK(std::get<Frame>(full.next()).body == body);
}

TEST_CASE("an oversized length is an error from the header alone without buffering the body") {
  FrameDecoder decoder;
  decoder.feed(header(kMaxFrameBytes + 1));
  const FrameResult result = decoder.next();
  REQUIRE(std::holds_alternative<FrameError>(result));
  CHECK(std::get<FrameError>(result).detail.find(std::to_string(kMaxFrameBytes + 1)) !=
        std::string::npos);
  CHECK(decoder.buffered() == 0);
  decoder.feed(std::string(64 * 1024, 'z'));  // the peer keeps sending: nothing is kept
  CHECK(decoder.buffered() == 0);
  CHECK(std::holds_alternative<FrameError>(decoder.next()));
}

TEST_CASE("an oversized length is an error against a custom cap too, even 0xFFFFFFFF") {
  FrameDecoder decoder(16);
  decoder.feed(header(17) + std::string(17, 'x'));
  CHECK(std::holds_alternative<FrameError>(decoder.next()));

  FrameDecoder huge;
  huge.feed(header(0xFFFFFFFFu));
  CHECK(std::holds_alternative<FrameError>(huge.next()));
  CHECK(huge.buffered() == 0);
}

TEST_CASE("an oversized header split across feeds is an error once its fourth byte arrives") {
  const std::string bad = header(kMaxFrameBytes + 1);
  FrameDecoder decoder;
  for (std::size_t i = 0; i < 3; ++i) {
    decoder.feed(bad.substr(i, 1));
    CHECK(std::holds_alternative<NeedMore>(decoder.next()));
  }
  decoder.feed(bad.substr(3, 1));
  CHECK(std::holds_alternative<FrameError>(decoder.next()));
}

TEST_CASE("a zero length is an error") {
  FrameDecoder decoder;
  decoder.feed(header(0) + encode_frame("{}"));
  const FrameResult result = decoder.next();
  REQUIRE(std::holds_alternative<FrameError>(result));
  CHECK(std::get<FrameError>(result).detail.find('0') != std::string::npos);
}

TEST_CASE("frames before a bad header are delivered and the error follows them") {
  FrameDecoder decoder;
  decoder.feed(encode_frame("one") + encode_frame("two") + header(0) + encode_frame("three"));
  std::vector<std::string> out;
  CHECK(drain(decoder, out).has_value());
  CHECK(out == std::vector<std::string>{"one", "two"});
}

TEST_CASE("after an error every further next returns the same error even after valid bytes") {
  FrameDecoder decoder;
  decoder.feed(header(0));
  const FrameResult first = decoder.next();
  REQUIRE(std::holds_alternative<FrameError>(first));
  decoder.feed(encode_frame("{}") + encode_frame("{}"));
  for (int i = 0; i < 3; ++i) {
    const FrameResult again = decoder.next();
    REQUIRE(std::holds_alternative<FrameError>(again));
    CHECK(std::get<FrameError>(again).detail == std::get<FrameError>(first).detail);
  }
  CHECK(decoder.buffered() == 0);
}

TEST_CASE("every message type survives framing, split delivery and decoding") {
  std::vector<Message> messages = typical_messages();
  for (const Message& m : extreme_messages()) messages.push_back(m);
  std::string stream;
  for (const Message& m : messages) stream += encode_message_frame(m);
  FrameDecoder decoder;
  std::vector<std::string> bodies;
  for (std::size_t at = 0; at < stream.size(); at += 1000) {
    decoder.feed(std::string_view(stream).substr(at, 1000));
    REQUIRE_FALSE(drain(decoder, bodies).has_value());
  }
  REQUIRE(bodies.size() == messages.size());
  for (std::size_t i = 0; i < messages.size(); ++i) CHECK(decode_ok(bodies[i]) == messages[i]);
}
