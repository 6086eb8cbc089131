#pragma once
// ServiceNotifier: the node's side of systemd's notify protocol (sd_notify(3)), for a node run as
// the chorus-node.service unit (Type=notify, WatchdogSec=; docs/service.md).
//
//   ready()     READY=1 once the node listens, with the first STATUS= line
//   STATUS=     service_status_line() of the newest snapshot, sent when it changes, at most once
//               a second (the snapshot is polled on the io thread)
//   WATCHDOG=1  from a timer on the io thread, at half the interval systemd asks for
//               (WATCHDOG_USEC): it is sent only while the io thread, which owns the protocol
//               state, runs handlers. An io thread stuck in a handler stops the pings, and
//               systemd kills and restarts the node.
//   stopping()  STOPPING=1 when the node starts leaving the cluster
//
// Without NOTIFY_SOCKET in the environment (not run by systemd) it does nothing at all: no
// timers, no messages. Every member runs on the io thread (the constructor before it runs).

#include <chrono>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "chorus/control/control_port.hpp"

namespace boost::asio {
class io_context;
}

namespace chorus::node {

class ServiceNotifier {
 public:
  /// Reads NOTIFY_SOCKET and the watchdog's WATCHDOG_USEC/WATCHDOG_PID from the environment.
  ServiceNotifier(boost::asio::io_context& io, const control::ControlPort& port);
  ServiceNotifier(const ServiceNotifier&) = delete;
  ServiceNotifier& operator=(const ServiceNotifier&) = delete;

  /// Whether a service manager listens (NOTIFY_SOCKET is set).
  bool active() const { return active_; }
  /// The watchdog interval systemd asked for, if any, for this process.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return watchdog_; }

  /// The node listens on every port it serves: READY=1, then the status and watchdog timers.
  void ready();
  /// The node is leaving: STOPPING=1; no more status or watchdog messages.
  void stopping();

 private:
  void send(const std::string& message);
  void schedule_watchdog();
  void schedule_status();
  /// The status line of the newest snapshot, or nothing if it has not changed since last sent.
  std::optional<std::string> changed_status();

  const control::ControlPort& port_;
  bool active_ = false;
  std::optional<std::chrono::microseconds> watchdog_;
  bool stopped_ = false;
  bool send_failed_ = false;  ///< logged once
  std::string last_status_;
  boost::asio::steady_timer watchdog_timer_;
  boost::asio::steady_timer status_timer_;
};

}  // namespace chorus::node
