#pragma once
// HeardAnchor: when a pulse stream's first byte is heard, as the server's timing updates place
// it, each update checked against the last one trusted before it steers the output.
//
// Why. Each timing update places the stream on the local clock (pulse_timing.hpp): byte 0 is
// heard at the update's timestamp + the sink's latency − the read index. Traced on PulseAudio
// 16.1 (null sinks, a 2-core VM, 21 000 updates): 99 % of the updates agree with the one before
// within 0.1 ms, but about 1 in 900 is off by 0.25 to 15 ms, and the next update puts the stream
// back where it was. libpulse asks for an update 10 ms after a stream starts and then doubles the
// interval up to 1.5 s, so such an update steered the output for up to 1.5 s (traced: an update
// 0.42 ms off stayed the latest for 1.49 s; where the probe recorded the node's sink meanwhile it
// was 0.38-0.45 ms early, and back within ~40 µs once the next update came), and one more than
// 2 ms off made the output jump there and back (DeviceClock::reset_us).
//
// Rule. An update within kAgreeUs of the trusted anchor is taken: the sink's drift and the
// updates' own scatter move the anchor by less between two updates. One further off is held, and
// the output asks the server for another update at once. If that one agrees with the held update,
// the step was real (a sink whose clock drifts far from ours, a stream moved to another sink) and
// is taken; if it agrees with the trusted anchor, the held update is dropped. After kMostHeld
// disagreeing updates in a row the newest is taken, so a stream whose updates scatter widely is
// followed, never frozen. A new timeline (the stream opened, or restarted after an underrun) takes
// its first update as it comes, for there is nothing to check it against, and asks for another at
// once to confirm it: otherwise a bad first update, which an underrun on a stalled machine makes
// likelier, would steer the output until libpulse's next automatic update, up to 1.5 s later.
//
// Pure: no clock, no libpulse; the anchors are passed in.

#include <cstdint>
#include <optional>

namespace chorus::playback::detail {

class HeardAnchor {
 public:
  /// Two updates closer than this place the stream alike.
  static constexpr std::int64_t kAgreeUs = 250;
  /// Disagreeing updates held in a row before the newest is taken anyway.
  static constexpr int kMostHeld = 3;

  /// An update's anchor (µs, the instant byte 0 is heard). True when the caller should ask for
  /// another update now: this one was held, or it starts a timeline and awaits confirmation.
  bool offer(std::int64_t anchor_us) {
    if (!trusted_) {
      trust(anchor_us);
      return true;
    }
    const bool confirms_held = held_ && agree(anchor_us, *held_);
    if (agree(anchor_us, *trusted_) || confirms_held || held_in_a_row_ >= kMostHeld) {
      trust(anchor_us);
      return false;
    }
    held_ = anchor_us;
    ++held_in_a_row_;
    ++held_total_;
    return true;
  }

  /// A new timeline: the next update is taken as it comes.
  void restart() {
    trusted_.reset();
    held_.reset();
    held_in_a_row_ = 0;
  }

  /// An update is held, awaiting the one asked for to confirm or drop it.
  bool holding() const { return held_.has_value(); }
  /// The anchor the output uses; none before the first update of a timeline.
  std::optional<std::int64_t> trusted_us() const { return trusted_; }
  /// Updates held back since construction (each answered by a request for another).
  std::uint64_t held_total() const { return held_total_; }

 private:
  static bool agree(std::int64_t a, std::int64_t b) { return a - b <= kAgreeUs && b - a <= kAgreeUs; }

  void trust(std::int64_t anchor_us) {
    trusted_ = anchor_us;
    held_.reset();
    held_in_a_row_ = 0;
  }

  std::optional<std::int64_t> trusted_;
  std::optional<std::int64_t> held_;
  int held_in_a_row_ = 0;
  std::uint64_t held_total_ = 0;
};

}  // namespace chorus::playback::detail
