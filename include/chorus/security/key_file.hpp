#pragma once
// Reading and writing key files. A key file is private to its owner: one that others may read
// (or write) is refused, as ssh refuses a private key others can read.

#include <stdexcept>
#include <string>

#include "chorus/security/cluster_key.hpp"

namespace chorus::security {

/// A key file that cannot be used; what() says why and how to fix it.
class KeyFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Reads a key file, refusing one that is not a regular file, that group or others may access,
/// or whose text is not a key.
ClusterKey load_key_file(const std::string& path);

/// Writes a fresh key (32 bytes from the operating system's random source) to a new file of
/// mode 0600; refuses to overwrite an existing file. Returns the key.
ClusterKey generate_key_file(const std::string& path);

}  // namespace chorus::security
