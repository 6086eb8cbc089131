#include "chorus/node/playback_controller.hpp"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include "chorus/node/playback_reports.hpp"

namespace chorus::node {

namespace asio = boost::asio;
using playback::PlaybackState;
using playback::Status;
using std::chrono::microseconds;
using std::chrono::milliseconds;

namespace {

constexpr milliseconds kControlTimeout{2000};
/// How long before a track's end the leader sends the command that starts the next one.
constexpr microseconds kEndOfTrackMargin{50'000};
constexpr std::size_t kMaxEarlyCommands = 64;
constexpr milliseconds kStateRequestRetry{500};

protocol::TrackRef track_ref(const playback::TrackInfo& info) {
  return {static_cast<std::int64_t>(info.index), info.file_name, info.content_hash, info.frames};
}

/// The wire command that moves a follower from any state to `next`.
protocol::Message command_for(const std::string& from, const PlaybackState& next) {
  switch (next.status) {
    case Status::playing:
      return protocol::PlayRequest{from, next.epoch, next.seq, *next.track, next.anchor_frame, next.anchor_us};
    case Status::paused:
      return protocol::PauseRequest{from, next.epoch, next.seq, next.anchor_frame, next.anchor_us};
    case Status::stopped: break;
  }
  return protocol::StopRequest{from, next.epoch, next.seq, next.anchor_us};
}

/// The state a follower is in after `message`, given the state it had.
std::optional<PlaybackState> state_after(const PlaybackState& applied, const protocol::Message& message) {
  PlaybackState next;
  if (auto* play = std::get_if<protocol::PlayRequest>(&message)) {
    next = {play->epoch, play->seq, Status::playing, play->track, play->at_us, play->frame};
  } else if (auto* pause = std::get_if<protocol::PauseRequest>(&message)) {
    next = {pause->epoch, pause->seq, Status::paused, applied.track, pause->at_us, pause->frame};
  } else if (auto* resume = std::get_if<protocol::ResumeRequest>(&message)) {
    next = {resume->epoch, resume->seq, Status::playing, applied.track, resume->at_us, resume->frame};
  } else if (auto* stop = std::get_if<protocol::StopRequest>(&message)) {
    next = {stop->epoch, stop->seq, Status::stopped, std::nullopt, stop->at_us, 0};
  } else {
    return std::nullopt;
  }
  if (next.status != Status::stopped && !next.track) next.status = Status::stopped;
  return next;
}

PlaybackState from_sync(const protocol::StateSyncResponse& sync) {
  return {sync.epoch, sync.seq, sync.status, sync.track, sync.anchor_us, sync.anchor_frame};
}

/// `state` (in the old leader's time, read through `old_clock`) in this node's own clock,
/// re-anchored at `now_local` so that no frame moves, whatever the two clocks' rates.
PlaybackState to_own_clock(const PlaybackState& state, const playback::ClockMapping& old_clock,
                           std::int64_t now_local) {
  auto now_old = old_clock.to_leader(now_local);
  PlaybackState mine = state.anchor_us < now_old ? playback::reanchor(state, now_old) : state;
  mine.anchor_us = old_clock.to_local(mine.anchor_us);
  return mine;
}

}  // namespace

PlaybackController::PlaybackController(asio::io_context& io, net::NetworkManager& network,
                                       PlaybackConfig config, StateHeldHandler on_state_held)
    : io_(io),
      network_(network),
      config_(std::move(config)),
      time_sync_(io, network, [this] { on_clock_sample(); }),
      on_state_held_(std::move(on_state_held)),
      end_timer_(io),
      state_request_timer_(io) {}

PlaybackController::~PlaybackController() { stop(); }

void PlaybackController::start() {
  library_ = playback::Library::scan(config_.tracks);
  if (!library_.error().empty()) spdlog::warn("tracks: {}", library_.error());
  spdlog::info("{} tracks in {}", library_.size(), config_.tracks.string());
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
  opener_.stop();  // an open under way finishes; queued ones are dropped
  opener_.join();
  if (output_) output_->stop();
  end_timer_.cancel();
  time_sync_.stop();
}

// ---- both roles --------------------------------------------------------------------------

std::optional<std::size_t> PlaybackController::next_playable(std::size_t index) const {
  for (auto next = index + 1; next < library_.size(); ++next) {
    if (library_.track(next)->playable()) return next;
  }
  return std::nullopt;
}

void PlaybackController::keep_open() {
  std::set<std::string> wanted;
  for (const auto* state : {&previous_, &applied_}) {
    if (state->track) wanted.insert(state->track->hash);
  }
  // The next track too, so that the end of this one flows into it without a gap.
  if (auto current = current_index()) {
    if (auto next = next_playable(*current)) wanted.insert(library_.track(*next)->content_hash);
  }
  std::erase_if(open_, [&](const auto& entry) { return !wanted.contains(entry.first); });
  for (const auto& hash : wanted) {
    if (open_.contains(hash) || opening_.contains(hash)) continue;
    // Decoding starts where the track will be read: mid-track for a node taking over.
    const bool current = applied_.track && applied_.track->hash == hash;
    open_track(hash, current ? frame_now(applied_) : 0);
  }
}

void PlaybackController::open_track(const std::string& hash, std::int64_t start) {
  auto index = library_.find_by_hash(hash);
  if (!index) return;  // not in this node's library: it stays silent (see status)
  opening_.insert(hash);
  asio::post(opener_, [this, hash, index = *index, start] {
    auto opened = library_.open(index, start);
    asio::post(io_, [this, hash, opened] {
      opening_.erase(hash);
      if (!opened.ok()) return spdlog::warn("cannot open {}: {}", hash.substr(0, 12), opened.error);
      open_[hash] = opened.audio;
      publish();
    });
  });
}

std::shared_ptr<const playback::TrackAudio> PlaybackController::audio_for(const PlaybackState& state) const {
  if (!state.track) return nullptr;
  auto it = open_.find(state.track->hash);
  return it == open_.end() ? nullptr : it->second;
}

std::int64_t PlaybackController::leader_now_us() const {
  const auto now = playback::steady_now_us();
  return leading() ? now : time_sync_.clock().to_leader(now);
}

std::int64_t PlaybackController::frame_now(const PlaybackState& state) const {
  return playback::position_at(state, leader_now_us()).frame;
}

void PlaybackController::apply(const PlaybackState& next) {
  replace_state(next);
  publish();
  if (leading()) arm_end_of_track();
}

void PlaybackController::replace_state(const PlaybackState& next) {
  auto now_leader = leader_now_us();
  // The state the new one replaces is the one in effect now, not a future one never reached.
  previous_ = now_leader >= applied_.anchor_us ? applied_ : previous_;
  applied_ = next;
}

void PlaybackController::publish() {
  // While a follower re-syncs to a new leader it has no mapping for the state it holds (the
  // state is in the old leader's clock until the new one's arrives): the engine keeps the last
  // snapshot (old state, old clock estimate) and plays on undisturbed.
  if (!leading() && !(time_sync_.synced() && state_synced_)) return;
  keep_open();
  auto now = playback::steady_now_us();
  playback::Snapshot snapshot;
  snapshot.clock = leading() ? playback::ClockMapping{} : time_sync_.mapping(now);
  played_clock_ = snapshot.clock;
  snapshot.previous = {previous_, audio_for(previous_)};
  snapshot.current = {applied_, audio_for(applied_)};
  // A start or a jump elsewhere in the track: have the decoder go there before the engine does.
  if (snapshot.current.audio && applied_.status == playback::Status::playing) {
    snapshot.current.audio->hint(frame_now(applied_));
  }
  engine_.publish(std::move(snapshot));
}

bool PlaybackController::handle(const std::string& from, const protocol::Message& message,
                                net::Clock::time_point received) {
  if (time_sync_.handle(from, message, received)) return true;
  return std::visit(
      [&](const auto& m) -> bool {
        using T = std::decay_t<decltype(m)>;
        if constexpr (std::is_same_v<T, protocol::PlayRequest> || std::is_same_v<T, protocol::PauseRequest> ||
                      std::is_same_v<T, protocol::ResumeRequest> || std::is_same_v<T, protocol::StopRequest>) {
          on_command(from, message);
        } else if constexpr (std::is_same_v<T, protocol::StateSyncRequest>) {
          if (leading()) {
            network_.send(from, protocol::StateSyncResponse{network_.id(), applied_.epoch, applied_.seq,
                                                            applied_.status, applied_.track,
                                                            applied_.anchor_us, applied_.anchor_frame});
          }
        } else if constexpr (std::is_same_v<T, protocol::StateSyncResponse>) {
          on_state_sync(from, m);
        } else if constexpr (std::is_same_v<T, protocol::ControlRequest>) {
          answer_control(from, m);
        } else if constexpr (std::is_same_v<T, protocol::ControlResponse>) {
          on_control_response(m);
        } else {
          return false;
        }
        return true;
      },
      message);
}

void PlaybackController::on_leadership(const election::Status& status) {
  bool was_leading = leading();
  auto old_leader = leadership_.leader;
  leadership_ = status;
  if (leading()) {
    if (!was_leading) take_over(status.epoch);
  } else if (status.leader && status.leader != old_leader) {
    follow(*status.leader);
  } else if (!status.leader) {
    time_sync_.pause();  // keep playing on the last schedule while an election runs
  }
  if (!leading()) end_timer_.cancel();
}

// ---- leader ------------------------------------------------------------------------------

void PlaybackController::take_over(std::uint64_t epoch) {
  auto now = playback::steady_now_us();
  // The old leader's state arrived but its clock burst had not finished: adopt the state with
  // the estimate so far (the election counted this node as holding it).
  if (pending_sync_ && time_sync_.clock().sample_count() > 0) apply_pending_sync();
  if (auto old_clock = clock_of_state(now)) {
    // What this node plays is the newest state it knows: the election makes a node lead with
    // an older one only when nobody alive holds a newer one.
    applied_ = to_own_clock(applied_, *old_clock, now);
    previous_ = to_own_clock(previous_, *old_clock, now);
  } else {
    applied_ = {};  // never played a state: nobody alive held one, so stopped is the truth
    previous_ = {};
  }
  time_sync_.pause();
  applied_.epoch = epoch;
  applied_.seq = 0;
  state_synced_ = true;
  pending_sync_.reset();
  spdlog::info("taking over playback: {}", describe_state(applied_));
  publish();
  arm_end_of_track();
}

std::optional<playback::ClockMapping> PlaybackController::clock_of_state(std::int64_t now) const {
  const auto& clock = time_sync_.clock();
  // The leader whose state is applied: its clock as estimated now, if only from a sample or two.
  if (state_synced_ && clock.sample_count() > 0) {
    return playback::ClockMapping{now, clock.offset_us(now), clock.drift_ppm() * 1e-6};
  }
  return played_clock_;
}

std::int64_t PlaybackController::lead_us() const {
  // Followers must hold the command before their output asks for the block it starts in.
  auto lead = network_.max_rtt().count() + output_->fill_ahead_us() + 15'000;
  return std::clamp<std::int64_t>(lead, 20'000, 500'000);
}

std::optional<std::size_t> PlaybackController::current_index() const {
  if (!applied_.track) return std::nullopt;
  return library_.find_by_hash(applied_.track->hash);
}

PlaybackController::Outcome PlaybackController::issue(const PlaybackState& next,
                                                      const std::string& what) {
  network_.broadcast(command_for(network_.id(), next));
  apply(next);
  return {true, fmt::format("{} in {} ms", what, (next.anchor_us - playback::steady_now_us() + 500) / 1000)};
}

PlaybackController::Outcome PlaybackController::play_index(std::size_t index, std::int64_t at_us) {
  const auto* track = library_.track(index);
  if (!track) return {false, fmt::format("no track {} (the list has {})", index + 1, library_.size())};
  if (!track->playable()) return {false, fmt::format("track {} cannot be played: {}", index + 1, track->error)};
  auto next = playback::play(applied_, leadership_.epoch, track_ref(*track), 0, at_us);
  return issue(next, "playing " + track->file_name);
}

PlaybackController::Outcome PlaybackController::execute(const cli::Command& command) {
  using cli::CommandKind;
  auto at = playback::steady_now_us() + lead_us();
  auto epoch = leadership_.epoch;
  switch (command.kind) {
    case CommandKind::play:
      if (command.track < 1) return {false, "tracks are numbered from 1 (see list)"};
      return play_index(static_cast<std::size_t>(command.track - 1), at);
    case CommandKind::pause:
      if (auto next = playback::pause(applied_, epoch, at)) return issue(*next, "pausing");
      return {false, "nothing is playing"};
    case CommandKind::resume:
      if (auto next = playback::resume(applied_, epoch, at)) return issue(*next, "resuming");
      return {false, "nothing is paused"};
    case CommandKind::stop:
      return issue(playback::stop(applied_, epoch, at), "stopping");
    case CommandKind::next:
    case CommandKind::prev: {
      if (library_.size() == 0) return {false, "the track list is empty"};
      auto index = current_index();
      std::size_t target = 0;
      if (command.kind == CommandKind::next) target = index ? *index + 1 : 0;
      else target = index && *index > 0 ? *index - 1 : 0;
      if (target >= library_.size()) return {false, "already at the last track"};
      return play_index(target, at);
    }
    default:
      return {false, fmt::format("'{}' is not a playback command", cli::spec(command.kind).name)};
  }
}

void PlaybackController::arm_end_of_track() {
  end_timer_.cancel();
  auto end = playback::end_instant(applied_);
  if (!end) return;
  auto fire_at = *end - lead_us() - kEndOfTrackMargin.count();
  end_timer_.expires_at(net::Clock::time_point(microseconds(fire_at)));
  end_timer_.async_wait([this, epoch = applied_.epoch, seq = applied_.seq, end = *end](const boost::system::error_code& ec) {
    if (!ec) on_end_of_track(epoch, seq, end);
  });
}

void PlaybackController::on_end_of_track(std::uint64_t epoch, std::uint64_t seq, std::int64_t end_us) {
  if (!leading() || applied_.epoch != epoch || applied_.seq != seq) return;
  auto index = current_index();
  auto next = index ? next_playable(*index) : std::nullopt;
  // The next track starts on the very frame after this one ends.
  auto outcome = next ? play_index(*next, end_us)
                      : issue(playback::stop(applied_, leadership_.epoch, end_us), "end of list");
  spdlog::info("end of track: {}", outcome.text);
}

void PlaybackController::answer_control(const std::string& from, const protocol::ControlRequest& request) {
  std::string line = request.command;
  for (const auto& arg : request.args) line += " " + arg;
  Outcome outcome{false, "this node is not the leader"};
  if (leading()) {
    auto parsed = cli::parse_command(line);
    if (auto* command = std::get_if<cli::Command>(&parsed)) outcome = execute(*command);
    else outcome = {false, "not a command: " + line};
  }
  network_.send(from, protocol::ControlResponse{network_.id(), request.id, outcome.ok,
                                                outcome.ok ? std::string() : outcome.text});
}

void PlaybackController::command(const cli::Command& command, Reply reply) {
  if (leading()) {
    auto outcome = execute(command);
    return reply((outcome.ok ? "ok: " : "error: ") + outcome.text);
  }
  forward(command, std::move(reply));
}

// ---- follower ----------------------------------------------------------------------------

void PlaybackController::follow(const std::string& leader) {
  state_synced_ = false;
  pending_sync_.reset();
  early_commands_.clear();
  time_sync_.follow(leader);
  request_state();
}

void PlaybackController::on_stalled() {
  if (leading()) return;
  state_synced_ = false;
  pending_sync_.reset();
  early_commands_.clear();
  spdlog::info("re-fetching the playback state after a stall");
  request_state();
}

void PlaybackController::request_state() {
  if (leading() || !leadership_.leader || state_synced_ || pending_sync_) return;
  network_.send(*leadership_.leader, protocol::StateSyncRequest{network_.id()});
  state_request_timer_.expires_after(kStateRequestRetry);
  state_request_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec) request_state();
  });
}

void PlaybackController::on_state_sync(const std::string& from, const protocol::StateSyncResponse& response) {
  if (leading() || leadership_.leader != from) return;
  pending_sync_ = response;
  // Open the track while the clock burst runs, so it is ready the moment the state applies
  // (where it is then, as far as the clock estimate can tell yet).
  if (response.track && !open_.contains(response.track->hash) && !opening_.contains(response.track->hash)) {
    open_track(response.track->hash, frame_now(from_sync(response)));
  }
  on_clock_sample();
}

void PlaybackController::on_clock_sample() {
  // From the moment this node can map the leader's state, however roughly, it holds it: a
  // takeover now would adopt it (take_over), so the election may let it stand.
  if (pending_sync_ && time_sync_.clock().sample_count() > 0) {
    asio::post(io_, [this] { on_state_held_(); });  // the election may make us lead at once
  }
  if (!time_sync_.synced()) return;
  if (pending_sync_) apply_pending_sync();
  if (state_synced_) publish();  // also carries the refined clock estimate
}

void PlaybackController::apply_pending_sync() {
  auto state = from_sync(*pending_sync_);
  pending_sync_.reset();
  state_synced_ = true;
  if (state.track && !library_.find_by_hash(state.track->hash)) {
    spdlog::warn("the leader plays {}, which is not in this node's library: staying silent",
                 state.track->name);
  }
  previous_ = applied_;
  applied_ = state;
  spdlog::info("synced with the leader: {}", describe_state(applied_));
  for (const auto& early : std::exchange(early_commands_, {})) {
    auto next = state_after(applied_, early);
    if (next && playback::supersedes(next->epoch, next->seq, applied_)) replace_state(*next);
  }
}

void PlaybackController::on_command(const std::string& from, const protocol::Message& message) {
  if (!leading() && leadership_.leader == from && !state_synced_) {
    // Applied after the leader's state, if newer than it. Only a handful can arrive while a
    // clock burst runs; the cap only guards against a misbehaving peer.
    if (early_commands_.size() < kMaxEarlyCommands) early_commands_.push_back(message);
    return;
  }
  auto next = state_after(applied_, message);
  if (!next || leading() || leadership_.leader != from ||
      next->epoch < leadership_.epoch || !playback::supersedes(next->epoch, next->seq, applied_)) {
    ++stale_commands_;
    spdlog::debug("ignoring {} from {}", protocol::type_name(message), from);
    return;
  }
  apply(*next);
}

void PlaybackController::forward(const cli::Command& command, Reply reply) {
  if (!leadership_.leader) return reply("error: no leader is known yet; try again in a moment");
  auto id = next_control_id_++;
  std::vector<std::string> args;
  if (command.kind == cli::CommandKind::play) args.push_back(std::to_string(command.track));
  std::string name(cli::spec(command.kind).name);
  if (!network_.send(*leadership_.leader, protocol::ControlRequest{network_.id(), id, name, args})) {
    return reply("error: the leader " + *leadership_.leader + " is not reachable");
  }
  auto deadline = std::make_unique<asio::steady_timer>(io_, kControlTimeout);
  deadline->async_wait([this, id](const boost::system::error_code& ec) {
    if (ec) return;
    auto it = pending_controls_.find(id);
    if (it == pending_controls_.end()) return;
    auto late = std::move(it->second.reply);
    pending_controls_.erase(it);
    late("error: the leader did not answer within 2 s");
  });
  pending_controls_[id] = {std::move(reply), std::move(deadline)};
}

void PlaybackController::on_control_response(const protocol::ControlResponse& response) {
  auto it = pending_controls_.find(response.id);
  if (it == pending_controls_.end()) return;
  auto reply = std::move(it->second.reply);
  pending_controls_.erase(it);
  reply(response.ok ? "ok (by the leader " + response.from + ")" : "error: " + response.error);
}

// ---- views -------------------------------------------------------------------------------

std::string PlaybackController::list_report(bool json) const {
  return json ? track_list_json(library_) : track_list_text(library_);
}

PlaybackView PlaybackController::view() const {
  PlaybackView view;
  view.now_local_us = playback::steady_now_us();
  view.state = applied_;
  if (applied_.track && !library_.find_by_hash(applied_.track->hash)) view.missing_track = applied_.track->name;
  view.position = engine_.position();
  view.engine = engine_.stats();
  view.clock = time_sync_.clock().status(view.now_local_us);
  view.following_clock = !leading();
  view.state_synced = state_synced_ || leading();
  view.output = output_ ? output_->describe() : "none";
  if (output_) view.output_stats = output_->stats();
  view.ignored_commands = stale_commands_;
  return view;
}

}  // namespace chorus::node
