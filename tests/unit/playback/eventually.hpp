#pragma once
// How a test waits for another thread (the library's decoder, the player's opener, an output).

#include <chrono>
#include <thread>

namespace chorus::test {

/// Whether `condition` holds, looked at every millisecond until it does or a deadline generous
/// for slow machines passes. (It sleeps between looks: a spinning test would take a core from the
/// thread it waits for.)
template <typename Condition>
bool eventually(Condition condition) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!condition() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return condition();
}

}  // namespace chorus::test
