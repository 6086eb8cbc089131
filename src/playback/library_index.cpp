#include "chorus/playback/library_index.hpp"

#include <sqlite3.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <mutex>
#include <system_error>
#include <utility>

#include <spdlog/spdlog.h>

namespace chorus::playback {

namespace fs = std::filesystem;

namespace {

/// Bumped when the table changes: an index of another version is rebuilt, not migrated (it is a
/// cache of what the files say).
constexpr int kSchemaVersion = 1;

constexpr const char* kSchema =
    "CREATE TABLE IF NOT EXISTS files("
    " path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,"
    " content_hash TEXT NOT NULL, chunk_root TEXT NOT NULL, chunks BLOB NOT NULL,"
    " format TEXT NOT NULL, rate INTEGER NOT NULL, channels INTEGER NOT NULL, frames INTEGER NOT NULL,"
    " title TEXT NOT NULL, artist TEXT NOT NULL, album TEXT NOT NULL, error TEXT NOT NULL"
    ") WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS files_by_hash ON files(content_hash);";

constexpr const char* kPut =
    "INSERT OR REPLACE INTO files(path, size, mtime_ns, content_hash, chunk_root, chunks, format, rate,"
    " channels, frames, title, artist, album, error) VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?)";
constexpr const char* kRemove = "DELETE FROM files WHERE path = ?";
constexpr const char* kChunks = "SELECT chunks, chunk_root FROM files WHERE content_hash = ? LIMIT 1";
constexpr const char* kEntries =
    "SELECT path, size, mtime_ns, content_hash, chunk_root, format, rate, channels, frames, title, artist,"
    " album, error FROM files";

struct StatementDeleter {
  void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
};
using Statement = std::unique_ptr<sqlite3_stmt, StatementDeleter>;

struct ConnectionDeleter {
  void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionDeleter>;

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

bool exec(sqlite3* db, const char* sql) { return sqlite3_exec(db, sql, nullptr, nullptr, nullptr) == SQLITE_OK; }

Statement prepare(sqlite3* db, const char* sql) {
  sqlite3_stmt* s = nullptr;
  if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s, nullptr) != SQLITE_OK) return nullptr;
  return Statement(s);
}

int user_version(sqlite3* db) {
  Statement s = prepare(db, "PRAGMA user_version");
  if (!s || sqlite3_step(s.get()) != SQLITE_ROW) return -1;
  return sqlite3_column_int(s.get(), 0);
}

/// Makes the table current: a fresh or current database keeps its rows, any other is emptied.
bool prepare_schema(sqlite3* db) {
  const int version = user_version(db);
  if (version < 0) return false;  // not a database (garbage bytes): the first read says so
  if (version != 0 && version != kSchemaVersion && !exec(db, "DROP TABLE IF EXISTS files")) return false;
  const std::string set_version = "PRAGMA user_version = " + std::to_string(kSchemaVersion);
  return exec(db, kSchema) && exec(db, set_version.c_str());
}

std::string_view column_text(sqlite3_stmt* s, int column) {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(s, column));
  return text == nullptr ? std::string_view{} : std::string_view(text, static_cast<std::size_t>(sqlite3_column_bytes(s, column)));
}

void bind_text(sqlite3_stmt* s, int column, std::string_view text) {
  sqlite3_bind_text(s, column, text.data(), static_cast<int>(text.size()), SQLITE_TRANSIENT);
}

IndexEntry read_entry(sqlite3_stmt* s) {
  IndexEntry e;
  e.path = column_text(s, 0);
  e.size = static_cast<std::uint64_t>(sqlite3_column_int64(s, 1));
  e.mtime_ns = sqlite3_column_int64(s, 2);
  e.content_hash = column_text(s, 3);
  e.chunk_root = column_text(s, 4);
  e.format = column_text(s, 5);
  e.rate = sqlite3_column_int(s, 6);
  e.channels = sqlite3_column_int(s, 7);
  e.frames = sqlite3_column_int64(s, 8);
  e.title = column_text(s, 9);
  e.artist = column_text(s, 10);
  e.album = column_text(s, 11);
  e.error = column_text(s, 12);
  return e;
}

void bind_entry(sqlite3_stmt* s, const IndexEntry& e) {
  bind_text(s, 1, e.path);
  sqlite3_bind_int64(s, 2, static_cast<sqlite3_int64>(e.size));
  sqlite3_bind_int64(s, 3, e.mtime_ns);
  bind_text(s, 4, e.content_hash);
  bind_text(s, 5, e.chunk_root);
  if (e.chunks.empty()) {
    sqlite3_bind_zeroblob(s, 6, 0);  // a null pointer would bind NULL (an empty file has no chunk)
  } else {
    sqlite3_bind_blob(s, 6, e.chunks.data(), static_cast<int>(e.chunks.size() * sizeof(content::Digest)),
                      SQLITE_TRANSIENT);
  }
  bind_text(s, 7, e.format);
  sqlite3_bind_int(s, 8, e.rate);
  sqlite3_bind_int(s, 9, e.channels);
  sqlite3_bind_int64(s, 10, e.frames);
  bind_text(s, 11, e.title);
  bind_text(s, 12, e.artist);
  bind_text(s, 13, e.album);
  bind_text(s, 14, e.error);
}

/// The digests of a stored blob, if it is whole digests whose root is the stored root.
std::optional<std::vector<content::Digest>> digests_from_blob(const void* blob, int bytes, std::string_view root) {
  if (bytes < 0 || bytes % static_cast<int>(sizeof(content::Digest)) != 0) return std::nullopt;
  std::vector<content::Digest> digests(static_cast<std::size_t>(bytes) / sizeof(content::Digest));
  if (bytes > 0) std::memcpy(digests.data(), blob, static_cast<std::size_t>(bytes));
  if (content::to_hex(content::chunk_root(digests)) != lower(root)) return std::nullopt;
  return digests;
}

/// Renames a bad index file to FILE.corrupt (kept for a post-mortem); false if there is no
/// regular file to move (a directory of that name is not ours to touch).
bool move_aside(const fs::path& file) {
  std::error_code ec;
  if (!fs::is_regular_file(file, ec)) return false;
  fs::rename(file, fs::path(file.string() + ".corrupt"), ec);
  if (ec) fs::remove(file, ec);
  if (ec) return false;
  // A journal left beside a replaced database would be applied to the new one.
  fs::remove(fs::path(file.string() + "-wal"), ec);
  fs::remove(fs::path(file.string() + "-shm"), ec);
  return true;
}

}  // namespace

struct LibraryIndex::Db {
  std::mutex mutex;
  Connection connection;
  Statement put;
  Statement remove;
  Statement chunks;
  bool persistent = false;

  /// Opens `name` (a file or ":memory:") with the table and statements ready, or says why not.
  std::string open(const std::string& name) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(name.c_str(), &raw, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    Connection db(raw);
    if (rc != SQLITE_OK) return db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc);
    sqlite3_busy_timeout(db.get(), 5000);  // another node on this machine may share the file
    // WAL: readers (manifest requests) are not blocked by the hasher's batch writes.
    if (!exec(db.get(), "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL") || !prepare_schema(db.get())) {
      return sqlite3_errmsg(db.get());
    }
    put = prepare(db.get(), kPut);
    remove = prepare(db.get(), kRemove);
    chunks = prepare(db.get(), kChunks);
    if (!put || !remove || !chunks) return sqlite3_errmsg(db.get());
    connection = std::move(db);
    return {};
  }

  void open_file(const fs::path& file) {
    std::error_code ec;
    if (file.has_parent_path()) fs::create_directories(file.parent_path(), ec);
    auto error = open(file.string());
    if (!error.empty()) {
      close();
      if (move_aside(file)) {
        spdlog::warn("library index {}: {}; moved it aside, starting a new one", file.string(), error);
        error = open(file.string());
      }
    }
    if (error.empty()) {
      persistent = true;
      return;
    }
    spdlog::warn("library index {}: {}; keeping the index in memory", file.string(), error);
    close();
    open_memory();
  }

  void open_memory() {
    if (auto error = open(":memory:"); !error.empty()) spdlog::warn("in-memory library index: {}", error);
  }

  void close() {
    put.reset();
    remove.reset();
    chunks.reset();
    connection.reset();
  }

  /// Runs `step` for each item between BEGIN and COMMIT, rolling back if any step fails.
  template <typename Items, typename Step>
  void transaction(const char* what, const Items& items, Step step) {
    sqlite3* db = connection.get();
    if (db == nullptr || items.empty()) return;
    bool ok = exec(db, "BEGIN IMMEDIATE");
    for (auto it = items.begin(); ok && it != items.end(); ++it) ok = step(*it);
    if (ok && exec(db, "COMMIT")) return;
    spdlog::warn("library index: {} failed: {}", what, sqlite3_errmsg(db));
    exec(db, "ROLLBACK");
  }

  static bool run(sqlite3_stmt* s) {
    const bool ok = sqlite3_step(s) == SQLITE_DONE;
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
    return ok;
  }
};

LibraryIndex::LibraryIndex(const fs::path& file) : db_(std::make_unique<Db>()) {
  if (file.empty()) {
    db_->open_memory();
  } else {
    db_->open_file(file);
  }
}

LibraryIndex::LibraryIndex(LibraryIndex&&) noexcept = default;
LibraryIndex& LibraryIndex::operator=(LibraryIndex&&) noexcept = default;
LibraryIndex::~LibraryIndex() = default;

bool LibraryIndex::persistent() const noexcept { return db_ && db_->persistent; }

std::vector<IndexEntry> LibraryIndex::entries() const {
  std::vector<IndexEntry> out;
  if (!db_) return out;
  const std::lock_guard lock(db_->mutex);
  if (!db_->connection) return out;
  Statement s = prepare(db_->connection.get(), kEntries);
  if (!s) return out;
  int rc = SQLITE_ROW;
  while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) out.push_back(read_entry(s.get()));
  if (rc != SQLITE_DONE) spdlog::warn("library index: reading failed: {}", sqlite3_errmsg(db_->connection.get()));
  return out;
}

std::optional<std::vector<content::Digest>> LibraryIndex::chunks(std::string_view content_hash) const {
  if (!db_ || content_hash.empty()) return std::nullopt;
  const std::lock_guard lock(db_->mutex);
  sqlite3_stmt* s = db_->chunks.get();
  if (s == nullptr) return std::nullopt;
  bind_text(s, 1, lower(content_hash));
  std::optional<std::vector<content::Digest>> out;
  if (sqlite3_step(s) == SQLITE_ROW) {
    out = digests_from_blob(sqlite3_column_blob(s, 0), sqlite3_column_bytes(s, 0), column_text(s, 1));
  }
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return out;
}

void LibraryIndex::put(std::span<const IndexEntry> entries) {
  if (!db_) return;
  const std::lock_guard lock(db_->mutex);
  db_->transaction("writing", entries, [&](const IndexEntry& e) {
    bind_entry(db_->put.get(), e);
    return Db::run(db_->put.get());
  });
}

void LibraryIndex::remove(std::span<const std::string> paths) {
  if (!db_) return;
  const std::lock_guard lock(db_->mutex);
  db_->transaction("removing", paths, [&](const std::string& path) {
    bind_text(db_->remove.get(), 1, path);
    return Db::run(db_->remove.get());
  });
}

}  // namespace chorus::playback
