#include "track_opener.hpp"

#include <utility>

#include "chorus/thread_name.hpp"

namespace chorus::playback::detail {

TrackOpener::TrackOpener() : thread_([this] { loop(); }) {}

TrackOpener::~TrackOpener() { stop(); }

void TrackOpener::run(Job job) {
  {
    const std::lock_guard lock(mutex_);
    if (stopping_) return;
    jobs_.push_back(std::move(job));
  }
  wake_.notify_one();
}

void TrackOpener::stop() {
  {
    const std::lock_guard lock(mutex_);
    stopping_ = true;
    jobs_.clear();
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void TrackOpener::loop() {
  name_this_thread("chorus-opener");
  while (true) {
    Job job;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !jobs_.empty(); });
      if (stopping_) return;
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    job();
  }
}

}  // namespace chorus::playback::detail
