#pragma once
// Envelope: one election message as the pure core emits and consumes it.
// The node shell maps kind -> wire type (ELECTION / ELECTION_ANSWER / COORDINATOR) and back;
// `to` is only the routing address, the wire message carries `from` and `epoch`.

#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::election {

/// The three Bully messages.
enum class MessageKind {
  election,     ///< wire ELECTION: "I have no leader; here is the highest epoch I know"
  answer,       ///< wire ELECTION_ANSWER: "I outrank you and am alive; stand down"
  coordinator,  ///< wire COORDINATOR: "I am the leader of this epoch"
};

/// One election message, addressed to one peer.
struct Envelope {
  MessageKind kind = MessageKind::election;
  std::string from;         ///< sender's node id
  std::string to;           ///< receiver's node id
  /// COORDINATOR: the sender's leadership epoch. ELECTION / ELECTION_ANSWER: the highest epoch
  /// the sender has seen, so the receiver catches up.
  std::uint64_t epoch = 0;

  friend bool operator==(const Envelope&, const Envelope&) = default;
};

/// "election", "answer" or "coordinator".
std::string_view to_string(MessageKind kind);
/// e.g. "coordinator a->b @3", for logs and test failure messages.
std::string to_string(const Envelope& envelope);

}  // namespace chorus::election
