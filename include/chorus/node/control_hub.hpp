#pragma once
// ControlHub: the node's side of control::ControlPort, the bridge between the front ends' thread
// (MPD, the web page) and the io thread that owns the protocol state.
//
//   io thread     publish(view, changed): the new snapshot replaces the old, then the listeners
//                 hear what changed (under the listeners' lock: they may only post; once a
//                 Subscription has ended, its listener is never called again)
//   any thread    view(): the newest snapshot (a shared_ptr copy under a short lock, no I/O)
//                 run(command, done): posted to the io thread, where the node runs it
//                 subscribe(listener) / the Subscription's end; clients_changed(±1)

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>

#include "chorus/control/control_port.hpp"

namespace boost::asio {
class io_context;
}

namespace chorus::node {

class ControlHub final : public control::ControlPort {
 public:
  /// Runs a command on the io thread; calls `done` exactly once.
  using Runner = std::function<void(const cli::Command&, Done done)>;

  ControlHub(boost::asio::io_context& io, Runner runner);
  ~ControlHub() override;

  /// io thread: the snapshot from now on, and what changed since the last (0: a refresh that
  /// nobody needs to hear of, e.g. the metrics' counters).
  void publish(std::shared_ptr<const control::ClusterView> view, control::Subsystems changed);
  /// Front ends' connections now.
  int clients() const { return clients_.load(std::memory_order_relaxed); }

  std::shared_ptr<const control::ClusterView> view() const override;
  void run(cli::Command command, Done done) override;
  control::Subscription subscribe(Listener listener) override;
  void clients_changed(int delta) override;

 private:
  /// Shared with the subscriptions, which may outlive a listener's registration but not the hub.
  struct Listeners {
    std::mutex mutex;
    std::map<std::uint64_t, Listener> by_id;
    std::uint64_t next_id = 1;
  };

  boost::asio::io_context& io_;
  Runner runner_;
  mutable std::mutex view_mutex_;
  std::shared_ptr<const control::ClusterView> view_;
  std::shared_ptr<Listeners> listeners_ = std::make_shared<Listeners>();
  std::atomic<int> clients_{0};
};

}  // namespace chorus::node
