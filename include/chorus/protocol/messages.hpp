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
inline constexpr std::int64_t kProtocolVersion = 4;
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
/// Longest binary field (base64 text: a chunk's bytes, a manifest's digests), in bytes of text.
inline constexpr std::size_t kMaxBinaryTextBytes = 960 * 1024;
/// Most catalog entries one CATALOG_PAGE carries.
inline constexpr std::size_t kMaxCatalogPageEntries = 256;
/// Most queue items one QUEUE_EDIT or QUEUE_SNAPSHOT carries. The sender also cuts pages by
/// size (kQueuePageBudgetBytes), so that items with long names and tags never make a frame
/// come near kMaxFrameBytes.
inline constexpr std::size_t kMaxQueuePageItems = 256;
/// The encoded size a sender keeps a queue page under, as estimated before encoding.
inline constexpr std::size_t kQueuePageBudgetBytes = 256 * 1024;
/// Longest play queue (MPD's default max_playlist_length).
inline constexpr std::size_t kMaxQueueLength = 16384;
/// Largest clock rate difference a peer may report, in parts per billion (1000 ppm: the most
/// clock::ClockSync fits).
inline constexpr std::int64_t kMaxDriftPpb = 1'000'000;

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
  /// Port of the node's content link (track bytes and catalogs, docs/library.md); 0: none.
  std::uint16_t content_port = 0;
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

/// Identity of a track: its file's content hash. A node that does not hold the file fetches it
/// by that hash, chunk by chunk, each checked against the digests `root` vouches for.
struct TrackRef {
  std::int64_t index = 0;
  std::string name;
  std::string hash;             ///< hex SHA-256 of the file's bytes
  std::int64_t frames = 0;      ///< length in frames at the output rate
  std::uint64_t size = 0;       ///< the file's bytes
  std::string root;             ///< hex SHA-256 over its chunk digests (content/chunking.hpp)
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
  /// Kept from the node's last run (docs/playback.md, "After a restart"): in no clock, paused
  /// or stopped where it was; absent for a state of this run.
  std::optional<bool> restored;
  friend bool operator==(const StateOffer&, const StateOffer&) = default;
};

/// Clock sample request; `t0_us` is the requester's send time.
struct TimeRequest {
  std::string from;
  std::uint64_t id = 0;
  std::int64_t t0_us = 0;
  friend bool operator==(const TimeRequest&, const TimeRequest&) = default;
};
/// The responder's clock rate against the leader it followed before, as it last measured it
/// there: that leader's rate minus its own, in parts per billion. A follower of that same leader
/// derives the responder's rate against its own clock from it (docs/clock.md).
struct RateBefore {
  std::string leader;
  std::int64_t drift_ppb = 0;
  friend bool operator==(const RateBefore&, const RateBefore&) = default;
};

/// Clock sample reply: `t1_us` when the request arrived, `t2_us` when this reply left (responder clock).
struct TimeResponse {
  std::string from;
  std::uint64_t id = 0;
  std::int64_t t0_us = 0;
  std::int64_t t1_us = 0;
  std::int64_t t2_us = 0;
  std::optional<RateBefore> rate_before = std::nullopt;  ///< absent if it followed no leader
  friend bool operator==(const TimeResponse&, const TimeResponse&) = default;
};

/// The playback and queue commands a follower's prompt forwards to the leader.
enum class ControlCommand {
  play, pause, resume, stop, next, prev, seek,
  add, remove, move, clear, random, repeat, single, consume
};

/// random/repeat (off, on) and single/consume (off, on, oneshot: on for one track only).
enum class ModeSwitch { off, on, oneshot };

/// Why the leader refused a forwarded command (control::Refusal on the wire).
enum class Refusal { none, bad_argument, no_such, not_now, unavailable };

/// Where a seek goes: to `position_us` into the track, or by it from where playback is.
struct SeekTarget {
  std::int64_t position_us = 0;
  bool relative = false;
  friend bool operator==(const SeekTarget&, const SeekTarget&) = default;
};

/// Follower → leader: a command typed on the follower's prompt, e.g. play 3. The optional
/// fields are the command's arguments (the leader refuses a command missing one it needs).
struct ControlRequest {
  std::string from;
  std::uint64_t id = 0;
  ControlCommand command = ControlCommand::play;
  std::optional<std::int64_t> track;  ///< play: the queue position as typed (0: none); exactly for play
  std::optional<SeekTarget> seek;     ///< present exactly for seek
  std::optional<std::uint64_t> item = std::nullopt;  ///< play/remove/move: the queue item's id instead of a position
  std::optional<std::int64_t> first = std::nullopt;  ///< remove/move: the first queue position (from 1)
  std::optional<std::int64_t> count = std::nullopt;  ///< remove/move: how many positions
  std::optional<std::int64_t> to = std::nullopt;     ///< move: where the first item ends (from 1)
  std::optional<std::int64_t> position = std::nullopt;  ///< add: where the first added item goes (from 1)
  std::optional<std::string> hash = std::nullopt;    ///< add: one track, by content hash
  std::optional<std::string> query = std::nullopt;   ///< add: every catalog entry matching it
  std::optional<std::string> uri = std::nullopt;     ///< add: a catalog path, or a directory prefix ("": all)
  std::optional<ModeSwitch> mode = std::nullopt;     ///< random/repeat/single/consume
  friend bool operator==(const ControlRequest&, const ControlRequest&) = default;
};
/// Leader → follower: the outcome of a ControlRequest.
struct ControlResponse {
  std::string from;
  std::uint64_t id = 0;
  bool ok = false;
  std::string error;  ///< empty when ok
  Refusal refusal = Refusal::none;  ///< none exactly when ok
  std::optional<std::uint64_t> item = std::nullopt;  ///< add: the id of the first item added
  friend bool operator==(const ControlResponse&, const ControlResponse&) = default;
};

// ---- rooms (docs/rooms.md): every node is a room; each node owns its own room's volume ----

/// What a ROOM_SET asks of the room it is sent to.
enum class RoomAction { set, change, mute, unmute };

/// Any node → the node whose room it is: set its volume, change it by an amount, mute or unmute
/// it. Answered with a ROOM_STATE whose `reply_to` is `id`.
struct RoomSet {
  std::string from;
  std::uint64_t id = 0;
  RoomAction action = RoomAction::set;
  std::optional<std::int64_t> volume;  ///< set: the volume, 0..100; present exactly for set
  std::optional<std::int64_t> change;  ///< change: added to the volume (clamped), −100..100
  friend bool operator==(const RoomSet&, const RoomSet&) = default;
};

/// A node → its peers: its room's volume and mute, sent on every change, to each peer that comes
/// up, and as the answer to a ROOM_SET. `seq` grows with every change of that room (and across
/// the node's restarts): a state whose seq is not above the last one taken from that node is old
/// news and ignored.
struct RoomState {
  std::string from;
  std::uint64_t seq = 0;
  std::int64_t volume = 100;   ///< 0..100
  bool muted = false;
  std::uint64_t reply_to = 0;  ///< the id of the ROOM_SET this answers; 0: none
  friend bool operator==(const RoomState&, const RoomState&) = default;
};

// ---- content links (docs/library.md): track bytes and catalogs, never on the cluster link ----

/// One track of a node's library as the cluster lists it.
struct CatalogEntry {
  std::string hash;    ///< hex SHA-256 of the file
  std::string root;    ///< hex SHA-256 over its chunk digests
  std::string name;    ///< path relative to the library directory
  std::string title;   ///< tags; empty when the file has none
  std::string artist;
  std::string album;
  std::string format;  ///< "flac", "vorbis", ...
  std::int64_t frames = 0;
  std::uint64_t size = 0;
  friend bool operator==(const CatalogEntry&, const CatalogEntry&) = default;
};

/// First frame both ends send on a content link; `catalog` names the sender's library listing.
struct ContentHello {
  std::string from;
  std::string cluster;
  std::int64_t version = kProtocolVersion;
  std::string catalog;         ///< hex digest of the sender's catalog (changes when it does)
  std::uint64_t tracks = 0;    ///< entries in it
  friend bool operator==(const ContentHello&, const ContentHello&) = default;
};
/// The sender's catalog changed (a scan found new files).
struct CatalogNotice {
  std::string from;
  std::string catalog;
  std::uint64_t tracks = 0;
  friend bool operator==(const CatalogNotice&, const CatalogNotice&) = default;
};
/// Asks for the entries of the sender's peer's catalog from `offset` on.
struct CatalogRequest {
  std::string from;
  std::uint64_t offset = 0;
  friend bool operator==(const CatalogRequest&, const CatalogRequest&) = default;
};
/// Up to kMaxCatalogPageEntries entries of catalog `catalog`, starting at `offset` of `total`.
struct CatalogPage {
  std::string from;
  std::string catalog;
  std::uint64_t offset = 0;
  std::uint64_t total = 0;
  std::vector<CatalogEntry> entries;
  friend bool operator==(const CatalogPage&, const CatalogPage&) = default;
};
/// The sender is fetching `hash`: tell it what you hold of it now and whenever that grows.
struct Want {
  std::string from;
  std::string hash;
  friend bool operator==(const Want&, const Want&) = default;
};
/// The sender's verified chunks of `hash` (`chunks` in all): a bitmap, base64, bit i of byte
/// i / 8 (least significant first) for chunk i. Also sent to say "no longer wanted": then empty.
struct Have {
  std::string from;
  std::string hash;
  std::uint64_t chunks = 0;
  std::string bitmap;
  friend bool operator==(const Have&, const Have&) = default;
};
/// The sender wants the chunk digests of `hash`.
struct ManifestRequest {
  std::string from;
  std::string hash;
  friend bool operator==(const ManifestRequest&, const ManifestRequest&) = default;
};
/// The chunk digests of `hash` (a file of `size` bytes), concatenated, base64.
struct Manifest {
  std::string from;
  std::string hash;
  std::uint64_t size = 0;
  std::string digests;
  friend bool operator==(const Manifest&, const Manifest&) = default;
};
struct ChunkRequest {
  std::string from;
  std::string hash;
  std::uint64_t chunk = 0;
  friend bool operator==(const ChunkRequest&, const ChunkRequest&) = default;
};
/// Chunk `chunk` of `hash`, base64.
struct ChunkData {
  std::string from;
  std::string hash;
  std::uint64_t chunk = 0;
  std::string data;
  friend bool operator==(const ChunkData&, const ChunkData&) = default;
};
/// A manifest or chunk request the sender cannot serve (chunk: −1 for a manifest).
struct ContentRefused {
  std::string from;
  std::string hash;
  std::int64_t chunk = -1;
  std::string reason;
  friend bool operator==(const ContentRefused&, const ContentRefused&) = default;
};

// ---- the play queue (docs/queue.md) ---------------------------------------------------------

/// The play modes, as the queue state carries them.
struct QueueModes {
  bool random = false;
  bool repeat = false;
  ModeSwitch single = ModeSwitch::off;
  ModeSwitch consume = ModeSwitch::off;
  friend bool operator==(const QueueModes&, const QueueModes&) = default;
};

/// One queue item: a stable id (MPD's songid) and its track.
struct QueueEntry {
  std::uint64_t id = 0;
  CatalogEntry track;
  friend bool operator==(const QueueEntry&, const QueueEntry&) = default;
};

enum class QueueEditKind { add, remove, move, clear, modes };

/// One change of the queue: what QUEUE_EDIT carries beside its own fields. Positions count from
/// 0. Every change raises the version by exactly one.
struct QueueChange {
  std::uint64_t version = 0;  ///< the queue's version after the change
  QueueEditKind kind = QueueEditKind::add;
  std::uint64_t position = 0;     ///< add: where items[0] goes; remove/move: the first position
  std::uint64_t count = 0;        ///< remove/move: how many positions
  std::uint64_t to = 0;           ///< move: where the first moved item ends
  std::vector<QueueEntry> items;  ///< add: the items, at most kMaxQueuePageItems
  QueueModes modes;               ///< the modes after the change (any kind)
  bool library = false;           ///< after the change the queue still mirrors the library
  friend bool operator==(const QueueChange&, const QueueChange&) = default;
};

/// Leader → all: one change of the queue.
struct QueueEdit {
  std::string from;
  std::uint64_t epoch = 0;
  QueueChange change;
  friend bool operator==(const QueueEdit&, const QueueEdit&) = default;
};

/// Follower → leader: send me the whole queue (QUEUE_SNAPSHOT pages).
struct QueueSyncRequest {
  std::string from;
  friend bool operator==(const QueueSyncRequest&, const QueueSyncRequest&) = default;
};

/// Follower → a leader it has just started to follow: the version of the queue it holds, in case
/// it is newer than the leader's (a leader that died mid fan-out). A leader that took over an older
/// queue asks for it (QUEUE_SYNC_REQUEST) and adopts it.
struct QueueOffer {
  std::string from;
  std::uint64_t version = 0;
  /// Kept from the node's last run (docs/queue.md, "After a restart"); absent for a queue of
  /// this run.
  std::optional<bool> restored;
  friend bool operator==(const QueueOffer&, const QueueOffer&) = default;
};

/// Leader → follower (or the reverse, answering a leader that asked for an offered queue): the
/// queue of version `version`, `total` items, page by page: items
/// `offset` .. `offset + items.size()`.
struct QueueSnapshot {
  std::string from;
  std::uint64_t epoch = 0;
  std::uint64_t version = 0;
  std::uint64_t next_id = 1;  ///< the id the next added item gets (ids are never reused)
  bool library = false;
  QueueModes modes;
  std::uint64_t total = 0;
  std::uint64_t offset = 0;
  std::vector<QueueEntry> items;
  friend bool operator==(const QueueSnapshot&, const QueueSnapshot&) = default;
};

using Message = std::variant<Hello, Reconnect, HelloReject, Discovery, Heartbeat, Leave,
                             Election, ElectionAnswer, Coordinator,
                             PlayRequest, PauseRequest, ResumeRequest, StopRequest,
                             StateSyncRequest, StateSyncResponse, StateOffer,
                             TimeRequest, TimeResponse, ControlRequest, ControlResponse,
                             RoomSet, RoomState,
                             QueueEdit, QueueSyncRequest, QueueSnapshot, QueueOffer,
                             ContentHello, CatalogNotice, CatalogRequest, CatalogPage, Want, Have,
                             ManifestRequest, Manifest, ChunkRequest, ChunkData, ContentRefused>;

/// True for the messages of content links (ContentHello and after).
bool is_content_message(const Message& message);

/// The wire name of a message's type, e.g. "HELLO", "ELECTION_ANSWER".
std::string_view type_name(const Message& message);

/// The sender id every message carries.
const std::string& sender(const Message& message);

}  // namespace chorus::protocol
