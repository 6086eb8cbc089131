#pragma once
// A simulated swarm for the fetch planner: deterministic, in memory, simulated time. One origin
// holds the whole file; each fetcher runs a FetchPlanner. Every node uploads one chunk at a time
// (a serial queue, `upload_us` a chunk) and stores what it receives one at a time
// (`download_us` a chunk); messages take `latency_us`; a node's HAVE reaches the others
// `have_delay_us` after each chunk it stores, and its WANT is withdrawn the same way once it is
// done. A killed node is gone for everyone at once (holder_gone), with its transfers in flight.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chorus/content/fetch_planner.hpp"

namespace chorus::content::sim {

struct NodeSpec {
  std::int64_t upload_us = 10'000;  ///< per chunk, one at a time
  std::int64_t download_us = 0;     ///< per chunk stored, one at a time
  bool corrupt = false;             ///< serves bad bytes for every chunk
  std::optional<std::int64_t> dies_at;
  std::uint64_t demand = 0;  ///< the demand cursor it sets at the start
  std::vector<bool> held;    ///< chunks it starts with (a resumed fetch); empty: none
};

struct SwarmConfig {
  std::uint64_t chunks = 120;
  NodeSpec origin;
  std::vector<NodeSpec> fetchers;
  std::int64_t latency_us = 1'000;
  std::int64_t have_delay_us = 2'000;
  FetchConfig planner;
  std::int64_t time_limit_us = 3'600'000'000;
};

struct FetcherResult {
  std::string id;
  bool alive = true;
  bool done = false;
  std::int64_t done_at = -1;
  std::vector<std::int64_t> arrived_at;  ///< per chunk; -1: never (or held from the start)
  std::vector<bool> holds;
  std::vector<std::uint64_t> unavailable;  ///< the planner's, at the end
  std::uint64_t corrupt_count = 0;
  std::map<std::string, std::uint64_t> received_from;
  std::uint64_t uploads = 0;
  bool barred_any = false;  ///< barred at least one peer
};

struct SwarmResult {
  std::uint64_t origin_uploads = 0;
  bool origin_alive = true;
  std::vector<FetcherResult> fetchers;
  /// Invariant breaches seen on the way: a held chunk asked for, a peer asked for a chunk its
  /// last bitmap lacks, window or per-peer limit exceeded, a barred or gone peer asked.
  std::vector<std::string> violations;
  std::int64_t end_us = 0;
  bool timed_out = false;
  std::uint64_t asks = 0;
  std::uint64_t duplicates = 0;  ///< chunks received that were already held
};

/// Fetcher i is named "f<i+1>" (two digits), the origin "origin".
std::string fetcher_id(std::size_t index);

SwarmResult run_swarm(const SwarmConfig& config);

/// Chunks of `fetcher` missing at the end that no live honest node held.
std::vector<std::uint64_t> uncovered(const SwarmConfig& config, const SwarmResult& result,
                                     std::size_t fetcher);

}  // namespace chorus::content::sim
