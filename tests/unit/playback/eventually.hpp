#pragma once
// How a test waits for another thread (the library's decoder, the player's opener).

#include <chrono>
#include <thread>

namespace chorus::test {

/// Whether `condition` holds, polled until it does or a deadline generous for slow machines
/// passes.
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!condition() && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  return condition();
}

}  // namespace chorus::test
