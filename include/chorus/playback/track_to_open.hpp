#pragma once
// TrackToOpen: a track the audio player should hold open, as the playback rules
// (node::PlaybackCore) name it: by content hash, with what a node that lacks the file needs to
// fetch it from its peers.

#include <cstdint>
#include <string>

namespace chorus::playback {

struct TrackToOpen {
  std::string hash;
  std::int64_t start_frame = 0;  ///< where decoding starts: the track is read from there first
  // What a node without the file needs to fetch it (docs/library.md).
  std::string name;
  std::int64_t frames = 0;
  std::uint64_t size = 0;
  std::string root;
  friend bool operator==(const TrackToOpen&, const TrackToOpen&) = default;
};

}  // namespace chorus::playback
