#include "chorus/content/upload_queue.hpp"

#include <utility>

namespace chorus::content {

bool UploadQueue::push(QueuedChunk request) {
  auto& queue = queues_[request.peer];
  if (queue.size() >= max_per_peer_) {
    if (queue.empty()) queues_.erase(request.peer);  // max_per_peer 0: nothing is ever queued
    return false;
  }
  queue.push_back(std::move(request));
  return true;
}

std::optional<QueuedChunk> UploadQueue::pop(const std::function<bool(const std::string& peer)>& ready) {
  if (queues_.empty()) return std::nullopt;
  // The peers after the last one served, then from the first: everyone's turn comes round.
  const auto start = last_served_ ? queues_.upper_bound(*last_served_) : queues_.begin();
  auto it = start;
  for (std::size_t visited = 0; visited < queues_.size(); ++visited) {
    if (it == queues_.end()) it = queues_.begin();
    if (ready(it->first)) {
      QueuedChunk next = std::move(it->second.front());
      it->second.pop_front();
      last_served_ = it->first;
      if (it->second.empty()) queues_.erase(it);
      return next;
    }
    ++it;
  }
  return std::nullopt;
}

void UploadQueue::forget(const std::string& peer) { queues_.erase(peer); }

std::size_t UploadQueue::size() const {
  std::size_t n = 0;
  for (const auto& [peer, queue] : queues_) n += queue.size();
  return n;
}

std::size_t UploadQueue::queued(const std::string& peer) const {
  const auto it = queues_.find(peer);
  return it == queues_.end() ? 0 : it->second.size();
}

}  // namespace chorus::content
