#pragma once
// Transport: what the node's components need from the network to talk to peers. NetworkManager
// implements it over TCP; tests implement it with a recording fake, so the components can run
// without sockets. Called on the io thread only.

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "chorus/protocol/messages.hpp"

namespace chorus::net {

class Transport {
 public:
  /// Makes a message when its write starts, from that instant (steady clock, µs).
  using StampedMessage = std::function<protocol::Message(std::int64_t write_start_us)>;

  /// This node's id, the `from` of every message it sends.
  virtual const std::string& id() const = 0;
  /// Sends to one up peer; false if it is not connected or its queue overflowed.
  virtual bool send(const std::string& peer_id, const protocol::Message& message) = 0;
  /// Sends to one up peer a message stamped with the instant its write starts, so that a clock
  /// sample does not count the time it waited in the queue.
  virtual bool send_stamped(const std::string& peer_id, StampedMessage make_message) = 0;
  /// Sends to every up peer.
  virtual void broadcast(const protocol::Message& message) = 0;
  /// Largest smoothed RTT among up peers (zero when none): for deriving timeouts and leads.
  virtual std::chrono::microseconds max_rtt() const = 0;
  /// When the transport's own timer next wakes the io thread, if it is armed. A component with a
  /// periodic check that may run a little early arms it for that instant when it comes soon
  /// enough: timers due at the same instant share one wake-up.
  virtual std::optional<std::chrono::steady_clock::time_point> next_wakeup() const {
    return std::nullopt;
  }

 protected:
  ~Transport() = default;
};

}  // namespace chorus::net
