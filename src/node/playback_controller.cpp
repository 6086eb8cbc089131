#include "chorus/node/playback_controller.hpp"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "chorus/node/playback_reports.hpp"
#include "chorus/time_base.hpp"

namespace chorus::node {

namespace asio = boost::asio;

PlaybackController::PlaybackController(asio::io_context& io, net::Transport& network,
                                       ClockSampler& clock_sampler, playback::PlayerConfig config,
                                       StateHeldHandler on_state_held)
    : io_(io),
      network_(network),
      player_(
          std::move(config), [&io](std::function<void()> work) { asio::post(io, std::move(work)); },
          [this] { feed([&](std::int64_t now) { core_->track_opened(now); }); }),
      clock_sampler_(clock_sampler),
      on_state_held_(std::move(on_state_held)),
      end_timer_(io),
      state_request_timer_(io),
      control_timer_(io) {}

PlaybackController::~PlaybackController() { stop(); }

void PlaybackController::start() {
  player_.start();
  // The id is known once the network has started.
  core_.emplace(network_.id(), *player_.library().snapshot());
}

void PlaybackController::stop() {
  state_request_timer_.cancel();
  control_timer_.cancel();
  player_.stop();
  end_timer_.cancel();
}

// ---- inputs ------------------------------------------------------------------------------

void PlaybackController::on_leadership(const election::Status& status) {
  feed([&](std::int64_t now) { core_->leadership(now, status); });
}

void PlaybackController::on_stalled() {
  feed([&](std::int64_t now) { core_->stalled(now); });
}

void PlaybackController::receive(const std::string& from, const protocol::Message& message) {
  feed([&](std::int64_t now) { core_->receive(now, from, message); });
}

void PlaybackController::command(const cli::Command& command, Reply reply) {
  if (!core_) return reply("error: playback has not started");
  auto token = next_token_++;
  replies_[token] = std::move(reply);
  feed([&](std::int64_t now) { core_->command(now, command, token); });
}

void PlaybackController::on_clock_sample() {
  feed([&](std::int64_t now) {
    const auto& clock = clock_sampler_.clock();
    core_->clock_updated(now, LeaderClock{clock.sample_count(), clock.synced(), clock.mapping()});
  });
}

template <class Input>
void PlaybackController::feed(Input&& input) {
  if (!core_) return;  // not started
  core_->set_lead(lead_us());
  input(now_us());
  act(core_->take_effects());
}

std::int64_t PlaybackController::lead_us() const {
  // Followers must hold the command before their output asks for the block it starts in.
  auto lead = network_.max_rtt().count() + player_.fill_ahead_us() + 15'000;
  return std::clamp<std::int64_t>(lead, kDefaultLeadUs, 500'000);
}

// ---- effects -----------------------------------------------------------------------------

void PlaybackController::act(PlaybackEffects effects) {
  if (effects.clock_sampling) {
    if (effects.clock_sampling->leader) clock_sampler_.follow(*effects.clock_sampling->leader);
    else clock_sampler_.pause();
  }
  std::vector<Outgoing> unsent;
  for (auto& out : effects.messages) {
    if (!out.to) network_.broadcast(out.message);
    else if (!network_.send(*out.to, out.message)) unsent.push_back(std::move(out));
  }
  if (effects.keep_open) player_.keep_open(*effects.keep_open);
  for (const auto& track : effects.open_early) player_.open(track);
  if (effects.publication) player_.play(*effects.publication);
  // The election may make this node lead at once: not from inside this input.
  if (effects.state_held) asio::post(io_, [this] { on_state_held_(); });
  for (const auto& line : effects.log) {
    switch (line.level) {
      case LogLevel::debug: spdlog::debug("{}", line.text); break;
      case LogLevel::info: spdlog::info("{}", line.text); break;
      case LogLevel::warn: spdlog::warn("{}", line.text); break;
    }
  }
  arm(end_timer_, armed_.end_of_track, effects.deadlines.end_of_track, &PlaybackCore::end_of_track_due);
  arm(state_request_timer_, armed_.state_request, effects.deadlines.state_request,
      &PlaybackCore::state_request_due);
  arm(control_timer_, armed_.control, effects.deadlines.control, &PlaybackCore::control_due);
  for (const auto& reply_effect : effects.replies) reply(reply_effect);
  for (const auto& out : unsent) {
    feed([&](std::int64_t now) { core_->unsent(now, *out.to, out.message); });
  }
}

void PlaybackController::arm(asio::steady_timer& timer, std::optional<std::int64_t>& armed,
                             std::optional<std::int64_t> wanted,
                             void (PlaybackCore::*due)(std::int64_t)) {
  if (armed == wanted) return;
  armed = wanted;
  timer.cancel();
  if (!wanted) return;
  timer.expires_at(from_us(*wanted));
  timer.async_wait([this, &armed, due](const boost::system::error_code& ec) {
    if (ec) return;
    armed.reset();  // fired: whatever the core wants next is armed anew
    feed([&](std::int64_t now) { ((*core_).*due)(now); });
  });
}

void PlaybackController::reply(const PromptReply& reply_effect) {
  auto it = replies_.find(reply_effect.token);
  if (it == replies_.end()) return;
  auto callback = std::move(it->second);
  replies_.erase(it);
  callback(reply_effect.text);
}

// ---- views -------------------------------------------------------------------------------

std::string PlaybackController::list_report(bool json) const {
  const auto& library = player_.library();
  return json ? track_list_json(library) : track_list_text(library);
}

PlaybackView PlaybackController::view() const {
  PlaybackView view;
  view.now_local_us = now_us();
  if (!core_) return view;
  view.state = core_->state();
  view.missing_track = player_.missing_track(view.state);
  view.position = player_.position();
  const auto stats = player_.stats();
  view.engine = stats.engine;
  view.output_stats = stats.output;
  view.clock = clock_sampler_.clock().status(view.now_local_us);
  view.following_clock = !core_->leading();
  view.state_synced = core_->state_synced();
  view.output = player_.describe_output();
  view.ignored_commands = core_->stale_commands();
  return view;
}

}  // namespace chorus::node
