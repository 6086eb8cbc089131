#include "chorus/node/playback_controller.hpp"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "chorus/node/playback_reports.hpp"

namespace chorus::node {

namespace asio = boost::asio;
using std::chrono::microseconds;

PlaybackController::PlaybackController(asio::io_context& io, net::Transport& network,
                                       ClockSampler& clock_sampler, PlaybackConfig config,
                                       StateHeldHandler on_state_held)
    : io_(io),
      network_(network),
      config_(std::move(config)),
      clock_sampler_(clock_sampler),
      on_state_held_(std::move(on_state_held)),
      end_timer_(io),
      state_request_timer_(io),
      control_timer_(io) {}

PlaybackController::~PlaybackController() { stop(); }

void PlaybackController::start() {
  library_ = playback::Library::scan(config_.tracks);
  if (!library_.error().empty()) spdlog::warn("tracks: {}", library_.error());
  spdlog::info("{} tracks in {}", library_.size(), config_.tracks.string());
  core_.emplace(network_.id(), library_.tracks());  // the id is known once the network started
  auto made = playback::make_output(config_.output, config_.block_frames,
                                    std::chrono::duration_cast<microseconds>(config_.latency));
  if (!made.output) throw std::runtime_error("--output: " + made.error);
  output_ = std::move(made.output);
  if (!output_->start(engine_)) {
    spdlog::warn("output {} could not start; continuing on null output", output_->describe());
    output_ = playback::make_output("null", config_.block_frames,
                                    std::chrono::duration_cast<microseconds>(config_.latency)).output;
    output_->start(engine_);
  }
  spdlog::info("output: {}", output_->describe());
}

void PlaybackController::stop() {
  state_request_timer_.cancel();
  control_timer_.cancel();
  opener_.stop();  // an open under way finishes; queued ones are dropped
  opener_.join();
  if (output_) output_->stop();
  end_timer_.cancel();
  clock_sampler_.stop();
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
    core_->clock_updated(now, LeaderClock{clock.sample_count(), clock.synced(),
                                         {now, clock.offset_us(now), clock.drift_ppm() * 1e-6}});
  });
}

template <class Input>
void PlaybackController::feed(Input&& input) {
  if (!core_) return;  // not started
  core_->set_lead(lead_us());
  input(playback::steady_now_us());
  act(core_->take_effects());
}

std::int64_t PlaybackController::lead_us() const {
  // Followers must hold the command before their output asks for the block it starts in.
  auto fill_ahead = output_ ? output_->fill_ahead_us() : 0;
  auto lead = network_.max_rtt().count() + fill_ahead + 15'000;
  return std::clamp<std::int64_t>(lead, 20'000, 500'000);
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
  if (effects.keep_open) keep_open(*effects.keep_open);
  for (const auto& track : effects.open_early) open_track(track);
  if (effects.publication) publish(*effects.publication);
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
  timer.expires_at(net::Clock::time_point(microseconds(*wanted)));
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

void PlaybackController::publish(const Publication& publication) {
  playback::Snapshot snapshot;
  snapshot.clock = publication.clock;
  snapshot.previous = {publication.previous, audio_for(publication.previous)};
  snapshot.current = {publication.current, audio_for(publication.current)};
  // A start or a jump elsewhere in the track: have the decoder go there before the engine does.
  if (snapshot.current.audio && publication.current_frame) {
    snapshot.current.audio->hint(*publication.current_frame);
  }
  engine_.publish(std::move(snapshot));
}

std::shared_ptr<const playback::TrackAudio> PlaybackController::audio_for(
    const playback::PlaybackState& state) const {
  if (!state.track) return nullptr;
  auto it = open_.find(state.track->hash);
  return it == open_.end() ? nullptr : it->second;
}

void PlaybackController::keep_open(const std::vector<TrackToOpen>& tracks) {
  std::erase_if(open_, [&](const auto& entry) {
    return std::none_of(tracks.begin(), tracks.end(),
                        [&](const TrackToOpen& track) { return track.hash == entry.first; });
  });
  for (const auto& track : tracks) open_track(track);
}

void PlaybackController::open_track(const TrackToOpen& track) {
  if (open_.contains(track.hash) || opening_.contains(track.hash)) return;
  auto index = library_.find_by_hash(track.hash);
  if (!index) return;  // not in this node's library: it stays silent (see status)
  opening_.insert(track.hash);
  asio::post(opener_, [this, hash = track.hash, index = *index, start = track.start_frame] {
    auto opened = library_.open(index, start);
    asio::post(io_, [this, hash, opened] {
      opening_.erase(hash);
      if (!opened.ok()) return spdlog::warn("cannot open {}: {}", hash.substr(0, 12), opened.error);
      open_[hash] = opened.audio;
      feed([&](std::int64_t now) { core_->track_opened(now); });
    });
  });
}

// ---- views -------------------------------------------------------------------------------

std::string PlaybackController::list_report(bool json) const {
  return json ? track_list_json(library_) : track_list_text(library_);
}

PlaybackView PlaybackController::view() const {
  PlaybackView view;
  view.now_local_us = playback::steady_now_us();
  if (!core_) return view;
  view.state = core_->state();
  if (view.state.track && !library_.find_by_hash(view.state.track->hash)) {
    view.missing_track = view.state.track->name;
  }
  view.position = engine_.position();
  view.engine = engine_.stats();
  view.clock = clock_sampler_.clock().status(view.now_local_us);
  view.following_clock = !core_->leading();
  view.state_synced = core_->state_synced();
  view.output = output_ ? output_->describe() : "none";
  if (output_) view.output_stats = output_->stats();
  view.ignored_commands = core_->stale_commands();
  return view;
}

}  // namespace chorus::node
