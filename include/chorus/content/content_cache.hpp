#pragma once
// ContentCache: the bounded on-disk store of track files fetched from peers, named by content
// hash only (no peer-supplied name ever becomes a path), and PartialFile, one file being fetched,
// readable by the decoder while its other chunks still arrive. docs/library.md, "Cache".
//
// On disk, in the cache directory:
//   <hash>          a complete file, its whole-file SHA-256 checked; its mtime is when it was last
//                   played (least recently played goes first when room is needed)
//   <hash>.part     a file being fetched, at its full size, holding the verified chunks
//   <hash>.meta     its size, its chunk digests and which chunks are in (resumed after a restart:
//                   every chunk marked held is re-verified against its digest then)
// Anything else in the directory is left alone.
//
// Threads: every member of both classes may be called from any thread. ContentCache guards its
// table with one mutex, never held across file I/O of more than a metadata write. PartialFile's
// read_at() may wait (bounded) for a chunk; store() never waits on a reader.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/content/chunking.hpp"

namespace chorus::content {

/// True when `text` is a content hash as the cache names files: exactly 64 lower-case hex digits.
/// Every hash argument of the cache is checked with it; anything else is refused and never
/// becomes part of a path.
bool is_content_hash(std::string_view text);

/// Why a chunk was not stored.
enum class StoreResult { stored, already_held, corrupt, out_of_range, write_failed };

class PartialFile {
 public:
  /// Use ContentCache::begin(); public for the cache's make_shared.
  PartialFile(std::string hash, std::uint64_t size, std::vector<Digest> digests, int fd,
              std::filesystem::path data_path, std::filesystem::path meta_path, std::vector<bool> held);
  ~PartialFile();
  PartialFile(const PartialFile&) = delete;
  PartialFile& operator=(const PartialFile&) = delete;

  const std::string& hash() const { return hash_; }
  std::uint64_t size() const { return size_; }
  std::uint64_t chunk_count() const { return digests_.size(); }
  const std::vector<Digest>& digests() const { return digests_; }
  bool has(std::uint64_t chunk) const;
  std::vector<bool> held() const;
  std::uint64_t held_count() const;
  bool complete() const;

  /// Checks `bytes` against chunk `chunk`'s digest, writes it and records it (data before
  /// metadata, so a crash never marks a chunk held that is not written). `error` says why not.
  /// corrupt: wrong length or digest, nothing written; write_failed: the data or the metadata
  /// could not be written (disk full, file too large, I/O error).
  StoreResult store(std::uint64_t chunk, std::span<const std::uint8_t> bytes, std::string& error);

  /// Up to out.size() bytes at `offset`. Where a chunk is missing it waits for it up to
  /// `patience` (telling the on_demand callback which chunk), and returns short if it did not
  /// come; short also at the end of the file. For the decoder thread.
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out, std::chrono::milliseconds patience);
  /// The chunk a reader last waited for or read; 0 before any read.
  std::uint64_t demanded() const;
  /// Called (from the reader's thread, must not block) when a reader starts to wait for a
  /// missing chunk. Set once, before readers exist.
  void on_demand(std::function<void(std::uint64_t chunk)> callback);
  /// The bytes of a held chunk (for serving a peer); nullopt if not held or unreadable.
  std::optional<std::vector<std::uint8_t>> read_chunk(std::uint64_t chunk) const;
  /// Ends every wait at once (the fetch was abandoned): reads return short. Stores still work.
  void abandon();
  bool abandoned() const;

 private:
  const std::string hash_;
  const std::uint64_t size_;
  const std::vector<Digest> digests_;
  int fd_;        // the data, open read-write; stays valid when the cache renames or unlinks it
  int meta_fd_;   // the metadata, open write-only; -1 if it could not be opened
  const std::filesystem::path data_path_;
  const std::filesystem::path meta_path_;
  std::mutex meta_mutex_;     // orders the bitmap writes of concurrent store()s
  mutable std::mutex mutex_;  // guards held_, held_count_, demanded_, abandoned_, on_demand_
  std::condition_variable arrived_;
  std::vector<bool> held_;
  std::uint64_t held_count_ = 0;
  std::uint64_t demanded_ = 0;
  bool abandoned_ = false;
  std::function<void(std::uint64_t)> on_demand_;
};

struct CacheConfig {
  std::filesystem::path directory;       ///< made if missing (with its parents), mode 0700
  std::uint64_t max_bytes = 2048ull << 20;
};

enum class CacheState { absent, partial, complete };

/// One entry, for `status` and `list`.
struct CacheEntryView {
  std::string hash;
  CacheState state = CacheState::absent;
  std::uint64_t size = 0;
  std::uint64_t chunks_held = 0;
  std::uint64_t chunk_count = 0;
};

class ContentCache {
 public:
  /// Opens the cache in config.directory, creating it, and takes stock of what is there (partial
  /// files are resumed lazily by begin()). Never throws: an unusable directory (not a directory,
  /// not writable, ...) gives a cache whose error() says why and which stores nothing.
  explicit ContentCache(CacheConfig config);
  ~ContentCache();
  ContentCache(const ContentCache&) = delete;
  ContentCache& operator=(const ContentCache&) = delete;

  /// Empty when usable.
  std::string error() const;
  const CacheConfig& config() const { return config_; }

  CacheState state(const std::string& hash) const;
  /// The path of a complete cached file.
  std::optional<std::filesystem::path> complete_path(const std::string& hash) const;

  /// The fetch of `hash` (a file of `size` bytes whose chunk digests are `digests`, already
  /// checked against its root by the caller): the one under way, one resumed from disk (its
  /// held chunks re-verified), or a new one. Makes room for `size` bytes first by evicting the
  /// least recently played entries not protected (nor partial files others hold); nullptr with
  /// `error` when it cannot (unusable directory, file larger than the cache, no room, disk full,
  /// a hash that is not is_content_hash(), already complete, under way with other digests).
  std::shared_ptr<PartialFile> begin(const std::string& hash, std::uint64_t size,
                                     std::vector<Digest> digests, std::string& error);
  /// The fetch of `hash` under way (begun since this process started), if any.
  std::shared_ptr<PartialFile> partial(const std::string& hash) const;
  /// Once every chunk is in: checks the whole-file SHA-256 and makes it a complete entry.
  /// False with `error` when the hash differs (the entry is then discarded) or the rename fails.
  bool finish(const std::string& hash, std::string& error);
  /// A chunk of a complete cached file (or a held chunk of a fetch under way), for serving;
  /// nullopt if not held or unreadable.
  std::optional<std::vector<std::uint8_t>> read_chunk(const std::string& hash, std::uint64_t chunk) const;
  /// Drops an entry (complete or partial: abandoned) and its files, protected or not.
  void remove(const std::string& hash);

  /// `hash` was just played: it goes to the back of the eviction order.
  void touch(const std::string& hash);
  /// Entries that are never evicted (the tracks playing and next); replaces the set. True if an
  /// entry protected until now no longer is: only that can make room for a new one.
  bool protect(std::set<std::string> hashes);

  std::vector<CacheEntryView> entries() const;
  std::uint64_t used_bytes() const;
  std::uint64_t evictions() const;

 private:
  // (the implementation chooses its own private state)
  struct Impl;
  CacheConfig config_;
  std::unique_ptr<Impl> impl_;
};

}  // namespace chorus::content
