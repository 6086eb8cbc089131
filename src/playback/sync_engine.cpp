#include "chorus/playback/sync_engine.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace chorus::playback {

namespace {

/// The output slot nearest to leader instant `to`, counted from a slot at `from` (to > from):
/// (to − from) · 48000 / 1e6 = (to − from) · 6 / 125, rounded to nearest.
std::int64_t slots_until(std::int64_t from, std::int64_t to) { return ((to - from) * 6 + 62) / 125; }

/// Microseconds from the first slot of a block to slot `slot`, rounded to nearest.
std::int64_t slot_offset_us(std::int64_t slot) { return (slot * 125 + 3) / 6; }

/// The exact (fractional) frame the schedule puts at leader instant `t` while playing.
double exact_frame(const PlaybackState& state, std::int64_t t) {
  return static_cast<double>(state.anchor_frame) +
         static_cast<double>(t - state.anchor_us) * (static_cast<double>(kOutputRate) / 1e6);
}

}  // namespace

SyncEngine::SyncEngine(EngineTuning tuning) : tuning_(tuning) {
  // The audio thread copies a track's content hash (64 hex digits) here: with the room made now,
  // that copy never allocates.
  playhead_hash_.reserve(64);
}

void SyncEngine::publish(Snapshot snapshot) {
  mailbox_.publish(std::make_unique<const Snapshot>(std::move(snapshot)));
}

void SyncEngine::render(std::span<std::int16_t> out, std::int64_t audible_at_local_us) {
  blocks_.fetch_add(1, std::memory_order_relaxed);
  timing_error_us_ = 0;
  const Snapshot* snapshot = mailbox_.latest();
  const auto frames = out.size() / kChannels;
  if (snapshot == nullptr) {
    silence(out);
    note_position(0, audible_at_local_us, false);
    return;
  }
  const auto t = snapshot->clock.to_leader(audible_at_local_us);
  const auto switch_at = snapshot->current.state.anchor_us;
  if (t >= switch_at) {
    render_segment(out, t, snapshot->current);
  } else {
    // The current state starts inside (or after) this block: split the block at its instant.
    auto before = static_cast<std::size_t>(std::min<std::int64_t>(
        static_cast<std::int64_t>(frames), slots_until(t, switch_at)));
    render_segment(out.first(before * kChannels), t, snapshot->previous);
    if (before < frames) {
      render_segment(out.subspan(before * kChannels),
                     t + slot_offset_us(static_cast<std::int64_t>(before)), snapshot->current);
    }
  }
  note_position(playhead_, audible_at_local_us + slot_offset_us(static_cast<std::int64_t>(frames)), playhead_valid_);
}

void SyncEngine::render_segment(std::span<std::int16_t> out, std::int64_t leader_us,
                                const ScheduledState& scheduled) {
  if (out.empty()) return;
  timing_error_us_ = 0;  // the block's timing error is its last segment's
  auto position = position_at(scheduled.state, leader_us);
  if (position.kind == Position::Kind::playing || position.kind == Position::Kind::lead_in) {
    play_from(out, exact_frame(scheduled.state, leader_us), scheduled);
  } else {
    silence(out);
    playhead_valid_ = false;  // paused, stopped or ended: the next start is a fresh one
  }
}

void SyncEngine::play_from(std::span<std::int16_t> out, double expected,
                           const ScheduledState& scheduled) {
  const auto frames = out.size() / kChannels;
  const double expected_at_end = expected + static_cast<double>(frames);
  if (expected < 0) {
    // Lead-in: silence until the slot nearest to the track's first frame, then start exactly.
    auto lead = static_cast<std::size_t>(std::llround(-expected));
    if (lead >= frames) {
      silence(out);
      playhead_valid_ = false;
      return;
    }
    silence(out.first(lead * kChannels));
    out = out.subspan(lead * kChannels);
    expected = 0;
    playhead_valid_ = false;
  }
  const auto& hash = scheduled.state.track->hash;
  std::int64_t corrections = 0;
  if (!playhead_valid_ || playhead_hash_ != hash) {
    playhead_ = std::llround(expected);
    playhead_hash_ = hash;
    playhead_valid_ = true;
  } else {
    corrections = corrections_for(expected, out.size() / kChannels);
  }
  copy_frames(out, scheduled, corrections);
  timing_error_us_ = (static_cast<double>(playhead_) - expected_at_end) * kFrameUs;
}

std::int64_t SyncEngine::corrections_for(double expected, std::size_t frames) {
  double error = static_cast<double>(playhead_) - expected;
  last_error_.store(error, std::memory_order_relaxed);
  if (std::abs(error) > tuning_.jump_threshold_frames) {
    jumps_.fetch_add(1, std::memory_order_relaxed);
    playhead_ = std::llround(expected);
    return 0;
  }
  if (std::abs(error) < 0.5) return 0;
  auto limit = std::max<std::int64_t>(1, static_cast<std::int64_t>(frames * tuning_.max_slew));
  return std::clamp<std::int64_t>(std::llround(error), -limit, limit);
}

void SyncEngine::copy_frames(std::span<std::int16_t> out, const ScheduledState& scheduled,
                             std::int64_t corrections) {
  const auto frames = static_cast<std::int64_t>(out.size() / kChannels);
  const auto count = std::abs(corrections);
  std::int64_t source = playhead_;
  std::int64_t slot = 0;
  std::int64_t missing = 0;
  // Copies output slots [slot, until) from consecutive source frames.
  const auto copy_run = [&](std::int64_t until) {
    const auto run = out.subspan(static_cast<std::size_t>(slot * kChannels), static_cast<std::size_t>((until - slot) * kChannels));
    if (scheduled.audio) {
      missing += scheduled.audio->read(source, run);
    } else {
      silence(run);
    }
    source += until - slot;
    slot = until;
  };
  // The corrections sit in the middle of `count` equal parts of the block.
  for (std::int64_t fix = 0; fix < count; ++fix) {
    copy_run((2 * fix + 1) * frames / (2 * count));
    if (corrections < 0) {
      ++source;  // drop a frame: we are behind
    } else {
      copy_run(slot + 1);
      --source;  // repeat that frame: we are ahead
    }
  }
  copy_run(frames);
  if (corrections > 0) inserted_.fetch_add(static_cast<std::uint64_t>(count), std::memory_order_relaxed);
  if (corrections < 0) dropped_.fetch_add(static_cast<std::uint64_t>(count), std::memory_order_relaxed);
  if (missing > 0) not_decoded_.fetch_add(static_cast<std::uint64_t>(missing), std::memory_order_relaxed);
  playhead_ = source;
}

void SyncEngine::silence(std::span<std::int16_t> out) {
  std::fill(out.begin(), out.end(), std::int16_t{0});
}

void SyncEngine::note_position(std::int64_t frame, std::int64_t local_us, bool playing) {
  // Seqlock: odd while writing; readers retry. The audio thread never waits.
  auto seq = position_seq_.load(std::memory_order_relaxed);
  position_seq_.store(seq + 1, std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_release);
  position_frame_.store(frame, std::memory_order_relaxed);
  position_local_us_.store(local_us, std::memory_order_relaxed);
  position_playing_.store(playing, std::memory_order_relaxed);
  position_seq_.store(seq + 2, std::memory_order_release);
}

EnginePosition SyncEngine::position() const {
  EnginePosition position;
  std::uint64_t before = 0;
  std::uint64_t after = 0;
  do {
    before = position_seq_.load(std::memory_order_acquire);
    position.frame = position_frame_.load(std::memory_order_relaxed);
    position.local_us = position_local_us_.load(std::memory_order_relaxed);
    position.playing = position_playing_.load(std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    after = position_seq_.load(std::memory_order_relaxed);
  } while (before != after || (before & 1) != 0);
  return position;
}

EngineStats SyncEngine::stats() const {
  return {blocks_.load(std::memory_order_relaxed), inserted_.load(std::memory_order_relaxed),
          dropped_.load(std::memory_order_relaxed), jumps_.load(std::memory_order_relaxed),
          not_decoded_.load(std::memory_order_relaxed), last_error_.load(std::memory_order_relaxed)};
}

}  // namespace chorus::playback
