#pragma once
// Clients of the web server for its tests: a plain HTTP request, a raw TCP connection, and a
// WebSocket client whose reads have deadlines (a test fails rather than hangs).

#include <catch2/catch.hpp>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <boost/json/parse.hpp>

namespace chorus::test {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
using tcp = asio::ip::tcp;
using namespace std::chrono_literals;

inline tcp::endpoint loopback(std::uint16_t port) { return {asio::ip::make_address("127.0.0.1"), port}; }

/// Polls `condition` until it holds or `timeout` passes; whether it held.
inline bool wait_until(const std::function<bool()>& condition, std::chrono::milliseconds timeout = 5s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

/// One HTTP request on a connection of its own; the response (status 0 if there was none).
inline http::response<http::string_body> request(std::uint16_t port, http::verb verb, const std::string& target,
                                                 const std::string& authorization = {}) {
  asio::io_context io;
  beast::tcp_stream stream(io);
  stream.expires_after(5s);
  stream.connect(loopback(port));
  http::request<http::string_body> req{verb, target, 11};
  req.set(http::field::host, "127.0.0.1:" + std::to_string(port));
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  http::write(stream, req);
  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.skip(verb == http::verb::head);
  beast::error_code error;
  http::read(stream, buffer, parser, error);
  if (error) return {};
  return parser.release();
}

inline http::response<http::string_body> get(std::uint16_t port, const std::string& target,
                                             const std::string& authorization = {}) {
  return request(port, http::verb::get, target, authorization);
}

/// A raw connection: writes what it is given, reads until the server closes (or the deadline).
class RawClient {
 public:
  explicit RawClient(std::uint16_t port) : socket_(io_) { socket_.connect(loopback(port)); }

  void write(const std::string& bytes) {
    beast::error_code ignored;
    asio::write(socket_, asio::buffer(bytes), ignored);
  }

  /// Everything the server sends until it closes; nullopt if it is still open at the deadline.
  std::optional<std::string> read_until_closed(std::chrono::milliseconds timeout) {
    std::string received;
    std::array<char, 4096> chunk{};
    bool closed = false;
    std::function<void()> next = [&] {
      socket_.async_read_some(asio::buffer(chunk), [&](beast::error_code error, std::size_t n) {
        received.append(chunk.data(), n);
        if (error) {
          closed = true;
        } else {
          next();
        }
      });
    };
    next();
    io_.restart();
    io_.run_for(timeout);
    if (!closed) {
      socket_.cancel();
      io_.restart();
      io_.run();
      return std::nullopt;
    }
    return received;
  }

  void close() {
    beast::error_code ignored;
    socket_.close(ignored);
  }

 private:
  asio::io_context io_;
  tcp::socket socket_;
};

/// A WebSocket client of the page's protocol.
class WsClient {
 public:
  explicit WsClient(std::uint16_t port, std::optional<int> receive_buffer = std::nullopt) : ws_(io_) {
    auto& socket = beast::get_lowest_layer(ws_).socket();
    socket.open(tcp::v4());
    if (receive_buffer) socket.set_option(asio::socket_base::receive_buffer_size(*receive_buffer));
    socket.connect(loopback(port));
    host_ = "127.0.0.1:" + std::to_string(port);
    ws_.control_callback([this](websocket::frame_type kind, beast::string_view) {
      if (kind == websocket::frame_type::ping) ++pings;
    });
  }

  beast::error_code handshake(const std::string& target = "/ws", const std::string& origin = {}) {
    ws_.set_option(websocket::stream_base::decorator([origin](websocket::request_type& request) {
      if (!origin.empty()) request.set(http::field::origin, origin);
    }));
    beast::error_code failure;
    ws_.handshake(response_, host_, target, failure);
    return failure;
  }

  const websocket::response_type& handshake_response() const { return response_; }

  beast::error_code send(const std::string& text) {
    beast::error_code failure;
    ws_.text(true);
    ws_.write(asio::buffer(text), failure);
    return failure;
  }

  /// The next message; nullopt when the deadline passes first or the connection ends (then
  /// `error` says how).
  std::optional<std::string> read(std::chrono::milliseconds timeout = 5s) {
    bool done = false;
    error = {};
    timed_out = false;
    buffer_.clear();
    ws_.async_read(buffer_, [&](beast::error_code read_error, std::size_t) {
      done = true;
      error = read_error;
    });
    io_.restart();
    io_.run_for(timeout);
    if (!done) {
      beast::get_lowest_layer(ws_).cancel();
      io_.restart();
      io_.run();
      timed_out = true;
      return std::nullopt;
    }
    if (error) return std::nullopt;
    return beast::buffers_to_string(buffer_.data());
  }

  /// The next message of `type` (others are skipped); fails the test if none comes in time.
  boost::json::object read_type(const std::string& type, std::chrono::milliseconds timeout = 5s) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < deadline) {
      const auto text = read(std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
      if (!text) break;
      auto message = boost::json::parse(*text).as_object();
      if (message.at("type") == type.c_str()) return message;
    }
    FAIL("no '" << type << "' message: " << error.message());
    return {};
  }

  /// Reads (answering pings) for `duration`; whether the connection stayed open.
  bool stays_open_for(std::chrono::milliseconds duration) {
    const auto text = read(duration);
    return !text && timed_out;
  }

  beast::error_code error;
  bool timed_out = false;
  int pings = 0;

 private:
  asio::io_context io_;
  websocket::stream<beast::tcp_stream> ws_;
  beast::flat_buffer buffer_;
  websocket::response_type response_;
  std::string host_;
};

}  // namespace chorus::test
