#pragma once
// RoomMixer: the rooms of the cluster (every node is one: its speakers) and their volume and mute,
// as one node sees them. Pure: no sockets, clocks or threads; time is passed in and what is to be
// done comes back as RoomEffects, which the Asio shell (RoomControl) carries out.
//
// Each node owns its own room's level: only it changes it, applies it to its output and keeps it
// across restarts, so a leader failover cannot lose it. The others hold a copy in a table:
//
//   prompt command for this room     -> the level changes here, ROOM_STATE to every up peer
//   prompt command for a peer's room -> ROOM_SET to it; the reply waits for its ROOM_STATE with
//                                       reply_to = the set's id (or 2 s: "did not answer"; the
//                                       peer going down: "went down before answering")
//   ROOM_SET from a peer             -> the level changes here; ROOM_STATE to it (reply_to) and
//                                       to every other up peer
//   ROOM_STATE from a peer           -> its row of the table, unless its seq is not above the
//                                       last one taken from it (old news)
//   peer up                          -> our ROOM_STATE to it; its next state is taken whatever
//                                       its seq (it may have lost its cache and begun again)
//   peer down                        -> its row is kept, marked down; sets for it are refused
//
// A set for a room nobody has heard of is refused ("no room named"), one for a room that is down
// too ("unreachable"). Change notices: control::kMixer when a volume changes, control::kOutput
// when a room is muted or unmuted, joins or leaves.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "chorus/cli/command.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::node {

/// A room's volume and mute, and how many changes made them (the ROOM_STATE seq).
struct RoomLevel {
  int volume = 100;  ///< 0..100
  bool muted = false;
  std::uint64_t seq = 0;
  friend bool operator==(const RoomLevel&, const RoomLevel&) = default;
};

/// Names a prompt command's reply callback, kept by the shell.
using RoomToken = std::uint64_t;

struct RoomReply {
  RoomToken token = 0;
  control::Outcome outcome;
};

struct RoomSend {
  std::string to;
  protocol::Message message;
};

/// What the shell does after an input, in this order: sends, then the own level (apply to the
/// output, persist), then replies, then the change notice.
struct RoomEffects {
  std::vector<RoomSend> sends;
  std::optional<RoomLevel> own_level;  ///< this node's room changed
  std::vector<RoomReply> replies;
  control::Subsystems changed = 0;
};

class RoomMixer {
 public:
  /// How long a peer has to answer a ROOM_SET.
  static constexpr std::int64_t kAnswerTimeoutUs = 2'000'000;

  /// `own`: this room's level as kept across restarts.
  RoomMixer(std::string self, RoomLevel own);

  /// volume, mute or unmute as the prompt parsed it; replies exactly once (at once, or later
  /// through receive(), peer_down() or expire()). Other kinds are refused.
  RoomEffects command(std::int64_t now_us, const cli::Command& command, RoomToken token);
  RoomEffects peer_up(const std::string& id);
  RoomEffects peer_down(const std::string& id);
  RoomEffects receive(const std::string& from, const protocol::RoomSet& set);
  RoomEffects receive(const std::string& from, const protocol::RoomState& state);
  /// Refuses the sets whose answer is overdue at `now_us`.
  RoomEffects expire(std::int64_t now_us);
  /// When expire() has something to do next, if ever.
  std::optional<std::int64_t> next_deadline() const;

  const std::string& self() const { return self_; }
  const RoomLevel& own() const { return own_; }
  /// This room first, then the peers by id. `leader` and `output` are left for the caller.
  std::vector<control::RoomView> rooms() const;
  /// What `volume` without a value prints: one line per room, or only room `only`'s.
  std::string rooms_text(const std::string& only = "") const;

 private:
  struct Peer {
    RoomLevel level;
    bool up = false;
    bool heard = false;      ///< a ROOM_STATE arrived since it was last seen coming up
  };
  struct Pending {
    RoomToken token = 0;
    std::string room;
    std::int64_t deadline_us = 0;
  };

  RoomEffects set_own(RoomLevel level, const std::string& answer_to, std::uint64_t reply_to);
  RoomEffects set_remote(std::int64_t now_us, const std::string& room, protocol::RoomSet set,
                         RoomToken token);
  protocol::RoomState own_state(std::uint64_t reply_to) const;

  std::string self_;
  RoomLevel own_;
  std::map<std::string, Peer> peers_;
  std::map<std::uint64_t, Pending> pending_;  ///< by ROOM_SET id
  std::uint64_t next_id_ = 1;
};

/// What level a ROOM_SET's action makes of `level` (the seq unchanged).
RoomLevel apply_action(RoomLevel level, const protocol::RoomSet& set);

/// "ok: ..." for a room's level, e.g. "ok: room B volume 40" or "ok: room B muted (volume 40)".
std::string level_text(const std::string& room, const RoomLevel& level);

}  // namespace chorus::node
