#pragma once
// Publication: what the audio player plays from now on, as the playback rules (node::PlaybackCore)
// decide it. The player adds the tracks' audio and hands the result to the SyncEngine.

#include <cstdint>
#include <optional>

#include "chorus/clock/clock_mapping.hpp"
#include "chorus/playback/schedule.hpp"

namespace chorus::playback {

struct Publication {
  clock::ClockMapping clock;  ///< local -> the time the states are expressed in
  PlaybackState previous;     ///< in effect until current.anchor_us
  PlaybackState current;
  /// Where the decoder should go first: while playing, the frame `current` has reached now;
  /// while paused, the frame it holds (a seek while paused moves it, and resume reads there).
  /// Only in the first publication of a state (or after its track opened), not on clock updates.
  std::optional<std::int64_t> current_frame;
};

}  // namespace chorus::playback
