#pragma once
// AudioPlayer: everything of a node that touches audio, behind one narrow interface: the library
// (the tracks and their identity), opening tracks (on its own opener thread), the SyncEngine and
// the output. It knows no rules, no network and no Asio: it is told which tracks to hold open and
// what to play (node::PlaybackCore decides both), and says when a track has opened.
//
// Threads:
//   the owner's (the io thread)  every member function, and the work handed to `post`
//   the opener thread            Library::open(); its result goes back through `post`
//   the output's thread          SyncEngine::render() through the GainStage: never locks, waits, allocates or frees
//                                (snapshots it is done with are freed by play(), on the owner's
//                                thread)

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/gain_stage.hpp"
#include "chorus/playback/library.hpp"
#include "chorus/playback/publication.hpp"
#include "chorus/playback/schedule.hpp"
#include "chorus/playback/sync_engine.hpp"
#include "chorus/playback/track_to_open.hpp"

namespace chorus::playback {

namespace detail {
class TrackOpener;
}

/// Where a node's tracks are and where its audio goes.
struct PlayerConfig {
  std::filesystem::path tracks = "tracks";
  std::string output = "auto";           ///< make_output()'s spec (auto, alsa[:DEVICE], pulse[:SINK], ...)
  std::chrono::milliseconds latency{0};  ///< extra per-node output latency (speakers)
  int block_frames = 480;                ///< frames per render (sdl: the device buffer asked for)
  std::filesystem::path index_file;      ///< the library's index (LibraryIndex); empty: in memory
  bool watch = true;                     ///< watch `tracks` for new music (inotify); false: poll
};

/// What the engine and the output have done so far.
struct PlayerStats {
  EngineStats engine;
  OutputStats output;
};

class AudioPlayer {
 public:
  /// Runs `work` later on the owner's thread. Called from the opener thread.
  using Post = std::function<void(std::function<void()> work)>;
  /// On the owner's thread: a track has opened, so the next play() can give the engine its audio.
  using TrackOpened = std::function<void()>;
  /// On the owner's thread: the bytes of a track the library does not have, if enough of them
  /// are here to start reading where `track` starts (a cached copy, or a fetch far enough along).
  using FindBytes = std::function<std::optional<ExternalTrack>(const TrackToOpen& track)>;

  AudioPlayer(PlayerConfig config, Post post, TrackOpened on_opened, FindBytes find_bytes = {});
  ~AudioPlayer();  ///< stop()
  AudioPlayer(const AudioPlayer&) = delete;
  AudioPlayer& operator=(const AudioPlayer&) = delete;

  /// Scans the library (files unchanged since the index at `index_file` last saw them are not
  /// read; new ones are read in the background, and `on_library_change` runs on that thread after
  /// each batch) and starts the output, or the null output if that one cannot start. Throws
  /// std::runtime_error for an output spec make_output() rejects.
  void start(std::filesystem::path index_file = {}, std::function<void()> on_library_change = {});
  /// Stops the output and the opener thread (an open under way finishes, queued ones are
  /// dropped). Idempotent.
  void stop();

  /// The tracks as scanned by start(); empty before.
  const Library& library() const { return library_; }
  /// Rescans the library on its hasher thread (Library::rescan()); returns the job number.
  std::uint64_t rescan_library() { return library_.rescan(); }
  /// The name of `state`'s track while its bytes are not here yet (being fetched): the node plays
  /// silence until they are.
  std::optional<std::string> missing_track(const PlaybackState& state) const;
  /// More of the bytes of `hash` have arrived: a track waiting for them is opened if it can be
  /// now, from `frame_now` if given (where playback has got to meanwhile).
  void bytes_arrived(const std::string& hash, std::optional<std::int64_t> frame_now = std::nullopt);

  /// Holds exactly `tracks` open: opens those not open yet, closes the others.
  void keep_open(const std::vector<TrackToOpen>& tracks);
  /// Opens `track` unless it is open or being opened already; closes nothing. A track neither the
  /// library nor find_bytes has waits for bytes_arrived().
  void open(const TrackToOpen& track);
  /// Whether the track with this content hash is open (opening has finished).
  bool is_open(const std::string& hash) const { return open_.contains(hash); }

  /// Plays `publication` from now on, with the audio of the open tracks; a track not open plays
  /// as silence until a later play() has it.
  void play(const Publication& publication);

  /// The room's gain (0..1, playback/volume.hpp): the output ramps to it within 20 ms. Scales
  /// samples only; the schedule, and so every frame's instant, is untouched.
  void set_gain(float gain) { gain_.set_target(gain); }
  /// The gain the output applied to the last frame it rendered.
  float applied_gain() const { return gain_.applied(); }

  /// The frame after the last block rendered, and when it will be audible.
  EnginePosition position() const { return engine_.position(); }
  PlayerStats stats() const;
  /// One line for logs and `status`; "none" before start().
  std::string describe_output() const;
  /// How long before its audible time the output asks for a block (0 before start()).
  std::int64_t fill_ahead_us() const;

 private:
  std::unique_ptr<AudioOutput> start_output();
  std::shared_ptr<const TrackAudio> audio_for(const PlaybackState& state) const;
  /// Back on the owner's thread: the open of `track` has finished, well or not; `fetched`: from
  /// bytes fetched from peers.
  void finish_open(const TrackToOpen& track, const OpenedTrack& opened, bool fetched);

  PlayerConfig config_;
  Post post_;
  TrackOpened on_opened_;
  Library library_;
  SyncEngine engine_;
  GainStage gain_{engine_};              ///< the room's volume, on what the engine renders
  std::unique_ptr<AudioOutput> output_;  ///< renders from gain_: declared after it
  /// Open tracks by content hash; the library's decoder thread keeps them filled.
  std::map<std::string, std::shared_ptr<const TrackAudio>> open_;
  std::set<std::string> opening_;  ///< hashes queued on the opener
  FindBytes find_bytes_;
  /// Tracks wanted open whose bytes are not here yet, by hash.
  std::map<std::string, TrackToOpen> awaiting_;
  std::unique_ptr<detail::TrackOpener> opener_;
};

}  // namespace chorus::playback
