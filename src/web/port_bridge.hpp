#pragma once
// PortBridge: the web server's only way to its ControlPort and back onto its strand. Outcomes and
// change notices arrive on the node's io thread; they are posted to the strand. Once the server is
// gone (close()), nothing more is posted or asked of the port, and the web clients it had counted
// are taken back off the port's count.

#include <cstddef>
#include <memory>
#include <mutex>
#include <utility>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>

#include "chorus/control/control_port.hpp"

namespace chorus::web::detail {

using Strand = boost::asio::strand<boost::asio::io_context::executor_type>;

class PortBridge {
 public:
  PortBridge(control::ControlPort& port, Strand strand) : port_(&port), strand_(std::move(strand)) {}

  /// Runs `handler` on the strand, unless closed. Any thread.
  template <typename Handler>
  void post(Handler&& handler) {
    std::lock_guard lock(mutex_);
    if (port_ != nullptr) boost::asio::post(strand_, std::forward<Handler>(handler));
  }

  /// ControlPort::view(), or nullptr once closed.
  std::shared_ptr<const control::ClusterView> view() {
    std::lock_guard lock(mutex_);
    return port_ != nullptr ? port_->view() : nullptr;
  }

  /// ControlPort::run; `done` is dropped once closed.
  void run(cli::Command command, control::ControlPort::Done done) {
    std::lock_guard lock(mutex_);
    if (port_ != nullptr) port_->run(std::move(command), std::move(done));
  }

  control::Subscription subscribe(control::ControlPort::Listener listener) {
    std::lock_guard lock(mutex_);
    return port_ != nullptr ? port_->subscribe(std::move(listener)) : control::Subscription{};
  }

  void clients_changed(int delta) {
    std::lock_guard lock(mutex_);
    if (port_ == nullptr) return;
    clients_ += delta;
    port_->clients_changed(delta);
  }

  void close() {
    std::lock_guard lock(mutex_);
    if (port_ != nullptr && clients_ != 0) port_->clients_changed(-clients_);
    clients_ = 0;
    port_ = nullptr;
  }

 private:
  // Recursive: a port may call `done` before run() returns (a refusal known at once).
  std::recursive_mutex mutex_;
  control::ControlPort* port_;
  Strand strand_;
  int clients_ = 0;
};

}  // namespace chorus::web::detail
