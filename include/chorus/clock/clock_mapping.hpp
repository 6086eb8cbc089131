#pragma once
// ClockMapping: another node's clock (the leader's) as seen from this one, a straight line from
// local steady-clock µs to leader µs. ClockSync estimates it; the playback rules and the sync
// engine convert with it. The default mapping is the identity: the leader's own clock.

#include <cstdint>

namespace chorus::clock {

/// leader = local + offset + drift · (local − ref). Arithmetic is relative to `ref_local_us`, so
/// offsets of ±10⁹ µs on a steady clock reading 10¹⁵ µs lose no precision.
struct ClockMapping {
  std::int64_t ref_local_us = 0;  ///< the local instant `offset_us` is taken at
  double offset_us = 0;           ///< leader − local at ref_local_us
  double drift = 0;               ///< leader rate − local rate, dimensionless (1e-4 = 100 ppm)

  /// Leader minus local at local instant `local_us`.
  double offset_at(std::int64_t local_us) const;
  /// Leader time when the local clock reads `local_us`, rounded to the µs.
  std::int64_t to_leader(std::int64_t local_us) const;
  /// Local time at which the leader's clock reads `leader_us`; to_leader's inverse within 1 µs.
  std::int64_t to_local(std::int64_t leader_us) const;
};

}  // namespace chorus::clock
