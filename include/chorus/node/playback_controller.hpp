#pragma once
// PlaybackController: the Asio shell around PlaybackCore (the playback rules, pure), on the io
// thread. It owns what the core may not: the timers and the AudioPlayer (library, track opening,
// SyncEngine, output); it sends through the transport and drives the node's ClockSampler, whose
// samples come back through on_clock_sample().
//
//   every input (leadership, prompt command, message, clock sample, track opened, timer,
//   stall) -> the core, with now and the current lead; then its effects, drained at once:
//     clock sampling -> ClockSampler follow/pause   messages     -> the transport
//     keep_open / open_early -> AudioPlayer         publication  -> AudioPlayer::play
//     replies -> the prompt's callbacks             state_held   -> on_state_held (posted)
//     deadlines -> three steady_timers             log          -> spdlog
//     changed -> the queue view rebuilt (if its version moved), then the on_changed listeners
//   What the node holds of the cluster's state is kept in its cache directory for the next run
//   (SaveSchedule decides when; a thread of its own writes, docs/playback.md "After a restart"),
//   and what the last run kept is handed to the core at start.
//   A control request that cannot be sent goes back to the core (unsent), which replies.
// The rules themselves (leader commands at now + lead, end of track, STATE_SYNC after the clock,
// takeover, stalls, forwarded commands) are described in playback_core.hpp.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "chorus/cli/command.hpp"
#include "chorus/content/content_service.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/election/bully_election.hpp"
#include "chorus/net/network_manager.hpp"
#include "chorus/net/transport.hpp"
#include "chorus/node/playback_core.hpp"
#include "chorus/node/clock_sampler.hpp"
#include "chorus/node/library_tracks.hpp"
#include "chorus/node/message_handler.hpp"
#include "chorus/node/save_schedule.hpp"
#include "chorus/playback/audio_player.hpp"
#include "chorus/playback/schedule.hpp"

namespace chorus::node {

/// What `status` shows about playback.
struct PlaybackView {
  playback::PlaybackState state;
  /// The playing item's queue position (from 0), if it is still queued (its id is state.track's
  /// index).
  std::optional<std::size_t> queue_position;
  std::optional<std::string> missing_track;  ///< the track is not in this node's library
  playback::EnginePosition position;
  playback::EngineStats engine;
  clock::ClockStatus clock;
  bool following_clock = false;  ///< false on the leader: its own clock is the reference
  bool state_synced = false;
  std::string output;
  playback::OutputStats output_stats;
  std::int64_t now_local_us = 0;
  std::uint64_t ignored_commands = 0;  ///< stale, not from the leader, or from a replaced leadership
  content::ContentView content;        ///< fetching, serving and the cache
  std::size_t library_tracks = 0;      ///< this node's own playable tracks
  std::size_t cluster_tracks = 0;      ///< the cluster's library
  playback::ScanStats scan;            ///< the own library's scan
};

class PlaybackController final : public PlaybackInbox {
 public:
  using Reply = std::function<void(const control::Outcome&)>;
  using ChangeListener = std::function<void(control::Subsystems)>;
  using StateHeldHandler = std::function<void()>;

  /// `on_state_held` runs (posted, on the io thread) once a leader's state has arrived and its
  /// clock has at least one sample: from then on this node holds the cluster's state.
  /// `clock_sampler` samples the leader this controller tells it to follow.
  PlaybackController(boost::asio::io_context& io, net::Transport& network,
                     ClockSampler& clock_sampler, playback::PlayerConfig config,
                     StateHeldHandler on_state_held);
  ~PlaybackController();

  /// Starts the player (library scan, output), the content links and the playback rules.
  /// `content` is complete (id, cluster, keys); an empty cache directory means the default.
  /// The state kept by the last run is restored; `resume_playing` (--resume-playing): a cluster
  /// this node leads with it plays it by itself if it was playing.
  void start(content::ContentConfig content, bool resume_playing = false);
  /// The highest election epoch the last run kept (0: none): new leaderships go above it.
  std::uint64_t kept_epoch() const { return kept_epoch_; }
  /// The content links' port (after start()).
  std::uint16_t content_port() const;
  void peer_up(const net::PeerInfo& peer);
  void peer_down(const std::string& id);
  void stop();

  void on_leadership(const election::Status& status);
  /// Writes what the node holds now (at a graceful shutdown; stop() does too).
  void keep_state_now();
  /// This process was frozen: commands may have been missed. The state is re-fetched from the
  /// leader; meanwhile it plays on its last schedule, as during an election.
  void on_stalled();
  /// Playback, state and control messages (MessageHandler routes only those here).
  void receive(const std::string& from, const protocol::Message& message) override;
  /// The ClockSampler accepted a sample: the leader's clock estimate changed.
  void on_clock_sample();
  /// play / pause / resume / stop / next / prev / seek and the queue's commands (add, remove,
  /// move, clear, random, repeat, single, consume) from the prompt: run here when leading,
  /// forwarded to the leader otherwise. Replies exactly once, on the io thread.
  void command(const cli::Command& command, Reply reply);
  /// `listener` is called on the io thread after each change of the state (kPlayer), the
  /// queue's items (kPlaylist) or its modes (kOptions), once the views show it.
  void on_changed(ChangeListener listener);

  std::string list_report(const cli::Command& command) const;
  /// Walks this node's music directory again (new, changed and removed files; on the library's
  /// hasher thread): the job number, as MPD's update answers it.
  std::uint64_t rescan_library() { return player_.rescan_library(); }
  /// The cluster's library as this node knows it.
  std::shared_ptr<const content::Catalog> library() const { return catalog_; }
  /// What `queue [--json]` prints.
  std::string queue_report(const cli::Command& command) const;
  /// The queue (the leader's, or this node's replica); a new object only when it changed.
  std::shared_ptr<const control::QueueView> queue_view() const { return queue_view_; }
  /// What plays now, anchored in this node's steady clock (chorus::now_us()).
  control::NowPlaying now_playing() const;
  PlaybackView view() const;

  /// This room's gain, 0..1 (RoomControl's): the output ramps to it; the schedule is untouched.
  void set_gain(float gain) { player_.set_gain(gain); }
  /// The gain the output applied to its last frame.
  float applied_gain() const { return player_.applied_gain(); }
  /// Where this node keeps what lasts between runs (the cache directory; after start()).
  std::filesystem::path cache_directory() const;

 private:
  /// Runs one input on the core with the current time and lead, then acts on its effects.
  template <class Input>
  void feed(Input&& input);
  void act(PlaybackEffects effects);
  void arm(boost::asio::steady_timer& timer, std::optional<std::int64_t>& armed,
           std::optional<std::int64_t> wanted, void (PlaybackCore::*due)(std::int64_t));
  std::int64_t lead_us() const;
  void reply(const PromptReply& reply);
  /// Rebuilds queue_view_ if the core's queue has another version, then tells the listeners.
  void changed(control::Subsystems what);
  /// Rebuilds queue_view_ if the core's queue has another version, size or modes.
  void refresh_queue_view();
  /// Tells the content service which tracks to hold: those kept open and opened early.
  void want(const std::vector<playback::TrackToOpen>& tracks);
  void on_catalog(std::shared_ptr<const content::Catalog> catalog);
  /// The own library published a new list, or a rescan started or ended: peers are told, new
  /// directories watched, front ends shown the rescan (kUpdate).
  void library_changed();
  /// The bytes of a track the library lacks, when enough are cached to start reading it.
  std::optional<playback::ExternalTrack> find_bytes(const playback::TrackToOpen& track) const;
  /// Notes what changed for the kept state and arms its timer.
  void schedule_keep(control::Subsystems what);
  /// Hands what is due (SaveSchedule) to the writer, if this node holds the cluster's state.
  void keep_due();
  void keep(SaveParts parts);
  /// Where `entry`'s bytes are on this node, for `list`.
  std::string where_is(const protocol::CatalogEntry& entry) const;

  boost::asio::io_context& io_;
  net::Transport& network_;
  bool watch_tracks_ = true;  ///< PlayerConfig::watch
  playback::AudioPlayer player_;
  LibraryTracks local_tracks_{player_.library()};
  std::optional<content::ContentService> content_;  ///< made by start()
  std::unique_ptr<class LibraryWatcher> watcher_;   ///< made by start()
  std::uint64_t updating_job_ = 0;  ///< the library's rescan last announced (kUpdate)
  std::shared_ptr<const content::Catalog> catalog_ = std::make_shared<const content::Catalog>();
  std::vector<content::WantedTrack> wanted_;
  /// The hashes, in order, of the list the content service was last given.
  std::vector<std::string> told_content_;
  std::string last_played_;  ///< the hash last told to the cache as playing
  ClockSampler& clock_sampler_;
  std::optional<PlaybackCore> core_;  ///< made by start(), once the node id is known
  StateHeldHandler on_state_held_;

  boost::asio::steady_timer end_timer_;
  boost::asio::steady_timer state_request_timer_;
  boost::asio::steady_timer control_timer_;
  boost::asio::steady_timer resume_timer_;
  boost::asio::steady_timer forget_previous_timer_;
  boost::asio::steady_timer keep_timer_;
  std::optional<std::int64_t> keep_armed_;
  SaveSchedule save_schedule_;
  std::unique_ptr<class KeptStateWriter> kept_writer_;  ///< made by start()
  std::uint64_t kept_epoch_ = 0;  ///< the highest epoch kept, or seen since
  Deadlines armed_;  ///< what each timer is armed for
  /// The prompt's callbacks, until the core replies.
  std::map<ReplyToken, Reply> replies_;
  ReplyToken next_token_ = 1;
  std::shared_ptr<const control::QueueView> queue_view_ = std::make_shared<const control::QueueView>();
  std::vector<ChangeListener> change_listeners_;
};

}  // namespace chorus::node
