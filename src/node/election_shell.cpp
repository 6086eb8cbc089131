#include "chorus/node/election_shell.hpp"

#include <algorithm>
#include <random>

#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

namespace chorus::node {

using std::chrono::duration_cast;
using std::chrono::microseconds;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

namespace {

constexpr std::int64_t kTicksBetweenTimeoutUpdates = 25;
/// A leader re-announces itself this often (50 ticks of 20 ms: once a second, at the first
/// wake-up after the tick).
constexpr std::int64_t kTicksBetweenReannouncements = 50;

protocol::Message to_wire(const election::Envelope& envelope) {
  switch (envelope.kind) {
    case election::MessageKind::election: return protocol::Election{envelope.from, envelope.epoch};
    case election::MessageKind::answer: return protocol::ElectionAnswer{envelope.from, envelope.epoch};
    case election::MessageKind::coordinator: return protocol::Coordinator{envelope.from, envelope.epoch};
  }
  return protocol::Election{envelope.from, envelope.epoch};
}


election::RandomSource seeded_random() {
  auto engine = std::make_shared<std::mt19937_64>(std::random_device{}());
  return [engine](std::int64_t n) {
    return std::uniform_int_distribution<std::int64_t>(0, n - 1)(*engine);
  };
}

}  // namespace

election::Timeouts ElectionTiming::timeouts_for(microseconds max_rtt) const {
  auto ticks = [this](microseconds span) {
    return std::max<std::int64_t>(1, (span + tick - microseconds{1}) / tick);
  };
  auto bounded = [](microseconds floor, microseconds span, microseconds ceiling) {
    return std::clamp(span, floor, std::max(floor, ceiling));
  };
  election::Timeouts timeouts;
  timeouts.discovery = ticks(bounded(discovery_floor, max_rtt * 10, discovery_ceiling));
  timeouts.answer = ticks(bounded(answer_floor, max_rtt * 4, answer_ceiling));
  timeouts.coordinator = ticks(bounded(coordinator_floor, max_rtt * 8, coordinator_ceiling));
  timeouts.jitter = ticks(jitter);
  return timeouts;
}

ElectionShell::ElectionShell(boost::asio::io_context& io, net::Transport& network, Rank self,
                             bool preempt, ElectionTiming timing, ChangeHandler on_change,
                             StallHandler on_stall)
    : timer_(io),
      network_(network),
      timing_(timing),
      core_(std::move(self),
            election::Config{timing.timeouts_for(microseconds{0}), preempt,
                             /*eligible_at_start=*/false},
            seeded_random()),
      on_change_(std::move(on_change)),
      on_stall_(std::move(on_stall)) {}

void ElectionShell::start(bool lead) {
  running_ = true;
  ticker_.emplace(Clock::now(), timing_.tick, timing_.stall_watch, timing_.stall_threshold);
  if (lead) core_.lead_now();
  flush();
  rearm();
}

void ElectionShell::stop() {
  running_ = false;
  timer_.cancel();
  timer_at_.reset();
}

void ElectionShell::catch_up() {
  if (!running_) return;
  const auto now = Clock::now();
  if (auto late = ticker_->stall(now)) {
    spdlog::warn("this process was frozen for {} ms; its leadership and playback state are stale",
                 duration_cast<milliseconds>(*late).count());
    core_.stalled();
    flush();
    on_stall_();
  }
  const auto due = ticker_->take_due(now);
  for (auto tick = ticker_->ticks() - due + 1; tick <= ticker_->ticks(); ++tick) run_tick(tick);
}

void ElectionShell::run_tick(std::int64_t tick) {
  if (tick % kTicksBetweenTimeoutUpdates == 0) {
    core_.set_timeouts(timing_.timeouts_for(network_.max_rtt()));
  }
  if (tick % kTicksBetweenReannouncements == 0 && core_.role() == election::Role::leader) {
    core_.reannounce();
  }
  core_.tick();
  flush();
}

void ElectionShell::on_wakeup() {
  timer_at_.reset();
  catch_up();
  // The network manager's run, due at the same instant, may not have run yet: when it has, its
  // next run is known, and the watch can share that wake-up too.
  if (auto shared = network_.next_wakeup(); shared && *shared <= Clock::now()) {
    boost::asio::post(timer_.get_executor(), [this] { rearm(); });
    return;
  }
  rearm();
}

void ElectionShell::rearm() {
  if (!running_) return;
  const auto at = ticker_->arm(Clock::now(), core_.ticks_until_timeout(), network_.next_wakeup());
  if (timer_at_ == at) return;
  timer_at_ = at;
  timer_.expires_at(at);
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && running_) on_wakeup();
  });
}

std::optional<Clock::time_point> ElectionShell::armed() const { return timer_at_; }

void ElectionShell::peer_up(const net::PeerInfo& peer) {
  catch_up();
  core_.peer_up(Rank{peer.priority, peer.id});
  flush();
  rearm();
}

void ElectionShell::peer_down(const std::string& id) {
  catch_up();
  core_.peer_down(id);
  flush();
  rearm();
}

void ElectionShell::receive(const protocol::Election& message) {
  step({election::MessageKind::election, message.from, core_.rank().id, message.epoch});
}

void ElectionShell::receive(const protocol::ElectionAnswer& message) {
  step({election::MessageKind::answer, message.from, core_.rank().id, message.epoch});
}

void ElectionShell::receive(const protocol::Coordinator& message) {
  step({election::MessageKind::coordinator, message.from, core_.rank().id, message.epoch});
}

void ElectionShell::step(const election::Envelope& envelope) {
  catch_up();
  core_.step(envelope);
  flush();
  rearm();
}

void ElectionShell::set_eligible(bool eligible) {
  core_.set_eligible(eligible);
  flush();
  rearm();
}

void ElectionShell::flush() {
  for (const auto& envelope : core_.take_outbox()) network_.send(envelope.to, to_wire(envelope));
  for (const auto& status : core_.take_changes()) on_change_(status);
}

std::optional<milliseconds> ElectionShell::last_election() const {
  auto ticks = core_.stats().last_election_ticks;
  if (!ticks) return std::nullopt;
  return timing_.tick * *ticks;
}

}  // namespace chorus::node
