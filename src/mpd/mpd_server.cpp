#include "chorus/mpd/mpd_server.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <ctime>
#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"
#include "server_core.hpp"

namespace chorus::mpd {
namespace {

using error_code = boost::system::error_code;

bool out_of_descriptors(const error_code& ec) {
  return ec == asio::error::no_descriptors ||
         ec == boost::system::errc::too_many_files_open_in_system;
}

std::int64_t unix_now() { return static_cast<std::int64_t>(std::time(nullptr)); }

}  // namespace

MpdServer::Core::Core(asio::io_context& io_context, control::ControlPort& control_port,
                      MpdConfig server_config)
    : io(io_context),
      port(control_port),
      config(std::move(server_config)),
      acceptor_(io_context),
      accept_retry_(io_context),
      accept_backoff_(config.limits.accept_retry_first, config.limits.accept_retry_max),
      started_(std::chrono::steady_clock::now()),
      db_update_unix_(unix_now()) {}

bool MpdServer::Core::start() {
  if (config.port == 0 && !config.any_port) return false;
  error_code ec;
  const auto address = asio::ip::make_address(config.host, ec);
  if (ec) {
    spdlog::error("MPD server off: '{}' is not an address", config.host);
    return false;
  }
  const tcp::endpoint endpoint(address, config.port);
  acceptor_.open(endpoint.protocol(), ec);
  if (!ec) acceptor_.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor_.bind(endpoint, ec);
  if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
  if (!ec) acceptor_.non_blocking(true, ec);  // so that shedding a connection never waits
  if (ec) {
    spdlog::error("MPD server off: cannot listen on {}:{}: {}", config.host, config.port,
                  ec.message());
    acceptor_.close(ec);
    return false;
  }
  local_port = acceptor_.local_endpoint().port();
  spdlog::info("MPD server listening on {}:{}{}", config.host, local_port,
               config.password ? " (password required)" : "");
  reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  subscribe();
  accept();
  return true;
}

void MpdServer::Core::stop() {
  stopped_ = true;
  subscription_.reset();
  error_code ignored;
  acceptor_.close(ignored);
  accept_retry_.cancel();
  if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
  auto open = connections;  // close() removes each from the set
  for (const auto& connection : open) connection->close();
}

void MpdServer::Core::subscribe() {
  // The listener runs on the node's io thread: it only merges the notice and, once per burst,
  // posts the delivery here.
  std::weak_ptr<Core> weak = weak_from_this();
  subscription_ = port.subscribe([inbox = inbox_, weak, &io = io](control::Subsystems changed) {
    inbox->pending.fetch_or(changed);
    if (inbox->scheduled.exchange(true)) return;
    asio::post(io, [inbox, weak] {
      inbox->scheduled.store(false);
      const control::Subsystems merged = inbox->pending.exchange(0);
      if (auto core = weak.lock(); core && merged != 0) core->deliver(merged);
    });
  });
}

void MpdServer::Core::deliver(control::Subsystems changed) {
  if ((changed & control::kDatabase) != 0) db_update_unix_ = unix_now();
  auto open = connections;  // a delivery may close a connection
  for (const auto& connection : open) connection->notify(changed);
}

Instant MpdServer::Core::instant() const {
  const auto uptime = std::chrono::steady_clock::now() - started_;
  return Instant{.steady_us = now_us(),
                 .uptime_s = std::chrono::duration_cast<std::chrono::seconds>(uptime).count(),
                 .db_update_unix = db_update_unix_};
}

void MpdServer::Core::accept() {
  acceptor_.async_accept([weak = weak_from_this()](const error_code& ec, tcp::socket socket) {
    auto self = weak.lock();
    if (!self || ec == asio::error::operation_aborted || !self->acceptor_.is_open()) return;
    if (ec) return self->retry_accept(ec);
    self->accept_backoff_.reset();
    self->adopt(std::move(socket));
    self->accept();
  });
}

void MpdServer::Core::retry_accept(const error_code& ec) {
  // A failing accept fails again at once if retried at once: wait, doubling the wait.
  if (out_of_descriptors(ec)) {
    // The descriptor held in reserve frees the slot to take the pending connection off the
    // queue and close it, rather than leave it pending and the accept failing.
    if (reserve_fd_ >= 0) ::close(std::exchange(reserve_fd_, -1));
    error_code ignored;
    tcp::socket pending(io);
    acceptor_.accept(pending, ignored);  // non-blocking: fails at once if none is pending
    pending.close(ignored);
    reserve_fd_ = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  }
  const auto delay = accept_backoff_.next();
  accept_log_.write(spdlog::level::warn, fmt::format("MPD server: accept failed: {}; retrying in {} ms",
                                                     ec.message(), delay.count()));
  accept_retry_.expires_after(delay);
  accept_retry_.async_wait([weak = weak_from_this()](const error_code& wait_ec) {
    auto self = weak.lock();
    if (self && !wait_ec && self->acceptor_.is_open()) self->accept();
  });
}

void MpdServer::Core::adopt(tcp::socket socket) {
  error_code ignored;
  if (connections.size() >= config.limits.max_connections && !shed_a_silent_connection()) {
    refused_log_.write(spdlog::level::warn,
                       fmt::format("MPD server: {} connections open, refusing another",
                                   connections.size()));
    socket.close(ignored);
    return;
  }
  socket.set_option(tcp::no_delay(true), ignored);
  // A client that vanished while waiting in idle (never timed out) is found by keep-alive.
  socket.set_option(asio::socket_base::keep_alive(true), ignored);
  auto connection =
      std::make_shared<MpdConnection>(std::move(socket), weak_from_this(), config, port);
  connections.insert(connection);
  port.clients_changed(+1);
  connection->start();
}

bool MpdServer::Core::shed_a_silent_connection() {
  std::shared_ptr<MpdConnection> oldest;
  for (const auto& connection : connections) {
    if (connection->has_spoken()) continue;
    if (!oldest || connection->opened_at() < oldest->opened_at()) oldest = connection;
  }
  if (!oldest) return false;
  refused_log_.write(spdlog::level::warn,
                     fmt::format("MPD server: {} connections open, closing the oldest that never "
                                 "sent a command",
                                 connections.size()));
  oldest->close();  // leaves `connections` through remove()
  return true;
}

void MpdServer::Core::remove(MpdConnection* connection) {
  for (auto it = connections.begin(); it != connections.end(); ++it) {
    if (it->get() == connection) {
      connections.erase(it);
      port.clients_changed(-1);
      return;
    }
  }
}

MpdServer::MpdServer(asio::io_context& io, control::ControlPort& port, MpdConfig config)
    : core_(std::make_shared<Core>(io, port, std::move(config))) {}

MpdServer::~MpdServer() { core_->stop(); }

bool MpdServer::start() { return core_->start(); }
void MpdServer::stop() { core_->stop(); }
std::uint16_t MpdServer::local_port() const { return core_->local_port; }
std::size_t MpdServer::connections() const { return core_->connections.size(); }

}  // namespace chorus::mpd
