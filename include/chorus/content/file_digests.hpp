#pragma once
// A file's digests (content hash, chunk digests, chunk root) read from disk in one pass: what the
// library computes when it indexes a file and what the content service computes for a cached
// file whose digests it was not given. Blocking file I/O; any thread.

#include <string>

#include "chorus/content/chunking.hpp"

namespace chorus::content {

/// A file's digests, or why it could not be read.
struct FileDigests {
  FileHasher::Result digests;
  std::string error;  ///< empty when the digests are there
};

/// Reads the open file `fd` (not closed) from its start to its end.
FileDigests hash_open_file(int fd);

}  // namespace chorus::content
