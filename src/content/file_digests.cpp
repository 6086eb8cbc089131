#include "chorus/content/file_digests.hpp"

#include <unistd.h>

#include <cerrno>
#include <span>
#include <system_error>
#include <vector>

namespace chorus::content {

FileDigests hash_open_file(int fd) {
  FileHasher hasher;
  std::vector<std::uint8_t> buffer(1 << 16);
  std::uint64_t offset = 0;
  while (true) {
    const ssize_t got = ::pread(fd, buffer.data(), buffer.size(), static_cast<off_t>(offset));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return {{}, "read error: " + std::error_code(errno, std::generic_category()).message()};
    if (got == 0) return {hasher.finish(), {}};
    hasher.update(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(got)));
    offset += static_cast<std::uint64_t>(got);
  }
}

}  // namespace chorus::content
