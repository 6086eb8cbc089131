// ContentCache: the bounded on-disk store of fetched track files, named by content hash.
#include "chorus/content/content_cache.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "cache_meta.hpp"
#include "chorus/protocol/inert_text.hpp"
#include "file_io.hpp"

namespace chorus::content {

namespace fs = std::filesystem;

bool is_content_hash(std::string_view text) {
  return text.size() == 64 &&
         std::all_of(text.begin(), text.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

namespace {

constexpr std::string_view kPartSuffix = ".part";
constexpr std::string_view kMetaSuffix = ".meta";

std::string refused(std::string_view hash) {
  return fmt::format("refused: \"{}\" is not a content hash (64 lower-case hex digits)", protocol::inert(hash, 80));
}

std::string mib(std::uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

/// The whole of a small file; nullopt if it cannot be read.
std::optional<std::vector<std::uint8_t>> slurp(const fs::path& path, std::uint64_t limit) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st {};
  std::optional<std::vector<std::uint8_t>> out;
  if (::fstat(fd, &st) == 0 && static_cast<std::uint64_t>(st.st_size) <= limit) {
    std::vector<std::uint8_t> bytes(static_cast<std::size_t>(st.st_size));
    if (detail::read_all_at(fd, bytes, 0) == static_cast<std::int64_t>(bytes.size())) out = std::move(bytes);
  }
  ::close(fd);
  return out;
}

/// Writes `bytes` as the whole of `path` (created 0600 or truncated). Empty or why not.
std::string write_whole(const fs::path& path, std::span<const std::uint8_t> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return fmt::format("cannot create {}: {}", path.string(), std::strerror(errno));
  const int e = detail::write_all_at(fd, bytes, 0);
  ::close(fd);
  if (e != 0) return fmt::format("cannot write {}: {}", path.string(), std::strerror(e));
  return {};
}

constexpr std::uint64_t kMaxMetaBytes = detail::kMetaHeaderBytes + kMaxChunks * 32 + kMaxChunks / 8;

}  // namespace

struct ContentCache::Impl {
  struct Entry {
    CacheState state = CacheState::absent;
    std::uint64_t size = 0;
    fs::file_time_type stamp{};            ///< last played (the file's mtime); eviction order
    std::shared_ptr<PartialFile> partial;  ///< the fetch begun by this process, if any
    std::uint64_t chunks_held = 0;         ///< of a partial from disk not yet resumed (unverified)
  };

  fs::path dir;
  std::uint64_t max_bytes = 0;
  std::string error;
  /// Serialises what creates, renames and deletes an entry's files (begin, the end of finish,
  /// remove), so that two of them never work on the same files at once. Taken before `mutex`.
  std::mutex files_mutex;
  mutable std::mutex mutex;  ///< guards everything below
  std::map<std::string, Entry> table;
  std::set<std::string> protected_hashes;
  std::uint64_t evictions = 0;
  fs::file_time_type latest{};

  fs::path complete_path(const std::string& hash) const { return dir / hash; }
  fs::path part_path(const std::string& hash) const { return dir / (hash + std::string(kPartSuffix)); }
  fs::path meta_path(const std::string& hash) const { return dir / (hash + std::string(kMetaSuffix)); }

  void unlink_all(const std::string& hash) const {
    std::error_code ec;
    fs::remove(part_path(hash), ec);
    fs::remove(meta_path(hash), ec);
    fs::remove(complete_path(hash), ec);
  }

  /// Now, but strictly after every stamp handed out before (with `mutex` held): touches in a row
  /// keep their order even on a coarse clock.
  fs::file_time_type next_stamp() {
    auto now = fs::file_time_type::clock::now();
    if (now <= latest) now = latest + fs::file_time_type::duration{1};
    latest = now;
    return now;
  }

  void scan();
  bool make_room(const std::string& hash, std::uint64_t need, std::string& why);
};

void ContentCache::Impl::scan() {
  std::set<std::string> completes, parts, metas;
  std::error_code ec;
  for (const auto& item : fs::directory_iterator(dir, ec)) {
    std::error_code type_ec;
    if (!item.is_regular_file(type_ec) || item.is_symlink(type_ec)) continue;
    const std::string name = item.path().filename().string();
    if (is_content_hash(name)) {
      completes.insert(name);
    } else if (name.size() == 64 + kPartSuffix.size() && name.ends_with(kPartSuffix) &&
               is_content_hash(std::string_view(name).substr(0, 64))) {
      parts.insert(name.substr(0, 64));
    } else if (name.size() == 64 + kMetaSuffix.size() && name.ends_with(kMetaSuffix) &&
               is_content_hash(std::string_view(name).substr(0, 64))) {
      metas.insert(name.substr(0, 64));
    }
  }
  for (const auto& hash : completes) {
    std::error_code e1, e2;
    const auto size = fs::file_size(complete_path(hash), e1);
    const auto stamp = fs::last_write_time(complete_path(hash), e2);
    if (e1 || e2) continue;
    table[hash] = Entry{CacheState::complete, size, stamp, nullptr, chunk_count(size)};
    latest = std::max(latest, stamp);
    // A complete file makes any leftover of its fetch (a crash between rename and unlink) moot.
    fs::remove(part_path(hash), ec);
    fs::remove(meta_path(hash), ec);
  }
  for (const auto& hash : parts) {
    if (completes.contains(hash)) continue;
    std::error_code e1, e2;
    const auto size = fs::file_size(part_path(hash), e1);
    const auto stamp = fs::last_write_time(part_path(hash), e2);
    const auto bytes = metas.contains(hash) ? slurp(meta_path(hash), kMaxMetaBytes) : std::nullopt;
    const auto meta = bytes ? detail::decode_meta(*bytes) : std::nullopt;
    if (e1 || e2 || !meta || meta->size != size) {
      // Not resumable: without its metadata nothing in the data file can be trusted.
      fs::remove(part_path(hash), ec);
      fs::remove(meta_path(hash), ec);
      continue;
    }
    const auto held = static_cast<std::uint64_t>(std::count(meta->held.begin(), meta->held.end(), true));
    table[hash] = Entry{CacheState::partial, size, stamp, nullptr, held};
    latest = std::max(latest, stamp);
  }
  for (const auto& hash : metas) {
    if (!parts.contains(hash)) fs::remove(meta_path(hash), ec);  // metadata of nothing
  }
}

bool ContentCache::Impl::make_room(const std::string& hash, std::uint64_t need, std::string& why) {
  std::vector<std::pair<std::string, std::shared_ptr<PartialFile>>> victims;
  {
    const std::lock_guard lock(mutex);
    std::uint64_t used = 0;
    for (const auto& [h, e] : table) used += e.size;
    if (used + need <= max_bytes) return true;
    std::vector<std::map<std::string, Entry>::iterator> candidates;
    for (auto it = table.begin(); it != table.end(); ++it) {
      if (it->first == hash || protected_hashes.contains(it->first)) continue;
      if (it->second.partial && it->second.partial.use_count() > 1) continue;  // someone reads or fetches it
      candidates.push_back(it);
    }
    std::sort(candidates.begin(), candidates.end(), [](const auto& a, const auto& b) {
      return a->second.stamp != b->second.stamp ? a->second.stamp < b->second.stamp : a->first < b->first;
    });
    std::uint64_t freeable = 0;
    for (const auto& it : candidates) freeable += it->second.size;
    if (used - std::min(used, freeable) + need > max_bytes && need > 0) {
      why = fmt::format("no room for {} ({}) in the cache: {} of {} used, {} of it protected or in use", hash,
                        mib(need), mib(used), mib(max_bytes), mib(used - freeable));
      return false;
    }
    for (const auto& it : candidates) {
      if (used + need <= max_bytes) break;
      used -= it->second.size;
      victims.emplace_back(it->first, std::move(it->second.partial));
      table.erase(it);
      ++evictions;
    }
  }
  for (const auto& [h, partial] : victims) {
    if (partial) partial->abandon();
    unlink_all(h);
  }
  return true;
}

ContentCache::ContentCache(CacheConfig config) : config_(std::move(config)), impl_(std::make_unique<Impl>()) {
  impl_->dir = config_.directory;
  impl_->max_bytes = config_.max_bytes;
  const auto& dir = config_.directory;
  std::error_code ec;
  if (dir.empty()) {
    impl_->error = "no cache directory is set";
    return;
  }
  const auto st = fs::status(dir, ec);
  if (!fs::exists(st)) {
    if (!fs::create_directories(dir, ec) || ec) {
      impl_->error = fmt::format("cannot create the cache directory {}: {}", dir.string(),
                                 ec ? ec.message() : std::string("unknown error"));
      return;
    }
    fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
  } else if (!fs::is_directory(st)) {
    impl_->error = fmt::format("the cache directory {} is not a directory", dir.string());
    return;
  }
  // access() also says EROFS for a read-only mount, which root's writes do not get past either.
  if (::access(dir.c_str(), R_OK | W_OK | X_OK) != 0) {
    impl_->error = fmt::format("the cache directory {} is not writable: {}", dir.string(), std::strerror(errno));
    return;
  }
  impl_->scan();
}

ContentCache::~ContentCache() = default;

std::string ContentCache::error() const { return impl_->error; }

CacheState ContentCache::state(const std::string& hash) const {
  if (!is_content_hash(hash)) return CacheState::absent;
  const std::lock_guard lock(impl_->mutex);
  const auto it = impl_->table.find(hash);
  return it == impl_->table.end() ? CacheState::absent : it->second.state;
}

std::optional<std::filesystem::path> ContentCache::complete_path(const std::string& hash) const {
  if (state(hash) != CacheState::complete) return std::nullopt;
  return impl_->complete_path(hash);
}

std::shared_ptr<PartialFile> ContentCache::begin(const std::string& hash, std::uint64_t size,
                                                 std::vector<Digest> digests, std::string& error) {
  if (!impl_->error.empty()) {
    error = impl_->error;
    return nullptr;
  }
  if (!is_content_hash(hash)) {
    error = refused(hash);
    return nullptr;
  }
  if (chunk_count(size) > kMaxChunks) {
    error = fmt::format("{} is {} bytes, more than a shared file may be ({} chunks at most)", hash, size, kMaxChunks);
    return nullptr;
  }
  if (digests.size() != chunk_count(size)) {
    error = fmt::format("{}: {} chunk digests for a file of {} bytes, which has {} chunks", hash, digests.size(), size,
                        chunk_count(size));
    return nullptr;
  }
  if (size > config_.max_bytes) {
    error = fmt::format("{} ({}) is larger than the whole cache ({})", hash, mib(size), mib(config_.max_bytes));
    return nullptr;
  }

  const std::lock_guard files_lock(impl_->files_mutex);
  bool on_disk = false;
  {
    const std::lock_guard lock(impl_->mutex);
    const auto it = impl_->table.find(hash);
    if (it != impl_->table.end()) {
      if (it->second.state == CacheState::complete) {
        error = fmt::format("{} is already in the cache", hash);
        return nullptr;
      }
      if (const auto& live = it->second.partial) {
        if (live->size() == size && live->digests() == digests) return live;
        error = fmt::format("{} is being fetched with another size or chunk list", hash);
        return nullptr;
      }
      on_disk = true;
    }
  }

  const auto part = impl_->part_path(hash);
  const auto meta_file = impl_->meta_path(hash);
  int fd = -1;
  std::vector<bool> held;
  if (on_disk) {
    // Resume: the same file as before (size and digests), every chunk said to be held re-read
    // and re-verified; a chunk that fails is fetched again.
    const auto bytes = slurp(meta_file, kMaxMetaBytes);
    auto meta = bytes ? detail::decode_meta(*bytes) : std::nullopt;
    if (meta && meta->size == size && meta->digests == digests) {
      fd = ::open(part.c_str(), O_RDWR | O_CLOEXEC);
      struct stat st {};
      if (fd >= 0 && (::fstat(fd, &st) != 0 || static_cast<std::uint64_t>(st.st_size) != size)) {
        ::close(fd);
        fd = -1;
      }
    }
    if (fd >= 0) {
      bool changed = false;
      std::vector<std::uint8_t> buffer;
      for (std::uint64_t c = 0; c < meta->held.size(); ++c) {
        if (!meta->held[c]) continue;
        buffer.resize(chunk_length(size, c));
        if (detail::read_all_at(fd, buffer, chunk_offset(c)) != static_cast<std::int64_t>(buffer.size()) ||
            sha256(buffer) != digests[c]) {
          meta->held[c] = false;
          changed = true;
        }
      }
      if (changed) {
        if (auto why = write_whole(meta_file, detail::encode_meta(*meta)); !why.empty()) {
          ::close(fd);
          error = why;
          return nullptr;
        }
      }
      held = std::move(meta->held);
    } else {
      // Another file under the same name, or unreadable: start over.
      {
        const std::lock_guard lock(impl_->mutex);
        impl_->table.erase(hash);
      }
      impl_->unlink_all(hash);
    }
  }

  if (!impl_->make_room(hash, fd >= 0 ? 0 : size, error)) {
    if (fd >= 0) ::close(fd);
    return nullptr;
  }

  if (fd < 0) {
    const auto fail = [&](std::string why) {
      if (fd >= 0) ::close(fd);
      std::error_code ec;
      fs::remove(part, ec);
      fs::remove(meta_file, ec);
      error = std::move(why);
      return nullptr;
    };
    fd = ::open(part.c_str(), O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return fail(fmt::format("cannot create {}: {}", part.string(), std::strerror(errno)));
    // At full size, and its blocks reserved where the file system can: a full disk shows now
    // rather than at some chunk in the middle.
    if (::ftruncate(fd, static_cast<off_t>(size)) != 0) {
      return fail(fmt::format("cannot make {} {} bytes long: {}", part.string(), size, std::strerror(errno)));
    }
    if (size > 0 && ::fallocate(fd, 0, 0, static_cast<off_t>(size)) != 0 && errno != EOPNOTSUPP && errno != ENOSYS) {
      return fail(fmt::format("cannot reserve {} for {}: {}", mib(size), part.string(), std::strerror(errno)));
    }
    held.assign(digests.size(), false);
    if (auto why = write_whole(meta_file, detail::encode_meta({size, digests, held})); !why.empty()) {
      return fail(std::move(why));
    }
  }

  auto file = std::make_shared<PartialFile>(hash, size, std::move(digests), fd, part, meta_file, std::move(held));
  const std::lock_guard lock(impl_->mutex);
  auto& entry = impl_->table[hash];
  entry = Impl::Entry{CacheState::partial, size, impl_->next_stamp(), file, 0};
  return file;
}

std::shared_ptr<PartialFile> ContentCache::partial(const std::string& hash) const {
  if (!is_content_hash(hash)) return nullptr;
  const std::lock_guard lock(impl_->mutex);
  const auto it = impl_->table.find(hash);
  return it == impl_->table.end() ? nullptr : it->second.partial;
}

bool ContentCache::finish(const std::string& hash, std::string& error) {
  if (!is_content_hash(hash)) {
    error = refused(hash);
    return false;
  }
  const auto file = partial(hash);
  if (!file) {
    error = fmt::format("{} is not being fetched", hash);
    return false;
  }
  if (!file->complete()) {
    error = fmt::format("{} is not complete: {} of {} chunks", hash, file->held_count(), file->chunk_count());
    return false;
  }
  // The whole-file hash, read back from the disk (what will be played), without any lock.
  const auto part = impl_->part_path(hash);
  std::string actual;
  {
    const int fd = ::open(part.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
      error = fmt::format("cannot read {}: {}", part.string(), std::strerror(errno));
      return false;
    }
    FileHasher hasher;
    std::vector<std::uint8_t> buffer(1 << 20);
    std::uint64_t at = 0;
    bool failed = false;
    while (at < file->size()) {
      const auto got = detail::read_all_at(fd, buffer, at);
      if (got <= 0) {
        failed = true;
        break;
      }
      hasher.update(std::span(buffer).first(static_cast<std::size_t>(got)));
      at += static_cast<std::uint64_t>(got);
    }
    ::close(fd);
    if (failed) {
      error = fmt::format("cannot read {}: {}", part.string(), at < file->size() ? "short file" : "read error");
      return false;
    }
    actual = hasher.finish().content_hash;
  }

  const std::lock_guard files_lock(impl_->files_mutex);
  {
    const std::lock_guard lock(impl_->mutex);
    const auto it = impl_->table.find(hash);
    if (it == impl_->table.end() || it->second.partial != file) {
      error = fmt::format("{} was removed from the cache while it was being checked", hash);
      return false;
    }
    if (actual != hash) impl_->table.erase(it);
  }
  if (actual != hash) {
    file->abandon();
    impl_->unlink_all(hash);
    error = fmt::format("{} does not match its content: the file's SHA-256 is {}; discarded", hash, actual);
    return false;
  }
  std::error_code ec;
  fs::rename(part, impl_->complete_path(hash), ec);
  if (ec) {
    error = fmt::format("cannot rename {} to {}: {}", part.string(), hash, ec.message());
    return false;
  }
  fs::remove(impl_->meta_path(hash), ec);
  const std::lock_guard lock(impl_->mutex);
  auto& entry = impl_->table[hash];
  entry.state = CacheState::complete;
  entry.partial.reset();  // readers keep theirs: its descriptor follows the rename
  entry.chunks_held = file->chunk_count();
  entry.stamp = impl_->next_stamp();
  fs::last_write_time(impl_->complete_path(hash), entry.stamp, ec);
  return true;
}

std::optional<std::vector<std::uint8_t>> ContentCache::read_chunk(const std::string& hash, std::uint64_t chunk) const {
  if (!is_content_hash(hash)) return std::nullopt;
  std::shared_ptr<PartialFile> live;
  {
    const std::lock_guard lock(impl_->mutex);
    const auto it = impl_->table.find(hash);
    if (it == impl_->table.end()) return std::nullopt;
    if (it->second.state != CacheState::complete) {
      live = it->second.partial;
      if (!live) return std::nullopt;
    }
  }
  if (live) return live->read_chunk(chunk);
  const int fd = ::open(impl_->complete_path(hash).c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::optional<std::vector<std::uint8_t>> out;
  struct stat st {};
  if (::fstat(fd, &st) == 0) {
    const auto size = static_cast<std::uint64_t>(st.st_size);
    if (chunk < chunk_count(size)) {
      std::vector<std::uint8_t> bytes(chunk_length(size, chunk));
      if (detail::read_all_at(fd, bytes, chunk_offset(chunk)) == static_cast<std::int64_t>(bytes.size())) {
        out = std::move(bytes);
      }
    }
  }
  ::close(fd);
  return out;
}

void ContentCache::remove(const std::string& hash) {
  if (!is_content_hash(hash) || !impl_->error.empty()) return;
  const std::lock_guard files_lock(impl_->files_mutex);
  std::shared_ptr<PartialFile> live;
  {
    const std::lock_guard lock(impl_->mutex);
    const auto it = impl_->table.find(hash);
    if (it == impl_->table.end()) return;
    live = std::move(it->second.partial);
    impl_->table.erase(it);
  }
  if (live) live->abandon();
  impl_->unlink_all(hash);
}

void ContentCache::touch(const std::string& hash) {
  if (!is_content_hash(hash)) return;
  const std::lock_guard lock(impl_->mutex);
  const auto it = impl_->table.find(hash);
  if (it == impl_->table.end()) return;
  it->second.stamp = impl_->next_stamp();
  const auto path =
      it->second.state == CacheState::complete ? impl_->complete_path(hash) : impl_->part_path(hash);
  std::error_code ec;
  fs::last_write_time(path, it->second.stamp, ec);
}

bool ContentCache::protect(std::set<std::string> hashes) {
  const std::lock_guard lock(impl_->mutex);
  const bool released = std::any_of(impl_->protected_hashes.begin(), impl_->protected_hashes.end(),
                                    [&](const std::string& hash) { return !hashes.contains(hash); });
  impl_->protected_hashes = std::move(hashes);
  return released;
}

std::vector<CacheEntryView> ContentCache::entries() const {
  const std::lock_guard lock(impl_->mutex);
  std::vector<CacheEntryView> out;
  out.reserve(impl_->table.size());
  for (const auto& [hash, e] : impl_->table) {
    const auto held = e.partial ? e.partial->held_count() : e.chunks_held;
    out.push_back({hash, e.state, e.size, held, chunk_count(e.size)});
  }
  return out;
}

std::uint64_t ContentCache::used_bytes() const {
  const std::lock_guard lock(impl_->mutex);
  std::uint64_t used = 0;
  for (const auto& [hash, e] : impl_->table) used += e.size;
  return used;
}

std::uint64_t ContentCache::evictions() const {
  const std::lock_guard lock(impl_->mutex);
  return impl_->evictions;
}

}  // namespace chorus::content
