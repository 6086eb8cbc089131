// handshake_probe: opens connections to a node one after another and times each one's set-up.
//
//   handshake_probe HOST PORT COUNT [--key-file PATH]
//
// Without a key: TCP connect, then close. With --key-file: TCP connect, then the keyed handshake
// (include/chorus/security/handshake.hpp) as the dialer, until this end holds the node's proof
// and has sent its own; then close. Either way it then waits for the node to close its end too,
// so that the node has dealt with one connection before the next one opens.
//
// Prints one JSON object: {"keyed", "connections", "connect_us": [...], "handshake_us": [...],
// "cpu_us", "wall_us"}: per connection the microseconds of the TCP connect and of the handshake
// after it (0 without a key), on the steady clock; this process's CPU time and the wall time of
// the whole loop. The node's CPU per connection is read from /proc by the caller.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/security/handshake.hpp"
#include "chorus/security/key_file.hpp"

namespace {

using Clock = std::chrono::steady_clock;
namespace security = chorus::security;

long long micros(Clock::duration d) {
  return std::chrono::duration_cast<std::chrono::microseconds>(d).count();
}

long long process_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<long long>(ts.tv_sec) * 1'000'000 + ts.tv_nsec / 1000;
}

void send_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t sent = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (sent <= 0) throw std::runtime_error("send failed");
    bytes.remove_prefix(static_cast<std::size_t>(sent));
  }
}

int connect_to(const sockaddr_in& address) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw std::runtime_error("socket failed");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval timeout{2, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("connect failed");
  }
  return fd;
}

/// Runs the dialer's side of the handshake on a connected socket until it is established.
void handshake(int fd, const security::KeyRing& keys) {
  security::Handshake hs(security::Role::dialer, keys, security::Ephemeral::generate());
  send_all(fd, hs.take_output());
  char buffer[256];
  while (hs.state() == security::Handshake::State::in_progress) {
    std::size_t want = std::min(hs.wanted(), sizeof buffer);
    ssize_t got = ::recv(fd, buffer, want, 0);
    if (got <= 0) throw std::runtime_error("the node closed the link during the handshake");
    hs.feed(std::string_view(buffer, static_cast<std::size_t>(got)));
    send_all(fd, hs.take_output());
  }
  if (hs.state() == security::Handshake::State::failed) {
    throw std::runtime_error("handshake failed: " + hs.failure());
  }
}

/// Closes this end for writing and waits until the node has closed its end.
void close_after_node(int fd) {
  ::shutdown(fd, SHUT_WR);
  char buffer[256];
  while (::recv(fd, buffer, sizeof buffer, 0) > 0) {
  }
  ::close(fd);
}

std::string list(const std::vector<long long>& values) {
  std::string out = "[";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i) out += ",";
    out += std::to_string(values[i]);
  }
  return out + "]";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4 && !(argc == 6 && std::string_view(argv[4]) == "--key-file")) {
    std::fprintf(stderr, "usage: handshake_probe HOST PORT COUNT [--key-file PATH]\n");
    return 2;
  }
  try {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(static_cast<std::uint16_t>(std::atoi(argv[2])));
    if (inet_pton(AF_INET, argv[1], &address.sin_addr) != 1) {
      throw std::runtime_error("not an IPv4 address: " + std::string(argv[1]));
    }
    int count = std::atoi(argv[3]);
    std::optional<security::KeyRing> keys;
    if (argc == 6) keys = security::KeyRing{security::load_key_file(argv[5]), {}};

    std::vector<long long> connect_us;
    std::vector<long long> handshake_us;
    auto cpu0 = process_cpu_us();
    auto wall0 = Clock::now();
    for (int i = 0; i < count; ++i) {
      auto t0 = Clock::now();
      int fd = connect_to(address);
      auto t1 = Clock::now();
      try {
        if (keys) handshake(fd, *keys);
      } catch (...) {
        ::close(fd);
        throw;
      }
      auto t2 = Clock::now();
      close_after_node(fd);
      connect_us.push_back(micros(t1 - t0));
      handshake_us.push_back(micros(t2 - t1));
    }
    std::printf("{\"keyed\": %s, \"connections\": %d, \"connect_us\": %s, \"handshake_us\": %s, "
                "\"cpu_us\": %lld, \"wall_us\": %lld}\n",
                keys ? "true" : "false", count, list(connect_us).c_str(),
                list(handshake_us).c_str(), process_cpu_us() - cpu0,
                micros(Clock::now() - wall0));
    return 0;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "handshake_probe: %s\n", error.what());
    return 1;
  }
}
