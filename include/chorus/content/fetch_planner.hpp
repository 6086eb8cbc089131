#pragma once
// FetchPlanner: which chunk of one file to ask which peer for, and when. Pure: no sockets, no
// clocks, no threads; every input carries `now` (µs, any monotonic clock). docs/library.md,
// "Fetching", explains the rules; ContentService runs one planner per file it fetches.
//
// Rules (in this order for each free request slot):
//  1. Order: chunk 0 first (the header), then from the demand cursor (the chunk the decoder
//     needs next; 0 until told) onwards, then the chunks before it. The last chunk comes in its
//     turn, or at once when the decoder demands it (an Ogg file's length is read at its end):
//     on a slow upload every chunk fetched ahead of need delays the ones the reader needs next.
//  2. Urgent chunks (chunk 0, and the demand cursor with the `urgent_chunks` after it) are asked
//     of any holder at once.
//  3. Others are spread over the co-fetchers (the nodes fetching the same file, self included,
//     sorted by id; barred peers left out): chunk c is fetched from a holder by co-fetcher c mod
//     n, and the others wait for it to hold c and ask it. While it does not, another co-fetcher
//     holding c is asked instead (a fetching peer has no upload to spare the source); if only
//     non-fetching nodes hold c, any holder will do once c has been due for `peer_wait_us`. A
//     chunk is due while it is one of the first `window` chunks in order that are neither held
//     nor requested and have a holder: the wait runs only near the front, so chunks the
//     designated co-fetcher will get in its turn do not all fall back to the source at once.
//     No wait if the designated co-fetcher is self (the best holder is asked), or served c
//     corrupt, refused it or let it time out. So a file 8 rooms fetch at once leaves its source
//     about once, not 8 times.
// 3b. A chunk whose wait ran out does not take the last free slot at a source (a holder not
//     fetching the file; when `per_peer` is 2 or more): that slot goes to a chunk of this node's
//     own share (designated self), which no co-fetcher asks the source for, so the source's
//     upload goes to chunks the swarm lacks, and the file has left it (and survives its loss)
//     sooner. The chunk whose wait ran out is most likely on its way from the source to its
//     co-fetcher already. If no chunk of its own share takes the slot, it does.
//  4. Among the holders of a chunk: not one that served it corrupt, not a barred one, not one at
//     its per-peer limit; prefer one that has not refused or timed out on it, then one still
//     fetching (incomplete bitmap) over a complete one, then the one with fewest requests
//     outstanding from us, then the smallest id.
//  5. A request unanswered after `request_timeout_us` is dropped (the peer is charged a failure)
//     and the chunk is due again; each time a chunk times out, its next request waits twice as
//     long (up to 2^10 times), so slow answers are not outrun by copies of their requests.
//     A peer that served `corrupt_limit` corrupt chunks is not asked again.

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace chorus::content {

struct FetchConfig {
  /// Requests outstanding at once for this file, and of them to one peer. A holder serves its
  /// requests in order, so each one queued there is a chunk an urgent request (the reader's
  /// position moved) waits behind: few keep that wait short on a slow upload; two per peer keep
  /// a link busy while the next request travels.
  std::size_t window = 4;
  std::size_t per_peer = 2;
  std::uint64_t urgent_chunks = 2;    ///< chunks past the demand cursor asked of anyone at once
  std::int64_t peer_wait_us = 1'000'000;
  std::int64_t request_timeout_us = 5'000'000;
  /// An urgent chunk's request is given up sooner: the reader is stopped until it arrives, and a
  /// request lost on its way (a link that closed, a holder that dropped it) must not stop it for
  /// the whole request timeout while other holders could answer.
  std::int64_t urgent_timeout_us = 1'000'000;
  int corrupt_limit = 3;
};

enum class ChunkFailure { corrupt, refused, timeout };

struct ChunkAsk {
  std::string peer;
  std::uint64_t chunk = 0;
  friend bool operator==(const ChunkAsk&, const ChunkAsk&) = default;
};

class FetchPlanner {
 public:
  /// `held` are the chunks already verified on disk (a resumed fetch); its size is the count.
  FetchPlanner(std::string self, std::vector<bool> held, FetchConfig config = {});

  // ---- inputs ----
  /// A peer's bitmap (HAVE): replaces what was known of it. An empty bitmap: it holds nothing.
  void holder(const std::string& peer, const std::vector<bool>& chunks);
  /// The peer is gone: forget its bitmap; its outstanding requests are due again.
  void holder_gone(const std::string& peer);
  /// The nodes fetching this file besides self (from their WANTs).
  void cofetchers(const std::set<std::string>& peers);
  /// The decoder needs `chunk` next.
  void demand(std::uint64_t chunk);
  /// `chunk` arrived from `peer` and was verified and stored.
  void received(std::int64_t now, const std::string& peer, std::uint64_t chunk);
  /// `chunk` did not come from `peer`: corrupt, refused, or timed out (the shell's or ours).
  void failed(std::int64_t now, const std::string& peer, std::uint64_t chunk, ChunkFailure why);

  // ---- outputs ----
  /// The requests to send now; they count as outstanding from here on.
  std::vector<ChunkAsk> next(std::int64_t now);
  /// When next() may have something new without another input (a wait or a timeout ends).
  std::optional<std::int64_t> next_deadline() const;

  // ---- state ----
  bool done() const;
  std::uint64_t chunk_count() const;
  std::uint64_t held_count() const;
  bool holds(std::uint64_t chunk) const;
  /// One flag per chunk: held.
  const std::vector<bool>& held() const { return held_; }
  /// Missing chunks that no known holder (not excluded) has: the fetch cannot finish now.
  std::vector<std::uint64_t> unavailable() const;
  std::size_t outstanding() const;
  /// Chunks received per peer, for status.
  const std::map<std::string, std::uint64_t>& received_from() const;
  std::uint64_t corrupt_count() const;
  /// Requests outstanding to `peer`.
  std::size_t outstanding_to(const std::string& peer) const;
  /// Requests `peer` refused or let time out.
  std::uint64_t failures_of(const std::string& peer) const;
  /// `peer` served `corrupt_limit` corrupt chunks: it is not asked again.
  bool barred(const std::string& peer) const;
  /// The demand cursor.
  std::uint64_t demand_cursor() const { return demand_; }
  /// Rule 2: chunk 0, or the demand cursor's chunk or one of the `urgent_chunks` after it.
  bool urgent(std::uint64_t chunk) const;

 private:
  struct Holder {
    std::vector<bool> chunks;  ///< exactly chunk_count() long
    std::uint64_t count = 0;   ///< bits set
  };
  struct Outstanding {
    std::string peer;
    std::int64_t deadline = 0;
  };

  static constexpr int kMaxTimeoutDoublings = 10;

  /// Rule 5's timeout for the next request of `chunk`.
  std::int64_t timeout_for(std::uint64_t chunk) const;
  /// `peer` holds `chunk` by its last bitmap, has not served it corrupt and is not barred.
  bool eligible(const std::string& peer, std::uint64_t chunk) const;
  /// Rule 3b: asking `peer` for a chunk whose wait ran out would take the last slot this node
  /// keeps at a source for its own share.
  bool reserved_for_own_share(const std::string& peer) const;
  void rebuild_order();
  void drop_outstanding_of(const std::string& peer);

  std::string self_;
  FetchConfig config_;
  std::vector<bool> held_;
  std::uint64_t held_count_ = 0;
  std::map<std::string, Holder> holders_;
  std::set<std::string> cofetchers_;  ///< without self
  std::uint64_t demand_ = 0;
  std::vector<std::uint64_t> order_;  ///< every chunk once, in rule 1's order
  std::map<std::uint64_t, Outstanding> outstanding_;
  std::map<std::string, std::size_t> outstanding_by_peer_;
  std::map<std::uint64_t, std::int64_t> due_since_;  ///< when a waiting chunk became due (rule 3)
  std::map<std::uint64_t, std::set<std::string>> failed_from_;  ///< refused / timed out, per chunk
  std::map<std::string, std::uint64_t> failures_by_peer_;
  std::map<std::uint64_t, int> timeouts_;  ///< per missing chunk, for the backoff
  std::map<std::string, int> corrupt_by_peer_;
  std::map<std::uint64_t, std::set<std::string>> excluded_;  ///< peers that served a chunk corrupt
  std::map<std::string, std::uint64_t> received_from_;
  std::uint64_t corrupt_total_ = 0;
  std::int64_t last_now_ = 0;  ///< of the last next(): waits that ended by then are no deadline
  bool next_called_ = false;
};

}  // namespace chorus::content
