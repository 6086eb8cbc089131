#pragma once
// ControlPort: what a front end (the MPD protocol server, the web page) sees of the cluster, and
// how it changes it. Front ends run on their own thread; the node's protocol state lives on its
// io thread. The port is the only bridge between them:
//
//   view()       the newest snapshot of everything shown (immutable, shared; any thread)
//   run()        a command, exactly as the prompt would run it (posted to the io thread; the
//                outcome comes back on the io thread: a front end posts it to its own thread)
//   subscribe()  change notices by subsystem (MPD's idle names), called on the io thread, after
//                the snapshot that shows the change is in place; again: post, never block
//
// Every command goes through cli::Command, so the prompt, MPD clients and the web page are held
// to the same rules and the same refusals.

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "chorus/cli/command.hpp"
#include "chorus/content/catalog.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::control {

/// What changed, as bits; the names are the MPD protocol's idle subsystems.
enum Subsystem : std::uint32_t {
  kDatabase = 1u << 0,  ///< the cluster's library
  kPlaylist = 1u << 1,  ///< the queue
  kPlayer = 1u << 2,    ///< play, pause, stop, seek, track change
  kMixer = 1u << 3,     ///< a room's volume
  kOutput = 1u << 4,    ///< a room muted or unmuted, joined or left
  kOptions = 1u << 5,   ///< random, repeat, single, consume
  kUpdate = 1u << 6,    ///< this node's library rescan started or finished
};
using Subsystems = std::uint32_t;
inline constexpr Subsystems kAllSubsystems = (1u << 7) - 1;

/// Why a command was refused (for a protocol's error code; the text says it to a person).
enum class Refusal {
  none,
  bad_argument,  ///< malformed or out of range (a position past the queue's end, volume 101)
  no_such,       ///< names something that does not exist (a queue id, a room, a library path)
  not_now,       ///< not in this state (pause while stopped)
  unavailable,   ///< no leader known, the leader did not answer, the node is leaving
};

/// A command's result.
struct Outcome {
  bool ok = false;
  Refusal refusal = Refusal::none;  ///< none exactly when ok
  /// What the prompt prints: "ok: ..." / "error: ..." for commands, the report for queries.
  std::string text;
  /// add: the id of the first item added (MPD's addid answers it).
  std::optional<std::uint64_t> item_id;
  /// update: the rescan's job number (MPD's updating_db).
  std::optional<std::uint64_t> job;
};

/// One entry of the play queue: a stable id (MPD's songid) and the track.
struct QueueItem {
  std::uint64_t id = 0;
  protocol::CatalogEntry track;  ///< hash, path, tags, frames; root and size as the catalog has them
};

/// The play modes (MPD's options).
struct PlayModes {
  bool random = false;
  bool repeat = false;
  cli::Switch single = cli::Switch::off;
  cli::Switch consume = cli::Switch::off;
  friend bool operator==(const PlayModes&, const PlayModes&) = default;
};

/// The queue as the cluster's state holds it.
struct QueueView {
  std::uint64_t version = 0;  ///< grows with every change (MPD's playlist version)
  std::vector<QueueItem> items;
  PlayModes modes;
};

/// What is playing, and where: the frame audible at local instant t is, while playing,
/// anchor_frame + (t − anchor_local_us) · 48000 / 1e6 (clamped to [0, frames]); paused: anchor_frame.
struct NowPlaying {
  protocol::PlaybackStatus status = protocol::PlaybackStatus::stopped;
  std::optional<std::uint64_t> item_id;  ///< the queue item playing (absent when stopped)
  std::optional<std::size_t> position;   ///< its queue position, from 0 (absent if removed)
  protocol::CatalogEntry track;          ///< empty when stopped
  std::int64_t anchor_local_us = 0;      ///< this node's steady clock (chorus::now_us())
  std::int64_t anchor_frame = 0;
};

/// One room: a node of the cluster and its speakers.
struct RoomView {
  std::string id;
  bool self = false;    ///< the node this snapshot comes from
  bool up = false;      ///< reachable now
  bool leader = false;
  int volume = 100;     ///< 0..100
  bool muted = false;
  std::string output;   ///< the node's audio output, e.g. "pulse", "alsa:hw:0"
  friend bool operator==(const RoomView&, const RoomView&) = default;
};

/// What /metrics reports: this node's view (each node is scraped on its own).
struct MetricsView {
  std::string node;
  bool leader = false;
  std::uint64_t epoch = 0;
  std::uint64_t leader_changes = 0;
  std::size_t peers_up = 0;
  std::size_t peers_known = 0;
  bool clock_synced = false;         ///< follower: its estimate of the leader's clock is usable
  double clock_offset_us = 0;        ///< follower: leader clock − own clock
  double clock_error_us = 0;         ///< follower: the estimate's uncertainty
  std::uint64_t frames_inserted = 0;
  std::uint64_t frames_dropped = 0;
  std::uint64_t jumps = 0;
  std::uint64_t not_decoded_frames = 0;
  std::uint64_t output_underruns = 0;
  std::size_t send_queue_frames = 0;  ///< messages queued on the cluster links, all peers
  std::uint64_t bytes_in = 0;        ///< cluster links
  std::uint64_t bytes_out = 0;
  std::uint64_t content_bytes_in = 0;   ///< track bytes fetched from peers
  std::uint64_t content_bytes_out = 0;  ///< track bytes served to peers
  std::size_t fetches = 0;              ///< tracks being fetched
  std::uint64_t fetch_chunks_held = 0;  ///< of those, chunks held / in all
  std::uint64_t fetch_chunks_total = 0;
  std::size_t library_tracks = 0;
  std::size_t cluster_tracks = 0;
  std::size_t control_clients = 0;   ///< MPD and web connections
};

/// Everything a front end shows, at one moment.
struct ClusterView {
  std::string self;                    ///< this node's id
  std::optional<std::string> leader;   ///< absent during an election
  std::uint64_t epoch = 0;
  NowPlaying now;
  std::shared_ptr<const QueueView> queue = std::make_shared<const QueueView>();
  std::vector<RoomView> rooms;         ///< this node first, then the peers by id
  std::shared_ptr<const content::Catalog> library = std::make_shared<const content::Catalog>();
  /// This node's library rescan queued or under way (MPD's updating_db); 0: none.
  std::uint64_t updating_db = 0;
  MetricsView metrics;
};

/// A registration for change notices; unsubscribes when destroyed.
class Subscription {
 public:
  Subscription() = default;
  explicit Subscription(std::function<void()> cancel) : cancel_(std::move(cancel)) {}
  Subscription(Subscription&& other) noexcept : cancel_(std::exchange(other.cancel_, {})) {}
  Subscription& operator=(Subscription&& other) noexcept {
    if (this != &other) {
      reset();
      cancel_ = std::exchange(other.cancel_, {});
    }
    return *this;
  }
  Subscription(const Subscription&) = delete;
  Subscription& operator=(const Subscription&) = delete;
  ~Subscription() { reset(); }
  void reset() {
    if (cancel_) std::exchange(cancel_, {})();
  }

 private:
  std::function<void()> cancel_;
};

class ControlPort {
 public:
  using Done = std::function<void(Outcome)>;
  using Listener = std::function<void(Subsystems changed)>;

  virtual ~ControlPort() = default;

  /// The newest snapshot. Any thread; never blocks on the io thread's work.
  virtual std::shared_ptr<const ClusterView> view() const = 0;
  /// Runs `command` as the prompt would; `done` is called exactly once, on the io thread. Any
  /// thread.
  virtual void run(cli::Command command, Done done) = 0;
  /// `listener` is called on the io thread after each change, with what changed. It must only
  /// post. Any thread.
  virtual Subscription subscribe(Listener listener) = 0;
  /// A front end's connection count changed (for the metrics). Any thread.
  virtual void clients_changed(int delta) = 0;
};

}  // namespace chorus::control
