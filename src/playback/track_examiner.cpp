#include "track_examiner.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <taglib/fileref.h>
#include <taglib/tag.h>

#include <cerrno>
#include <exception>
#include <span>
#include <system_error>
#include <utility>
#include <vector>

#include "library_probe.hpp"
#include "library_walk.hpp"
#include "output_format.hpp"

namespace chorus::playback::detail {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

/// A read-only descriptor that never blocks on open (a FIFO named like a track must not hang the
/// scan) and is closed on scope exit.
class File {
 public:
  explicit File(const fs::path& path) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) {
      error_ = "cannot open: " + errno_text(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      error_ = "cannot stat: " + errno_text(errno);
    } else if (!S_ISREG(st.st_mode)) {
      error_ = "not a regular file";
    } else {
      size_ = static_cast<std::uint64_t>(st.st_size);
      mtime_ns_ = detail::mtime_ns(st);
    }
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  std::int64_t mtime_ns() const { return mtime_ns_; }
  const std::string& error() const { return error_; }

  /// The digests of the whole file, or why it could not be read.
  FileDigests hash() const { return error_.empty() ? content::hash_open_file(fd_) : FileDigests{{}, error_}; }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::int64_t mtime_ns_ = 0;
  std::string error_;
};

/// Title, artist and album as UTF-8 (empty when the file has none); only for playable files.
void read_tags(const fs::path& path, IndexEntry& entry) {
  try {
    const TagLib::FileRef ref(path.c_str(), false);  // no audio properties: the probe has them
    const TagLib::Tag* tag = ref.isNull() ? nullptr : ref.tag();
    if (tag == nullptr) return;
    entry.title = tag->title().to8Bit(true);
    entry.artist = tag->artist().to8Bit(true);
    entry.album = tag->album().to8Bit(true);
  } catch (const std::exception&) {
    // Tags are a nicety: a file TagLib chokes on still plays.
  }
}

void probe(const File& file, IndexEntry& entry) {
  const FdReader reader(file.fd(), file.size());
  const ProbeResult result = probe_audio(reader);
  entry.format = result.format;
  entry.rate = result.rate;
  entry.channels = result.channels;
  entry.error = result.error;
  if (entry.error.empty()) entry.frames = frames_at_output_rate(result.source_frames, result.rate);
}

}  // namespace

FileDigests hash_file(const fs::path& path) { return File(path).hash(); }

IndexEntry examine_file(const fs::path& path, std::string relative) {
  IndexEntry entry;
  entry.path = std::move(relative);
  const File file(path);
  auto hashed = file.hash();
  if (!hashed.error.empty()) {
    entry.error = std::move(hashed.error);
    return entry;
  }
  entry.size = file.size();
  entry.mtime_ns = file.mtime_ns();
  entry.content_hash = std::move(hashed.digests.content_hash);
  entry.chunk_root = content::to_hex(hashed.digests.root);
  entry.chunks = std::move(hashed.digests.chunks);
  probe(file, entry);
  if (entry.error.empty()) read_tags(path, entry);
  return entry;
}

}  // namespace chorus::playback::detail
