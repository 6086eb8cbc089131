#pragma once
// UploadQueue: the chunk requests peers have queued at this node, and which one to serve next.
// Pure: no sockets, clocks or threads; ContentService holds one for all its content links.
//
// The upload budget lets one chunk go at a time when it is capped, so the order in which the
// peers are served is the share of the upload each one gets. They take turns: the next chunk goes
// to the first peer after the one served last (by id, wrapping round) that has a request queued
// and whose link can take a chunk now; each peer's own requests are served in the order they
// came. Without turns, the peer that happened to come first in the walk took the whole upload as
// long as it kept a request queued, and every other peer's requests waited behind it, for
// seconds, while their players were silent.

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>

namespace chorus::content {

struct QueuedChunk {
  std::string peer;  ///< who asked
  std::string hash;
  std::uint64_t chunk = 0;
  std::int64_t since = 0;  ///< when the request came (µs, any monotonic clock), for the log
  friend bool operator==(const QueuedChunk&, const QueuedChunk&) = default;
};

class UploadQueue {
 public:
  /// A peer may have at most `max_per_peer` requests queued; more are refused.
  explicit UploadQueue(std::size_t max_per_peer) : max_per_peer_(max_per_peer) {}

  /// Queues `request` behind the peer's others; false (nothing queued) when it has
  /// `max_per_peer` already.
  bool push(QueuedChunk request);
  /// The request to serve now: the oldest of the first peer in turn for which `ready(peer)` is
  /// true (its link can take a chunk), and that peer's turn is taken. Nothing if no peer with
  /// requests is ready.
  std::optional<QueuedChunk> pop(const std::function<bool(const std::string& peer)>& ready);
  /// Drops every request of `peer` (its link is gone).
  void forget(const std::string& peer);

  bool empty() const { return queues_.empty(); }
  std::size_t size() const;
  std::size_t queued(const std::string& peer) const;

 private:
  std::size_t max_per_peer_;
  std::map<std::string, std::deque<QueuedChunk>> queues_;  ///< never an empty deque
  std::optional<std::string> last_served_;                 ///< whose turn was the last
};

}  // namespace chorus::content
