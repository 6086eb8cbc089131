// PartialFile: one file being fetched into the cache, readable while its chunks arrive.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "cache_meta.hpp"
#include "chorus/content/content_cache.hpp"
#include "file_io.hpp"

namespace chorus::content {

PartialFile::PartialFile(std::string hash, std::uint64_t size, std::vector<Digest> digests, int fd,
                         std::filesystem::path data_path, std::filesystem::path meta_path, std::vector<bool> held)
    : hash_(std::move(hash)),
      size_(size),
      digests_(std::move(digests)),
      fd_(fd),
      meta_fd_(::open(meta_path.c_str(), O_WRONLY | O_CLOEXEC)),
      data_path_(std::move(data_path)),
      meta_path_(std::move(meta_path)),
      held_(std::move(held)) {
  held_.resize(digests_.size(), false);
  held_count_ = static_cast<std::uint64_t>(std::count(held_.begin(), held_.end(), true));
}

PartialFile::~PartialFile() {
  if (fd_ >= 0) ::close(fd_);
  if (meta_fd_ >= 0) ::close(meta_fd_);
}

bool PartialFile::has(std::uint64_t chunk) const {
  const std::lock_guard lock(mutex_);
  return chunk < held_.size() && held_[chunk];
}

std::vector<bool> PartialFile::held() const {
  const std::lock_guard lock(mutex_);
  return held_;
}

std::uint64_t PartialFile::held_count() const {
  const std::lock_guard lock(mutex_);
  return held_count_;
}

bool PartialFile::complete() const {
  const std::lock_guard lock(mutex_);
  return held_count_ == held_.size();
}

StoreResult PartialFile::store(std::uint64_t chunk, std::span<const std::uint8_t> bytes, std::string& error) {
  if (chunk >= digests_.size()) {
    error = fmt::format("chunk {} is out of range: {} has {} chunks", chunk, hash_, digests_.size());
    return StoreResult::out_of_range;
  }
  if (bytes.size() != chunk_length(size_, chunk)) {
    error = fmt::format("chunk {} of {} has {} bytes, not {}", chunk, hash_, bytes.size(), chunk_length(size_, chunk));
    return StoreResult::corrupt;
  }
  if (sha256(bytes) != digests_[chunk]) {
    error = fmt::format("chunk {} of {} does not match its digest", chunk, hash_);
    return StoreResult::corrupt;
  }
  if (has(chunk)) return StoreResult::already_held;
  // The data first, without the lock: readers of other chunks go on meanwhile.
  if (const int e = detail::write_all_at(fd_, bytes, chunk_offset(chunk)); e != 0) {
    error = fmt::format("cannot write chunk {} of {} to {}: {}", chunk, hash_, data_path_.string(), std::strerror(e));
    return StoreResult::write_failed;
  }
  // Then the metadata: the bitmap byte is computed and written under meta_mutex_ so that of two
  // stores in the same byte the later write carries both bits.
  int meta_error = 0;
  {
    const std::lock_guard meta_lock(meta_mutex_);
    std::uint8_t byte = 0;
    {
      const std::lock_guard lock(mutex_);
      if (held_[chunk]) return StoreResult::already_held;  // a concurrent store of the same chunk
      held_[chunk] = true;
      ++held_count_;
      byte = detail::meta_bitmap_byte(held_, chunk);
    }
    if (meta_fd_ < 0) {
      meta_error = EBADF;
    } else {
      meta_error = detail::write_all_at(meta_fd_, std::span(&byte, 1),
                                        detail::meta_bitmap_byte_offset(digests_.size(), chunk));
    }
  }
  arrived_.notify_all();
  if (meta_error != 0) {
    // The data is in and readable now; only a restart would not know it (and fetch it again).
    error = fmt::format("cannot record chunk {} of {} in {}: {}", chunk, hash_, meta_path_.string(),
                        std::strerror(meta_error));
    return StoreResult::write_failed;
  }
  return StoreResult::stored;
}

std::size_t PartialFile::read_at(std::uint64_t offset, std::span<std::uint8_t> out, std::chrono::milliseconds patience) {
  const auto deadline = std::chrono::steady_clock::now() + patience;
  std::size_t done = 0;
  while (done < out.size() && offset + done < size_) {
    const std::uint64_t at = offset + done;
    const std::uint64_t chunk = at / kChunkBytes;
    bool demand = false;
    std::function<void(std::uint64_t)> callback;
    {
      std::unique_lock lock(mutex_);
      demanded_ = chunk;
      if (!held_[chunk]) {
        if (abandoned_) break;
        demand = true;
        callback = on_demand_;
      }
    }
    if (demand) {
      // Outside the lock: the callback may well ask this file what it holds.
      if (callback) callback(chunk);
      std::unique_lock lock(mutex_);
      arrived_.wait_until(lock, deadline, [&] { return held_[chunk] || abandoned_; });
      if (!held_[chunk]) break;
    }
    const std::uint64_t chunk_end = std::min(chunk_offset(chunk + 1), size_);
    const auto want = static_cast<std::size_t>(std::min<std::uint64_t>(out.size() - done, chunk_end - at));
    const auto got = detail::read_all_at(fd_, out.subspan(done, want), at);
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
    if (static_cast<std::size_t>(got) < want) break;
  }
  return done;
}

std::uint64_t PartialFile::demanded() const {
  const std::lock_guard lock(mutex_);
  return demanded_;
}

void PartialFile::on_demand(std::function<void(std::uint64_t chunk)> callback) {
  const std::lock_guard lock(mutex_);
  on_demand_ = std::move(callback);
}

std::optional<std::vector<std::uint8_t>> PartialFile::read_chunk(std::uint64_t chunk) const {
  if (!has(chunk)) return std::nullopt;
  std::vector<std::uint8_t> bytes(chunk_length(size_, chunk));
  const auto got = detail::read_all_at(fd_, bytes, chunk_offset(chunk));
  if (got != static_cast<std::int64_t>(bytes.size())) return std::nullopt;
  return bytes;
}

void PartialFile::abandon() {
  {
    const std::lock_guard lock(mutex_);
    abandoned_ = true;
  }
  arrived_.notify_all();
}

bool PartialFile::abandoned() const {
  const std::lock_guard lock(mutex_);
  return abandoned_;
}

}  // namespace chorus::content
