#pragma once
// FakeTransport: a net::Transport that records what a component sends instead of using sockets.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chorus/net/transport.hpp"

namespace chorus::node::test {

class FakeTransport final : public net::Transport {
 public:
  struct Sent {
    std::optional<std::string> to;  ///< empty: broadcast
    protocol::Message message;
  };

  explicit FakeTransport(std::string id) : id_(std::move(id)) {}

  const std::string& id() const override { return id_; }
  bool send(const std::string& peer_id, const protocol::Message& message) override {
    sent.push_back({peer_id, message});
    return true;
  }
  bool send_stamped(const std::string& peer_id, StampedMessage make_message) override {
    sent.push_back({peer_id, make_message(write_start_us)});
    return true;
  }
  void broadcast(const protocol::Message& message) override {
    sent.push_back({std::nullopt, message});
  }
  std::chrono::microseconds max_rtt() const override { return std::chrono::microseconds{0}; }
  std::optional<std::chrono::steady_clock::time_point> next_wakeup() const override { return wakeup; }

  /// The instant a stamped message's write starts.
  std::int64_t write_start_us = 0;
  /// What next_wakeup() reports.
  std::optional<std::chrono::steady_clock::time_point> wakeup;
  std::vector<Sent> sent;

 private:
  std::string id_;
};

}  // namespace chorus::node::test
