#pragma once
// PlaybackController: the playback side of a node, on the io thread.
//
//   leader:   prompt/forwarded command -> new PlaybackState at now + lead (schedule.hpp)
//             -> PLAY/PAUSE/RESUME/STOP_REQUEST to all, and applied locally;
//             end-of-track timer -> the next track starts at the exact end instant;
//             STATE_SYNC_REQUEST -> STATE_SYNC_RESPONSE; CONTROL_REQUEST -> run it, reply.
//   follower: new leader -> clock burst + STATE_SYNC_REQUEST; the response is applied once the
//             clock is synced, and only then are live commands taken (newer epoch/seq only).
//   takeover: a follower that becomes leader re-anchors the state it plays at "now" and
//             re-expresses it in its own clock, so no frame moves; one that never played a
//             state starts stopped (the election lets it lead only if nobody alive holds one).
//   stall:    the state may be stale: it is re-fetched from the leader.
//   election: told each time a leader's state has arrived and can be mapped (one clock sample):
//             only then may this node stand (docs/election.md, "Eligibility").
//   every applied state or clock update -> a Snapshot for the SyncEngine (audio thread).

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <set>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/thread_pool.hpp>

#include "chorus/cli/command.hpp"
#include "chorus/election/bully_election.hpp"
#include "chorus/net/network_manager.hpp"
#include "chorus/node/time_sync.hpp"
#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/library.hpp"
#include "chorus/playback/schedule.hpp"
#include "chorus/playback/sync_engine.hpp"

namespace chorus::node {

struct PlaybackConfig {
  std::filesystem::path tracks = "tracks";
  std::string output = "sdl";
  std::chrono::milliseconds latency{0};  ///< extra per-node output latency (speakers)
  int block_frames = 480;
};

/// What `status` shows about playback.
struct PlaybackView {
  playback::PlaybackState state;
  std::optional<std::string> missing_track;  ///< the track is not in this node's library
  playback::EnginePosition position;
  playback::EngineStats engine;
  clock::ClockStatus clock;
  bool following_clock = false;  ///< false on the leader: its own clock is the reference
  bool state_synced = false;
  std::string output;
  playback::OutputStats output_stats;
  std::int64_t now_local_us = 0;
  std::uint64_t ignored_commands = 0;  ///< stale, early (before STATE_SYNC) or not from the leader
};

class PlaybackController {
 public:
  using Reply = std::function<void(const std::string&)>;
  using StateHeldHandler = std::function<void()>;

  /// `on_state_held` runs (posted, on the io thread) once a leader's state has arrived and its
  /// clock has at least one sample: from then on this node holds the cluster's state.
  PlaybackController(boost::asio::io_context& io, net::NetworkManager& network,
                     PlaybackConfig config, StateHeldHandler on_state_held);
  ~PlaybackController();

  /// Scans the library, opens the output and starts opening tracks in the background.
  void start();
  void stop();

  void on_leadership(const election::Status& status);
  /// This process was frozen: commands may have been missed. The state is re-fetched from the
  /// leader; meanwhile it plays on its last schedule, as during an election.
  void on_stalled();
  /// Playback, state, time and control messages; false for any other.
  bool handle(const std::string& from, const protocol::Message& message,
              net::Clock::time_point received);
  /// play / pause / resume / stop / next / prev from the prompt: run here when leading,
  /// forwarded to the leader otherwise. Replies exactly once.
  void command(const cli::Command& command, Reply reply);

  std::string list_report(bool json) const;
  PlaybackView view() const;

 private:
  struct Outcome {
    bool ok = false;
    std::string text;
  };

  // leader side
  Outcome execute(const cli::Command& command);
  Outcome issue(const playback::PlaybackState& next, const std::string& what);
  std::int64_t lead_us() const;
  std::optional<std::size_t> current_index() const;
  Outcome play_index(std::size_t index, std::int64_t at_us);
  void arm_end_of_track();
  void on_end_of_track(std::uint64_t epoch, std::uint64_t seq, std::int64_t end_us);
  void take_over(std::uint64_t epoch);
  /// The clock the state this node plays is expressed in, read at local `now`: its leader's
  /// clock as estimated now if that leader's state is applied, else the mapping it last played
  /// it through; empty if it never played a state.
  std::optional<playback::ClockMapping> clock_of_state(std::int64_t now) const;
  void answer_control(const std::string& from, const protocol::ControlRequest& request);

  // follower side
  void follow(const std::string& leader);
  /// Asks the leader for its state, and again every half second until it has arrived: a request
  /// sent on a link that was already dying (a resumed node) would otherwise be lost for good.
  void request_state();
  void on_command(const std::string& from, const protocol::Message& message);
  void on_state_sync(const std::string& from, const protocol::StateSyncResponse& response);
  void on_clock_sample();
  /// Takes the leader's STATE_SYNC, then the commands that arrived before it (the caller
  /// publishes).
  void apply_pending_sync();
  void forward(const cli::Command& command, Reply reply);
  void on_control_response(const protocol::ControlResponse& response);

  // both
  void apply(const playback::PlaybackState& next);
  /// applied_ becomes `next`, previous_ the state in effect now; nothing is published.
  void replace_state(const playback::PlaybackState& next);
  void publish();
  std::shared_ptr<const playback::TrackAudio> audio_for(const playback::PlaybackState& state) const;
  /// Keeps open exactly the tracks the schedule can reach soon (previous, current, next),
  /// opening missing ones on the opener thread and closing the rest.
  void keep_open();
  /// Opens the track on the opener thread, decoding from frame `start` first.
  void open_track(const std::string& hash, std::int64_t start);
  /// Now in the leader's time, as near as this node's clock estimate tells.
  std::int64_t leader_now_us() const;
  /// The frame `state` has reached now, as near as this node's clock estimate tells.
  std::int64_t frame_now(const playback::PlaybackState& state) const;
  std::optional<std::size_t> next_playable(std::size_t index) const;
  bool leading() const { return leadership_.role == election::Role::leader; }

  boost::asio::io_context& io_;
  net::NetworkManager& network_;
  PlaybackConfig config_;
  playback::Library library_;
  playback::SyncEngine engine_;
  std::unique_ptr<playback::AudioOutput> output_;
  TimeSync time_sync_;
  election::Status leadership_;

  playback::PlaybackState applied_;   ///< the newest state (may start in the future)
  playback::PlaybackState previous_;  ///< in effect until applied_.anchor_us
  bool state_synced_ = false;         ///< follower: the leader's state has been applied
  /// The clock mapping of the last snapshot published: what the engine plays applied_ through.
  std::optional<playback::ClockMapping> played_clock_;
  StateHeldHandler on_state_held_;
  std::optional<protocol::StateSyncResponse> pending_sync_;
  /// Commands from the leader that arrived before its state was applied: replayed after it,
  /// those newer than the state only (the state may have been taken before or after them).
  std::vector<protocol::Message> early_commands_;

  boost::asio::steady_timer end_timer_;
  boost::asio::steady_timer state_request_timer_;
  /// Open tracks by content hash; the library's decoder thread keeps them filled.
  std::map<std::string, std::shared_ptr<const playback::TrackAudio>> open_;
  std::set<std::string> opening_;       ///< hashes queued on the opener
  boost::asio::thread_pool opener_{1};  ///< opening re-hashes the file: ~0.1 s for 40 MB

  struct PendingControl {
    Reply reply;
    std::unique_ptr<boost::asio::steady_timer> deadline;
  };
  std::map<std::uint64_t, PendingControl> pending_controls_;
  std::uint64_t next_control_id_ = 1;
  std::uint64_t stale_commands_ = 0;
};

}  // namespace chorus::node
