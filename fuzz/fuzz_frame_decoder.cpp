// protocol::FrameDecoder on an arbitrary byte stream, delivered in arbitrary chunks.
//
// Input: the last byte picks the length cap (the product's own, or 1..128 bytes so that the
// oversized-length path is reached with small inputs); then, alternately, a byte from the end
// gives the size of the next chunk (0..255) and that many bytes from the front are fed. After
// every feed, next() is called until NeedMore or FrameError.
//
// Checked against a reference reading of the whole stream: every frame is exactly the next
// length-prefixed body (so it re-encodes to the bytes it consumed), NeedMore comes exactly when
// the next frame is incomplete, FrameError exactly at a zero or oversized length, after which
// every call returns the same error and nothing is kept; buffered() counts the unreturned bytes.

#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "chorus/protocol/frame.hpp"
#include "check.hpp"

namespace {

using namespace chorus::protocol;

std::uint32_t be32(const std::string& bytes, std::size_t at) {
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data() + at);
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider input(data, size);
  const auto cap_choice = input.ConsumeIntegral<std::uint8_t>();
  const std::uint32_t cap = cap_choice < 128 ? kMaxFrameBytes : std::uint32_t{cap_choice} - 127u;
  FrameDecoder decoder(cap);

  std::string fed;      // every byte fed so far
  std::size_t pos = 0;  // where the next frame starts in `fed`
  bool broken = false;
  std::string error;

  while (input.remaining_bytes() > 0) {
    const auto chunk_size = input.ConsumeIntegral<std::uint8_t>();
    const std::string chunk = input.ConsumeBytesAsString(chunk_size);
    decoder.feed(chunk);
    if (!broken) fed += chunk;

    for (;;) {
      const FrameResult result = decoder.next();
      if (broken) {
        const auto* e = std::get_if<FrameError>(&result);
        CHORUS_FUZZ_CHECK(e != nullptr && e->detail == error, "a broken stream stays broken");
        CHORUS_FUZZ_CHECK(decoder.buffered() == 0, "a broken stream keeps no bytes");
        break;
      }
      const std::size_t available = fed.size() - pos;
      if (available < kFrameHeaderBytes) {
        CHORUS_FUZZ_CHECK(std::holds_alternative<NeedMore>(result), "NeedMore without a whole header");
        CHORUS_FUZZ_CHECK(decoder.buffered() == available, "buffered() counts the unreturned bytes");
        break;
      }
      const std::uint32_t length = be32(fed, pos);
      if (length == 0 || length > cap) {
        const auto* e = std::get_if<FrameError>(&result);
        CHORUS_FUZZ_CHECK(e != nullptr, "FrameError at a zero or oversized length");
        CHORUS_FUZZ_CHECK(!e->detail.empty(), "a FrameError says why");
        broken = true;
        error = e->detail;
        continue;  // the next call must repeat it
      }
      if (available - kFrameHeaderBytes < length) {
        CHORUS_FUZZ_CHECK(std::holds_alternative<NeedMore>(result), "NeedMore while the body is incomplete");
        CHORUS_FUZZ_CHECK(decoder.buffered() == available, "buffered() counts the unreturned bytes");
        break;
      }
      const auto* frame = std::get_if<Frame>(&result);
      CHORUS_FUZZ_CHECK(frame != nullptr, "a frame once its body is complete");
      CHORUS_FUZZ_CHECK(frame->body.size() == length, "the frame has its announced length");
      CHORUS_FUZZ_CHECK(fed.compare(pos, kFrameHeaderBytes + length, encode_frame(frame->body)) == 0,
                        "the frame re-encodes to the bytes it consumed");
      pos += kFrameHeaderBytes + length;
      CHORUS_FUZZ_CHECK(decoder.buffered() == fed.size() - pos, "buffered() counts the unreturned bytes");
    }
  }
  return 0;
}
