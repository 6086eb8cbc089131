#pragma once
// TrackToOpen: a track the audio player should hold open, as the playback rules
// (node::PlaybackCore) name it: by content hash, which every node's library shares.

#include <cstdint>
#include <string>

namespace chorus::playback {

struct TrackToOpen {
  std::string hash;
  std::int64_t start_frame = 0;  ///< where decoding starts: the track is read from there first
  friend bool operator==(const TrackToOpen&, const TrackToOpen&) = default;
};

}  // namespace chorus::playback
