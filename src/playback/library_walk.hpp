#pragma once
// The library's stat walk: every audio file under the library directory, with the size and
// modification time that tell whether the index still describes it. Reads no file's content.

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

struct stat;  // <sys/stat.h>

namespace chorus::playback::detail {

/// A file's modification time as the index records it: ns since the epoch.
std::int64_t mtime_ns(const struct stat& st);

/// A file named like a track.
struct FoundFile {
  std::string relative;       ///< path below the library directory, '/' separators
  std::uint64_t size = 0;
  std::int64_t mtime_ns = 0;  ///< modification time, ns since the epoch
  std::string error;          ///< set for what cannot be a track (a FIFO, a dangling link)
};

struct Walk {
  std::vector<FoundFile> files;  ///< in byte order of `relative`: the same on every node
  /// The directories walked below the library directory (not hidden), '/' separators: what a
  /// watcher of the tree watches.
  std::vector<std::string> directories;
  std::string error;             ///< why the directory could not be walked
};

/// Whether the name ends in one of Library::kAudioExtensions (any case).
bool has_audio_extension(std::string_view name);

/// Walks `directory` recursively: skips names starting with '.', does not follow symbolic links
/// to directories (no loops), skips what it may not read.
Walk walk_audio_files(const std::filesystem::path& directory);

}  // namespace chorus::playback::detail
