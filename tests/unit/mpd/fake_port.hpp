#pragma once
// A ControlPort for the MPD server's tests: a small cluster (two rooms, a four-track library, a
// two-item queue) whose commands are applied the way the node applies them, on a thread of its
// own standing in for the node's io thread.

#include <boost/asio.hpp>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "chorus/control/control_port.hpp"

namespace chorus::mpd::test {

/// The cluster every test starts from (node-a is this node; node-b is muted).
control::ClusterView sample_view();

/// A library entry with tags and a length in seconds.
protocol::CatalogEntry track(std::string name, std::string title, std::string artist,
                             std::string album, int seconds);

class FakePort final : public control::ControlPort {
 public:
  explicit FakePort(control::ClusterView start = sample_view());
  ~FakePort() override;

  std::shared_ptr<const control::ClusterView> view() const override;
  void run(cli::Command command, Done done) override;
  control::Subscription subscribe(Listener listener) override;
  void clients_changed(int delta) override;

  /// Changes the view on the io thread, then tells the subscribers `changed`.
  void change(std::function<void(control::ClusterView&)> edit, control::Subsystems changed);
  /// The commands run so far.
  std::vector<cli::Command> commands() const;
  int clients() const;
  std::size_t subscribers() const;
  /// Refuse the next command with this refusal and text.
  void refuse_next(control::Refusal refusal, std::string text);

 private:
  control::Outcome apply(const cli::Command& command, control::ClusterView& view,
                         control::Subsystems& changed);
  void publish(control::ClusterView view, control::Subsystems changed);

  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  mutable std::mutex mutex_;
  std::shared_ptr<const control::ClusterView> view_;
  std::map<int, Listener> listeners_;
  int next_listener_ = 0;
  std::vector<cli::Command> commands_;
  int clients_ = 0;
  std::uint64_t next_id_ = 100;
  std::optional<std::pair<control::Refusal, std::string>> refusal_;
  std::thread thread_;
};

}  // namespace chorus::mpd::test
