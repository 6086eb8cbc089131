#pragma once
// WakeLead: how much earlier than a block's deadline a paced output's thread asks to be woken, so
// that its writes land on their deadlines on average instead of one wake-up latency after them.
//
// A timed sleep ends late by the kernel's timer latency plus, in a virtual machine, the time the
// host takes to wake an idle vCPU: tens of microseconds, different from writer to writer (which
// CPU, how idle it was, which other real-time thread was due at the same instant). Those
// differences are skew between rooms that no clock estimate can see. Each output learns its own
// latency from its own wake-ups and wakes that much early.
//
// The lead tracks the median of the observed latencies (woke − asked), one step per wake-up
// towards each sample: the median ignores the rare long stall, needs no memory, and never
// allocates, so the audio thread may call it. The latency does not depend on when the thread
// asks to be woken, so leading by it cannot feed back into it. Pure: latencies are passed in.

#include <algorithm>
#include <chrono>

namespace chorus::playback {

class WakeLead {
 public:
  /// How far one wake-up moves the lead: 1 µs a block, so a 10 ms-block output learns a 50 µs
  /// latency in half a second, and the lead wanders by about a step around the median.
  static constexpr std::chrono::nanoseconds kStep{1'000};
  /// Never wake earlier than this: past it, latency is the platform stalling, not waking.
  static constexpr std::chrono::nanoseconds kMostLead{300'000};

  /// How much earlier than the deadline to ask to be woken.
  std::chrono::nanoseconds lead() const { return lead_; }

  /// One wake-up's latency: when the thread woke minus when it asked to.
  void observe(std::chrono::nanoseconds late) {
    if (late > lead_) lead_ = std::min(lead_ + kStep, kMostLead);
    else if (late < lead_) lead_ = std::max(lead_ - kStep, std::chrono::nanoseconds{0});
  }

 private:
  std::chrono::nanoseconds lead_{0};
};

}  // namespace chorus::playback
