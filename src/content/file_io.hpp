#pragma once
// Whole reads and writes at an offset of a file descriptor, for the content cache: pread/pwrite
// repeated until everything is moved, retried on EINTR.

#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <span>

namespace chorus::content::detail {

/// Writes all of `bytes` at `offset`. 0 on success, else the errno of the failing write.
inline int write_all_at(int fd, std::span<const std::uint8_t> bytes, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::pwrite(fd, bytes.data() + done, bytes.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) return ENOSPC;  // no progress and no error: treat as a full device
    done += static_cast<std::size_t>(n);
  }
  return 0;
}

/// Reads up to out.size() bytes at `offset`; fewer only at the end of the file. -1 with errno
/// set on a read error.
inline std::int64_t read_all_at(int fd, std::span<std::uint8_t> out, std::uint64_t offset) {
  std::size_t done = 0;
  while (done < out.size()) {
    const ssize_t n = ::pread(fd, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (n == 0) break;
    done += static_cast<std::size_t>(n);
  }
  return static_cast<std::int64_t>(done);
}

}  // namespace chorus::content::detail
