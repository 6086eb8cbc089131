#include "chorus/node/playback_core.hpp"

#include <algorithm>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "chorus/node/playback_reports.hpp"
#include "chorus/protocol/inert_text.hpp"

namespace chorus::node {

using playback::PlaybackState;
using playback::PlayStatus;

namespace {

protocol::TrackRef track_ref(const playback::TrackInfo& info) {
  return {static_cast<std::int64_t>(info.index), info.file_name, info.content_hash, info.frames,
          info.file_size, info.chunk_root};
}

/// The wire command that moves a follower from any state to `next`.
protocol::Message command_for(const std::string& from, const PlaybackState& next) {
  switch (next.status) {
    case PlayStatus::playing:
      return protocol::PlayRequest{from, next.epoch, next.seq, *next.track, next.anchor_frame, next.anchor_us};
    case PlayStatus::paused:
      return protocol::PauseRequest{from, next.epoch, next.seq, next.anchor_frame, next.anchor_us};
    case PlayStatus::stopped: break;
  }
  return protocol::StopRequest{from, next.epoch, next.seq, next.anchor_us};
}

/// The state a follower is in after `message`, given the state it had.
std::optional<PlaybackState> state_after(const PlaybackState& applied, const protocol::Message& message) {
  PlaybackState next;
  if (auto* play = std::get_if<protocol::PlayRequest>(&message)) {
    next = {play->epoch, play->seq, PlayStatus::playing, play->track, play->at_us, play->frame};
  } else if (auto* pause = std::get_if<protocol::PauseRequest>(&message)) {
    next = {pause->epoch, pause->seq, PlayStatus::paused, applied.track, pause->at_us, pause->frame};
  } else if (auto* resume = std::get_if<protocol::ResumeRequest>(&message)) {
    next = {resume->epoch, resume->seq, PlayStatus::playing, applied.track, resume->at_us, resume->frame};
  } else if (auto* stop = std::get_if<protocol::StopRequest>(&message)) {
    next = {stop->epoch, stop->seq, PlayStatus::stopped, std::nullopt, stop->at_us, 0};
  } else {
    return std::nullopt;
  }
  if (next.status != PlayStatus::stopped && !next.track) next.status = PlayStatus::stopped;
  return next;
}

/// `state` (in the old leader's time, read through `old_clock`) in this node's own clock,
/// re-anchored at `now_local` so that no frame moves, whatever the two clocks' rates.
PlaybackState to_own_clock(const PlaybackState& state, const clock::ClockMapping& old_clock,
                           std::int64_t now_local) {
  auto now_old = old_clock.to_leader(now_local);
  PlaybackState mine = state.anchor_us < now_old ? playback::reanchor(state, now_old) : state;
  mine.anchor_us = old_clock.to_local(mine.anchor_us);
  return mine;
}

bool is_command(const protocol::Message& message) {
  return std::holds_alternative<protocol::PlayRequest>(message) ||
         std::holds_alternative<protocol::PauseRequest>(message) ||
         std::holds_alternative<protocol::ResumeRequest>(message) ||
         std::holds_alternative<protocol::StopRequest>(message);
}

/// The wire form of a prompt's playback command; empty for the other commands.
std::optional<protocol::ControlCommand> control_command(cli::CommandKind kind) {
  using cli::CommandKind;
  using protocol::ControlCommand;
  switch (kind) {
    case CommandKind::play: return ControlCommand::play;
    case CommandKind::pause: return ControlCommand::pause;
    case CommandKind::resume: return ControlCommand::resume;
    case CommandKind::stop: return ControlCommand::stop;
    case CommandKind::next: return ControlCommand::next;
    case CommandKind::prev: return ControlCommand::prev;
    case CommandKind::seek: return ControlCommand::seek;
    default: return std::nullopt;
  }
}

/// The wire form of a typed seek target.
std::optional<protocol::SeekTarget> seek_target(const cli::Command& command) {
  if (!command.seek) return std::nullopt;
  return protocol::SeekTarget{command.seek->position_us, command.seek->relative};
}

/// A position in a track for a reply: M:SS or H:MM:SS, with milliseconds when not whole.
std::string describe_position(std::int64_t frame) {
  const std::int64_t total_ms = frame * 1000 / playback::kOutputRate;
  const std::int64_t ms = total_ms % 1000;
  const std::int64_t s = total_ms / 1000 % 60;
  const std::int64_t m = total_ms / 60'000 % 60;
  const std::int64_t h = total_ms / 3'600'000;
  auto text = h > 0 ? fmt::format("{}:{:02}:{:02}", h, m, s) : fmt::format("{}:{:02}", m, s);
  if (ms != 0) text += fmt::format(".{:03}", ms);
  return text;
}

}  // namespace

PlaybackCore::PlaybackCore(std::string self, std::vector<playback::TrackInfo> tracks)
    : self_(std::move(self)), tracks_(std::move(tracks)) {}

void PlaybackCore::set_tracks(std::int64_t now, std::vector<playback::TrackInfo> tracks) {
  tracks_ = std::move(tracks);
  // The track after the current one may be another now.
  if (leading() || (clock_.synced && state_synced_)) effects_.keep_open = tracks_to_keep_open(now);
}

// ---- inputs ------------------------------------------------------------------------------

void PlaybackCore::set_lead(std::int64_t lead_us) { lead_us_ = lead_us; }

void PlaybackCore::leadership(std::int64_t now, const election::Status& status) {
  const bool was_leading = leading();
  const auto old_leader = leadership_.leader;
  leadership_ = status;
  if (leading()) {
    if (!was_leading) take_over(now);
  } else if (status.leader && status.leader != old_leader) {
    follow(now, *status.leader);
  } else if (!status.leader) {
    effects_.clock_sampling = ClockSampling{};  // play on the last schedule while an election runs
  }
  if (!leading()) {
    end_of_track_.reset();
    taken_over_.reset();
  }
}

void PlaybackCore::command(std::int64_t now, const cli::Command& command, ReplyToken token) {
  auto playback_command = control_command(command.kind);
  if (!playback_command) {
    return reply(token, fmt::format("error: '{}' is not a playback command",
                                    cli::spec(command.kind).name));
  }
  if (!leading()) return forward(now, *playback_command, command.track, seek_target(command), token);
  auto outcome = execute(now, *playback_command, command.track, seek_target(command));
  reply(token, (outcome.ok ? "ok: " : "error: ") + outcome.text);
}

void PlaybackCore::receive(std::int64_t now, const std::string& from, const protocol::Message& message) {
  if (is_command(message)) {
    on_command(now, from, message);
  } else if (std::holds_alternative<protocol::StateSyncRequest>(message)) {
    answer_state_request(from);
  } else if (auto* sync = std::get_if<protocol::StateSyncResponse>(&message)) {
    on_state_sync(now, from, *sync);
  } else if (auto* offer = std::get_if<protocol::StateOffer>(&message)) {
    on_state_offer(now, from, *offer);
  } else if (auto* request = std::get_if<protocol::ControlRequest>(&message)) {
    answer_control(now, from, *request);
  } else if (auto* response = std::get_if<protocol::ControlResponse>(&message)) {
    on_control_response(*response);
  }
}

void PlaybackCore::clock_updated(std::int64_t now, const LeaderClock& clock) {
  clock_ = clock;
  on_clock_change(now);
}

void PlaybackCore::track_opened(std::int64_t now) { publish(now); }

void PlaybackCore::end_of_track_due(std::int64_t now) {
  if (!end_of_track_ || now < end_of_track_->fire_at) return;
  auto due = *std::exchange(end_of_track_, std::nullopt);
  if (!leading() || applied_.epoch != due.epoch || applied_.seq != due.seq) return;
  auto index = current_index();
  auto next = index ? next_playable(*index) : std::nullopt;
  // The next track starts on the very frame after this one ends.
  auto outcome = next ? play_index(now, *next, due.end_us)
                      : issue(now, playback::stop(applied_, leadership_.epoch, due.end_us), "end of list");
  note(LogLevel::info, "end of track: " + outcome.text);
}

void PlaybackCore::state_request_due(std::int64_t now) {
  if (!state_request_at_ || now < *state_request_at_) return;
  state_request_at_.reset();
  request_state(now);
}

void PlaybackCore::control_due(std::int64_t now) {
  for (auto it = pending_controls_.begin(); it != pending_controls_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    reply(it->second.token, fmt::format("error: the leader did not answer within {} s", kControlTimeoutUs / 1'000'000));
    it = pending_controls_.erase(it);
  }
}

void PlaybackCore::stalled(std::int64_t now) {
  if (leading()) return;
  forget_leader_state();
  note(LogLevel::info, "re-fetching the playback state after a stall");
  request_state(now);
}

void PlaybackCore::unsent(std::int64_t, const std::string& to, const protocol::Message& message) {
  auto* request = std::get_if<protocol::ControlRequest>(&message);
  if (!request) return;
  auto it = pending_controls_.find(request->id);
  if (it == pending_controls_.end()) return;
  reply(it->second.token, "error: the leader " + to + " is not reachable");
  pending_controls_.erase(it);
}

PlaybackEffects PlaybackCore::take_effects() {
  effects_.deadlines = deadlines();
  return std::exchange(effects_, PlaybackEffects{});
}

// ---- leader ------------------------------------------------------------------------------

void PlaybackCore::take_over(std::int64_t now) {
  // The old leader's state arrived but its clock burst had not finished: adopt the state with
  // the estimate so far (the election counted this node as holding it).
  if (pending_sync_ && clock_.samples > 0) apply_pending_sync(now);
  taken_over_.reset();
  if (auto old_clock = clock_of_state()) {
    // What this node plays is the newest state it knows, but a follower may know a newer one
    // (the old leader died mid fan-out): it offers it, and the newer wins (on_state_offer).
    if (state_owner_) taken_over_ = TakenOver{*state_owner_, *old_clock, applied_};
    applied_ = to_own_clock(applied_, *old_clock, now);
    previous_ = to_own_clock(previous_, *old_clock, now);
  } else {
    applied_ = {};  // never played a state: nobody alive held one, so stopped is the truth
    previous_ = {};
  }
  effects_.clock_sampling = ClockSampling{};
  applied_.epoch = leadership_.epoch;
  applied_.seq = 0;
  state_owner_ = self_;
  forget_leader_state();
  state_synced_ = true;  // its own state, from now on
  note(LogLevel::info, "taking over playback: " + describe_state(applied_));
  publish(now);
  arm_end_of_track();
}

std::optional<clock::ClockMapping> PlaybackCore::clock_of_state() const {
  // The leader whose state is applied: its clock as estimated now, if only from a sample or two.
  if (state_synced_ && clock_.samples > 0) return clock_.mapping;
  return played_clock_;
}

void PlaybackCore::answer_state_request(const std::string& from) {
  if (!leading()) return;
  send(from, protocol::StateSyncResponse{self_, applied_});
}

PlaybackCore::Outcome PlaybackCore::issue(std::int64_t now, const PlaybackState& next,
                                          const std::string& what) {
  taken_over_.reset();  // this leader's own commands win over any offer still on its way
  send_and_apply(now, next);
  return {true, fmt::format("{} in {} ms", what, (next.anchor_us - now + 500) / 1000)};
}

void PlaybackCore::send_and_apply(std::int64_t now, const PlaybackState& next) {
  broadcast(command_for(self_, next));
  apply(now, next);
}

void PlaybackCore::on_state_offer(std::int64_t now, const std::string& from,
                                  const protocol::StateOffer& offer) {
  if (!leading() || !taken_over_ || offer.clock != taken_over_->clock_owner ||
      !playback::supersedes(offer.state.epoch, offer.state.seq, taken_over_->state)) {
    note(LogLevel::debug, fmt::format("not adopting the state offered by {} (epoch {}, seq {})",
                                      from, offer.state.epoch, offer.state.seq));
    return;
  }
  taken_over_->state = offer.state;
  auto adopted = to_own_clock(taken_over_->state, taken_over_->clock, now);
  adopted.epoch = leadership_.epoch;
  adopted.seq = applied_.seq + 1;
  note(LogLevel::info, fmt::format("adopting the newer state (epoch {}, seq {}) offered by {}: {}",
                                   offer.state.epoch, offer.state.seq, from, describe_state(adopted)));
  send_and_apply(now, adopted);
}

PlaybackCore::Outcome PlaybackCore::play_index(std::int64_t now, std::size_t index, std::int64_t at_us) {
  if (index >= tracks_.size()) {
    return {false, fmt::format("no track {} (the list has {})", index + 1, tracks_.size())};
  }
  const auto& track = tracks_[index];
  if (!track.playable()) {
    return {false, fmt::format("track {} cannot be played: {}", index + 1, protocol::inert(track.error))};
  }
  auto next = playback::play(applied_, leadership_.epoch, track_ref(track), 0, at_us);
  return issue(now, next, "playing " + protocol::inert(track.file_name));
}

PlaybackCore::Outcome PlaybackCore::seek_to(std::int64_t now, const protocol::SeekTarget& target,
                                            std::int64_t at_us) {
  if (applied_.status == PlayStatus::stopped || !applied_.track) return {false, "nothing is playing"};
  // A relative seek moves from the frame reached when it takes effect. frames_in saturates and
  // its magnitude is below a tenth of its argument's, so no sum here overflows.
  const std::int64_t base = target.relative ? playback::frame_at(applied_, at_us) : 0;
  const std::int64_t frame = base + playback::frames_in(target.position_us);
  auto next = playback::seek(applied_, leadership_.epoch, frame, at_us);
  if (!next) return {false, "nothing is playing"};
  return issue(now, *next, "seeking to " + describe_position(next->anchor_frame));
}

PlaybackCore::Outcome PlaybackCore::execute(std::int64_t now, protocol::ControlCommand command,
                                            std::int64_t track,
                                            const std::optional<protocol::SeekTarget>& seek) {
  using protocol::ControlCommand;
  const auto at = now + lead_us_;
  const auto epoch = leadership_.epoch;
  switch (command) {
    case ControlCommand::play:
      if (track < 1) return {false, "tracks are numbered from 1 (see list)"};
      return play_index(now, static_cast<std::size_t>(track - 1), at);
    case ControlCommand::pause:
      if (auto next = playback::pause(applied_, epoch, at)) return issue(now, *next, "pausing");
      return {false, "nothing is playing"};
    case ControlCommand::resume:
      if (auto next = playback::resume(applied_, epoch, at)) return issue(now, *next, "resuming");
      return {false, "nothing is paused"};
    case ControlCommand::stop:
      return issue(now, playback::stop(applied_, epoch, at), "stopping");
    case ControlCommand::seek:
      if (!seek) return {false, "seek needs a position"};
      return seek_to(now, *seek, at);
    case ControlCommand::next:
    case ControlCommand::prev:
      break;
  }
  if (tracks_.empty()) return {false, "the track list is empty"};
  auto index = current_index();
  std::size_t target = 0;
  if (command == ControlCommand::next) target = index ? *index + 1 : 0;
  else target = index && *index > 0 ? *index - 1 : 0;
  if (target >= tracks_.size()) return {false, "already at the last track"};
  return play_index(now, target, at);
}

void PlaybackCore::arm_end_of_track() {
  end_of_track_.reset();
  auto end = playback::end_instant(applied_);
  if (!end) return;
  end_of_track_ = EndOfTrack{*end - lead_us_ - kEndOfTrackMarginUs, applied_.epoch, applied_.seq, *end};
}

void PlaybackCore::answer_control(std::int64_t now, const std::string& from,
                                  const protocol::ControlRequest& request) {
  Outcome outcome{false, "this node is not the leader"};
  if (leading()) outcome = execute(now, request.command, request.track.value_or(0), request.seek);
  send(from, protocol::ControlResponse{self_, request.id, outcome.ok,
                                       outcome.ok ? std::string() : outcome.text});
}

// ---- follower ----------------------------------------------------------------------------

void PlaybackCore::forget_leader_state() {
  state_synced_ = false;
  pending_sync_.reset();
  early_commands_.clear();
}

void PlaybackCore::follow(std::int64_t now, const std::string& leader) {
  forget_leader_state();
  clock_ = {};  // another leader, another clock
  effects_.clock_sampling = ClockSampling{leader};
  offer_state(leader);
  request_state(now);
}

void PlaybackCore::offer_state(const std::string& leader) {
  if (!state_owner_ || *state_owner_ == leader) return;  // nothing held, or the leader's own
  send(leader, protocol::StateOffer{self_, *state_owner_, applied_});
}

void PlaybackCore::request_state(std::int64_t now) {
  if (leading() || !leadership_.leader || state_synced_ || pending_sync_) return;
  send(*leadership_.leader, protocol::StateSyncRequest{self_});
  state_request_at_ = now + kStateRequestRetryUs;
}

void PlaybackCore::on_state_sync(std::int64_t now, const std::string& from,
                                 const protocol::StateSyncResponse& response) {
  if (leading() || leadership_.leader != from) return;
  pending_sync_ = response;
  // Open the track while the clock burst runs, so it is ready the moment the state applies
  // (where it is then, as far as the clock estimate can tell yet).
  if (const auto& track = response.state.track) {
    effects_.open_early.push_back(
        {track->hash, frame_now(now, response.state), track->name, track->frames, track->size, track->root});
  }
  on_clock_change(now);
}

void PlaybackCore::on_clock_change(std::int64_t now) {
  // From the moment this node can map the leader's state, however roughly, it holds it: a
  // takeover now would adopt it (take_over), so the election may let it stand.
  if (pending_sync_ && clock_.samples > 0) effects_.state_held = true;
  if (!clock_.synced) return;
  if (pending_sync_) apply_pending_sync(now);
  if (state_synced_) publish(now);  // also carries the refined clock estimate
}

void PlaybackCore::apply_pending_sync(std::int64_t now) {
  auto state = pending_sync_->state;
  state_owner_ = pending_sync_->from;
  pending_sync_.reset();
  state_synced_ = true;
  previous_ = applied_;
  applied_ = state;
  note(LogLevel::info, "synced with the leader: " + describe_state(applied_));
  for (const auto& early : std::exchange(early_commands_, {})) {
    auto next = state_after(applied_, early);
    if (next && playback::supersedes(next->epoch, next->seq, applied_)) replace_state(now, *next);
  }
}

void PlaybackCore::on_command(std::int64_t now, const std::string& from, const protocol::Message& message) {
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
    note(LogLevel::debug, fmt::format("ignoring {} from {}", protocol::type_name(message), from));
    return;
  }
  apply(now, *next);
}

void PlaybackCore::forward(std::int64_t now, protocol::ControlCommand command, std::int64_t track,
                           const std::optional<protocol::SeekTarget>& seek, ReplyToken token) {
  if (!leadership_.leader) return reply(token, "error: no leader is known yet; try again in a moment");
  auto id = next_control_id_++;
  pending_controls_[id] = {token, now + kControlTimeoutUs};
  // Only play names a track and only seek a target: a peer's codec refuses them on any other
  // command.
  std::optional<std::int64_t> played;
  if (command == protocol::ControlCommand::play) played = track;
  std::optional<protocol::SeekTarget> target;
  if (command == protocol::ControlCommand::seek) target = seek;
  send(*leadership_.leader, protocol::ControlRequest{self_, id, command, played, target});
}

void PlaybackCore::on_control_response(const protocol::ControlResponse& response) {
  auto it = pending_controls_.find(response.id);
  if (it == pending_controls_.end()) return;  // answered already, or too late
  auto token = it->second.token;
  pending_controls_.erase(it);
  reply(token, response.ok ? "ok (by the leader " + response.from + ")"
                           : "error: " + protocol::inert(response.error));
}

// ---- both --------------------------------------------------------------------------------

void PlaybackCore::apply(std::int64_t now, const PlaybackState& next) {
  replace_state(now, next);
  publish(now);
  if (leading()) arm_end_of_track();
}

void PlaybackCore::replace_state(std::int64_t now, const PlaybackState& next) {
  // The state the new one replaces is the one in effect now, not a future one never reached.
  if (leader_now(now) >= applied_.anchor_us) previous_ = applied_;
  applied_ = next;
}

void PlaybackCore::publish(std::int64_t now) {
  // While a follower re-syncs to a new leader it has no mapping for the state it holds (the
  // state is in the old leader's clock until the new one's arrives): the engine keeps the last
  // snapshot (old state, old clock estimate) and plays on undisturbed.
  if (!leading() && !(clock_.synced && state_synced_)) return;
  effects_.keep_open = tracks_to_keep_open(now);
  playback::Publication publication;
  publication.clock = leading() ? clock::ClockMapping{} : clock_.mapping;
  played_clock_ = publication.clock;
  publication.previous = previous_;
  publication.current = applied_;
  // A start or a jump elsewhere in the track (play, seek): the decoder should go there before
  // the engine. Paused, it holds its frame there, ready for resume (a seek while paused moves it).
  if (applied_.status == PlayStatus::playing) publication.current_frame = frame_now(now, applied_);
  if (applied_.status == PlayStatus::paused) publication.current_frame = applied_.anchor_frame;
  effects_.publication = std::move(publication);
}

std::vector<playback::TrackToOpen> PlaybackCore::tracks_to_keep_open(std::int64_t now) const {
  std::map<std::string, protocol::TrackRef> wanted;
  for (const auto* state : {&previous_, &applied_}) {
    if (state->track) wanted.emplace(state->track->hash, *state->track);
  }
  // The next track too, so that the end of this one flows into it without a gap.
  if (auto current = current_index()) {
    if (auto next = next_playable(*current)) wanted.emplace(tracks_[*next].content_hash, track_ref(tracks_[*next]));
  }
  std::vector<playback::TrackToOpen> open;
  // The current track first: a node fetching tracks fetches it first.
  const auto order = [&](const std::string& hash) { return applied_.track && applied_.track->hash == hash ? 0 : 1; };
  for (int pass = 0; pass < 2; ++pass) {
    for (const auto& [hash, ref] : wanted) {
      if (order(hash) != pass) continue;
      // Decoding starts where the track will be read: mid-track for a node taking over.
      const std::int64_t start = pass == 0 ? frame_now(now, applied_) : 0;
      open.push_back({hash, start, ref.name, ref.frames, ref.size, ref.root});
    }
  }
  return open;
}

std::optional<std::int64_t> PlaybackCore::frame_of(std::int64_t now, const std::string& hash) const {
  if (!applied_.track || applied_.track->hash != hash) return std::nullopt;
  if (!leading() && !clock_.synced) return std::nullopt;
  return std::max<std::int64_t>(frame_now(now, applied_), 0);
}

std::int64_t PlaybackCore::leader_now(std::int64_t now) const {
  return leading() ? now : clock_.mapping.to_leader(now);
}

std::int64_t PlaybackCore::frame_now(std::int64_t now, const PlaybackState& state) const {
  return playback::position_at(state, leader_now(now)).frame;
}

std::optional<std::size_t> PlaybackCore::find_track(const std::string& hash) const {
  return playback::find_by_hash(tracks_, hash);
}

std::optional<std::size_t> PlaybackCore::current_index() const {
  if (!applied_.track) return std::nullopt;
  return find_track(applied_.track->hash);
}

std::optional<std::size_t> PlaybackCore::next_playable(std::size_t index) const {
  for (auto next = index + 1; next < tracks_.size(); ++next) {
    if (tracks_[next].playable()) return next;
  }
  return std::nullopt;
}

void PlaybackCore::send(const std::string& to, protocol::Message message) {
  effects_.messages.push_back({to, std::move(message)});
}

void PlaybackCore::broadcast(protocol::Message message) {
  effects_.messages.push_back({std::nullopt, std::move(message)});
}

void PlaybackCore::reply(ReplyToken token, std::string text) {
  effects_.replies.push_back({token, std::move(text)});
}

void PlaybackCore::note(LogLevel level, std::string text) {
  effects_.log.push_back({level, std::move(text)});
}

Deadlines PlaybackCore::deadlines() const {
  Deadlines deadlines;
  if (end_of_track_) deadlines.end_of_track = end_of_track_->fire_at;
  deadlines.state_request = state_request_at_;
  for (const auto& [id, pending] : pending_controls_) {
    deadlines.control = std::min(deadlines.control.value_or(pending.deadline), pending.deadline);
  }
  return deadlines;
}

}  // namespace chorus::node
