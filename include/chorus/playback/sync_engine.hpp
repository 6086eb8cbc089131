#pragma once
// SyncEngine: fills output blocks so that every node makes the same frame audible at the same
// instant. It runs on the audio thread; the io thread hands it immutable Snapshots through a
// lock-free mailbox and reads back its position through a seqlock. It reads no clock: the
// output says when each block will be audible.
//
// For each block (audible at local time L):
//   leader time  t = snapshot.clock.to_leader(L)
//   state        `current` from current.anchor_us on, `previous` before it (a block that spans
//                the instant is split there, so commands land on their exact frame)
//   expected     the frame the schedule wants audible at t (fractional)
//   playhead     where the engine's own output would continue
//   error = playhead − expected:
//     new track, start after silence, or |error| > jump threshold -> jump to expected
//     |error| ≥ half a frame -> repeat (error > 0) or skip (error < 0) single frames, spread
//                               evenly over the block, at most max_slew of its frames
//   what is left (under a frame) is reported as timing_error_us(): an output that chooses its own
//   write instants moves the block by it, so its frames are heard exactly on the schedule
// A device whose clock runs a few % off is thereby held to the schedule within about a frame.

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

#include "chorus/clock/clock_mapping.hpp"
#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/library.hpp"
#include "chorus/playback/schedule.hpp"
#include "chorus/playback/snapshot_mailbox.hpp"

namespace chorus::playback {

/// One state the engine can play: the schedule plus the audio of its track.
struct ScheduledState {
  PlaybackState state;
  /// null when stopped, or when this node cannot play the track (it stays silent)
  std::shared_ptr<const TrackAudio> audio;
};

/// Everything the audio thread needs, immutable once published.
struct Snapshot {
  clock::ClockMapping clock;  ///< local -> the time the states are expressed in
  ScheduledState previous;  ///< in effect before current.state.anchor_us
  ScheduledState current;
};

struct EngineTuning {
  double jump_threshold_frames = 480;  ///< 10 ms: beyond this, jump instead of slewing
  double max_slew = 0.05;              ///< at most this fraction of a block's frames corrected
};

/// What the engine did; any thread may read these while it runs.
struct EngineStats {
  std::uint64_t blocks = 0;
  std::uint64_t frames_inserted = 0;
  std::uint64_t frames_dropped = 0;
  std::uint64_t jumps = 0;
  std::uint64_t not_decoded_frames = 0;  ///< played as silence: the decoder had not reached them
  double last_error_frames = 0;  ///< playhead − expected before the last correction
};

/// Where the output is: `frame` becomes audible at local steady-clock time `local_us`.
struct EnginePosition {
  bool playing = false;
  std::int64_t frame = 0;
  std::int64_t local_us = 0;
};

class SyncEngine final : public Renderer {
 public:
  explicit SyncEngine(EngineTuning tuning = {});

  /// io thread: the schedule to follow from now on.
  void publish(Snapshot snapshot);
  /// io thread: frees snapshots the audio thread has finished with.
  void collect() { mailbox_.collect(); }

  /// audio thread: fill one block.
  void render(std::span<std::int16_t> interleaved, std::int64_t audible_at_local_us) override;
  /// audio thread, after render(): (where the playhead ended − where the schedule wants it),
  /// in µs; 0 when the block did not end playing.
  double timing_error_us() const override { return timing_error_us_; }

  /// Any thread: the frame that follows the last rendered block, and when it will be audible.
  EnginePosition position() const;
  EngineStats stats() const;

 private:
  void render_segment(std::span<std::int16_t> out, std::int64_t leader_us,
                      const ScheduledState& scheduled);
  void play_from(std::span<std::int16_t> out, double expected, const ScheduledState& scheduled);
  std::int64_t corrections_for(double expected, std::size_t frames);
  void copy_frames(std::span<std::int16_t> out, const ScheduledState& scheduled,
                   std::int64_t corrections);
  void silence(std::span<std::int16_t> out);
  void note_position(std::int64_t frame, std::int64_t local_us, bool playing);

  EngineTuning tuning_;
  SnapshotMailbox<Snapshot> mailbox_;

  // audio thread only
  std::string playhead_hash_;  ///< the track the playhead is in
  std::int64_t playhead_ = 0;  ///< the frame the engine outputs next if undisturbed
  bool playhead_valid_ = false;
  double timing_error_us_ = 0;  ///< of the last rendered block

  // written by the audio thread, read anywhere
  std::atomic<std::uint64_t> blocks_{0}, inserted_{0}, dropped_{0}, jumps_{0}, not_decoded_{0};
  std::atomic<double> last_error_{0};
  std::atomic<std::uint64_t> position_seq_{0};
  std::atomic<std::int64_t> position_frame_{0}, position_local_us_{0};
  std::atomic<bool> position_playing_{false};
};

}  // namespace chorus::playback
