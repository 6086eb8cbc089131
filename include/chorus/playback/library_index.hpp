#pragma once
// LibraryIndex: what the library learned about each file, kept in an SQLite database between
// runs, so that a file whose size and modification time are unchanged is never read again.
//
// One row per file, keyed by its path relative to the library directory ('/' separators). The
// index is a cache: a file that cannot be opened or is not an SQLite database is renamed aside
// (FILE.corrupt) and a fresh one is made; if that fails too, the index lives in memory for this
// run. It never throws and never stops the node.
//
// Threads: any, concurrently (one mutex around the connection).

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/content/chunking.hpp"

namespace chorus::playback {

/// One file as the index remembers it.
struct IndexEntry {
  std::string path;                    ///< relative to the library directory, '/' separators
  std::uint64_t size = 0;              ///< bytes, when it was read
  std::int64_t mtime_ns = 0;           ///< modification time, ns since the epoch, when it was read
  std::string content_hash;            ///< hex SHA-256 of the bytes
  std::string chunk_root;              ///< hex (content/chunking.hpp)
  std::vector<content::Digest> chunks; ///< left empty by LibraryIndex::entries()
  std::string format;                  ///< as TrackInfo::format
  int rate = 0;
  int channels = 0;
  std::int64_t frames = 0;             ///< at 48 kHz
  std::string title;
  std::string artist;
  std::string album;
  std::string error;                   ///< why the file cannot be played; empty if it can
};

class LibraryIndex {
 public:
  /// The index kept in `file` (created with its parent directories if missing); an empty path
  /// keeps it in memory only.
  explicit LibraryIndex(const std::filesystem::path& file = {});
  LibraryIndex(LibraryIndex&&) noexcept;
  LibraryIndex& operator=(LibraryIndex&&) noexcept;
  LibraryIndex(const LibraryIndex&) = delete;
  LibraryIndex& operator=(const LibraryIndex&) = delete;
  ~LibraryIndex();

  /// Whether rows outlive this object (false: in memory, by request or after a failure).
  bool persistent() const noexcept;

  /// Every row, without chunk digests (they are only needed when a peer asks for a manifest).
  std::vector<IndexEntry> entries() const;
  /// The chunk digests of a file with this content hash (case-insensitive hex), checked against
  /// its stored chunk root; none if no row has it or the row does not check out.
  std::optional<std::vector<content::Digest>> chunks(std::string_view content_hash) const;

  /// Inserts or replaces these rows, in one transaction.
  void put(std::span<const IndexEntry> entries);
  /// Deletes the rows of these paths, in one transaction.
  void remove(std::span<const std::string> paths);

 private:
  struct Db;
  std::unique_ptr<Db> db_;
};

}  // namespace chorus::playback
