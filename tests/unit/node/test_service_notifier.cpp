// ServiceNotifier against a real notify socket, as systemd would listen: READY with the status,
// status changes, the watchdog's pings (and their absence while the io thread hangs), STOPPING.

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <future>
#include <string>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "chorus/node/control_hub.hpp"
#include "chorus/node/service_notifier.hpp"

using chorus::control::ClusterView;
using chorus::node::ControlHub;
using chorus::node::ServiceNotifier;
using namespace std::chrono_literals;

namespace {

/// A Unix datagram socket bound to a fresh path, named by NOTIFY_SOCKET while it lives (with
/// WATCHDOG_USEC and WATCHDOG_PID when a watchdog interval is given), as systemd sets them.
class NotifySocket {
 public:
  explicit NotifySocket(std::optional<std::chrono::microseconds> watchdog) {
    char dir_template[] = "/tmp/chorus-notify-XXXXXX";
    REQUIRE(::mkdtemp(dir_template) != nullptr);
    dir_ = dir_template;
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    REQUIRE(fd_ >= 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    const auto path = (dir_ / "notify").string();
    path.copy(address.sun_path, sizeof(address.sun_path) - 1);
    REQUIRE(::bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
    if (watchdog) {
      ::setenv("WATCHDOG_USEC", std::to_string(watchdog->count()).c_str(), 1);
      ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
    }
  }
  ~NotifySocket() {
    ::unsetenv("NOTIFY_SOCKET");
    ::unsetenv("WATCHDOG_USEC");
    ::unsetenv("WATCHDOG_PID");
    ::close(fd_);
    std::filesystem::remove_all(dir_);
  }
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  /// The next message, or nothing within `timeout`.
  std::optional<std::string> receive(std::chrono::milliseconds timeout) {
    pollfd pfd{fd_, POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) return std::nullopt;
    char buffer[4096];
    const auto n = ::recv(fd_, buffer, sizeof(buffer), 0);
    REQUIRE(n >= 0);
    return std::string(buffer, static_cast<std::size_t>(n));
  }
  /// The next message containing `text`, skipping others, or nothing within `timeout`.
  std::optional<std::string> receive_containing(const std::string& text, std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (true) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
      if (left <= 0ms) return std::nullopt;
      auto message = receive(left);
      if (!message) return std::nullopt;
      if (message->find(text) != std::string::npos) return message;
    }
  }
  /// Throws away what has arrived so far.
  void drain() {
    while (receive(0ms)) {
    }
  }

 private:
  std::filesystem::path dir_;
  int fd_ = -1;
};

std::shared_ptr<const ClusterView> view_led_by(const std::string& leader) {
  auto view = std::make_shared<ClusterView>();
  view->self = "A";
  view->leader = leader;
  return view;
}

/// An io thread, as the node's: runs until stopped.
class IoThread {
 public:
  explicit IoThread(boost::asio::io_context& io) : io_(io), work_(io.get_executor()) {
    thread_ = std::thread([this] { io_.run(); });
  }
  ~IoThread() {
    work_.reset();
    io_.stop();
    thread_.join();
  }
  IoThread(const IoThread&) = delete;
  IoThread& operator=(const IoThread&) = delete;
  /// Runs `work` on the io thread and waits for it.
  template <typename Work>
  void run(Work work) {
    std::promise<void> done;
    boost::asio::post(io_, [&] {
      work();
      done.set_value();
    });
    done.get_future().wait();
  }

 private:
  boost::asio::io_context& io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace

TEST_CASE("without NOTIFY_SOCKET the notifier does nothing and arms no timer", "[service]") {
  ::unsetenv("NOTIFY_SOCKET");
  boost::asio::io_context io;
  ControlHub hub(io, [](const chorus::cli::Command&, ControlHub::Done) {});
  ServiceNotifier notifier(io, hub);
  CHECK_FALSE(notifier.active());
  CHECK_FALSE(notifier.watchdog_interval());
  notifier.ready();
  CHECK(io.run_for(100ms) == 0);  // nothing was queued: no timer, no work
  notifier.stopping();
}

TEST_CASE("READY carries the status, which is sent again when it changes", "[service]") {
  NotifySocket socket(std::nullopt);
  boost::asio::io_context io;
  ControlHub hub(io, [](const chorus::cli::Command&, ControlHub::Done) {});
  hub.publish(view_led_by("A"), chorus::control::kAllSubsystems);
  ServiceNotifier notifier(io, hub);
  REQUIRE(notifier.active());
  CHECK_FALSE(notifier.watchdog_interval());
  IoThread thread(io);
  thread.run([&] { notifier.ready(); });

  auto ready = socket.receive(1s);
  REQUIRE(ready);
  CHECK(*ready == "READY=1\nSTATUS=leader, no peers, stopped");

  thread.run([&] { hub.publish(view_led_by("B"), chorus::control::kPlayer); });
  auto status = socket.receive(3s);
  REQUIRE(status);
  CHECK(*status == "STATUS=following B, no peers, stopped");
  // An unchanged snapshot is not sent again; no watchdog was asked for, so nothing else comes.
  thread.run([&] { hub.publish(view_led_by("B"), 0); });
  CHECK_FALSE(socket.receive(1500ms));

  thread.run([&] { notifier.stopping(); });
  auto stopping = socket.receive(1s);
  REQUIRE(stopping);
  CHECK(*stopping == "STOPPING=1\nSTATUS=leaving the cluster");
}

TEST_CASE("the watchdog is pinged at half its interval, never while the io thread hangs", "[service]") {
  NotifySocket socket(400ms);
  boost::asio::io_context io;
  ControlHub hub(io, [](const chorus::cli::Command&, ControlHub::Done) {});
  ServiceNotifier notifier(io, hub);
  REQUIRE(notifier.watchdog_interval() == std::chrono::microseconds(400ms));
  IoThread thread(io);
  thread.run([&] { notifier.ready(); });
  REQUIRE(socket.receive_containing("READY=1", 1s));

  // Every 200 ms: five pings well within 2 s even on a busy machine.
  const auto first = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) REQUIRE(socket.receive_containing("WATCHDOG=1", 2s));
  const auto elapsed = std::chrono::steady_clock::now() - first;
  CHECK(elapsed >= 4 * 200ms - 50ms);  // not faster than asked: once per half interval

  // A handler that never returns: the io thread is hung, as a deadlock would hang it.
  std::promise<void> hung, release;
  boost::asio::post(io, [&] {
    hung.set_value();
    release.get_future().wait();
  });
  hung.get_future().wait();
  socket.drain();  // a ping sent before the hang may still be queued
  CHECK_FALSE(socket.receive_containing("WATCHDOG=1", 1s));
  release.set_value();
  CHECK(socket.receive_containing("WATCHDOG=1", 1s));  // alive again: the pings resume

  thread.run([&] { notifier.stopping(); });
  REQUIRE(socket.receive_containing("STOPPING=1", 1s));
  CHECK_FALSE(socket.receive_containing("WATCHDOG=1", 600ms));
}

TEST_CASE("a watchdog meant for another process is not pinged", "[service]") {
  NotifySocket socket(400ms);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  boost::asio::io_context io;
  ControlHub hub(io, [](const chorus::cli::Command&, ControlHub::Done) {});
  ServiceNotifier notifier(io, hub);
  CHECK(notifier.active());
  CHECK_FALSE(notifier.watchdog_interval());
}
