// The web server's listener: accepts (with a cap and a back-off), starts HTTP sessions, and pushes
// views to the WebSockets after change notices, coalesced.

#include "chorus/web/http_server.hpp"

#include <utility>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/net/liveness.hpp"
#include "chorus/net/rate_limited_log.hpp"
#include "chorus/web/request_auth.hpp"
#include "http_session.hpp"

namespace chorus::web {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

class HttpServer::Core : public std::enable_shared_from_this<HttpServer::Core> {
 public:
  Core(asio::io_context& io, control::ControlPort& port, HttpConfig config)
      : shared_(std::make_shared<detail::ServerShared>(asio::make_strand(io), port, std::move(config))),
        acceptor_(shared_->strand),
        accept_retry_(shared_->strand),
        push_timer_(shared_->strand),
        accept_backoff_(shared_->config.limits.accept_retry_first, shared_->config.limits.accept_retry_max) {}

  bool start() {
    const auto& config = shared_->config;
    error_code error;
    const auto address = asio::ip::make_address(config.host, error);
    if (error) {
      spdlog::error("web: bad --http-host '{}': {}; running without the web page", config.host, error.message());
      return false;
    }
    const tcp::endpoint endpoint(address, config.port);
    if (!listen(endpoint, error)) {
      spdlog::error("web: cannot listen on {}:{}: {}; running without the web page", config.host, config.port,
                    error.message());
      return false;
    }
    local_port_ = acceptor_.local_endpoint(error).port();
    // Not the token: a service's log is read by more people than hold the key file. `access` at
    // the prompt and `node --show-access` print it.
    spdlog::info("web: the page is at http://{}:{}/ (and /metrics){}", config.host, local_port_,
                 config.token ? "; it needs the token `access` prints" : "");
    std::weak_ptr<Core> weak = weak_from_this();
    subscription_ = shared_->bridge->subscribe([weak, bridge = shared_->bridge](control::Subsystems) {
      bridge->post([weak] {
        if (auto self = weak.lock()) self->changed();
      });
    });
    asio::post(shared_->strand, [self = shared_from_this()] { self->accept(); });
    return true;
  }

  std::uint16_t local_port() const { return local_port_; }

  /// Closes everything; called from the server's destructor, on any thread.
  void stop() {
    subscription_.reset();
    shared_->bridge->close();
    asio::post(shared_->strand, [self = shared_from_this()] {
      self->shared_->stopped = true;
      error_code ignored;
      self->acceptor_.close(ignored);
      self->accept_retry_.cancel();
      self->push_timer_.cancel();
      self->shared_->each([](detail::Connection& connection) { connection.close(); });
    });
  }

 private:
  bool listen(const tcp::endpoint& endpoint, error_code& error) {
    acceptor_.open(endpoint.protocol(), error);
    if (!error) acceptor_.set_option(tcp::acceptor::reuse_address(true), error);
    if (!error) acceptor_.bind(endpoint, error);
    if (!error) acceptor_.listen(asio::socket_base::max_listen_connections, error);
    if (error) {
      error_code ignored;
      acceptor_.close(ignored);
    }
    return !error;
  }

  void accept() {
    if (shared_->stopped) return;
    acceptor_.async_accept(shared_->strand, [self = shared_from_this()](const error_code& error, tcp::socket socket) {
      self->on_accept(error, std::move(socket));
    });
  }

  void on_accept(const error_code& error, tcp::socket socket) {
    if (error == asio::error::operation_aborted || shared_->stopped) return;
    if (error) return retry_accept(error);
    accept_backoff_.reset();
    if (shared_->at_capacity()) {
      // Closed at once: a flood of connections costs a descriptor for an instant, not a session.
      full_log_.write(spdlog::level::warn, fmt::format("web: {} connections open, refusing another",
                                                       shared_->open_count()));
      error_code ignored;
      socket.close(ignored);
    } else {
      auto session = std::make_shared<detail::HttpSession>(shared_, std::move(socket));
      shared_->add(session);
      session->start();
    }
    accept();
  }

  void retry_accept(const error_code& error) {
    // A failing accept (out of descriptors) fails again at once if retried at once.
    const auto delay = accept_backoff_.next();
    accept_log_.write(spdlog::level::warn,
                      fmt::format("web: accept failed: {}; retrying in {} ms", error.message(), delay.count()));
    accept_retry_.expires_after(delay);
    accept_retry_.async_wait([self = shared_from_this()](const error_code& wait_error) {
      if (!wait_error) self->accept();
    });
  }

  /// A change notice: one view push for all notices within push_delay.
  void changed() {
    if (shared_->stopped || push_armed_) return;
    push_armed_ = true;
    push_timer_.expires_after(shared_->config.limits.push_delay);
    push_timer_.async_wait([self = shared_from_this()](const error_code& error) {
      self->push_armed_ = false;
      if (error || self->shared_->stopped) return;
      self->shared_->each([](detail::Connection& connection) { connection.view_changed(); });
    });
  }

  std::shared_ptr<detail::ServerShared> shared_;
  tcp::acceptor acceptor_;
  asio::steady_timer accept_retry_;
  asio::steady_timer push_timer_;
  bool push_armed_ = false;
  net::Backoff accept_backoff_;
  net::RateLimitedLog accept_log_;
  net::RateLimitedLog full_log_;
  control::Subscription subscription_;
  std::uint16_t local_port_ = 0;
};

HttpServer::HttpServer(asio::io_context& io, control::ControlPort& port, HttpConfig config)
    : core_(std::make_shared<Core>(io, port, std::move(config))) {}

HttpServer::~HttpServer() { core_->stop(); }

bool HttpServer::start() { return core_->start(); }

std::uint16_t HttpServer::local_port() const { return core_->local_port(); }

}  // namespace chorus::web
