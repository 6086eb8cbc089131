#pragma once
// Every message chorus nodes exchange, one struct per wire type.
// docs/protocol.md is the reference for the JSON form of each.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace chorus::protocol {

/// Bumped on any incompatible change; peers with another version are refused at HELLO.
inline constexpr std::int64_t kProtocolVersion = 2;
/// Largest frame body accepted; checked against the length prefix before allocating.
inline constexpr std::uint32_t kMaxFrameBytes = 1u << 20;
/// Deepest JSON nesting accepted in a frame body.
inline constexpr std::size_t kMaxJsonDepth = 16;
/// Largest number of members one DISCOVERY may list.
inline constexpr std::size_t kMaxMembers = 1024;
/// Longest node id (`from`, `Member::id`) and host name accepted, in bytes; ids are non-empty.
inline constexpr std::size_t kMaxIdBytes = 256;
/// Longest other string field accepted, in bytes.
inline constexpr std::size_t kMaxStringBytes = 4096;

/// Where a node accepts connections.
struct Endpoint {
  std::string host;
  std::uint16_t port = 0;
  friend bool operator==(const Endpoint&, const Endpoint&) = default;
};

/// One cluster member as gossiped by DISCOVERY.
struct Member {
  std::string id;
  std::int64_t priority = 0;
  Endpoint endpoint;
  friend bool operator==(const Member&, const Member&) = default;
};

/// Handshake body, sent by both ends as the first frame on every connection.
struct HandshakeFields {
  std::string from;             ///< node id
  std::int64_t priority = 0;    ///< with `from`, the node's rank
  std::uint64_t incarnation = 0;///< random per process start: a restart replaces the old entry
  Endpoint advertised;          ///< where the node accepts connections
  std::int64_t version = kProtocolVersion;
  std::string cluster;          ///< nodes of different clusters refuse each other
  friend bool operator==(const HandshakeFields&, const HandshakeFields&) = default;
};

/// First frame on a connection to a peer not seen before.
struct Hello : HandshakeFields {
  friend bool operator==(const Hello&, const Hello&) = default;
};
/// First frame on a connection re-dialled to a peer that was known and lost.
struct Reconnect : HandshakeFields {
  friend bool operator==(const Reconnect&, const Reconnect&) = default;
};
/// Sent instead of completing the handshake (wrong version or cluster, id in use by a live
/// process, member table full); the sender then closes.
struct HelloReject {
  std::string from;
  std::string reason;
  friend bool operator==(const HelloReject&, const HelloReject&) = default;
};

/// Membership gossip: every member the sender knows, itself included.
struct Discovery {
  std::string from;
  std::vector<Member> members;
  friend bool operator==(const Discovery&, const Discovery&) = default;
};

/// Liveness on an idle link, and a round-trip time sample.
/// `sent_us` is the sender's steady clock; `echo_us` the peer's last `sent_us` the sender got
/// (0 if none) and `echo_hold_us` how long the sender held it: RTT = now − echo_us − echo_hold_us.
struct Heartbeat {
  std::string from;
  std::int64_t sent_us = 0;
  std::int64_t echo_us = 0;
  std::int64_t echo_hold_us = 0;
  friend bool operator==(const Heartbeat&, const Heartbeat&) = default;
};

/// Graceful departure: the receiver marks the sender down at once and does not redial it.
struct Leave {
  std::string from;
  friend bool operator==(const Leave&, const Leave&) = default;
};

/// Bully: "I am holding an election" (sent to higher ranks).
struct Election {
  std::string from;
  std::uint64_t epoch = 0;
  friend bool operator==(const Election&, const Election&) = default;
};
/// Bully: "I outrank you and am alive; stand down".
struct ElectionAnswer {
  std::string from;
  std::uint64_t epoch = 0;
  friend bool operator==(const ElectionAnswer&, const ElectionAnswer&) = default;
};
/// Bully: "I am the leader of this epoch".
struct Coordinator {
  std::string from;
  std::uint64_t epoch = 0;
  friend bool operator==(const Coordinator&, const Coordinator&) = default;
};

/// Identity of a track: a node plays only a track whose hash it holds.
struct TrackRef {
  std::int64_t index = 0;
  std::string name;
  std::string hash;             ///< hex content hash
  std::int64_t frames = 0;      ///< length in frames at the output rate
  friend bool operator==(const TrackRef&, const TrackRef&) = default;
};

/// Leader → all: start `track` so that `frame` is audible at leader time `at_us`.
struct PlayRequest {
  std::string from;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  TrackRef track;
  std::int64_t frame = 0;
  std::int64_t at_us = 0;
  friend bool operator==(const PlayRequest&, const PlayRequest&) = default;
};
/// Leader → all: pause at `frame`, which is reached at leader time `at_us`.
struct PauseRequest {
  std::string from;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::int64_t frame = 0;
  std::int64_t at_us = 0;
  friend bool operator==(const PauseRequest&, const PauseRequest&) = default;
};
/// Leader → all: resume so that `frame` is audible at leader time `at_us`.
struct ResumeRequest {
  std::string from;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::int64_t frame = 0;
  std::int64_t at_us = 0;
  friend bool operator==(const ResumeRequest&, const ResumeRequest&) = default;
};
/// Leader → all: fall silent at leader time `at_us`.
struct StopRequest {
  std::string from;
  std::uint64_t epoch = 0;
  std::uint64_t seq = 0;
  std::int64_t at_us = 0;
  friend bool operator==(const StopRequest&, const StopRequest&) = default;
};

/// Follower → leader: send me the whole playback state.
struct StateSyncRequest {
  std::string from;
  friend bool operator==(const StateSyncRequest&, const StateSyncRequest&) = default;
};

enum class PlaybackStatus { stopped, playing, paused };

/// The whole playback state (playback::PlaybackState is this type), as STATE_SYNC_RESPONSE and
/// STATE_OFFER carry it: its fields stand beside the message's own on the wire. Its instants are
/// in one node's steady clock, the leader's unless a message says otherwise. While playing,
/// frame(t) = anchor_frame + (t − anchor_us) · rate.
struct WireState {
  std::uint64_t epoch = 0;        ///< leader epoch of the last command applied
  std::uint64_t seq = 0;          ///< sequence number of that command within the epoch
  PlaybackStatus status = PlaybackStatus::stopped;
  std::optional<TrackRef> track;  ///< absent when stopped
  std::int64_t anchor_us = 0;     ///< instant at which anchor_frame is (or was) audible
  std::int64_t anchor_frame = 0;  ///< while paused: the frame held
  friend bool operator==(const WireState&, const WireState&) = default;
};

/// Leader → follower: the leader's state, in its own clock.
struct StateSyncResponse {
  std::string from;
  WireState state;
  friend bool operator==(const StateSyncResponse&, const StateSyncResponse&) = default;
};

/// Follower → a leader it has just started to follow: the state it holds, in case it is newer
/// than the leader's own (a leader that died mid fan-out). Times are in the steady clock of
/// `clock`, the node the follower took the state from.
struct StateOffer {
  std::string from;
  std::string clock;
  WireState state;
  friend bool operator==(const StateOffer&, const StateOffer&) = default;
};

/// Clock sample request; `t0_us` is the requester's send time.
struct TimeRequest {
  std::string from;
  std::uint64_t id = 0;
  std::int64_t t0_us = 0;
  friend bool operator==(const TimeRequest&, const TimeRequest&) = default;
};
/// Clock sample reply: `t1_us` when the request arrived, `t2_us` when this reply left (responder clock).
struct TimeResponse {
  std::string from;
  std::uint64_t id = 0;
  std::int64_t t0_us = 0;
  std::int64_t t1_us = 0;
  std::int64_t t2_us = 0;
  friend bool operator==(const TimeResponse&, const TimeResponse&) = default;
};

/// The playback commands a follower's prompt forwards to the leader.
enum class ControlCommand { play, pause, resume, stop, next, prev };

/// Follower → leader: a playback command typed on the follower's prompt, e.g. play 3.
struct ControlRequest {
  std::string from;
  std::uint64_t id = 0;
  ControlCommand command = ControlCommand::play;
  std::optional<std::int64_t> track;  ///< the track number as typed; present exactly for play
  friend bool operator==(const ControlRequest&, const ControlRequest&) = default;
};
/// Leader → follower: the outcome of a ControlRequest.
struct ControlResponse {
  std::string from;
  std::uint64_t id = 0;
  bool ok = false;
  std::string error;  ///< empty when ok
  friend bool operator==(const ControlResponse&, const ControlResponse&) = default;
};

using Message = std::variant<Hello, Reconnect, HelloReject, Discovery, Heartbeat, Leave,
                             Election, ElectionAnswer, Coordinator,
                             PlayRequest, PauseRequest, ResumeRequest, StopRequest,
                             StateSyncRequest, StateSyncResponse, StateOffer,
                             TimeRequest, TimeResponse, ControlRequest, ControlResponse>;

/// The wire name of a message's type, e.g. "HELLO", "ELECTION_ANSWER".
std::string_view type_name(const Message& message);

/// The sender id every message carries.
const std::string& sender(const Message& message);

}  // namespace chorus::protocol
