#include "chorus/node/room_mixer.hpp"

#include <algorithm>
#include <utility>
#include <variant>

#include <fmt/format.h>

#include "chorus/protocol/inert_text.hpp"

namespace chorus::node {

namespace {

control::Outcome ok(std::string text) {
  return {.ok = true, .refusal = control::Refusal::none, .text = std::move(text), .item_id = {}, .job = {}};
}

control::Outcome refused(control::Refusal why, std::string text) {
  return {.ok = false, .refusal = why, .text = "error: " + std::move(text), .item_id = {}, .job = {}};
}

/// What a level change means to a front end: kMixer for the volume, kOutput for the mute.
control::Subsystems difference(const RoomLevel& before, const RoomLevel& after) {
  control::Subsystems changed = 0;
  if (before.volume != after.volume) changed |= control::kMixer;
  if (before.muted != after.muted) changed |= control::kOutput;
  return changed;
}

/// The ROOM_SET a volume/mute/unmute command asks for, or the refusal of its arguments.
std::variant<protocol::RoomSet, control::Outcome> set_for(const cli::Command& command) {
  protocol::RoomSet set;
  switch (command.kind) {
    case cli::CommandKind::mute: set.action = protocol::RoomAction::mute; return set;
    case cli::CommandKind::unmute: set.action = protocol::RoomAction::unmute; return set;
    case cli::CommandKind::volume: break;
    default: return refused(control::Refusal::bad_argument, "not a room command");
  }
  const int value = command.volume.value_or(0);
  if (command.relative_volume) {
    if (value < -100 || value > 100) {
      return refused(control::Refusal::bad_argument, fmt::format("volume change {} is not -100..+100", value));
    }
    set.action = protocol::RoomAction::change;
    set.change = value;
  } else {
    if (value < 0 || value > 100) {
      return refused(control::Refusal::bad_argument, fmt::format("volume {} is not 0..100", value));
    }
    set.action = protocol::RoomAction::set;
    set.volume = value;
  }
  return set;
}

control::Outcome no_such_room(const std::string& room) {
  return refused(control::Refusal::no_such,
                 fmt::format("no room named {} (peers lists the rooms)", protocol::inert(room)));
}

}  // namespace

RoomLevel apply_action(RoomLevel level, const protocol::RoomSet& set) {
  switch (set.action) {
    case protocol::RoomAction::set:
      level.volume = static_cast<int>(std::clamp<std::int64_t>(set.volume.value_or(level.volume), 0, 100));
      break;
    case protocol::RoomAction::change:
      level.volume = static_cast<int>(std::clamp<std::int64_t>(level.volume + set.change.value_or(0), 0, 100));
      break;
    case protocol::RoomAction::mute: level.muted = true; break;
    case protocol::RoomAction::unmute: level.muted = false; break;
  }
  return level;
}

std::string level_text(const std::string& room, const RoomLevel& level) {
  const auto name = protocol::inert(room);
  if (level.muted) return fmt::format("ok: room {} muted (volume {})", name, level.volume);
  return fmt::format("ok: room {} volume {}", name, level.volume);
}

RoomMixer::RoomMixer(std::string self, RoomLevel own) : self_(std::move(self)), own_(own) {
  own_.volume = std::clamp(own_.volume, 0, 100);
}

RoomEffects RoomMixer::command(std::int64_t now_us, const cli::Command& command, RoomToken token) {
  RoomEffects effects;
  if (command.kind == cli::CommandKind::volume && !command.volume) {
    const bool known = command.room.empty() || command.room == self_ || peers_.contains(command.room);
    effects.replies.push_back(
        {token, known ? ok(rooms_text(command.room)) : no_such_room(command.room)});
    return effects;
  }
  auto set = set_for(command);
  if (auto* refusal = std::get_if<control::Outcome>(&set)) {
    effects.replies.push_back({token, std::move(*refusal)});
    return effects;
  }
  auto& room_set = std::get<protocol::RoomSet>(set);
  if (command.room.empty() || command.room == self_) {
    effects = set_own(apply_action(own_, room_set), "", 0);
    effects.replies.push_back({token, ok(level_text(self_, own_))});
    return effects;
  }
  return set_remote(now_us, command.room, std::move(room_set), token);
}

RoomEffects RoomMixer::set_remote(std::int64_t now_us, const std::string& room,
                                  protocol::RoomSet set, RoomToken token) {
  RoomEffects effects;
  auto it = peers_.find(room);
  if (it == peers_.end()) {
    effects.replies.push_back({token, no_such_room(room)});
    return effects;
  }
  if (!it->second.up) {
    effects.replies.push_back(
        {token, refused(control::Refusal::unavailable,
                        fmt::format("room {} is unreachable (its node is down)", protocol::inert(room)))});
    return effects;
  }
  set.from = self_;
  set.id = next_id_++;
  pending_[set.id] = {token, room, now_us + kAnswerTimeoutUs};
  effects.sends.push_back({room, std::move(set)});
  return effects;
}

RoomEffects RoomMixer::set_own(RoomLevel level, const std::string& answer_to, std::uint64_t reply_to) {
  RoomEffects effects;
  level.seq = own_.seq;
  effects.changed = difference(own_, level);
  if (effects.changed != 0) {
    level.seq = own_.seq + 1;
    own_ = level;
    effects.own_level = own_;
    for (const auto& [id, peer] : peers_) {
      if (peer.up && id != answer_to) effects.sends.push_back({id, own_state(0)});
    }
  }
  // The asker is answered whether or not anything changed.
  if (!answer_to.empty()) effects.sends.push_back({answer_to, own_state(reply_to)});
  return effects;
}

protocol::RoomState RoomMixer::own_state(std::uint64_t reply_to) const {
  return {.from = self_, .seq = own_.seq, .volume = own_.volume, .muted = own_.muted, .reply_to = reply_to};
}

RoomEffects RoomMixer::peer_up(const std::string& id) {
  RoomEffects effects;
  auto& peer = peers_[id];
  if (!peer.up) effects.changed |= control::kOutput;
  peer.up = true;
  peer.heard = false;  // its next state is taken whatever its seq: it may have begun again
  effects.sends.push_back({id, own_state(0)});
  return effects;
}

RoomEffects RoomMixer::peer_down(const std::string& id) {
  RoomEffects effects;
  auto it = peers_.find(id);
  if (it == peers_.end() || !it->second.up) return effects;
  it->second.up = false;
  effects.changed |= control::kOutput;
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.room != id) {
      ++p;
      continue;
    }
    effects.replies.push_back(
        {p->second.token, refused(control::Refusal::unavailable,
                                  fmt::format("room {} went down before answering", protocol::inert(id)))});
    p = pending_.erase(p);
  }
  return effects;
}

RoomEffects RoomMixer::receive(const std::string& from, const protocol::RoomSet& set) {
  return set_own(apply_action(own_, set), from, set.id);
}

RoomEffects RoomMixer::receive(const std::string& from, const protocol::RoomState& state) {
  RoomEffects effects;
  auto& peer = peers_[from];
  if (!peer.heard || state.seq > peer.level.seq) {
    const RoomLevel level{static_cast<int>(std::clamp<std::int64_t>(state.volume, 0, 100)),
                          state.muted, state.seq};
    effects.changed = difference(peer.level, level);
    if (!peer.up) effects.changed |= control::kOutput;  // a state before its peer_up: it is up
    peer.level = level;
    peer.up = true;
    peer.heard = true;
  }
  auto it = state.reply_to == 0 ? pending_.end() : pending_.find(state.reply_to);
  if (it != pending_.end() && it->second.room == from) {
    // An answer older than what we hold still says the set was applied: show the newest.
    effects.replies.push_back({it->second.token, ok(level_text(from, peer.level))});
    pending_.erase(it);
  }
  return effects;
}

RoomEffects RoomMixer::expire(std::int64_t now_us) {
  RoomEffects effects;
  for (auto p = pending_.begin(); p != pending_.end();) {
    if (p->second.deadline_us > now_us) {
      ++p;
      continue;
    }
    effects.replies.push_back(
        {p->second.token, refused(control::Refusal::unavailable,
                                  fmt::format("room {} did not answer", protocol::inert(p->second.room)))});
    p = pending_.erase(p);
  }
  return effects;
}

std::optional<std::int64_t> RoomMixer::next_deadline() const {
  std::optional<std::int64_t> next;
  for (const auto& [id, pending] : pending_) {
    if (!next || pending.deadline_us < *next) next = pending.deadline_us;
  }
  return next;
}

std::vector<control::RoomView> RoomMixer::rooms() const {
  std::vector<control::RoomView> rooms;
  rooms.reserve(peers_.size() + 1);
  rooms.push_back({.id = self_, .self = true, .up = true, .leader = false, .volume = own_.volume,
                   .muted = own_.muted, .output = ""});
  for (const auto& [id, peer] : peers_) {
    rooms.push_back({.id = id, .self = false, .up = peer.up, .leader = false,
                     .volume = peer.level.volume, .muted = peer.level.muted, .output = ""});
  }
  return rooms;
}

std::string RoomMixer::rooms_text(const std::string& only) const {
  std::string text;
  for (const auto& room : rooms()) {
    if (!only.empty() && room.id != only) continue;
    if (!text.empty()) text += '\n';
    text += fmt::format("{:<16} volume {:>3}{}{}{}", protocol::inert(room.id), room.volume,
                        room.muted ? "  muted" : "", room.self ? "  (this node)" : "",
                        room.up ? "" : "  (down)");
  }
  return text;
}

}  // namespace chorus::node
