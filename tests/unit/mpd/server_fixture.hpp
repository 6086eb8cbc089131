#pragma once
// A running MpdServer on 127.0.0.1 (a port the system picks) over a FakePort, with its own
// control thread, and a blocking line client with deadlines for talking to it.

#include <poll.h>
#include <sys/socket.h>

#include <boost/asio.hpp>
#include <chrono>
#include <future>
#include <optional>
#include <string>
#include <thread>

#include "chorus/mpd/mpd_server.hpp"
#include "fake_port.hpp"

namespace chorus::mpd::test {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

class RunningServer {
 public:
  explicit RunningServer(MpdConfig config = {}, control::ClusterView start = sample_view())
      : port(std::move(start)) {
    config.host = "127.0.0.1";
    config.port = 0;
    config.any_port = true;
    server.emplace(io, port, std::move(config));
    started = server->start();
    thread = std::thread([this] { io.run(); });
  }
  ~RunningServer() {
    asio::post(io, [this] { server.reset(); });
    thread.join();  // returns once the server's handlers have drained
  }
  RunningServer(const RunningServer&) = delete;
  RunningServer& operator=(const RunningServer&) = delete;

  std::uint16_t tcp_port() const { return server->local_port(); }
  /// The server's connection count, read on its thread.
  std::size_t connections() {
    std::promise<std::size_t> count;
    asio::post(io, [&] { count.set_value(server->connections()); });
    return count.get_future().get();
  }

  asio::io_context io;  // declared first: destroyed after the port's thread has stopped posting
  FakePort port;
  std::optional<MpdServer> server;
  bool started = false;
  std::thread thread;
};

/// A blocking client: every read has a deadline.
class LineClient {
 public:
  explicit LineClient(std::uint16_t port) : socket_(io_) {
    socket_.connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  }

  void send(const std::string& text) { asio::write(socket_, asio::buffer(text)); }

  /// One line (without '\n'), or nullopt on EOF or after `timeout`.
  std::optional<std::string> line(std::chrono::milliseconds timeout = 3000ms) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto newline = buffer_.find('\n');
      if (newline != std::string::npos) {
        std::string line = buffer_.substr(0, newline);
        buffer_.erase(0, newline + 1);
        return line;
      }
      if (!fill(deadline)) return std::nullopt;
    }
  }

  /// Lines up to and with the final OK or ACK, joined with '\n' (empty on EOF or timeout).
  std::string answer(std::chrono::milliseconds timeout = 3000ms) {
    std::string text;
    while (auto next = line(timeout)) {
      text += *next + "\n";
      if (*next == "OK" || next->starts_with("ACK ")) return text;
    }
    return {};
  }

  /// True when the server closed the connection within `timeout` (reading whatever came).
  bool closed_within(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      if (!fill(deadline)) return eof_;
    }
    return eof_;
  }

  tcp::socket& socket() { return socket_; }

 private:
  bool fill(std::chrono::steady_clock::time_point deadline) {
    if (eof_) return false;
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left <= 0ms) return false;
    pollfd fd{.fd = socket_.native_handle(), .events = POLLIN, .revents = 0};
    if (::poll(&fd, 1, static_cast<int>(left.count())) <= 0) return false;
    char chunk[4096];
    const ssize_t n = ::recv(socket_.native_handle(), chunk, sizeof chunk, 0);
    if (n <= 0) {
      eof_ = true;
      return false;
    }
    buffer_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  asio::io_context io_;
  tcp::socket socket_;
  std::string buffer_;
  bool eof_ = false;
};

/// Polls `predicate` until it holds or `timeout` passes.
template <typename Predicate>
bool eventually(Predicate predicate, std::chrono::milliseconds timeout = 3000ms) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (predicate()) return true;
    std::this_thread::sleep_for(5ms);
  }
  return predicate();
}

}  // namespace chorus::mpd::test
