#pragma once
// Reading one track file: its digests (content hash, chunk digests and root, in one pass), what
// its headers say (format, rate, channels, length) and its tags. The only place the library
// reads a file's content outside decoding.

#include <cstdint>
#include <filesystem>
#include <string>

#include "chorus/content/file_digests.hpp"
#include "chorus/playback/library_index.hpp"

namespace chorus::playback::detail {

using content::FileDigests;

/// Reads the whole file at `path` once. Never blocks on a FIFO; never throws.
FileDigests hash_file(const std::filesystem::path& path);

/// Everything the index keeps about the file at `path` (`relative` names it in the index). The
/// size and time are those the file had when it was opened, so a file that changes while it is
/// read is read again by the next scan. Never throws.
IndexEntry examine_file(const std::filesystem::path& path, std::string relative);

}  // namespace chorus::playback::detail
