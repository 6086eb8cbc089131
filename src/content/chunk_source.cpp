#include "chunk_source.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <system_error>

#include <fmt/format.h>

#include "chorus/content/file_digests.hpp"

namespace chorus::content {

namespace {

/// Reads `length` bytes at `offset` of `path`; nullopt if the file is shorter or unreadable.
std::optional<std::vector<std::uint8_t>> read_range(const std::filesystem::path& path, std::uint64_t offset,
                                                    std::uint64_t length) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  std::vector<std::uint8_t> out(length);
  std::uint64_t got = 0;
  while (got < length) {
    const ssize_t n = ::pread(fd, out.data() + got, length - got, static_cast<off_t>(offset + got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    got += static_cast<std::uint64_t>(n);
  }
  ::close(fd);
  if (got != length) return std::nullopt;
  return out;
}

/// The digests of a whole file, read once.
std::optional<FileHasher::Result> hash_whole(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return std::nullopt;
  auto read = hash_open_file(fd);
  ::close(fd);
  if (!read.error.empty()) return std::nullopt;
  return std::move(read.digests);
}

}  // namespace

std::optional<std::uint64_t> ChunkSource::whole_size(const std::string& hash) const {
  if (auto file = local_.file(hash)) return file->size;
  if (auto path = cache_.complete_path(hash)) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(*path, ec);
    if (!ec) return size;
  }
  return std::nullopt;
}

bool ChunkSource::holds_whole(const std::string& hash) const { return whole_size(hash).has_value(); }

std::optional<std::vector<bool>> ChunkSource::held(const std::string& hash) const {
  if (auto size = whole_size(hash)) return std::vector<bool>(chunk_count(*size), true);
  if (auto partial = cache_.partial(hash)) return partial->held();
  return std::nullopt;
}

std::optional<ChunkSource::ManifestOf> ChunkSource::manifest(const std::string& hash) {
  if (auto file = local_.file(hash)) {
    if (auto digests = local_.manifest(hash)) return ManifestOf{file->size, std::move(*digests)};
  }
  if (auto partial = cache_.partial(hash)) return ManifestOf{partial->size(), partial->digests()};
  if (auto it = cached_manifests_.find(hash); it != cached_manifests_.end()) return it->second;
  if (auto path = cache_.complete_path(hash)) {
    auto whole = hash_whole(*path);
    if (!whole || whole->content_hash != hash) return std::nullopt;
    if (cached_manifests_.size() >= 64) cached_manifests_.erase(cached_manifests_.begin());
    return cached_manifests_[hash] = ManifestOf{whole->size, std::move(whole->chunks)};
  }
  return std::nullopt;
}

ChunkSource::Read ChunkSource::read(const std::string& hash, std::uint64_t chunk) {
  if (auto file = local_.file(hash)) {
    auto digests = local_.manifest(hash);
    if (!digests || chunk >= digests->size()) return {std::nullopt, {}};
    auto bytes = read_range(file->path, chunk_offset(chunk), chunk_length(file->size, chunk));
    if (!bytes || sha256(*bytes) != (*digests)[chunk]) {
      return {std::nullopt, fmt::format("{} changed on disk since it was indexed", file->path.filename().string())};
    }
    return {std::move(bytes), {}};
  }
  if (auto bytes = cache_.read_chunk(hash, chunk)) return {std::move(bytes), {}};
  if (auto partial = cache_.partial(hash)) return {partial->read_chunk(chunk), {}};
  return {std::nullopt, {}};
}

}  // namespace chorus::content
