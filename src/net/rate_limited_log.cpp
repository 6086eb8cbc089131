#include "chorus/net/rate_limited_log.hpp"

#include <utility>

#include <spdlog/spdlog.h>

namespace chorus::net {

std::optional<std::uint64_t> RateLimitedLog::admit(Clock::time_point now) {
  if (last_written_ && now - *last_written_ < period_) {
    ++suppressed_;
    return std::nullopt;
  }
  last_written_ = now;
  return std::exchange(suppressed_, 0);
}

void RateLimitedLog::write(spdlog::level::level_enum level, const std::string& message,
                           Clock::time_point now) {
  auto suppressed = admit(now);
  if (!suppressed) return;
  if (*suppressed == 0) {
    spdlog::log(level, "{}", message);
  } else {
    spdlog::log(level, "{} ({} similar lines suppressed)", message, *suppressed);
  }
}

}  // namespace chorus::net
