// name_this_thread(): what `top -H` and `ps -L` show for a node's threads.

#include <pthread.h>

#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include "chorus/thread_name.hpp"

namespace {

/// The name the kernel holds for a thread that named itself `name`.
std::string name_seen_after_naming(const std::string& name) {
  std::string seen;
  std::thread([&] {
    chorus::name_this_thread(name);
    char buffer[64] = {};
    if (pthread_getname_np(pthread_self(), buffer, sizeof buffer) == 0) seen = buffer;
  }).join();
  return seen;
}

}  // namespace

TEST_CASE("a thread's name is what the kernel shows for it") {
  CHECK(name_seen_after_naming("chorus-output") == "chorus-output");
}

TEST_CASE("a name longer than the kernel keeps is cut to its first 15 characters, not refused") {
  // pthread_setname_np refuses (ERANGE) a name of 16 or more characters and leaves the old one.
  CHECK(name_seen_after_naming("chorus-a-very-long-name") == "chorus-a-very-l");
}
