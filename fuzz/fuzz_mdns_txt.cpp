// A DNS-SD record another host announces (net::decode_txt and net::decide, mdns_record.hpp): the
// input is the TXT record as on the wire (each entry a length byte then its bytes), then two
// bytes of port; the address is one of a few the first byte picks. A decoded record encodes back
// to itself; a refusal says why; a member to dial has a port in range and a valid id.

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "check.hpp"
#include "chorus/net/mdns_record.hpp"
#include "chorus/protocol/inert_text.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace chorus::net;
  if (size < 3) return 0;
  static const char* const kAddresses[] = {"10.0.0.2", "fe80::1", "2001:db8::2", "::ffff:10.0.0.3",
                                           "0.0.0.0", "not an address"};
  Sighting sighting;
  sighting.address = kAddresses[data[0] % std::size(kAddresses)];
  sighting.interface = data[0] & 0x80 ? "eth0" : "";
  sighting.port = (data[1] << 8 | data[2]) - (data[0] & 0x40 ? 1 : 0);
  for (std::size_t at = 3; at < size;) {
    std::size_t length = data[at++];
    length = std::min(length, size - at);
    sighting.txt.emplace_back(reinterpret_cast<const char*>(data + at), length);
    at += length;
  }
  const auto decoded = decode_txt(sighting.txt);
  if (decoded.record) {
    CHORUS_FUZZ_CHECK(decode_txt(encode_txt(*decoded.record)).record == decoded.record,
                      "a decoded record encodes back to itself");
    CHORUS_FUZZ_CHECK(chorus::protocol::is_inert(decoded.record->node_id) &&
                          chorus::protocol::is_inert(decoded.record->cluster),
                      "a decoded id and cluster print as they are");
  } else {
    CHORUS_FUZZ_CHECK(!decoded.problem.empty(), "a refusal says why");
  }
  LocalIdentity self;
  self.cluster = "chorus";
  self.version = chorus::protocol::kProtocolVersion;
  self.node_id = "self";
  self.key_ids = {};
  const auto decision = decide(self, sighting);
  CHORUS_FUZZ_CHECK((decision.verdict == Verdict::dial) == decision.member.has_value(),
                    "a member exactly when it is to be dialled");
  if (decision.member) {
    CHORUS_FUZZ_CHECK(decoded.record && decision.member->id == decoded.record->node_id &&
                          decision.member->endpoint.port != 0 && !decision.member->endpoint.host.empty(),
                      "a member to dial is the record's, with a port and a host");
  }
  return 0;
}
