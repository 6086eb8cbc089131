#pragma once
// The DNS-SD record a node announces on the LAN (service type _chorus._tcp), and the decision
// whether a record another host announced names a member this node should dial. Pure: no Avahi,
// no sockets, no clock. LanDiscovery (lan_discovery.hpp) is the shell around it.
//
// TXT entries, each "key=value" (docs/discovery.md):
//   cluster=NAME     the cluster name (--cluster)
//   version=N        chorus::protocol::kProtocolVersion
//   id=NODE_ID       the node id, as in its HELLO
//   priority=N       its election priority (lets the peer table rank it before the handshake)
//   key=HEX16        the id of the cluster key it proves, absent for an open cluster; the same
//                    8 bytes every keyed handshake already sends in clear (docs/security.md)
// Records are outside bytes: anything missing, repeated, too long, not UTF-8 or not a number is
// refused with a reason, and the record is ignored.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/protocol/messages.hpp"

namespace chorus::net {

inline constexpr std::string_view kServiceType = "_chorus._tcp";
/// A DNS TXT string holds at most 255 bytes, its "key=" included.
inline constexpr std::size_t kMaxTxtEntryBytes = 255;

/// What one node announces about itself.
struct ServiceRecord {
  std::string cluster;
  std::int64_t version = 0;
  std::string node_id;
  std::int64_t priority = 0;
  std::string key_id;  ///< lower-case hex of the cluster key's id; empty: an open cluster

  friend bool operator==(const ServiceRecord&, const ServiceRecord&) = default;
};

/// The TXT entries announcing `record`, in a fixed order.
std::vector<std::string> encode_txt(const ServiceRecord& record);

/// The record in `entries`, or the reason it is refused.
struct DecodedTxt {
  std::optional<ServiceRecord> record;
  std::string problem;  ///< why there is no record (empty when there is one)
};
DecodedTxt decode_txt(const std::vector<std::string>& entries);

/// One resolved announcement: its TXT entries and one address it resolved to.
struct Sighting {
  std::vector<std::string> txt;
  std::string address;    ///< numeric IPv4 or IPv6 address as the resolver printed it
  std::string interface;  ///< name of the interface it was seen on (the scope of a link-local IPv6)
  int port = 0;           ///< as resolved: checked here, since it comes from the wire
};

enum class Verdict {
  dial,           ///< a member of this cluster: hand it to the network manager
  own,            ///< this node's own announcement
  other_cluster,  ///< another cluster name
  other_version,  ///< another protocol version: the handshake would refuse it
  other_key,      ///< another cluster key (or keyed vs open): the handshake would fail
  malformed,      ///< TXT entries, address or port unusable
};
const char* to_string(Verdict verdict);

/// This node, as the decision needs it.
struct LocalIdentity {
  std::string cluster;
  std::int64_t version = 0;
  std::string node_id;
  std::vector<std::string> key_ids;  ///< hex ids of every key this node accepts; empty: open
};

/// The member to dial, when the verdict is dial.
struct Decision {
  Verdict verdict = Verdict::malformed;
  std::string problem;               ///< for malformed: what was wrong
  std::optional<protocol::Member> member;
  bool ipv6 = false;                 ///< the endpoint's host is an IPv6 address
};

/// Whether `sighting` names a member this node should dial, and where.
Decision decide(const LocalIdentity& self, const Sighting& sighting);

/// Whether a further address seen for a member (`candidate`) is passed over because of the one
/// already handed on (`current`): IPv4 is preferred, IPv6 used only while no IPv4 is known.
bool passed_over(bool current_ipv6, bool candidate_ipv6);

}  // namespace chorus::net
