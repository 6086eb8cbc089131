#pragma once
// ContentService: this node's content links — its own listener and connections, separate from
// the cluster links, on its own thread and io_context, so that bulk bytes never queue ahead of a
// heartbeat, a clock sample or a command, and hashing and base64 never hold up the io thread
// that stamps clock samples. docs/library.md.
//
//   catalogs: each node offers its own playable tracks; every node pulls its peers' lists (in
//             pages, again whenever a peer's list changes) and posts the merged Catalog to the
//             owner.
//   fetching: the owner says which tracks it wants (the ones playing and next); for each that
//             is neither in its library nor cached, the service asks every peer what it holds
//             (WANT → HAVE, and HAVE again as a holder gains chunks), gets the chunk digests from
//             one (MANIFEST, checked against the track's root) and runs a FetchPlanner over the
//             chunks into the ContentCache, each chunk checked against its digest.
//   serving:  any chunk this node holds — of its library's files (checked against the index's
//             digests as it is read, so a file changed on disk is refused, not served) or of its
//             cache — goes to whoever asks, within an upload budget and a bounded queue per peer,
//             the peers served in turn (UploadQueue).
//
// Threads: the public members may be called from any thread; they post to the service's thread,
// which alone touches the links, the catalogs and the fetches. view() reads a copy published
// under a mutex.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "chorus/content/catalog.hpp"
#include "chorus/content/chunk_ranges.hpp"
#include "chorus/content/content_cache.hpp"
#include "chorus/content/fetch_planner.hpp"
#include "chorus/net/connection.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::content {

/// What the service needs of this node's own library. Called on the service's thread.
class LocalTracks {
 public:
  struct File {
    std::filesystem::path path;
    std::uint64_t size = 0;
  };
  /// The library file with this content hash.
  virtual std::optional<File> file(const std::string& hash) const = 0;
  /// Its chunk digests, as indexed.
  virtual std::optional<std::vector<Digest>> manifest(const std::string& hash) const = 0;
  /// Every playable track of the library.
  virtual std::vector<protocol::CatalogEntry> catalog() const = 0;

 protected:
  ~LocalTracks() = default;
};

/// A content link's bounds: reading is budgeted like a cluster link's, but for chunks, not
/// heartbeats (a cluster link's 2 MiB/s would make one peer's upload the ceiling of a fetch).
inline net::ConnectionPolicy content_link_policy() {
  net::ConnectionPolicy policy;
  policy.rate.bytes_per_s = 48 << 20;
  policy.rate.byte_burst = 16 << 20;
  return policy;
}

struct ContentConfig {
  std::string id;
  std::string cluster = "chorus";
  protocol::Endpoint listen{"0.0.0.0", 0};
  /// Keys (as the cluster links'), queue and read-rate bounds of every content link.
  net::ConnectionPolicy connection = content_link_policy();
  CacheConfig cache;
  FetchConfig fetch;
  /// Upload budget over all content links, bytes per second (0: unlimited).
  std::uint64_t upload_bytes_per_second = 6u << 20;
  /// Chunk requests a peer may have queued here; more are refused as busy.
  std::size_t max_queued_requests_per_peer = 8;
  std::size_t max_links = 64;
};

/// A track the owner wants held: fetched if this node has no copy.
struct WantedTrack {
  std::string hash;
  std::string root;
  std::uint64_t size = 0;
  std::string name;
  std::int64_t frames = 0;
  std::int64_t start_frame = 0;  ///< where playback will read first
  friend bool operator==(const WantedTrack&, const WantedTrack&) = default;
};

/// One fetch, for status.
struct FetchView {
  std::string hash;
  std::string name;
  std::uint64_t held = 0;
  std::uint64_t chunks = 0;  ///< 0 until the manifest is in
  ChunkRanges held_ranges;   ///< which chunks are held
  bool complete = false;
  std::map<std::string, std::uint64_t> received_from;
  std::uint64_t corrupt = 0;
  std::uint64_t unavailable = 0;  ///< chunks nobody reachable holds
  std::string problem;            ///< the latest error, empty when all is well
};

struct ContentView {
  std::uint16_t port = 0;
  std::string cache_error;
  std::uint64_t cache_used = 0;
  std::uint64_t cache_max = 0;
  std::uint64_t evictions = 0;
  std::vector<FetchView> fetches;
  std::uint64_t bytes_served = 0;
  std::uint64_t chunks_served = 0;
  std::uint64_t bytes_fetched = 0;
  std::uint64_t corrupt_chunks = 0;
  std::uint64_t refused_requests = 0;
  std::size_t links = 0;
};

class ContentService final : public net::ConnectionObserver {
 public:
  struct Callbacks {
    /// Runs work on the owner's thread.
    std::function<void(std::function<void()>)> post;
    /// On the owner's thread: the cluster's catalog changed.
    std::function<void(std::shared_ptr<const Catalog>)> catalog_changed;
    /// On the owner's thread: more of a wanted track is here (or all of it).
    std::function<void(const std::string& hash)> progress;
  };

  ContentService(ContentConfig config, const LocalTracks& local, Callbacks callbacks);
  ~ContentService();  ///< stop()
  ContentService(const ContentService&) = delete;
  ContentService& operator=(const ContentService&) = delete;

  /// Binds the listener (throws if it cannot) and starts the thread.
  void start();
  /// Closes every link and joins the thread. Idempotent.
  void stop();
  /// The bound port (after start()).
  std::uint16_t port() const { return port_; }

  void peer_up(const std::string& id, const std::string& host, std::uint16_t content_port);
  void peer_down(const std::string& id);
  /// Exactly these tracks are wanted now, most urgent first; fetches of others stop (what they
  /// got stays cached, to resume).
  void want(std::vector<WantedTrack> tracks);
  /// The own library changed (a background scan found files): re-offer it.
  void local_catalog_changed();
  /// `hash` is being played: it is the last the cache evicts.
  void played(const std::string& hash);

  /// Any thread: the cache (thread-safe), for opening cached or partial tracks.
  ContentCache& cache() const { return *cache_; }
  ContentView view() const;

  // net::ConnectionObserver (service thread)
  void on_message(net::Connection& connection, protocol::Message message, net::Clock::time_point received) override;
  void on_closed(net::Connection& connection, const std::string& reason) override;

 private:
  class Impl;
  std::unique_ptr<ContentCache> cache_;
  std::unique_ptr<Impl> impl_;
  std::uint16_t port_ = 0;
};

}  // namespace chorus::content
