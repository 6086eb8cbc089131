#pragma once
// Counters of what crossed the sockets; owned by NetworkManager, bumped by its connections.

#include <cstdint>

namespace chorus::net {

/// Totals since start. Only the io thread writes them.
struct TrafficCounters {
  std::uint64_t frames_in = 0;
  std::uint64_t frames_out = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t decode_errors = 0;       ///< frames or bodies that closed their connection
  std::uint64_t unknown_types = 0;       ///< messages of a type this version does not know (ignored)
  std::uint64_t queue_overflows = 0;     ///< peers disconnected because they could not keep up
  std::uint64_t failed_handshakes = 0;   ///< connections that did not prove the cluster key
  std::uint64_t throttled = 0;           ///< times a connection's reading paused for its rate budget
};

}  // namespace chorus::net
