#include "chorus/clock/clock_mapping.hpp"

#include <cmath>

namespace chorus::clock {

double ClockMapping::offset_at(std::int64_t local_us) const {
  return offset_us + drift * static_cast<double>(local_us - ref_local_us);
}

std::int64_t ClockMapping::to_leader(std::int64_t local_us) const {
  return local_us + std::llround(offset_at(local_us));
}

std::int64_t ClockMapping::to_local(std::int64_t leader_us) const {
  // Invert leader = local·(1 + drift) + offset − drift·ref, relative to ref.
  const double local = (static_cast<double>(leader_us - ref_local_us) - offset_us) / (1.0 + drift);
  return ref_local_us + std::llround(local);
}

}  // namespace chorus::clock
