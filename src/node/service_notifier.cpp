#include "chorus/node/service_notifier.hpp"

#include <systemd/sd-daemon.h>

#include <cstdlib>
#include <system_error>

#include <boost/asio/io_context.hpp>
#include <spdlog/spdlog.h>

#include "chorus/node/service_status.hpp"

namespace chorus::node {

namespace {

/// How often the status line is looked at: systemd hears of a change within this, and never of
/// more than one change in it.
constexpr auto kStatusPeriod = std::chrono::seconds(1);

std::optional<std::chrono::microseconds> watchdog_from_environment() {
  std::uint64_t usec = 0;
  // 0 (the unset_environment argument): the variables stay for anything that reads them later.
  if (::sd_watchdog_enabled(0, &usec) <= 0 || usec == 0) return std::nullopt;
  return std::chrono::microseconds(usec);
}

}  // namespace

ServiceNotifier::ServiceNotifier(boost::asio::io_context& io, const control::ControlPort& port)
    : port_(port),
      active_(std::getenv("NOTIFY_SOCKET") != nullptr),
      watchdog_(active_ ? watchdog_from_environment() : std::nullopt),
      watchdog_timer_(io),
      status_timer_(io) {}

void ServiceNotifier::ready() {
  if (!active_ || stopped_) return;
  const auto status = changed_status();
  send("READY=1\nSTATUS=" + status.value_or(last_status_));
  if (watchdog_) {
    spdlog::info("systemd watchdog: every {} ms (timeout {} ms)", (*watchdog_ / 2).count() / 1000,
                 watchdog_->count() / 1000);
    schedule_watchdog();
  }
  schedule_status();
}

void ServiceNotifier::stopping() {
  if (!active_ || stopped_) return;
  stopped_ = true;
  watchdog_timer_.cancel();
  status_timer_.cancel();
  send("STOPPING=1\nSTATUS=leaving the cluster");
}

void ServiceNotifier::send(const std::string& message) {
  const int rc = ::sd_notify(0, message.c_str());
  if (rc >= 0 || send_failed_) return;
  send_failed_ = true;  // once: a broken socket would otherwise log at every ping
  spdlog::warn("sd_notify failed: {}", std::error_code(-rc, std::generic_category()).message());
}

void ServiceNotifier::schedule_watchdog() {
  // Half the interval, as sd_watchdog_enabled(3) advises: a ping delayed by a busy machine still
  // arrives in time.
  watchdog_timer_.expires_after(*watchdog_ / 2);
  watchdog_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    send("WATCHDOG=1");
    schedule_watchdog();
  });
}

void ServiceNotifier::schedule_status() {
  status_timer_.expires_after(kStatusPeriod);
  status_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    if (auto status = changed_status()) send("STATUS=" + *status);
    schedule_status();
  });
}

std::optional<std::string> ServiceNotifier::changed_status() {
  const auto view = port_.view();
  if (!view) return std::nullopt;
  auto line = service_status_line(*view);
  if (line == last_status_) return std::nullopt;
  last_status_ = line;
  return line;
}

}  // namespace chorus::node
