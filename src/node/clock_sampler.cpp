#include "chorus/node/clock_sampler.hpp"

#include <cmath>

#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"

namespace chorus::node {

ClockSampler::ClockSampler(boost::asio::io_context& io, net::Transport& network,
                   std::function<void()> on_sample)
    : timer_(io), network_(network), on_sample_(std::move(on_sample)) {}

void ClockSampler::follow(const std::string& leader) {
  remember_leader_followed();
  leader_ = leader;
  clock_.reset();
  prior_taken_ = false;
  answered_id_ = next_id_ - 1;
  send_request();
}

void ClockSampler::pause() {
  remember_leader_followed();
  leader_.reset();
  timer_.cancel();
}

void ClockSampler::remember_leader_followed() {
  // The rate against a leader is that leader's rate minus this node's, as announced.
  if (leader_ && clock_.synced()) {
    followed_before_ = protocol::RateBefore{*leader_, std::llround(clock_.drift_ppm() * 1000.0)};
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
  clock_.set_prior_drift(prior_ppm);
  spdlog::info("clock: {} runs {:+.2f} ppm against this node, from both rates against {}", from,
               prior_ppm, announced.leader);
}

void ClockSampler::schedule_request() {
  auto delay = policy_.next_interval_us(clock_.sample_count(), clock_.synced(),
                                        clock_.held_samples() > 0);
  timer_.expires_after(std::chrono::microseconds(delay));
  timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && leader_) send_request();
  });
}

void ClockSampler::send_request() {
  auto id = next_id_++;
  auto self = network_.id();
  network_.send_stamped(*leader_, [id, self](std::int64_t t0) {
    return protocol::TimeRequest{self, id, t0};
  });
  // The next request goes out on schedule whether or not this one is answered.
  schedule_request();
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

void ClockSampler::on_response(const std::string& from, const protocol::TimeResponse& response,
                               net::Clock::time_point received) {
  // Only an answer from the leader we follow, to a request sent to it and not answered yet, is a
  // usable sample. Not only the latest request's: with a round trip longer than the burst
  // interval (30 ms) every answer arrives after the next request left, and none would count.
  if (!leader_ || from != *leader_ || response.id <= answered_id_ || response.id >= next_id_) return;
  answered_id_ = response.id;
  if (!prior_taken_ && response.rate_before) take_prior_rate(from, *response.rate_before);
  const clock::Sample sample{response.t0_us, response.t1_us, response.t2_us, to_us(received)};
  const double predicted = clock_.offset_us(sample.t0_us + (sample.t3_us - sample.t0_us) / 2);
  auto verdict = clock_.add_sample(sample.t0_us, sample.t1_us, sample.t2_us, sample.t3_us);
  switch (verdict) {
    case clock::SampleVerdict::accepted:
      on_sample_();
      break;
    case clock::SampleVerdict::held:
      if (clock_.held_samples() == 1) {
        spdlog::debug("clock: {} answered {:+.1f} ms off the estimate (round trip {:.1f} ms); "
                      "held back, re-measuring",
                      from, (sample.offset_us() - predicted) / 1000.0,
                      static_cast<double>(sample.delay_us()) / 1000.0);
      }
      schedule_request();  // re-measure at the burst rate rather than after a steady interval
      break;
    case clock::SampleVerdict::step:
      spdlog::warn("clock: the leader {}'s clock stepped by {:+.1f} ms; adopted after {} consistent "
                   "samples",
                   from, clock_.jumps().last_step_us / 1000.0, clock_.sample_count());
      on_sample_();
      break;
    default:
      break;
  }
}

}  // namespace chorus::node
