#pragma once
// Schedule: pure playback math in leader time (integer µs of the leader's steady clock). Which
// frame is audible at an instant, the leader's state transitions for timed commands, when a
// late command should start, and which command wins. No clock, no audio, no I/O: callers pass
// every instant in (a follower converts its local clock with its ClockMapping first).
//
// Rounding, stated once: frame f (relative to an anchor) starts at the first whole microsecond
// at or after f · 1e6 / kOutputRate, and the frame audible at instant t is the last one started:
//   frame(t) = anchor_frame + ⌊(t − anchor_us) · kOutputRate / 1e6⌋   (floor, also for t < anchor)
//   start(f) = anchor_us + ⌈(f − anchor_frame) · 1e6 / kOutputRate⌉    so frame(start(f)) == f.
// At 48 kHz that is ⌊Δt · 6 / 125⌋: every 125 µs holds exactly 6 frames, so anchors 125 µs
// apart agree exactly. Arithmetic is exact (128-bit intermediates) and saturates at the int64
// range instead of overflowing.

#include "chorus/playback/format.hpp"
#include "chorus/protocol/messages.hpp"

#include <cstdint>
#include <optional>

namespace chorus::playback {

/// stopped, playing or paused: the wire's PlaybackStatus.
using PlayStatus = protocol::PlaybackStatus;
/// Track identity {index, name, hash, frames}; frames is the length at kOutputRate.
using Track = protocol::TrackRef;

/// The whole playback state {epoch, seq, status, track, anchor_us, anchor_frame}: the wire's,
/// so the state sent and the state applied are one type. Here its times are leader time.
using PlaybackState = protocol::WireState;

/// Whole frames elapsed in `us` microseconds at kOutputRate: ⌊us · rate / 1e6⌋.
std::int64_t frames_in(std::int64_t us);
/// Microseconds from an anchor until `frames` frames later starts: ⌈frames · 1e6 / rate⌉.
std::int64_t us_for(std::int64_t frames);

/// What should be audible at one instant.
struct Position {
  enum class Kind {
    silent,   ///< stopped
    lead_in,  ///< playing, but the track starts later: `frame` < 0 counts up to its first frame
    playing,  ///< `frame` is audible
    paused,   ///< `frame` is held
    ended,    ///< played past the end; `frame` is the track's length
  };
  Kind kind = Kind::silent;
  std::int64_t frame = 0;
  friend bool operator==(const Position&, const Position&) = default;
};

/// The position at leader instant `at_us`.
Position position_at(const PlaybackState& state, std::int64_t at_us);
/// The frame at `at_us` clamped to [0, track length]: where a pause at that instant holds.
/// 0 when stopped.
std::int64_t frame_at(const PlaybackState& state, std::int64_t at_us);
/// The leader instant at which the track's end (frame == frames) is reached; only while playing.
std::optional<std::int64_t> end_instant(const PlaybackState& state);

// Leader transitions. Each returns the state after a command issued in `epoch` taking effect at
// leader instant `at_us`, with seq one above `state.seq`. Every frame before `at_us` is untouched.

/// Play `track` so that `frame` is audible at `at_us` (frame 0 for "from the start").
PlaybackState play(const PlaybackState& state, std::uint64_t epoch, const Track& track,
                   std::int64_t frame, std::int64_t at_us);
/// Hold the frame reached at `at_us`; nullopt unless playing.
std::optional<PlaybackState> pause(const PlaybackState& state, std::uint64_t epoch,
                                   std::int64_t at_us);
/// Continue from the held frame at `at_us`; nullopt unless paused.
std::optional<PlaybackState> resume(const PlaybackState& state, std::uint64_t epoch,
                                    std::int64_t at_us);
/// Go to `frame`, clamped to the track ([0, length − 1]), at `at_us`: playing on from it if
/// playing, holding it if paused (same track). nullopt when stopped.
std::optional<PlaybackState> seek(const PlaybackState& state, std::uint64_t epoch,
                                  std::int64_t frame, std::int64_t at_us);
/// Fall silent at `at_us`; the track is forgotten.
PlaybackState stop(const PlaybackState& state, std::uint64_t epoch, std::int64_t at_us);

/// The same playback re-expressed with an anchor at or just before `at_us` (at most 124 µs
/// before, so that no frame moves: anchors 125 µs apart agree exactly). A new leader uses it to
/// take over the state: re-anchor in the old leader's time, then translate anchor_us.
PlaybackState reanchor(const PlaybackState& state, std::int64_t at_us);

/// True if a command stamped (epoch, seq) is newer than the applied state: a higher epoch, or
/// the same epoch and a higher seq. Anything else is stale and ignored.
bool supersedes(std::uint64_t epoch, std::uint64_t seq, const PlaybackState& applied);

}  // namespace chorus::playback
