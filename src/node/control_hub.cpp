#include "chorus/node/control_hub.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

namespace chorus::node {

ControlHub::ControlHub(boost::asio::io_context& io, Runner runner)
    : io_(io), runner_(std::move(runner)), view_(std::make_shared<const control::ClusterView>()) {}

ControlHub::~ControlHub() = default;

void ControlHub::publish(std::shared_ptr<const control::ClusterView> view,
                         control::Subsystems changed) {
  {
    std::lock_guard lock(view_mutex_);
    view_ = std::move(view);
  }
  if (changed == 0) return;
  // Called under the lock, so that once a Subscription has ended its listener is never called
  // again (the front end may be gone). Listeners only post, so the lock is held briefly.
  std::lock_guard lock(listeners_->mutex);
  for (const auto& [id, listener] : listeners_->by_id) listener(changed);
}

std::shared_ptr<const control::ClusterView> ControlHub::view() const {
  std::lock_guard lock(view_mutex_);
  return view_;
}

void ControlHub::run(cli::Command command, Done done) {
  boost::asio::post(io_, [this, command = std::move(command), done = std::move(done)]() mutable {
    runner_(command, std::move(done));
  });
}

control::Subscription ControlHub::subscribe(Listener listener) {
  std::uint64_t id = 0;
  {
    std::lock_guard lock(listeners_->mutex);
    id = listeners_->next_id++;
    listeners_->by_id.emplace(id, std::move(listener));
  }
  return control::Subscription([weak = std::weak_ptr<Listeners>(listeners_), id] {
    if (auto listeners = weak.lock()) {
      std::lock_guard lock(listeners->mutex);
      listeners->by_id.erase(id);
    }
  });
}

void ControlHub::clients_changed(int delta) { clients_.fetch_add(delta, std::memory_order_relaxed); }

}  // namespace chorus::node
