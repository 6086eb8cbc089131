// The keyed handshake as a stranger drives it (security::Handshake): arbitrary bytes, split at
// input-chosen points, fed to an acceptor and to a dialer.
//
// Checked, beyond "never crashes": a handshake never takes a byte beyond its own two messages,
// takes nothing once it has ended, says nothing after failing and then says why, and never
// completes without the key (that would be a MAC forgery).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "check.hpp"
#include "chorus/security/handshake.hpp"

namespace {

using namespace chorus::security;

ClusterKey fixed_key() {
  ClusterKey key;
  for (std::size_t i = 0; i < key.bytes.size(); ++i) key.bytes[i] = static_cast<unsigned char>(i);
  return key;
}

/// Feeds `input` in chunks whose sizes the input itself chooses.
void drive(Handshake& handshake, std::string_view input) {
  std::size_t total_taken = 0;
  while (!input.empty()) {
    std::size_t chunk = 1 + static_cast<unsigned char>(input.front()) % 64;
    input.remove_prefix(1);
    chunk = std::min(chunk, input.size());
    const bool ended = handshake.state() != Handshake::State::in_progress;
    const std::size_t wanted = handshake.wanted();
    const std::size_t taken = handshake.feed(input.substr(0, chunk));
    total_taken += taken;
    CHORUS_FUZZ_CHECK(taken <= chunk, "takes no more than it is given");
    CHORUS_FUZZ_CHECK(!ended || taken == 0, "an ended handshake takes nothing");
    CHORUS_FUZZ_CHECK(wanted > 0 || taken == 0, "takes nothing when it wants nothing");
    const auto output = handshake.take_output();
    if (handshake.state() == Handshake::State::failed) {
      CHORUS_FUZZ_CHECK(output.empty(), "a failed handshake says nothing");
      CHORUS_FUZZ_CHECK(!handshake.failure().empty(), "a failed handshake says why");
    }
    input.remove_prefix(chunk);
  }
  CHORUS_FUZZ_CHECK(total_taken <= kHandshakeHelloBytes + kHandshakeProofBytes,
                    "never a byte beyond the handshake's own messages");
  CHORUS_FUZZ_CHECK(handshake.state() != Handshake::State::established,
                    "no input completes the handshake without the key");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // Fixed ephemerals keep runs reproducible; the property does not depend on them.
  static const Ephemeral acceptor_pair = Ephemeral::generate();
  static const Ephemeral dialer_pair = Ephemeral::generate();
  Handshake acceptor(Role::acceptor, KeyRing{fixed_key(), {}}, acceptor_pair);
  drive(acceptor, input);
  Handshake dialer(Role::dialer, KeyRing{fixed_key(), {}}, dialer_pair);
  CHORUS_FUZZ_CHECK(dialer.take_output().size() == kHandshakeHelloBytes, "a dialer opens with its HELLO");
  drive(dialer, input);
  return 0;
}
