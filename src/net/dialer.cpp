#include "dialer.hpp"

#include <memory>
#include <string>

#include <boost/asio/connect.hpp>
#include <boost/asio/steady_timer.hpp>

namespace chorus::net {

namespace asio = boost::asio;
using asio::ip::tcp;
using boost::system::error_code;

namespace {

struct DialAttempt {
  explicit DialAttempt(asio::io_context& io) : resolver(io), socket(io), deadline(io) {}
  tcp::resolver resolver;
  tcp::socket socket;
  asio::steady_timer deadline;
  DialHandler done;
  bool timed_out = false;
};

void finish(const std::shared_ptr<DialAttempt>& attempt, error_code ec) {
  attempt->deadline.cancel();
  if (attempt->timed_out) ec = asio::error::timed_out;
  attempt->done(ec, std::move(attempt->socket));
}

}  // namespace

void async_dial(asio::io_context& io, const protocol::Endpoint& target,
                std::chrono::milliseconds timeout, DialHandler done) {
  auto attempt = std::make_shared<DialAttempt>(io);
  attempt->done = std::move(done);
  attempt->deadline.expires_after(timeout);
  attempt->deadline.async_wait([attempt](const error_code& ec) {
    if (ec) return;  // cancelled: the attempt finished first
    attempt->timed_out = true;
    attempt->resolver.cancel();
    error_code ignored;
    attempt->socket.close(ignored);
  });
  attempt->resolver.async_resolve(
      target.host, std::to_string(target.port),
      [attempt](const error_code& ec, const tcp::resolver::results_type& results) {
        if (ec) return finish(attempt, ec);
        asio::async_connect(attempt->socket, results,
                            [attempt](const error_code& connect_ec, const tcp::endpoint&) {
                              finish(attempt, connect_ec);
                            });
      });
}

}  // namespace chorus::net
