#include "chorus/node/room_control.hpp"

#include <algorithm>
#include <utility>

#include <spdlog/spdlog.h>

#include "chorus/playback/volume.hpp"
#include "chorus/time_base.hpp"
#include "room_level_file.hpp"

namespace chorus::node {

namespace {

RoomLevel kept_level(const std::filesystem::path& file) {
  std::string problem;
  auto level = load_room_level(file, &problem);
  if (!problem.empty()) spdlog::warn("room level {}: {}; starting at volume 100", file.string(), problem);
  return level;
}

}  // namespace

RoomControl::RoomControl(boost::asio::io_context& io, net::Transport& network,
                         std::filesystem::path level_file, ApplyGain apply_gain, Changed changed)
    : network_(network),
      level_file_(std::move(level_file)),
      apply_gain_(std::move(apply_gain)),
      changed_(std::move(changed)),
      mixer_(network.id(), kept_level(level_file_)),
      timer_(io) {
  const auto& own = mixer_.own();
  if (apply_gain_) apply_gain_(playback::room_gain(own.volume, own.muted));
  spdlog::info("room volume {}{}", own.volume, own.muted ? ", muted" : "");
}

RoomControl::~RoomControl() { stop(); }

void RoomControl::stop() {
  timer_.cancel();
  armed_.reset();
}

void RoomControl::command(const cli::Command& command, Done done) {
  const auto token = next_token_++;
  replies_[token] = std::move(done);
  feed([&](std::int64_t now) { return mixer_.command(now, command, token); });
}

void RoomControl::peer_up(const std::string& id) {
  feed([&](std::int64_t) { return mixer_.peer_up(id); });
}

void RoomControl::peer_down(const std::string& id) {
  feed([&](std::int64_t) { return mixer_.peer_down(id); });
}

void RoomControl::receive(const std::string& from, const protocol::Message& message) {
  if (const auto* set = std::get_if<protocol::RoomSet>(&message)) {
    feed([&](std::int64_t) { return mixer_.receive(from, *set); });
  } else if (const auto* state = std::get_if<protocol::RoomState>(&message)) {
    feed([&](std::int64_t) { return mixer_.receive(from, *state); });
  }
}

template <class Input>
void RoomControl::feed(Input&& input) {
  act(input(now_us()));
  arm();
}

void RoomControl::act(RoomEffects effects) {
  for (auto& send : effects.sends) {
    // A peer that cannot be reached now is marked down by the network; a set waiting for its
    // answer is then refused by peer_down(), or by the timer.
    if (!network_.send(send.to, send.message)) {
      spdlog::debug("rooms: could not send {} to {}", protocol::type_name(send.message), send.to);
    }
  }
  if (effects.own_level) {
    const auto& level = *effects.own_level;
    if (apply_gain_) apply_gain_(playback::room_gain(level.volume, level.muted));
    std::string problem;
    if (!save_room_level(level_file_, level, &problem)) spdlog::warn("room level not kept: {}", problem);
    spdlog::info("room volume {}{}", level.volume, level.muted ? ", muted" : "");
  }
  for (auto& reply : effects.replies) {
    auto it = replies_.find(reply.token);
    if (it == replies_.end()) continue;
    auto done = std::move(it->second);
    replies_.erase(it);
    done(std::move(reply.outcome));
  }
  if (effects.changed != 0 && changed_) changed_(effects.changed);
}

void RoomControl::arm() {
  const auto wanted = mixer_.next_deadline();
  if (wanted == armed_) return;
  armed_ = wanted;
  timer_.cancel();
  if (!wanted) return;
  timer_.expires_after(std::chrono::microseconds(std::max<std::int64_t>(0, *wanted - now_us())));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    armed_.reset();
    feed([&](std::int64_t now) { return mixer_.expire(now); });
  });
}

}  // namespace chorus::node
