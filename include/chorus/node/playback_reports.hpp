#pragma once
// What `list` and the playback part of `status` and `debug` print.

#include <string>

#include <boost/json/object.hpp>

#include "chorus/playback/library.hpp"
#include "chorus/playback/schedule.hpp"

namespace chorus::node {

struct PlaybackView;

/// One line, e.g. "playing 02-chord.flac from frame 0 at 123456789 us (epoch 2, seq 5)".
std::string describe_state(const playback::PlaybackState& state);


/// "m:ss.mmm" for a frame count at the output rate.
std::string format_frames(std::int64_t frames);

/// The playback lines of `status`.
std::string playback_status_text(const PlaybackView& view);
/// The output's and engine's counters of trouble, for `debug`: underruns, lost devices, timeline
/// jumps, late writes, frames slewed.
std::string output_anomalies_text(const PlaybackView& view);
/// The clock estimate's sanity checks, for `debug`: samples held back, outliers dropped, steps
/// of the leader's clock adopted, samples rejected.
std::string clock_checks_text(const PlaybackView& view);
/// The library lines of `status`: own and cluster tracks, the cache, each fetch under way.
std::string library_status_text(const PlaybackView& view);
/// The playback fields of `status --json` (the library's under "library"), added to `out`.
void add_playback_status(boost::json::object& out, const PlaybackView& view);

}  // namespace chorus::node
