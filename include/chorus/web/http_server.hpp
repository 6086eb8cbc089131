#pragma once
// HttpServer: the web page, its WebSocket and /metrics (docs/web.md), with Boost.Beast.
//
//   GET /         the page (HTML, CSS and JS embedded in the binary)
//   GET /metrics  Prometheus' text format
//   GET /ws       the WebSocket: views pushed, commands run through ControlPort::run
//
// It runs on the io_context it is given (a control thread's, not the node's protocol thread), on
// a strand of its own; ControlPort's `done` and change notices arrive on the node's io thread and
// are posted back to that strand. Everything is bounded by HttpLimits.
//
// Lifetime: the io_context must outlive the server. Destroying the server closes the listener
// and every connection; notices and outcomes that arrive later are dropped.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include <boost/asio/io_context.hpp>

#include "chorus/control/control_port.hpp"

namespace chorus::web {

struct HttpLimits {
  std::size_t max_connections = 64;          ///< HTTP and WebSocket together; more are closed at once
  std::size_t header_bytes = 8 * 1024;       ///< a request's header; more: 431 and closed
  std::size_t body_bytes = 1024;             ///< only GET and HEAD: bodies are small; more: 413
  /// A request must arrive whole (and a response be taken) within this; a connection that stays
  /// silent, half-open or idle between requests is closed after it.
  std::chrono::milliseconds request_timeout{30'000};
  /// A WebSocket that receives nothing for this long is closed; it is pinged at half of it, so an
  /// idle page that still answers stays.
  std::chrono::milliseconds idle_timeout{30'000};
  std::size_t message_bytes = 64 * 1024;     ///< a WebSocket message from the page
  /// Answers and views queued for a WebSocket that does not read; past it the socket is closed.
  std::size_t write_queue_bytes = 1024 * 1024;
  std::size_t commands_in_flight = 16;       ///< per WebSocket; more are refused until one ends
  /// Change notices within this delay are pushed as one view.
  std::chrono::milliseconds push_delay{50};
  std::chrono::milliseconds accept_retry_first{100};  ///< a failing accept waits, doubling
  std::chrono::milliseconds accept_retry_max{5'000};
};

struct HttpConfig {
  std::string host = "0.0.0.0";
  std::uint16_t port = 0;  ///< 0: any free port (the node's --http-port 0 means no server at all)
  /// With a token, the page, the WebSocket and /metrics need it (?token= or Authorization: Bearer).
  std::optional<std::string> token;
  HttpLimits limits;
};

class HttpServer {
 public:
  HttpServer(boost::asio::io_context& io, control::ControlPort& port, HttpConfig config);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  /// Binds and starts accepting. False when it cannot (the port in use, a bad host): logged once,
  /// and the caller goes on without a web server. Any thread, once.
  bool start();
  /// The bound port (useful with port 0); 0 before a successful start().
  std::uint16_t local_port() const;

 private:
  class Core;
  std::shared_ptr<Core> core_;
};

}  // namespace chorus::web
