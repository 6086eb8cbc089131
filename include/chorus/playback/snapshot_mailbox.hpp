#pragma once
// SnapshotMailbox: hands immutable snapshots from one producer thread (the io thread) to one
// consumer thread (the audio thread) without locks, and without ever freeing memory on the
// consumer side.
//
//   producer: publish(s)  -> slot_ holds the newest unconsumed snapshot (an older one still in
//                            the slot was never seen by the consumer and is freed right here)
//                            collect() frees what the consumer has retired
//   consumer: latest()    -> takes the slot if it holds something newer; the snapshot it
//                            replaces goes to the retired ring, to be freed by the producer
//
// The consumer keeps using its current snapshot until a newer one arrives, so it always has one
// to read from (after the first publish) and never waits.

#include <array>
#include <atomic>
#include <cstddef>
#include <memory>

namespace chorus::playback {

template <typename T, std::size_t kRetiredCapacity = 64>
class SnapshotMailbox {
 public:
  SnapshotMailbox() = default;
  SnapshotMailbox(const SnapshotMailbox&) = delete;
  SnapshotMailbox& operator=(const SnapshotMailbox&) = delete;
  ~SnapshotMailbox() {
    delete slot_.load();
    delete current_;
    collect();
  }

  /// Producer: makes `snapshot` the next one the consumer sees.
  void publish(std::unique_ptr<const T> snapshot) {
    collect();
    delete slot_.exchange(snapshot.release(), std::memory_order_acq_rel);
  }

  /// Producer: frees snapshots the consumer has finished with.
  void collect() {
    while (tail_ != head_.load(std::memory_order_acquire)) {
      delete retired_[tail_ % kRetiredCapacity];
      tail_.store(tail_ + 1, std::memory_order_release);
    }
  }

  /// Consumer: the newest snapshot, or nullptr before the first publish. Wait-free.
  const T* latest() {
    if (slot_.load(std::memory_order_relaxed) == nullptr) return current_;
    const T* next = slot_.exchange(nullptr, std::memory_order_acq_rel);
    if (next == nullptr) return current_;
    if (current_ != nullptr) retire(current_);
    current_ = next;
    return current_;
  }

 private:
  void retire(const T* old) {
    auto head = head_.load(std::memory_order_relaxed);
    if (head - tail_.load(std::memory_order_acquire) == kRetiredCapacity) {
      delete old;  // the producer has not collected for a long time: better this than a leak
      return;
    }
    retired_[head % kRetiredCapacity] = old;
    head_.store(head + 1, std::memory_order_release);
  }

  std::atomic<const T*> slot_{nullptr};
  const T* current_ = nullptr;  // consumer only
  std::array<const T*, kRetiredCapacity> retired_{};
  std::atomic<std::size_t> head_{0};  // written by the consumer
  std::atomic<std::size_t> tail_{0};  // written by the producer
};

}  // namespace chorus::playback
