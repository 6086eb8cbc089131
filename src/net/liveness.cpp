#include "chorus/net/liveness.hpp"

#include <algorithm>

namespace chorus::net {

std::string_view to_string(PeerState state) {
  switch (state) {
    case PeerState::up: return "up";
    case PeerState::suspect: return "suspect";
    case PeerState::down: return "down";
    case PeerState::left: return "left";
  }
  return "?";
}

std::chrono::microseconds LivenessPolicy::down_after(
    std::optional<std::chrono::microseconds> rtt) const {
  return interval * down_after_intervals + rtt.value_or(std::chrono::microseconds{0});
}

PeerState LivenessPolicy::assess(std::chrono::microseconds silence,
                                 std::optional<std::chrono::microseconds> rtt) const {
  if (silence > down_after(rtt)) return PeerState::down;
  if (silence > interval * suspect_after_intervals) return PeerState::suspect;
  return PeerState::up;
}

Backoff::Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
    : first_(first), max_(std::max(first, max)), current_(first) {}

std::chrono::milliseconds Backoff::next() {
  auto delay = current_;
  current_ = std::min(current_ * 2, max_);
  return delay;
}

void Backoff::reset() { current_ = first_; }

}  // namespace chorus::net
