#pragma once
// Names the calling thread as `top -H`, `ps -L`, perf and gdb show it ("chorus-output"), so that
// an operator who sees a node use CPU can tell which of its jobs does. The kernel keeps at most
// 15 characters; a longer name is cut. The main thread (the io loop) is left alone: it carries
// the program's name, which ps, pgrep and systemd match.

#include <pthread.h>

#include <string_view>

namespace chorus {

inline void name_this_thread(std::string_view name) noexcept {
  char buffer[16] = {};
  name.copy(buffer, sizeof buffer - 1);
  pthread_setname_np(pthread_self(), buffer);
}

}  // namespace chorus
