// The record layer (security::RecordSealer / RecordOpener): the input chooses a sequence of frame
// bodies, sealed by one end, and whether one byte on the wire is damaged (and which); the other
// end opens the stream fed in 7-byte pieces, so records are split across reads.
//
// Checked: an undamaged stream opens to exactly the bodies sealed, in order, none missing; a
// damaged one never opens a record to anything but what was sealed at its place (a flipped bit
// is caught, or leaves the opener waiting for bytes that never come).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "check.hpp"
#include "chorus/security/record_layer.hpp"

namespace {

using namespace chorus::security;
using chorus::protocol::Frame;
using chorus::protocol::FrameError;

StreamKey fixed_key() {
  StreamKey key{};
  for (std::size_t i = 0; i < key.size(); ++i) key[i] = static_cast<unsigned char>(3 * i + 1);
  return key;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2) return 0;
  const bool damage = (data[0] & 1) != 0;
  const std::size_t damage_at = data[1];
  std::string_view input(reinterpret_cast<const char*>(data + 2), size - 2);

  RecordSealer sealer(fixed_key());
  RecordOpener opener(fixed_key(), sealer.header());
  std::vector<std::string> bodies;
  std::string wire;
  while (!input.empty()) {
    std::size_t length = 1 + static_cast<unsigned char>(input.front()) % 200;
    input.remove_prefix(1);
    length = std::min(length, input.size());
    if (length == 0) break;
    bodies.emplace_back(input.substr(0, length));
    wire += sealer.seal(bodies.back());
    input.remove_prefix(length);
  }
  if (damage && !wire.empty()) wire[damage_at % wire.size()] ^= 0x20;

  std::size_t opened = 0;
  bool broken = false;
  for (std::size_t at = 0; at < wire.size() && !broken; at += 7) {
    opener.feed(std::string_view(wire).substr(at, 7));
    for (;;) {
      auto result = opener.next();
      if (auto* frame = std::get_if<Frame>(&result)) {
        CHORUS_FUZZ_CHECK(opened < bodies.size(), "no record opens that was not sealed");
        CHORUS_FUZZ_CHECK(frame->body == bodies[opened], "a record opens to what was sealed there");
        ++opened;
        continue;
      }
      broken = std::holds_alternative<FrameError>(result);
      break;
    }
  }
  if (!damage) {
    CHORUS_FUZZ_CHECK(!broken, "an undamaged stream opens");
    CHORUS_FUZZ_CHECK(opened == bodies.size(), "every sealed record opens");
  }
  return 0;
}
