#pragma once
// PlaybackCore: the playback rules of a node, pure. No sockets, no clock, no threads, no Asio:
// every input carries `now` (this node's steady clock, µs) and the clock estimate it needs is
// handed in. docs/playback.md explains the rules; PlaybackController is the shell that runs it.
//
//   inputs                                       outputs (drain with take_effects() after each)
//   leadership(status)   <- the election         messages      -> to one peer, or to all
//   command(cmd, token)  <- prompt               publication   -> states + clock for the engine
//   receive(from, msg)   <- playback, state,     keep_open     -> the tracks to hold open
//                           queue and control    open_early    -> a track to start opening now
//                           messages
//   clock_updated(clock) <- a clock sample        replies       -> outcome of a prompt command
//   track_opened()       <- the opener           clock_sampling-> whose clock to sample
//   *_due()              <- the timers below     state_held    -> the election may let it stand
//   stalled()            <- the election shell   deadlines     -> when to call the *_due inputs
//   unsent(to, msg)      <- a send that failed   log           -> lines for the node's log
//   set_tracks(tracks)   <- the library changed  changed       -> what front ends redraw
//
//   leader:   prompt/forwarded command -> new PlaybackState at now + lead (schedule.hpp),
//             broadcast and applied locally; seek -> PLAY (playing) or PAUSE (paused) of the
//             same track at the new frame; end-of-track deadline -> the next track starts at
//             the exact end instant; STATE_SYNC_REQUEST -> STATE_SYNC_RESPONSE.
//   follower: new leader -> sample its clock + STATE_SYNC_REQUEST (retried every 0.5 s); the
//             response applies once the clock is synced, then the commands that came before it
//             (newer epoch/seq only); live commands only from the leader, newer than the state.
//   takeover: the state played is re-anchored at now and re-expressed in the own clock, so no
//             frame moves; a node that never played a state starts stopped.
//   freshness: a follower offers a new leader the state it holds (STATE_OFFER); until the
//             leader issues a command of its own, it adopts an offer newer by (epoch, seq) than
//             what it took over, re-anchored so no frame moves, and broadcasts it.
//   stall:    the state is re-fetched from the leader.
//   restart:  the queue and state kept from the last run (restore()) fill a cluster that has
//             none: a leader that took over no state of this run holds its kept state paused
//             where it was, a follower offers its kept state and queue marked `restored`, and
//             the newest kept one wins (restore_rules.hpp); a kept one never replaces a state or
//             queue of this run. With --resume-playing the leader plays it by itself after
//             kRestoreSettleUs if it was playing.
//   queue:    the play queue (PlayQueue, docs/queue.md) is part of the state: the leader edits it
//             and broadcasts each change (QUEUE_EDIT); a follower applies them in version order,
//             and pulls the whole queue (QUEUE_SYNC_REQUEST -> QUEUE_SNAPSHOT pages) when it
//             starts following a leader and whenever it sees a gap. It holds the cluster's state
//             (state_held) only once it has the queue too. play/next/prev/end of track follow
//             the queue and its modes; the state's TrackRef.index is the playing item's id.
//             Freshness: a follower offers a new leader its queue's version (QUEUE_OFFER); until
//             its own first queue edit, a leader with an older queue fetches the offered one,
//             adopts it and sends it to all.
//   forwarded commands: CONTROL_REQUEST (the command typed, as a ControlCommand with its
//             arguments; `add N` resolved to the track's hash here) to the leader,
//             which runs it; the reply comes from its CONTROL_RESPONSE, or "did not answer" at
//             the 2 s deadline, exactly once.

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "chorus/cli/command.hpp"
#include "chorus/clock/clock_mapping.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/election/bully_election.hpp"
#include "chorus/node/play_queue.hpp"
#include "chorus/node/restore_rules.hpp"
#include "chorus/playback/library.hpp"
#include "chorus/playback/publication.hpp"
#include "chorus/playback/schedule.hpp"
#include "chorus/playback/track_to_open.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::node {

/// Names a prompt command's reply: the shell passes one with command() and gets it back with the
/// reply text.
using ReplyToken = std::uint64_t;

/// The shell's estimate of the followed leader's clock (clock::ClockSync).
struct LeaderClock {
  std::size_t samples = 0;      ///< 0 once a new leader is followed, until its first sample
  bool synced = false;          ///< enough samples to play by
  clock::ClockMapping mapping;  ///< local -> leader time; the estimate from the first sample
};

/// A message for one peer, or for every peer when `to` is empty.
struct Outgoing {
  std::optional<std::string> to;
  protocol::Message message;
};

/// A command's result for the prompt (or another front end): outcome.text is what the prompt
/// prints ("ok: ..." / "error: ...").
struct PromptReply {
  ReplyToken token = 0;
  control::Outcome outcome;
};

/// Whose clock to sample: a newly followed leader's from scratch, or nobody (the estimate is
/// kept: the state played may still be expressed in it).
struct ClockSampling {
  std::optional<std::string> leader;
};

/// The instants (local µs) at which the shell calls the matching *_due() input.
struct Deadlines {
  std::optional<std::int64_t> end_of_track;
  std::optional<std::int64_t> state_request;
  std::optional<std::int64_t> control;
  std::optional<std::int64_t> resume;  ///< a restored cluster's leader plays by itself (resume_due)
  /// The switch to the current state has passed: the state before it is let go (forget_previous_due).
  std::optional<std::int64_t> forget_previous;
  friend bool operator==(const Deadlines&, const Deadlines&) = default;
};

enum class LogLevel { debug, info, warn };

struct LogLine {
  LogLevel level = LogLevel::info;
  std::string text;
};

/// Everything one input produced, in the order the shell should act on it: clock sampling,
/// messages (in order), tracks, publication, the rest.
struct PlaybackEffects {
  std::optional<ClockSampling> clock_sampling;
  std::vector<Outgoing> messages;
  /// Exactly the tracks to keep open (the others may be closed); with every publication, and
  /// when the previous track is let go.
  std::optional<std::vector<playback::TrackToOpen>> keep_open;
  /// Tracks to open now if not open already, closing nothing.
  std::vector<playback::TrackToOpen> open_early;
  /// What the audio player plays from now on.
  std::optional<playback::Publication> publication;
  std::vector<PromptReply> replies;
  /// What changed for the front ends (control::Subsystem bits): kPlayer with a new state,
  /// kPlaylist with the queue's items, kOptions with its modes.
  control::Subsystems changed = 0;
  /// A leader's state has arrived and its clock has a sample: this node holds the cluster's
  /// state, and the election may let it stand (docs/election.md, "Eligibility").
  bool state_held = false;
  Deadlines deadlines;  ///< always the full set in force after the input
  std::vector<LogLine> log;
};

/// How long the leader's command waits for its followers (the shell's estimate).
inline constexpr std::int64_t kDefaultLeadUs = 20'000;
/// A forwarded command not answered within this is reported failed.
inline constexpr std::int64_t kControlTimeoutUs = 2'000'000;
/// How long before a track's end the leader sends the command that starts the next one, on top
/// of the lead.
inline constexpr std::int64_t kEndOfTrackMarginUs = 50'000;
/// How often a follower repeats STATE_SYNC_REQUEST until the state arrives.
inline constexpr std::int64_t kStateRequestRetryUs = 500'000;
/// How long a leader that took over a kept state waits for its followers' kept states (the
/// newest wins) before --resume-playing plays it.
inline constexpr std::int64_t kRestoreSettleUs = 1'000'000;
/// Commands kept while a leader's state is awaited.
inline constexpr std::size_t kMaxEarlyCommands = 64;
/// How long past the switch to a new state the state before it (its track) is still held open.
/// Nothing reads it after the switch (blocks are rendered ahead of their playout, never behind);
/// the margin only covers a correction of the clock estimate that moves the switch a little
/// later. Released, the previous track stops being protected in a node's cache, which then has
/// room for the next one.
inline constexpr std::int64_t kPreviousHeldUs = 500'000;

class PlaybackCore {
 public:
  /// A node `self` with the cluster's track list (set_tracks() replaces it as it grows; the leader
  /// plays by number, every node finds tracks by hash), following nobody, stopped.
  explicit PlaybackCore(std::string self, std::vector<playback::TrackInfo> tracks = {});

  // ---- inputs -------------------------------------------------------------------------------

  /// What this node kept from its last run (saved_state.hpp), before any other input: the queue
  /// replaces the empty one; the state waits for a takeover, or is offered to the leader
  /// followed. `resume_playing`: --resume-playing.
  void restore(std::optional<PlayQueue> queue, std::optional<playback::PlaybackState> state,
               bool resume_playing);

  /// The cluster's track list changed (a peer's library was pulled, or a scan found files).
  void set_tracks(std::int64_t now, std::vector<playback::TrackInfo> tracks);
  /// How far ahead of now the leader schedules commands: max RTT + the output's fill-ahead +
  /// a margin. The shell refreshes it before each input.
  void set_lead(std::int64_t lead_us);
  /// The election's view changed.
  void leadership(std::int64_t now, const election::Status& status);
  /// A playback or queue command from this node's prompt: run here when leading, forwarded to the
  /// leader otherwise. Exactly one reply carries `token`, perhaps after later inputs.
  void command(std::int64_t now, const cli::Command& command, ReplyToken token);
  /// A playback message from a peer: PLAY/PAUSE/RESUME/STOP, STATE_SYNC_*, STATE_OFFER,
  /// CONTROL_*, QUEUE_*. Any other message is ignored.
  void receive(std::int64_t now, const std::string& from, const protocol::Message& message);
  /// A new estimate of the followed leader's clock (after every accepted sample).
  void clock_updated(std::int64_t now, const LeaderClock& clock);
  /// A track finished opening: the engine can be given its audio.
  void track_opened(std::int64_t now);
  /// Deadlines reached (see Deadlines); early or stale calls are ignored.
  void end_of_track_due(std::int64_t now);
  void state_request_due(std::int64_t now);
  void control_due(std::int64_t now);
  void resume_due(std::int64_t now);
  void forget_previous_due(std::int64_t now);
  /// This process was frozen: commands may have been missed, so the state is re-fetched from the
  /// leader; meanwhile it plays on its last schedule.
  void stalled(std::int64_t now);
  /// A message to one peer could not be sent (no connection).
  void unsent(std::int64_t now, const std::string& to, const protocol::Message& message);

  // ---- outputs ------------------------------------------------------------------------------

  /// What the inputs since the last call produced.
  PlaybackEffects take_effects();

  // ---- observable state ---------------------------------------------------------------------

  bool leading() const { return leadership_.role == election::Role::leader; }
  /// The newest state (it may start in the future), in the clock of `state_clock_owner()`.
  const playback::PlaybackState& state() const { return applied_; }
  /// The node whose clock state() is expressed in (the leader it came from; itself once it
  /// led); empty while it never held a state.
  const std::optional<std::string>& state_clock_owner() const { return state_owner_; }
  /// The leader's state has been applied (always true while leading).
  bool state_synced() const { return state_synced_ || leading(); }
  /// The frame the current state has reached now, if its track is `hash`: where a track opened
  /// late (its bytes fetched meanwhile) should start reading.
  std::optional<std::int64_t> frame_of(std::int64_t now, const std::string& hash) const;
  /// Commands ignored: stale, not from the leader, or from a replaced leadership.
  std::uint64_t stale_commands() const { return stale_commands_; }
  /// The play queue: the leader's, or this follower's replica of it.
  const PlayQueue& queue() const { return queue_; }
  /// Follower: the leader's queue has arrived whole (always true while leading).
  bool queue_synced() const { return queue_synced_ || leading(); }
  /// It leads, or has its leader's state and queue: what it holds is worth keeping.
  bool holds_cluster_state() const { return leading() || (state_synced_ && queue_synced_); }
  /// The queue item last played (MPD's current song; kept while stopped), if still queued.
  std::optional<std::uint64_t> current_item() const;

 private:
  using Outcome = control::Outcome;
  struct EndOfTrack {
    std::int64_t fire_at = 0;  ///< local µs: lead + margin before the end
    std::uint64_t epoch = 0;   ///< the state whose end it is
    std::uint64_t seq = 0;
    std::int64_t end_us = 0;   ///< the end instant, where the next track starts
  };
  /// What a new leader took over, while offers may still replace it (until its own first
  /// command): the newest state known, in the clock it came in.
  struct TakenOver {
    std::string clock_owner;        ///< whose clock `state` is in
    clock::ClockMapping clock;      ///< local -> that clock, as estimated at the takeover
    playback::PlaybackState state;  ///< taken over, or the newest offer adopted since
    Origin origin = Origin::live;   ///< restored or none: no clock (the state is paused or stopped)
  };
  struct PendingControl {
    ReplyToken token = 0;
    std::int64_t deadline = 0;
  };

  // leader side
  /// Runs a command here, the leader.
  Outcome execute(std::int64_t now, const protocol::ControlRequest& request);
  Outcome play(std::int64_t now, const protocol::ControlRequest& request, std::int64_t at_us);
  Outcome step(std::int64_t now, protocol::ControlCommand command, std::int64_t at_us);
  Outcome add(const protocol::ControlRequest& request);
  Outcome remove(std::int64_t now, const protocol::ControlRequest& request);
  Outcome move(const protocol::ControlRequest& request);
  Outcome clear(std::int64_t now);
  Outcome set_mode(protocol::ControlCommand command, std::optional<protocol::ModeSwitch> mode);
  /// Broadcasts what a queue edit changed (already applied); the refusal or `done` otherwise.
  /// `own`: an edit of this leader's, which closes the door on offered queues (mirroring the
  /// library is not one: it follows the catalog, not a choice).
  Outcome publish_edits(QueueEdits edits, const std::string& done, bool own = true);
  /// While the queue mirrors the library: brings it up to date with the catalog.
  void mirror_library();
  /// The seed random mode picks the item after the state (epoch, seq) with.
  static std::uint64_t seed_for(std::uint64_t epoch, std::uint64_t seq);
  /// Seek: a new state of the same track at `at_us`, playing or paused as before.
  Outcome seek_to(std::int64_t now, const protocol::SeekTarget& target, std::int64_t at_us);
  /// A command of this leader's own: it closes the door on late offers.
  Outcome issue(std::int64_t now, const playback::PlaybackState& next, const std::string& what);
  /// Broadcasts the command that leads to `next` and applies it.
  void send_and_apply(std::int64_t now, const playback::PlaybackState& next);
  Outcome play_item(std::int64_t now, std::uint64_t id, std::int64_t at_us);
  void arm_end_of_track();
  void take_over(std::int64_t now);
  /// The clock the state this node plays is expressed in: its leader's clock as estimated now if
  /// that leader's state is applied, else the mapping it last played it through; empty if it
  /// never played a state.
  std::optional<clock::ClockMapping> clock_of_state() const;
  void answer_control(std::int64_t now, const std::string& from,
                      const protocol::ControlRequest& request);
  void answer_state_request(const std::string& from);
  void answer_queue_request(const std::string& from);
  /// Fetches a follower's queue that is newer than the one this leader took over.
  void on_queue_offer(const std::string& from, const protocol::QueueOffer& offer);
  /// What the leader's queue is, for restore_rules' adopts_queue.
  HeldQueue held_queue() const;
  /// The offered queue's pages, on the leader that asked for them.
  void on_offered_queue(std::int64_t now, const std::string& from, const protocol::QueueSnapshot& page);
  /// Adopts `offer` if it is newer than what this leader took over (docs/playback.md).
  void on_state_offer(std::int64_t now, const std::string& from, const protocol::StateOffer& offer);
  /// Takes over the kept state (or nothing) when no state of this run is held.
  void take_over_restored(std::int64_t now);
  /// Broadcasts and applies `paused` (a kept state, anchored at its instant): a PLAY of its track
  /// and a PAUSE at the same instant, so followers holding another track take this one.
  void send_and_apply_paused(std::int64_t now, const playback::PlaybackState& paused);

  // follower side
  void follow(std::int64_t now, const std::string& leader);
  /// Drops what came from the leader followed so far: its state, pending or applied, and the
  /// commands that waited for it.
  void forget_leader_state();
  /// Asks the leader for its state, and again every half second until it has arrived: a request
  /// sent on a link that was already dying (a resumed node) would otherwise be lost for good.
  void request_state(std::int64_t now);
  /// Offers the state held to a newly followed leader, which may hold an older one.
  void offer_state(const std::string& leader);
  void on_command(std::int64_t now, const std::string& from, const protocol::Message& message);
  void on_state_sync(std::int64_t now, const std::string& from,
                     const protocol::StateSyncResponse& response);
  void on_clock_change(std::int64_t now);
  /// Takes the leader's STATE_SYNC, then the commands that arrived before it (the caller
  /// publishes).
  void apply_pending_sync(std::int64_t now);
  void forward(std::int64_t now, protocol::ControlRequest request, ReplyToken token);
  void on_queue_edit(std::int64_t now, const std::string& from, const protocol::QueueEdit& edit);
  void on_queue_snapshot(std::int64_t now, const std::string& from, const protocol::QueueSnapshot& page);
  /// The follower holds the cluster's state once the leader's state and queue are here and its
  /// clock has a sample: the election may let it stand.
  void check_state_held();
  /// The wire form of a prompt command; a refusal when it names nothing (add N past the list).
  std::variant<protocol::ControlRequest, Outcome> request_for(const cli::Command& command) const;
  void on_control_response(const protocol::ControlResponse& response);

  // both
  void apply(std::int64_t now, const playback::PlaybackState& next);
  /// applied_ becomes `next`, previous_ the state in effect now; nothing is published.
  void replace_state(std::int64_t now, const playback::PlaybackState& next);
  void publish(std::int64_t now);
  /// Exactly the tracks the schedule can reach soon: the current one (while stopped, the queue's
  /// current item), the next one, and the previous one until the switch has passed.
  std::vector<playback::TrackToOpen> tracks_to_keep_open(std::int64_t now) const;
  /// When (local µs) previous_ is let go: kPreviousHeldUs after the switch to applied_. Nothing
  /// while there is no previous track, or while a follower cannot map the leader's time yet.
  std::optional<std::int64_t> forget_previous_at() const;
  /// Lets previous_ go once forget_previous_at() has passed; true if it did.
  bool forget_previous_if_over(std::int64_t now);
  /// Now in the time of the state's clock, as near as this node's clock estimate tells.
  std::int64_t leader_now(std::int64_t now) const;
  /// The frame `state` has reached now, as near as this node's clock estimate tells.
  std::int64_t frame_now(std::int64_t now, const playback::PlaybackState& state) const;
  void send(const std::string& to, protocol::Message message);
  void broadcast(protocol::Message message);
  void reply(ReplyToken token, Outcome outcome);
  void note(LogLevel level, std::string text);
  Deadlines deadlines() const;

  std::string self_;
  /// The cluster's library, playable tracks in catalog order (`list` numbers, add's sources).
  std::vector<protocol::CatalogEntry> catalog_;
  PlayQueue queue_;
  QueueAssembly assembly_;
  bool queue_synced_ = false;  ///< follower: the leader's whole queue has arrived
  /// Follower: the queue it held when it started following this leader, kept until the leader
  /// asks for it (QUEUE_OFFER).
  std::optional<PlayQueue> offered_queue_;
  /// Leader: a follower's newer queue may still replace the one taken over (no own edit yet).
  bool queue_adoptable_ = false;
  std::optional<std::string> queue_offer_from_;  ///< leader: whose offered queue is coming
  QueueAssembly offer_assembly_;
  /// The item of the last state with a track (MPD's current song, kept while stopped).
  std::optional<std::uint64_t> last_item_;
  /// Kept from the last run (restore()) until a state of this run replaces it.
  std::optional<playback::PlaybackState> restored_state_;
  bool queue_restored_ = false;  ///< queue_ is the one kept from the last run
  bool queue_live_ = false;      ///< queue_ came from a leader of this run, or this node led
  Origin queue_origin_ = Origin::live;  ///< leader: what the queue it took over came from
  bool queue_offer_restored_ = false;   ///< leader: the queue being fetched is a kept one
  bool resume_playing_ = false;         ///< --resume-playing
  std::optional<std::int64_t> resume_at_;
  std::int64_t lead_us_ = kDefaultLeadUs;
  election::Status leadership_;
  LeaderClock clock_;

  playback::PlaybackState applied_;   ///< the newest state (may start in the future)
  playback::PlaybackState previous_;  ///< in effect until applied_.anchor_us, then let go
  std::optional<std::string> state_owner_;
  bool state_synced_ = false;         ///< follower: the leader's state has been applied
  /// The clock mapping of the last publication: what the engine plays applied_ through.
  std::optional<clock::ClockMapping> played_clock_;
  /// The state the last publication that said where to decode (current_frame) was for.
  std::optional<playback::PlaybackState> hinted_state_;
  std::optional<protocol::StateSyncResponse> pending_sync_;
  /// Commands from the leader that arrived before its state was applied: replayed after it,
  /// those newer than the state only (the state may have been taken before or after them).
  std::vector<protocol::Message> early_commands_;

  std::optional<TakenOver> taken_over_;
  std::optional<EndOfTrack> end_of_track_;
  std::optional<std::int64_t> state_request_at_;
  std::map<std::uint64_t, PendingControl> pending_controls_;
  std::uint64_t next_control_id_ = 1;
  std::uint64_t stale_commands_ = 0;

  PlaybackEffects effects_;
};

}  // namespace chorus::node
