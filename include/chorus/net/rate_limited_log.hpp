#pragma once
// RateLimitedLog: at most one line per period for an error that may repeat without bound (a
// failing accept, a refused duplicate), with the number of lines held back since the last one.
// Time is passed in, so the policy is testable. Not thread-safe: one per io-thread owner.

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include <spdlog/common.h>

namespace chorus::net {

class RateLimitedLog {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RateLimitedLog(Clock::duration period = std::chrono::seconds(5)) : period_(period) {}

  /// Whether a line may be written at `now`. If so, returns how many were suppressed since the
  /// last one written; if not, counts this one as suppressed and returns nothing.
  std::optional<std::uint64_t> admit(Clock::time_point now);

  /// Writes `message` at `level` if admitted, noting how many similar lines were suppressed.
  void write(spdlog::level::level_enum level, const std::string& message,
             Clock::time_point now = Clock::now());

 private:
  Clock::duration period_;
  std::optional<Clock::time_point> last_written_;
  std::uint64_t suppressed_ = 0;
};

}  // namespace chorus::net
