// protocol::decode on arbitrary bytes (a frame body as a peer may send it).
//
// Checked: decode never throws; an error has a known code and a detail fit for a log line
// (printable ASCII: peer text is escaped); a decoded message has a valid sender id, and
// encode → decode gives back an equal message, whose encoding is the same text again (encode is
// canonical) and no longer than the text it was decoded from.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "chorus/protocol/codec.hpp"
#include "check.hpp"

namespace {

using namespace chorus::protocol;

bool printable_ascii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const DecodeResult result = decode(text);

  if (const auto* error = std::get_if<DecodeError>(&result)) {
    CHORUS_FUZZ_CHECK(to_string(error->code) != "unknown", "a decode error has a known code");
    CHORUS_FUZZ_CHECK(!error->detail.empty(), "a decode error says why");
    CHORUS_FUZZ_CHECK(printable_ascii(error->detail), "a decode error's detail is safe to log");
    return 0;
  }

  const Message& message = std::get<Message>(result);
  CHORUS_FUZZ_CHECK(!sender(message).empty() && sender(message).size() <= kMaxIdBytes,
                    "a decoded message has a valid sender id");

  const std::string encoded = encode(message);
  // So a message accepted from a frame can be relayed in one.
  CHORUS_FUZZ_CHECK(encoded.size() <= size, "the encoding is no longer than the text decoded");
  const DecodeResult again = decode(encoded);
  const auto* round_trip = std::get_if<Message>(&again);
  CHORUS_FUZZ_CHECK(round_trip != nullptr, "the encoding of a decoded message decodes");
  CHORUS_FUZZ_CHECK(*round_trip == message, "encode -> decode gives back an equal message");
  CHORUS_FUZZ_CHECK(encode(*round_trip) == encoded, "encode is canonical");
  return 0;
}
