#include "chorus/playback/schedule.hpp"

#include <algorithm>
#include <limits>
#include <numeric>
#include <utility>

namespace chorus::playback {
namespace {

__extension__ typedef __int128 Wide;  // exact products of int64 times and rates

constexpr Wide kMicros = 1'000'000;
/// The shortest whole-µs span holding a whole number of frames: 125 µs (6 frames) at 48 kHz.
constexpr std::int64_t kAlignUs = 1'000'000 / std::gcd(std::int64_t{1'000'000}, kOutputRate);

std::int64_t saturate(Wide v) {
  constexpr Wide lo = std::numeric_limits<std::int64_t>::min();
  constexpr Wide hi = std::numeric_limits<std::int64_t>::max();
  return static_cast<std::int64_t>(std::clamp(v, lo, hi));
}

/// ⌊a / b⌋ for b > 0.
Wide floor_div(Wide a, Wide b) { return a / b - (a % b < 0 ? 1 : 0); }
/// ⌈a / b⌉ for b > 0.
Wide ceil_div(Wide a, Wide b) { return -floor_div(-a, b); }

Wide wide_frames_in(Wide us) { return floor_div(us * kOutputRate, kMicros); }
Wide wide_us_for(Wide frames) { return ceil_div(frames * kMicros, kOutputRate); }

/// The unclamped frame at `at_us` while playing from the state's anchor.
Wide playing_frame(const PlaybackState& s, std::int64_t at_us) {
  return Wide{s.anchor_frame} + wide_frames_in(Wide{at_us} - s.anchor_us);
}

/// The state after a command: stamped (epoch, seq + 1), everything else as given.
PlaybackState next(const PlaybackState& s, std::uint64_t epoch, PlayStatus status,
                   std::optional<Track> track, std::int64_t at_us, std::int64_t frame) {
  return {epoch, s.seq + 1, status, std::move(track), at_us, frame};
}

}  // namespace

std::int64_t frames_in(std::int64_t us) { return saturate(wide_frames_in(us)); }

std::int64_t us_for(std::int64_t frames) { return saturate(wide_us_for(frames)); }

Position position_at(const PlaybackState& state, std::int64_t at_us) {
  using Kind = Position::Kind;
  if (state.status == PlayStatus::stopped || !state.track) return {Kind::silent, 0};
  const std::int64_t length = state.track->frames;
  const Wide frame =
      state.status == PlayStatus::paused ? Wide{state.anchor_frame} : playing_frame(state, at_us);
  if (frame >= length) return {Kind::ended, length};
  if (state.status == PlayStatus::paused) return {Kind::paused, state.anchor_frame};
  return {frame < 0 ? Kind::lead_in : Kind::playing, saturate(frame)};
}

std::int64_t frame_at(const PlaybackState& state, std::int64_t at_us) {
  return std::max<std::int64_t>(position_at(state, at_us).frame, 0);
}

std::optional<std::int64_t> end_instant(const PlaybackState& state) {
  if (state.status != PlayStatus::playing || !state.track) return std::nullopt;
  return saturate(Wide{state.anchor_us} +
                  wide_us_for(Wide{state.track->frames} - state.anchor_frame));
}

PlaybackState play(const PlaybackState& state, std::uint64_t epoch, const Track& track,
                   std::int64_t frame, std::int64_t at_us) {
  return next(state, epoch, PlayStatus::playing, track, at_us, frame);
}

std::optional<PlaybackState> pause(const PlaybackState& state, std::uint64_t epoch,
                                   std::int64_t at_us) {
  if (state.status != PlayStatus::playing) return std::nullopt;
  return next(state, epoch, PlayStatus::paused, state.track, at_us, frame_at(state, at_us));
}

std::optional<PlaybackState> resume(const PlaybackState& state, std::uint64_t epoch,
                                    std::int64_t at_us) {
  if (state.status != PlayStatus::paused) return std::nullopt;
  return next(state, epoch, PlayStatus::playing, state.track, at_us, state.anchor_frame);
}

std::optional<PlaybackState> seek(const PlaybackState& state, std::uint64_t epoch,
                                  std::int64_t frame, std::int64_t at_us) {
  if (state.status == PlayStatus::stopped || !state.track) return std::nullopt;
  const std::int64_t last = std::max<std::int64_t>(state.track->frames - 1, 0);
  return next(state, epoch, state.status, state.track, at_us, std::clamp<std::int64_t>(frame, 0, last));
}

PlaybackState stop(const PlaybackState& state, std::uint64_t epoch, std::int64_t at_us) {
  return next(state, epoch, PlayStatus::stopped, std::nullopt, at_us, 0);
}

PlaybackState reanchor(const PlaybackState& state, std::int64_t at_us) {
  PlaybackState moved = state;
  moved.anchor_us = at_us;
  if (state.status != PlayStatus::playing) return moved;
  const Wide since = Wide{at_us} - state.anchor_us;
  const Wide aligned = floor_div(since, kAlignUs) * kAlignUs;
  moved.anchor_us = saturate(Wide{state.anchor_us} + aligned);
  moved.anchor_frame = saturate(Wide{state.anchor_frame} + wide_frames_in(aligned));
  return moved;
}

bool supersedes(std::uint64_t epoch, std::uint64_t seq, const PlaybackState& applied) {
  return epoch > applied.epoch || (epoch == applied.epoch && seq > applied.seq);
}

}  // namespace chorus::playback
