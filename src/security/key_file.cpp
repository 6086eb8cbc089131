#include "chorus/security/key_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

#include "sodium_ready.hpp"

namespace chorus::security {
namespace {

std::string system_error(const std::string& what, const std::string& path) {
  return fmt::format("{} {}: {}", what, path, std::strerror(errno));
}

/// Closes a descriptor on every path out.
struct Descriptor {
  int fd;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

/// The largest text a key file can hold: 64 digits with room for whitespace around them.
constexpr std::size_t kMaxKeyFileBytes = 4096;

}  // namespace

ClusterKey load_key_file(const std::string& path) {
  Descriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW)};
  if (file.fd < 0) throw KeyFileError(system_error("cannot open key file", path));
  struct stat info {};
  if (::fstat(file.fd, &info) != 0) throw KeyFileError(system_error("cannot stat key file", path));
  if (!S_ISREG(info.st_mode)) throw KeyFileError(fmt::format("key file {} is not a regular file", path));
  if ((info.st_mode & 077) != 0) {
    throw KeyFileError(fmt::format(
        "key file {} is accessible by others (mode {:04o}); it must be private: chmod 600 {}",
        path, info.st_mode & 07777, path));
  }
  std::string text(kMaxKeyFileBytes + 1, '\0');
  ssize_t got = ::read(file.fd, text.data(), text.size());
  if (got < 0) throw KeyFileError(system_error("cannot read key file", path));
  text.resize(static_cast<std::size_t>(got));
  auto parsed = parse_key_text(text);
  if (auto* error = std::get_if<KeyTextError>(&parsed)) {
    throw KeyFileError(fmt::format("key file {}: {}", path, error->message));
  }
  return std::get<ClusterKey>(parsed);
}

ClusterKey generate_key_file(const std::string& path) {
  ensure_sodium();
  ClusterKey key;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  Descriptor file{::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600)};
  if (file.fd < 0) {
    if (errno == EEXIST) {
      throw KeyFileError(fmt::format("{} exists; a key file is never overwritten (remove it first "
                                     "if you mean to replace the cluster's key)", path));
    }
    throw KeyFileError(system_error("cannot create key file", path));
  }
  // The umask may have narrowed the mode further, never widened it; make it exactly 0600.
  if (::fchmod(file.fd, 0600) != 0) throw KeyFileError(system_error("cannot chmod key file", path));
  auto text = key_text(key);
  if (::write(file.fd, text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      ::fsync(file.fd) != 0) {
    auto error = system_error("cannot write key file", path);
    ::unlink(path.c_str());
    throw KeyFileError(error);
  }
  return key;
}

}  // namespace chorus::security
