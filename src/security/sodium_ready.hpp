#pragma once
// libsodium must be initialised once before use; sodium_init() is idempotent and thread-safe.

#include <sodium.h>

#include <stdexcept>

namespace chorus::security {

inline void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium failed to initialise");
}

}  // namespace chorus::security
