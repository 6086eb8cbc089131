#include "chorus/node/clock_sampler.hpp"

#include <cmath>

#include <boost/asio/post.hpp>

#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"

namespace chorus::node {

ClockSampler::ClockSampler(boost::asio::io_context& io, net::Transport& network,
                           std::function<void()> on_sample, clock::SamplingPolicy policy)
    : io_(io),
      network_(network),
      on_sample_(std::move(on_sample)),
      policy_(policy),
      leader_(io),
      heir_(io) {}

void ClockSampler::follow(const std::string& leader) {
  remember_leader_followed();
  prior_taken_ = false;
  if (adopt_heir(leader)) return;
  restart(leader_, leader);
}

void ClockSampler::pause() {
  remember_leader_followed();
  stop(leader_);
}

void ClockSampler::watch_heir(const std::optional<std::string>& heir) {
  if (heir == heir_.peer) return;
  if (heir) {
    restart(heir_, *heir);
  } else {
    stop(heir_);
    heir_.clock.reset();
  }
}

void ClockSampler::restart(Window& window, const std::string& peer) {
  window.peer = peer;
  window.clock.reset();
  window.answered_id = next_id_ - 1;
  send_request(window);
  schedule_request(window);
}

void ClockSampler::stop(Window& window) {
  window.peer.reset();
  window.timer.cancel();
}

bool ClockSampler::adopt_heir(const std::string& leader) {
  if (heir_.peer != leader || heir_.clock.sample_count() == 0) return false;
  // The heir's clock is the new leader's: its window, and the requests in flight to it, carry on.
  leader_.peer = leader;
  leader_.clock = heir_.clock;
  leader_.answered_id = heir_.answered_id;
  stop(heir_);
  heir_.clock.reset();
  const auto& clock = leader_.clock;
  spdlog::info("clock: following {} from the estimate kept while it was the heir ({} samples, "
               "drift {:+.2f} ppm, error {:.0f} µs)",
               leader, clock.sample_count(), clock.drift_ppm(), clock.error_us());
  schedule_request(leader_);
  // A synced estimate is usable now; playback hears of it once the leader change is acted on.
  if (clock.synced()) {
    boost::asio::post(io_, [this] {
      if (leader_.peer) on_sample_();
    });
  }
  return true;
}

void ClockSampler::remember_leader_followed() {
  // The rate against a leader is that leader's rate minus this node's, as announced.
  if (leader_.peer && leader_.clock.synced()) {
    followed_before_ =
        protocol::RateBefore{*leader_.peer, std::llround(leader_.clock.drift_ppm() * 1000.0)};
  }
}

void ClockSampler::take_prior_rate(const std::string& from, const protocol::RateBefore& announced) {
  prior_taken_ = true;
  // Both rates are against the same old leader L: (L − this) − (L − new leader) = new − this.
  // If this node was L (a leader that stepped down and now follows), its rate against itself is 0.
  std::optional<std::int64_t> own_ppb;
  if (announced.leader == network_.id()) {
    own_ppb = 0;
  } else if (followed_before_ && announced.leader == followed_before_->leader) {
    own_ppb = followed_before_->drift_ppb;
  }
  if (!own_ppb) return;
  const double prior_ppm = static_cast<double>(*own_ppb - announced.drift_ppb) / 1000.0;
  leader_.clock.set_prior_drift(prior_ppm);
  spdlog::info("clock: {} runs {:+.2f} ppm against this node, from both rates against {}", from,
               prior_ppm, announced.leader);
}

void ClockSampler::schedule_request(Window& window, std::optional<net::Clock::time_point> last_due) {
  const auto now = to_us(net::Clock::now());
  const auto shared = network_.next_wakeup();
  const auto at = policy_.next_request_at_us(last_due ? to_us(*last_due) : now, now,
                                            policy_.next_interval_us(window.clock),
                                            shared ? std::optional(to_us(*shared)) : std::nullopt);
  window.timer.expires_at(from_us(at));
  window.timer.async_wait([this, &window](const boost::system::error_code& ec) {
    if (ec || !window.peer) return;
    send_request(window);
    // The next request goes out on schedule whether or not this one is answered.
    schedule_request(window, window.timer.expiry());
  });
}

void ClockSampler::send_request(Window& window) {
  auto id = next_id_++;
  auto self = network_.id();
  network_.send_stamped(*window.peer, [id, self](std::int64_t t0) {
    return protocol::TimeRequest{self, id, t0};
  });
}

void ClockSampler::on_request(const std::string& from, const protocol::TimeRequest& request,
                              net::Clock::time_point received) {
  auto t1 = to_us(received);
  auto self = network_.id();
  network_.send_stamped(from, [self, id = request.id, t0 = request.t0_us, t1,
                               before = followed_before_](std::int64_t t2) {
    return protocol::TimeResponse{self, id, t0, t1, t2, before};
  });
}

bool ClockSampler::takes(Window& window, const std::string& from,
                         const protocol::TimeResponse& response) {
  // Not only the latest request's answer: with a round trip longer than the burst interval
  // (30 ms) every answer arrives after the next request left, and none would count.
  if (!window.peer || from != *window.peer || response.id <= window.answered_id ||
      response.id >= next_id_) {
    return false;
  }
  window.answered_id = response.id;
  return true;
}

void ClockSampler::on_response(const std::string& from, const protocol::TimeResponse& response,
                               net::Clock::time_point received) {
  const clock::Sample sample{response.t0_us, response.t1_us, response.t2_us, to_us(received)};
  if (takes(leader_, from, response)) {
    if (!prior_taken_ && response.rate_before) take_prior_rate(from, *response.rate_before);
    on_leader_sample(from, sample);
  } else if (takes(heir_, from, response)) {
    add_sample(heir_, sample);
  }
}

clock::SampleVerdict ClockSampler::add_sample(Window& window, const clock::Sample& sample) {
  auto verdict = window.clock.add_sample(sample.t0_us, sample.t1_us, sample.t2_us, sample.t3_us);
  // Re-measure at the burst rate rather than after a steady interval.
  if (verdict == clock::SampleVerdict::held) schedule_request(window);
  return verdict;
}

void ClockSampler::on_leader_sample(const std::string& from, const clock::Sample& sample) {
  const double predicted = leader_.clock.offset_us(sample.t0_us + (sample.t3_us - sample.t0_us) / 2);
  switch (add_sample(leader_, sample)) {
    case clock::SampleVerdict::accepted:
      on_sample_();
      break;
    case clock::SampleVerdict::held:
      if (leader_.clock.held_samples() == 1) {
        spdlog::debug("clock: {} answered {:+.1f} ms off the estimate (round trip {:.1f} ms); "
                      "held back, re-measuring",
                      from, (sample.offset_us() - predicted) / 1000.0,
                      static_cast<double>(sample.delay_us()) / 1000.0);
      }
      break;
    case clock::SampleVerdict::step:
      spdlog::warn("clock: the leader {}'s clock stepped by {:+.1f} ms; adopted after {} consistent "
                   "samples",
                   from, leader_.clock.jumps().last_step_us / 1000.0, leader_.clock.sample_count());
      on_sample_();
      break;
    default:
      break;
  }
}

}  // namespace chorus::node
