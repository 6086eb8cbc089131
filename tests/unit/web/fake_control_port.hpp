#pragma once
// A ControlPort for the web server's tests: a view the test sets, commands recorded and answered
// on a thread of its own (as the node's io thread would), listeners told of each change there.

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "chorus/control/control_port.hpp"

namespace chorus::test {

class FakeControlPort : public control::ControlPort {
 public:
  FakeControlPort() : work_(io_.get_executor()), thread_([this] { io_.run(); }) {
    set_view(control::ClusterView{});
  }
  ~FakeControlPort() override {
    work_.reset();
    io_.stop();
    thread_.join();
  }

  std::shared_ptr<const control::ClusterView> view() const override {
    std::lock_guard lock(mutex_);
    return view_;
  }

  /// Records the command; pause and volume change the view (and tell the listeners), as the node
  /// would; `answer` (when set) decides the outcome.
  void run(cli::Command command, Done done) override {
    boost::asio::post(io_, [this, command, done = std::move(done)] {
      {
        std::lock_guard lock(mutex_);
        commands_.push_back(command);
        if (holding_) {
          held_.emplace_back(command, done);
          return;
        }
      }
      finish(command, done);
    });
  }

  /// Commands are recorded but not answered until release().
  void hold() {
    std::lock_guard lock(mutex_);
    holding_ = true;
  }
  void release() {
    boost::asio::post(io_, [this] {
      std::vector<std::pair<cli::Command, Done>> held;
      {
        std::lock_guard lock(mutex_);
        holding_ = false;
        held.swap(held_);
      }
      for (const auto& [command, done] : held) finish(command, done);
    });
  }

  control::Subscription subscribe(Listener listener) override {
    std::lock_guard lock(mutex_);
    const int key = next_key_++;
    listeners_[key] = std::move(listener);
    return control::Subscription([this, key] {
      std::lock_guard inner(mutex_);
      listeners_.erase(key);
    });
  }

  void clients_changed(int delta) override { clients += delta; }

  void set_view(control::ClusterView view) {
    std::lock_guard lock(mutex_);
    view_ = std::make_shared<const control::ClusterView>(std::move(view));
  }

  /// Replaces the view and tells the listeners, on the port's thread.
  void change(control::ClusterView view, control::Subsystems what = control::kAllSubsystems) {
    set_view(std::move(view));
    boost::asio::post(io_, [this, what] { notify(what); });
  }

  std::vector<cli::Command> commands() const {
    std::lock_guard lock(mutex_);
    return commands_;
  }

  std::size_t listener_count() const {
    std::lock_guard lock(mutex_);
    return listeners_.size();
  }

  std::function<control::Outcome(const cli::Command&)> answer;
  std::atomic<int> clients{0};

 private:
  void finish(const cli::Command& command, const Done& done) {
    control::Outcome outcome{.ok = true, .refusal = control::Refusal::none, .text = "ok", .item_id = {}, .job = {}};
    if (answer) outcome = answer(command);
    if (outcome.ok) apply(command);
    done(std::move(outcome));
  }

  void apply(const cli::Command& command) {
    control::ClusterView next = *view();
    if (command.kind == cli::CommandKind::pause) next.now.status = protocol::PlaybackStatus::paused;
    if (command.kind == cli::CommandKind::volume && command.volume) {
      for (auto& room : next.rooms) {
        if (room.id == command.room) room.volume = *command.volume;
      }
    }
    set_view(std::move(next));
    notify(control::kPlayer | control::kMixer);
  }

  void notify(control::Subsystems what) {
    std::vector<Listener> listeners;
    {
      std::lock_guard lock(mutex_);
      for (const auto& [key, listener] : listeners_) listeners.push_back(listener);
    }
    for (const auto& listener : listeners) listener(what);
  }

  mutable std::mutex mutex_;
  std::shared_ptr<const control::ClusterView> view_;
  std::vector<cli::Command> commands_;
  std::map<int, Listener> listeners_;
  bool holding_ = false;
  std::vector<std::pair<cli::Command, Done>> held_;
  int next_key_ = 0;
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::thread thread_;
};

}  // namespace chorus::test
