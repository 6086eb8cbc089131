#include "chorus/node/playback_core.hpp"

#include <algorithm>
#include <array>
#include <set>
#include <utility>

#include <fmt/format.h>

#include "chorus/content/catalog.hpp"
#include "chorus/node/playback_reports.hpp"
#include "chorus/protocol/inert_text.hpp"

namespace chorus::node {

using control::Refusal;
using playback::PlaybackState;
using playback::PlayStatus;

namespace {

/// The track of queue item `item`, as a state names it: its index is the item's id.
protocol::TrackRef track_ref(const protocol::QueueEntry& item) {
  return {static_cast<std::int64_t>(item.id), item.track.name, item.track.hash, item.track.frames,
          item.track.size, item.track.root};
}

protocol::CatalogEntry catalog_entry(const playback::TrackInfo& t) {
  return {t.content_hash, t.chunk_root, t.file_name, t.title, t.artist, t.album, t.format, t.frames, t.file_size};
}

control::Outcome ok(std::string text) { return {true, Refusal::none, std::move(text), std::nullopt, std::nullopt}; }

control::Outcome refused(Refusal refusal, std::string text) {
  return {false, refusal, std::move(text), std::nullopt, std::nullopt};
}

/// A position as typed (from 1) that fits a queue, as an index from 0; nullopt otherwise.
std::optional<std::size_t> typed_position(std::optional<std::int64_t> typed) {
  if (!typed || *typed < 1 || *typed > static_cast<std::int64_t>(protocol::kMaxQueueLength) + 1) return std::nullopt;
  return static_cast<std::size_t>(*typed - 1);
}

/// Why typed_position() refused `typed`, or a count below 1.
control::Outcome bad_position(std::optional<std::int64_t> typed) {
  if (typed && *typed > static_cast<std::int64_t>(protocol::kMaxQueueLength)) {
    return refused(Refusal::bad_argument, fmt::format("no position {} (a queue holds at most {})", *typed,
                                                      protocol::kMaxQueueLength));
  }
  if (!typed) return refused(Refusal::bad_argument, "a queue position is needed");
  return refused(Refusal::bad_argument, "queue positions count from 1 (see queue)");
}

/// The catalog entries an add names: one hash, the matches of a query, or a path or the tracks
/// below a directory ("" is all).
std::vector<protocol::CatalogEntry> sources(const std::vector<protocol::CatalogEntry>& catalog,
                                            const protocol::ControlRequest& request) {
  std::vector<protocol::CatalogEntry> found;
  for (const auto& entry : catalog) {
    bool wanted = false;
    if (request.hash) {
      wanted = entry.hash == *request.hash;
    } else if (request.uri) {
      auto dir = *request.uri;
      while (!dir.empty() && dir.back() == '/') dir.pop_back();
      wanted = dir.empty() || entry.name == dir ||
               (entry.name.size() > dir.size() && entry.name.compare(0, dir.size(), dir) == 0 &&
                entry.name[dir.size()] == '/');
    } else {
      wanted = content::matches(entry, request.query.value_or(""));
    }
    if (wanted) found.push_back(entry);
  }
  return found;
}

std::string_view command_name(protocol::ControlCommand command) {
  switch (command) {
    case protocol::ControlCommand::random: return "random";
    case protocol::ControlCommand::repeat: return "repeat";
    case protocol::ControlCommand::single: return "single";
    default: return "consume";
  }
}

protocol::ModeSwitch mode_switch(cli::Switch mode) { return static_cast<protocol::ModeSwitch>(mode); }

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
    case CommandKind::add: return ControlCommand::add;
    case CommandKind::remove: return ControlCommand::remove;
    case CommandKind::move: return ControlCommand::move;
    case CommandKind::clear: return ControlCommand::clear;
    case CommandKind::random: return ControlCommand::random;
    case CommandKind::repeat: return ControlCommand::repeat;
    case CommandKind::single: return ControlCommand::single;
    case CommandKind::consume: return ControlCommand::consume;
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

PlaybackCore::PlaybackCore(std::string self, std::vector<playback::TrackInfo> tracks) : self_(std::move(self)) {
  set_tracks(0, std::move(tracks));
  effects_ = {};
}

void PlaybackCore::set_tracks(std::int64_t now, std::vector<playback::TrackInfo> tracks) {
  catalog_.clear();
  catalog_.reserve(tracks.size());
  for (const auto& track : tracks) {
    if (track.playable()) catalog_.push_back(catalog_entry(track));
  }
  if (leading()) mirror_library();
  // The track after the current one may be another now.
  if (leading() || (clock_.synced && state_synced_)) effects_.keep_open = tracks_to_keep_open(now);
}

std::optional<std::uint64_t> PlaybackCore::current_item() const {
  if (last_item_ && queue_.find(*last_item_)) return last_item_;
  return std::nullopt;
}

std::uint64_t PlaybackCore::seed_for(std::uint64_t epoch, std::uint64_t seq) {
  return (epoch << 32) ^ seq;
}

// ---- inputs ------------------------------------------------------------------------------

void PlaybackCore::set_lead(std::int64_t lead_us) { lead_us_ = lead_us; }

void PlaybackCore::restore(std::optional<PlayQueue> queue, std::optional<PlaybackState> state,
                           bool resume_playing) {
  resume_playing_ = resume_playing;
  if (queue) {
    queue_ = std::move(*queue);
    queue_restored_ = true;
    effects_.changed |= control::kPlaylist | control::kOptions;
  }
  restored_state_ = std::move(state);
  if (restored_state_ && restored_state_->track) last_item_ = static_cast<std::uint64_t>(restored_state_->track->index);
}

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
    resume_at_.reset();
    taken_over_.reset();
    queue_adoptable_ = false;
    queue_offer_from_.reset();
  }
}

std::variant<protocol::ControlRequest, control::Outcome> PlaybackCore::request_for(const cli::Command& command) const {
  auto kind = control_command(command.kind);
  if (!kind) {
    return refused(Refusal::bad_argument,
                   fmt::format("'{}' is not a playback command", cli::spec(command.kind).name));
  }
  protocol::ControlRequest request;
  request.from = self_;
  request.command = *kind;
  using protocol::ControlCommand;
  switch (*kind) {
    case ControlCommand::play:
      request.track = command.item_id ? 0 : command.track;
      request.item = command.item_id;
      break;
    case ControlCommand::seek: request.seek = seek_target(command); break;
    case ControlCommand::add:
      if (command.uri) {
        request.uri = *command.uri;
      } else if (command.track > 0) {
        // `list` numbers count in this node's catalog: the leader's may differ, the hash not.
        const auto number = static_cast<std::size_t>(command.track);
        if (number > catalog_.size()) {
          return refused(Refusal::no_such,
                         fmt::format("no track {} in the library (it has {})", number, catalog_.size()));
        }
        request.hash = catalog_[number - 1].hash;
      } else {
        request.query = command.query;
      }
      if (command.position) request.position = *command.position;
      break;
    case ControlCommand::remove:
    case ControlCommand::move:
      if (command.item_id) {
        request.item = command.item_id;
      } else {
        request.first = command.track;
        request.count = command.count;
      }
      if (*kind == ControlCommand::move) request.to = command.to;
      break;
    case ControlCommand::random:
    case ControlCommand::repeat:
    case ControlCommand::single:
    case ControlCommand::consume: request.mode = mode_switch(command.mode); break;
    default: break;
  }
  return request;
}

void PlaybackCore::command(std::int64_t now, const cli::Command& command, ReplyToken token) {
  auto request = request_for(command);
  if (auto* refusal = std::get_if<Outcome>(&request)) {
    refusal->text = "error: " + refusal->text;
    return reply(token, std::move(*refusal));
  }
  auto& wire = std::get<protocol::ControlRequest>(request);
  if (!leading()) return forward(now, std::move(wire), token);
  auto outcome = execute(now, wire);
  outcome.text = (outcome.ok ? "ok: " : "error: ") + outcome.text;
  reply(token, std::move(outcome));
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
  } else if (auto* edit = std::get_if<protocol::QueueEdit>(&message)) {
    on_queue_edit(now, from, *edit);
  } else if (std::holds_alternative<protocol::QueueSyncRequest>(message)) {
    answer_queue_request(from);
  } else if (auto* page = std::get_if<protocol::QueueSnapshot>(&message)) {
    if (leading()) on_offered_queue(now, from, *page);
    else on_queue_snapshot(now, from, *page);
  } else if (auto* queue_offer = std::get_if<protocol::QueueOffer>(&message)) {
    on_queue_offer(from, *queue_offer);
  }
}

void PlaybackCore::clock_updated(std::int64_t now, const LeaderClock& clock) {
  clock_ = clock;
  on_clock_change(now);
}

void PlaybackCore::track_opened(std::int64_t now) {
  hinted_state_.reset();  // the track just opened has not been hinted: its audio did not exist
  publish(now);
}

void PlaybackCore::end_of_track_due(std::int64_t now) {
  if (!end_of_track_ || now < end_of_track_->fire_at) return;
  auto due = *std::exchange(end_of_track_, std::nullopt);
  if (!leading() || applied_.epoch != due.epoch || applied_.seq != due.seq) return;
  const auto current = current_item();
  // What follows is decided before consume removes the item and a oneshot mode turns off.
  auto next = queue_.following(current, Advance::end_of_track, seed_for(leadership_.epoch, applied_.seq + 1));
  if (current) publish_edits(queue_.finished(*current, Advance::end_of_track), "");
  // The next track starts on the very frame after this one ends.
  auto outcome = next && queue_.find(*next)
                     ? play_item(now, *next, due.end_us)
                     : issue(now, playback::stop(applied_, leadership_.epoch, due.end_us), "end of the queue");
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
    reply(it->second.token, refused(Refusal::unavailable, fmt::format("error: the leader did not answer within {} s",
                                                                       kControlTimeoutUs / 1'000'000)));
    it = pending_controls_.erase(it);
  }
}

void PlaybackCore::forget_previous_due(std::int64_t now) {
  if (forget_previous_if_over(now)) effects_.keep_open = tracks_to_keep_open(now);
}

void PlaybackCore::resume_due(std::int64_t now) {
  if (!resume_at_ || now < *resume_at_) return;
  resume_at_.reset();
  // Only while nothing replaced the kept state: no command of this leader's (taken_over_ open).
  if (!leading() || !taken_over_ || !resumes_by_itself(resume_playing_, taken_over_->origin, taken_over_->state.status) ||
      applied_.status != PlayStatus::paused || !applied_.track) {
    return;
  }
  const auto next = playback::play(applied_, leadership_.epoch, *applied_.track, applied_.anchor_frame, now + lead_us_);
  note(LogLevel::info, "--resume-playing: " + issue(now, next, "playing the kept state").text);
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
  reply(it->second.token, refused(Refusal::unavailable, "error: the leader " + to + " is not reachable"));
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
  queue_origin_ = queue_live_ ? Origin::live : queue_restored_ ? Origin::restored : Origin::none;
  queue_restored_ = false;
  queue_live_ = true;
  if (auto old_clock = clock_of_state()) {
    // What this node plays is the newest state it knows, but a follower may know a newer one
    // (the old leader died mid fan-out): it offers it, and the newer wins (on_state_offer).
    if (state_owner_) taken_over_ = TakenOver{*state_owner_, *old_clock, applied_, Origin::live};
    applied_ = to_own_clock(applied_, *old_clock, now);
    previous_ = to_own_clock(previous_, *old_clock, now);
  } else {
    take_over_restored(now);  // never played a state: nobody alive held one
  }
  restored_state_.reset();
  effects_.clock_sampling = ClockSampling{};
  applied_.epoch = leadership_.epoch;
  applied_.seq = 0;
  state_owner_ = self_;
  forget_leader_state();
  state_synced_ = true;  // its own state, from now on
  note(LogLevel::info, "taking over playback: " + describe_state(applied_));
  effects_.changed |= control::kPlayer;
  queue_adoptable_ = true;
  queue_offer_from_.reset();
  mirror_library();
  publish(now);
  arm_end_of_track();
}

void PlaybackCore::take_over_restored(std::int64_t now) {
  // Stopped is the truth of this run; what a node kept from the last one fills it, and a
  // follower's newer kept state may still replace it (on_state_offer).
  previous_ = {};
  TakenOver held{"", {}, {}, Origin::none};
  if (restored_state_) {
    applied_ = restored_state(*restored_state_, leadership_.epoch, 0, now);
    held.state = *restored_state_;
    held.origin = Origin::restored;
    note(LogLevel::info, "restoring the state kept from the last run: " + describe_state(applied_));
  } else {
    applied_ = {};
  }
  taken_over_ = held;
  if (resume_playing_) resume_at_ = now + kRestoreSettleUs;
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

void PlaybackCore::answer_queue_request(const std::string& from) {
  if (leading()) {
    for (auto& page : queue_.snapshot(self_, leadership_.epoch)) send(from, std::move(page));
  } else if (offered_queue_ && leadership_.leader == from) {
    for (auto& page : offered_queue_->snapshot(self_, leadership_.epoch)) send(from, std::move(page));
    offered_queue_.reset();
  }
}

void PlaybackCore::on_queue_offer(const std::string& from, const protocol::QueueOffer& offer) {
  const OfferedQueue offered{offer.restored.value_or(false), offer.version};
  if (!leading() || !queue_adoptable_ || queue_offer_from_ || !adopts_queue(held_queue(), offered)) {
    note(LogLevel::debug, fmt::format("not fetching the queue (version {}) offered by {}", offer.version, from));
    return;
  }
  queue_offer_from_ = from;
  queue_offer_restored_ = offered.restored;
  offer_assembly_.reset();
  send(from, protocol::QueueSyncRequest{self_});
}

void PlaybackCore::on_offered_queue(std::int64_t now, const std::string& from, const protocol::QueueSnapshot& page) {
  if (!queue_adoptable_ || queue_offer_from_ != from) return;
  auto offered = offer_assembly_.take(page);
  if (offer_assembly_.broken()) queue_offer_from_.reset();
  if (!offered) return;
  queue_offer_from_.reset();
  if (!adopts_queue(held_queue(), {queue_offer_restored_, offered->version()})) return;
  note(LogLevel::info, fmt::format("adopting the {} queue (version {}, {} items) offered by {}",
                                   queue_offer_restored_ ? "kept" : "newer", offered->version(), offered->size(), from));
  if (queue_offer_restored_) queue_origin_ = Origin::restored;
  if (offered->version() <= queue_.version()) {
    // A kept queue adopted over this leader's own (none): followers take unasked pages only for
    // a higher version than theirs, so it continues above the one it replaces.
    offered = PlayQueue::restore(queue_.version() + 1, offered->next_id(), offered->mirrors_library(), offered->modes(),
                                 offered->items());
    if (!offered) return;
  }
  queue_ = std::move(*offered);
  for (auto& whole : queue_.snapshot(self_, leadership_.epoch)) broadcast(std::move(whole));
  effects_.changed |= control::kPlaylist | control::kOptions;
  effects_.keep_open = tracks_to_keep_open(now);
}

HeldQueue PlaybackCore::held_queue() const {
  return {queue_origin_, queue_.version(), !taken_over_ || taken_over_->origin == Origin::live};
}

void PlaybackCore::mirror_library() {
  if (queue_.mirrors_library()) publish_edits(queue_.mirror_library(catalog_), "", false);
}

control::Outcome PlaybackCore::publish_edits(QueueEdits edits, const std::string& done, bool own) {
  if (edits.refused) return refused(edits.refused->refusal, edits.refused->text);
  if (own && !edits.changes.empty()) queue_adoptable_ = false;  // this leader's own edits win over offers
  for (auto& change : edits.changes) {
    effects_.changed |= change.kind == protocol::QueueEditKind::modes ? control::kOptions : control::kPlaylist;
    broadcast(protocol::QueueEdit{self_, leadership_.epoch, std::move(change)});
  }
  auto outcome = ok(done);
  outcome.item_id = edits.first_id;
  return outcome;
}

PlaybackCore::Outcome PlaybackCore::issue(std::int64_t now, const PlaybackState& next,
                                          const std::string& what) {
  taken_over_.reset();  // this leader's own commands win over any offer still on its way
  send_and_apply(now, next);
  return ok(fmt::format("{} in {} ms", what, (next.anchor_us - now + 500) / 1000));
}

void PlaybackCore::send_and_apply(std::int64_t now, const PlaybackState& next) {
  broadcast(command_for(self_, next));
  apply(now, next);
}

void PlaybackCore::on_state_offer(std::int64_t now, const std::string& from,
                                  const protocol::StateOffer& offer) {
  const OfferedState offered{offer.restored.value_or(false), offer.clock, offer.state.epoch, offer.state.seq};
  if (!leading() || !taken_over_ ||
      !adopts_state({taken_over_->origin, taken_over_->clock_owner, taken_over_->state.epoch, taken_over_->state.seq},
                    offered)) {
    note(LogLevel::debug, fmt::format("not adopting the {}state offered by {} (epoch {}, seq {})",
                                      offered.restored ? "kept " : "", from, offer.state.epoch, offer.state.seq));
    return;
  }
  taken_over_->state = offer.state;
  if (offered.restored) {
    taken_over_->origin = Origin::restored;
    const auto adopted = restored_state(offer.state, leadership_.epoch, applied_.seq, now + lead_us_);
    note(LogLevel::info, fmt::format("adopting the newer kept state (epoch {}, seq {}) offered by {}: {}",
                                     offer.state.epoch, offer.state.seq, from, describe_state(adopted)));
    return send_and_apply_paused(now, adopted);
  }
  auto adopted = to_own_clock(taken_over_->state, taken_over_->clock, now);
  adopted.epoch = leadership_.epoch;
  adopted.seq = applied_.seq + 1;
  note(LogLevel::info, fmt::format("adopting the newer state (epoch {}, seq {}) offered by {}: {}",
                                   offer.state.epoch, offer.state.seq, from, describe_state(adopted)));
  send_and_apply(now, adopted);
}

void PlaybackCore::send_and_apply_paused(std::int64_t now, const PlaybackState& paused) {
  if (paused.status != PlayStatus::paused || !paused.track) {
    auto stopped = paused;
    stopped.seq = applied_.seq + 1;
    return send_and_apply(now, stopped);
  }
  // A PAUSE names no track: a PLAY of it at the same instant comes first, so nothing sounds.
  auto play = paused;
  play.status = PlayStatus::playing;
  play.seq = applied_.seq + 1;
  send_and_apply(now, play);
  auto pause = paused;
  pause.seq = play.seq + 1;
  send_and_apply(now, pause);
}

control::Outcome PlaybackCore::play_item(std::int64_t now, std::uint64_t id, std::int64_t at_us) {
  const auto* item = queue_.find(id);
  if (!item) return refused(Refusal::no_such, fmt::format("no queue item with id {}", id));
  if (item->track.frames <= 0) {
    return refused(Refusal::bad_argument, "cannot play " + protocol::inert(item->track.name) + ": it has no audio");
  }
  queue_.started(id);
  auto next = playback::play(applied_, leadership_.epoch, track_ref(*item), 0, at_us);
  return issue(now, next, "playing " + protocol::inert(item->track.name));
}

control::Outcome PlaybackCore::seek_to(std::int64_t now, const protocol::SeekTarget& target, std::int64_t at_us) {
  if (applied_.status == PlayStatus::stopped || !applied_.track) return refused(Refusal::not_now, "nothing is playing");
  // A relative seek moves from the frame reached when it takes effect. frames_in saturates and
  // its magnitude is below a tenth of its argument's, so no sum here overflows.
  const std::int64_t base = target.relative ? playback::frame_at(applied_, at_us) : 0;
  const std::int64_t frame = base + playback::frames_in(target.position_us);
  auto next = playback::seek(applied_, leadership_.epoch, frame, at_us);
  if (!next) return refused(Refusal::not_now, "nothing is playing");
  return issue(now, *next, "seeking to " + describe_position(next->anchor_frame));
}

control::Outcome PlaybackCore::play(std::int64_t now, const protocol::ControlRequest& request, std::int64_t at_us) {
  if (request.item) return play_item(now, *request.item, at_us);
  const auto typed = request.track.value_or(0);
  if (typed < 0) return refused(Refusal::bad_argument, "queue positions count from 1 (see queue)");
  if (typed == 0) {
    // MPD's play without a position: resume if paused, go on if playing, else the current item
    // or the first.
    if (applied_.status == PlayStatus::paused) {
      if (auto next = playback::resume(applied_, leadership_.epoch, at_us)) return issue(now, *next, "resuming");
    }
    if (applied_.status == PlayStatus::playing) return ok("already playing");
    if (queue_.empty()) return refused(Refusal::not_now, "the queue is empty");
    return play_item(now, current_item().value_or(queue_.items().front().id), at_us);
  }
  const auto position = static_cast<std::uint64_t>(typed - 1);
  if (position >= queue_.size()) {
    return refused(Refusal::bad_argument, fmt::format("no position {} (the queue has {})", typed, queue_.size()));
  }
  return play_item(now, queue_.items()[position].id, at_us);
}

control::Outcome PlaybackCore::step(std::int64_t now, protocol::ControlCommand command, std::int64_t at_us) {
  if (queue_.empty()) return refused(Refusal::not_now, "the queue is empty");
  const auto current = current_item();
  const bool forward = command == protocol::ControlCommand::next;
  const auto target = forward ? queue_.following(current, Advance::next_command,
                                                 seed_for(leadership_.epoch, applied_.seq + 1))
                              : queue_.preceding(current);
  if (!target) return refused(Refusal::not_now, "already at the last item of the queue");
  if (forward && current) publish_edits(queue_.finished(*current, Advance::next_command), "");
  if (!queue_.find(*target)) return issue(now, playback::stop(applied_, leadership_.epoch, at_us), "stopping");
  return play_item(now, *target, at_us);
}

control::Outcome PlaybackCore::add(const protocol::ControlRequest& request) {
  std::optional<std::size_t> position;
  if (request.position) {
    position = typed_position(request.position);
    if (!position) return bad_position(request.position);
  }
  auto tracks = sources(catalog_, request);
  if (tracks.empty()) {
    if (request.hash) return refused(Refusal::no_such, "that track is not in the cluster's library");
    if (request.uri) return refused(Refusal::no_such, "no track at or below '" + protocol::inert(*request.uri) + "'");
    return refused(Refusal::no_such, "no track matches '" + protocol::inert(request.query.value_or("")) + "'");
  }
  const auto count = tracks.size();
  return publish_edits(queue_.add(tracks, position),
                       count == 1 ? "added " + protocol::inert(tracks.front().name) : fmt::format("added {} tracks", count));
}

control::Outcome PlaybackCore::remove(std::int64_t now, const protocol::ControlRequest& request) {
  const auto current = current_item();
  // The position as a plain number: GCC sees an optional here as maybe uninitialized.
  const std::size_t current_position = current ? queue_.position_of(*current).value_or(queue_.size()) : queue_.size();
  QueueEdits edits;
  if (request.item) {
    edits = queue_.remove_id(*request.item);
  } else {
    auto first = typed_position(request.first);
    if (!first) return bad_position(request.first);
    if (request.count.value_or(0) < 1) return refused(Refusal::bad_argument, "a range holds at least one position");
    edits = queue_.remove(*first, static_cast<std::size_t>(*request.count));
  }
  auto outcome = publish_edits(std::move(edits), "removed");
  if (!outcome.ok || !current || queue_.find(*current) || applied_.status == PlayStatus::stopped) return outcome;
  // The playing item left the queue: MPD goes on with the item now where it was, or stops.
  const auto at = now + lead_us_;
  if (applied_.status == PlayStatus::playing && current_position < queue_.size()) {
    play_item(now, queue_.items()[current_position].id, at);
  } else {
    issue(now, playback::stop(applied_, leadership_.epoch, at), "stopping");
  }
  return outcome;
}

control::Outcome PlaybackCore::move(const protocol::ControlRequest& request) {
  auto to = typed_position(request.to);
  if (!to) return bad_position(request.to);
  if (request.item) return publish_edits(queue_.move_id(*request.item, *to), "moved");
  auto first = typed_position(request.first);
  if (!first) return bad_position(request.first);
  if (request.count.value_or(0) < 1) return refused(Refusal::bad_argument, "a range holds at least one position");
  return publish_edits(queue_.move(*first, static_cast<std::size_t>(*request.count), *to), "moved");
}

control::Outcome PlaybackCore::clear(std::int64_t now) {
  auto outcome = publish_edits(queue_.clear(), "cleared the queue");
  if (applied_.status != PlayStatus::stopped) issue(now, playback::stop(applied_, leadership_.epoch, now + lead_us_), "stopping");
  return outcome;
}

control::Outcome PlaybackCore::set_mode(protocol::ControlCommand command, std::optional<protocol::ModeSwitch> mode) {
  using protocol::ControlCommand;
  using protocol::ModeSwitch;
  if (!mode) return refused(Refusal::bad_argument, "say on or off");
  auto modes = queue_.modes();
  const bool on = *mode != ModeSwitch::off;
  switch (command) {
    case ControlCommand::random:
    case ControlCommand::repeat:
      if (*mode == ModeSwitch::oneshot) return refused(Refusal::bad_argument, "oneshot is only for single and consume");
      (command == ControlCommand::random ? modes.random : modes.repeat) = on;
      break;
    case ControlCommand::single: modes.single = *mode; break;
    default: modes.consume = *mode; break;
  }
  const auto names = std::array<std::string_view, 3>{"off", "on", "oneshot"};
  return publish_edits(queue_.set_modes(modes),
                       fmt::format("{} {}", command_name(command), names[static_cast<std::size_t>(*mode)]));
}

control::Outcome PlaybackCore::execute(std::int64_t now, const protocol::ControlRequest& request) {
  using protocol::ControlCommand;
  const auto at = now + lead_us_;
  const auto epoch = leadership_.epoch;
  switch (request.command) {
    case ControlCommand::play: return play(now, request, at);
    case ControlCommand::pause:
      if (auto next = playback::pause(applied_, epoch, at)) return issue(now, *next, "pausing");
      return refused(Refusal::not_now, "nothing is playing");
    case ControlCommand::resume:
      if (auto next = playback::resume(applied_, epoch, at)) return issue(now, *next, "resuming");
      return refused(Refusal::not_now, "nothing is paused");
    case ControlCommand::stop: return issue(now, playback::stop(applied_, epoch, at), "stopping");
    case ControlCommand::seek:
      if (!request.seek) return refused(Refusal::bad_argument, "seek needs a position");
      return seek_to(now, *request.seek, at);
    case ControlCommand::next:
    case ControlCommand::prev: return step(now, request.command, at);
    case ControlCommand::add: return add(request);
    case ControlCommand::remove: return remove(now, request);
    case ControlCommand::move: return move(request);
    case ControlCommand::clear: return clear(now);
    case ControlCommand::random:
    case ControlCommand::repeat:
    case ControlCommand::single:
    case ControlCommand::consume: return set_mode(request.command, request.mode);
  }
  return refused(Refusal::bad_argument, "unknown command");
}

void PlaybackCore::arm_end_of_track() {
  end_of_track_.reset();
  auto end = playback::end_instant(applied_);
  if (!end) return;
  end_of_track_ = EndOfTrack{*end - lead_us_ - kEndOfTrackMarginUs, applied_.epoch, applied_.seq, *end};
}

void PlaybackCore::answer_control(std::int64_t now, const std::string& from,
                                  const protocol::ControlRequest& request) {
  auto outcome = refused(Refusal::unavailable, "this node is not the leader");
  if (leading()) outcome = execute(now, request);
  send(from, protocol::ControlResponse{.from = self_, .id = request.id, .ok = outcome.ok,
                                       .error = outcome.ok ? std::string() : outcome.text,
                                       .refusal = static_cast<protocol::Refusal>(outcome.refusal),
                                       .item = outcome.item_id});
}

// ---- follower ----------------------------------------------------------------------------

void PlaybackCore::forget_leader_state() {
  state_synced_ = false;
  queue_synced_ = false;
  assembly_.reset();
  pending_sync_.reset();
  early_commands_.clear();
}

void PlaybackCore::follow(std::int64_t now, const std::string& leader) {
  // A whole queue from the previous leader (or its own, led before) may be newer than the new
  // leader's: offer it.
  const bool held_queue = queue_synced_ || state_owner_ == self_;
  offered_queue_.reset();
  if (held_queue && state_owner_ && *state_owner_ != leader) {
    offered_queue_ = queue_;
    send(leader, protocol::QueueOffer{self_, queue_.version(), std::nullopt});
  } else if (queue_restored_) {
    offered_queue_ = queue_;
    send(leader, protocol::QueueOffer{self_, queue_.version(), true});
  }
  forget_leader_state();
  clock_ = {};  // another leader, another clock
  effects_.clock_sampling = ClockSampling{leader};
  offer_state(leader);
  request_state(now);
}

void PlaybackCore::offer_state(const std::string& leader) {
  // Nothing of this run: what was kept from the last one, in no clock (the own id stands in).
  if (!state_owner_ && restored_state_) return send(leader, protocol::StateOffer{self_, self_, *restored_state_, true});
  if (!state_owner_ || *state_owner_ == leader) return;  // nothing held, or the leader's own
  send(leader, protocol::StateOffer{self_, *state_owner_, applied_, std::nullopt});
}

void PlaybackCore::request_state(std::int64_t now) {
  if (leading() || !leadership_.leader) return;
  const bool want_state = !state_synced_ && !pending_sync_;
  // A snapshot on its way is not asked for again: a big queue takes more than one retry period.
  const bool want_queue = !queue_synced_ && !assembly_.assembling();
  if (want_state) send(*leadership_.leader, protocol::StateSyncRequest{self_});
  if (want_queue) send(*leadership_.leader, protocol::QueueSyncRequest{self_});
  if (want_state || want_queue) state_request_at_ = now + kStateRequestRetryUs;
}

void PlaybackCore::on_queue_edit(std::int64_t now, const std::string& from, const protocol::QueueEdit& edit) {
  if (leading() || leadership_.leader != from || edit.epoch < leadership_.epoch) return;
  if (!queue_synced_) return;  // the snapshot asked for covers it, or the next edit shows a gap
  const auto modes = queue_.modes();
  switch (queue_.apply(edit.change)) {
    case PlayQueue::Applied::applied:
      effects_.changed |= edit.change.kind == protocol::QueueEditKind::modes ? control::kOptions : control::kPlaylist;
      if (queue_.modes() != modes) effects_.changed |= control::kOptions;
      if (state_synced_ && clock_.synced) effects_.keep_open = tracks_to_keep_open(now);
      return;
    case PlayQueue::Applied::stale: return;
    case PlayQueue::Applied::gap:
    case PlayQueue::Applied::invalid:
      note(LogLevel::info, fmt::format("queue edit {} from {} does not follow version {}: fetching the queue",
                                       edit.change.version, from, queue_.version()));
      queue_synced_ = false;
      assembly_.reset();
      request_state(now);
      return;
  }
}

void PlaybackCore::on_queue_snapshot(std::int64_t now, const std::string& from, const protocol::QueueSnapshot& page) {
  if (leadership_.leader != from) return;
  if (queue_synced_) {
    // Unasked: the leader adopted a newer queue a follower offered, and sends it to all.
    if (page.offset != 0 || page.version <= queue_.version()) return;
    queue_synced_ = false;
    assembly_.reset();
  }
  auto queue = assembly_.take(page);
  if (assembly_.broken()) {
    note(LogLevel::info, "the queue snapshot from " + from + " is incomplete: asking again");
    assembly_.reset();
    return request_state(now);
  }
  if (!queue) return;
  queue_ = std::move(*queue);
  queue_synced_ = true;
  queue_restored_ = false;
  queue_live_ = true;
  effects_.changed |= control::kPlaylist | control::kOptions;
  note(LogLevel::info, fmt::format("queue synced with the leader: {} items, version {}", queue_.size(), queue_.version()));
  check_state_held();
  if (state_synced_ && clock_.synced) effects_.keep_open = tracks_to_keep_open(now);
}

void PlaybackCore::check_state_held() {
  if (queue_synced_ && clock_.samples > 0 && (pending_sync_ || state_synced_)) effects_.state_held = true;
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
  if (pending_sync_) check_state_held();
  if (!clock_.synced) return;
  if (pending_sync_) apply_pending_sync(now);
  if (state_synced_) publish(now);  // also carries the refined clock estimate
}

void PlaybackCore::apply_pending_sync(std::int64_t now) {
  auto state = pending_sync_->state;
  state_owner_ = pending_sync_->from;
  pending_sync_.reset();
  restored_state_.reset();
  state_synced_ = true;
  previous_ = applied_;
  applied_ = state;
  if (applied_.track) last_item_ = static_cast<std::uint64_t>(applied_.track->index);
  effects_.changed |= control::kPlayer;
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

void PlaybackCore::forward(std::int64_t now, protocol::ControlRequest request, ReplyToken token) {
  if (!leadership_.leader) {
    return reply(token, refused(Refusal::unavailable, "error: no leader is known yet; try again in a moment"));
  }
  request.id = next_control_id_++;
  pending_controls_[request.id] = {token, now + kControlTimeoutUs};
  send(*leadership_.leader, std::move(request));
}

void PlaybackCore::on_control_response(const protocol::ControlResponse& response) {
  auto it = pending_controls_.find(response.id);
  if (it == pending_controls_.end()) return;  // answered already, or too late
  auto token = it->second.token;
  pending_controls_.erase(it);
  if (response.ok) {
    auto outcome = ok("ok (by the leader " + response.from + ")");
    outcome.item_id = response.item;
    return reply(token, std::move(outcome));
  }
  // A leader that names no reason still refused.
  const auto refusal = response.refusal == protocol::Refusal::none ? Refusal::bad_argument
                                                                   : static_cast<Refusal>(response.refusal);
  reply(token, refused(refusal, "error: " + protocol::inert(response.error)));
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
  if (applied_.track) last_item_ = static_cast<std::uint64_t>(applied_.track->index);
  effects_.changed |= control::kPlayer;
}

void PlaybackCore::publish(std::int64_t now) {
  // While a follower re-syncs to a new leader it has no mapping for the state it holds (the
  // state is in the old leader's clock until the new one's arrives): the engine keeps the last
  // snapshot (old state, old clock estimate) and plays on undisturbed.
  if (!leading() && !(clock_.synced && state_synced_)) return;
  forget_previous_if_over(now);
  effects_.keep_open = tracks_to_keep_open(now);
  playback::Publication publication;
  publication.clock = leading() ? clock::ClockMapping{} : clock_.mapping;
  played_clock_ = publication.clock;
  publication.previous = previous_;
  publication.current = applied_;
  // A start or a jump elsewhere in the track (play, seek): the decoder should go there before
  // the engine. Paused, it holds its frame there, ready for resume (a seek while paused moves it).
  // Only for a state the decoder has not been sent to yet: a clock update moves no reader, and
  // each hint wakes the decoder (several a second while the clock is sampled fast).
  if (hinted_state_ != applied_) {
    if (applied_.status == PlayStatus::playing) publication.current_frame = frame_now(now, applied_);
    if (applied_.status == PlayStatus::paused) publication.current_frame = applied_.anchor_frame;
    hinted_state_ = applied_;
  }
  effects_.publication = std::move(publication);
}

std::optional<std::int64_t> PlaybackCore::forget_previous_at() const {
  if (!previous_.track) return std::nullopt;
  const auto leader_at = applied_.anchor_us + kPreviousHeldUs;
  if (leading()) return leader_at;
  if (!(clock_.synced && state_synced_)) return std::nullopt;
  return clock_.mapping.to_local(leader_at);
}

bool PlaybackCore::forget_previous_if_over(std::int64_t now) {
  const auto at = forget_previous_at();
  if (!at || now < *at) return false;
  // A node with a small cache can fetch the next track only once the one before the current
  // one is no longer protected there; a `prev` fetches it again.
  previous_ = {};
  return true;
}

std::vector<playback::TrackToOpen> PlaybackCore::tracks_to_keep_open(std::int64_t now) const {
  std::map<std::string, protocol::TrackRef> wanted;
  for (const auto* state : {&previous_, &applied_}) {
    if (state->track) wanted.emplace(state->track->hash, *state->track);
  }
  // Stopped, the queue's current item is what `play` starts again.
  const auto current = current_item();
  const auto* current_entry = current ? queue_.find(*current) : nullptr;
  if (!applied_.track && current_entry) wanted.emplace(current_entry->track.hash, track_ref(*current_entry));
  // The next track too, so that the end of this one flows into it without a gap.
  if (current) {
    auto next = queue_.following(current, Advance::end_of_track, seed_for(applied_.epoch, applied_.seq + 1));
    if (const auto* item = next ? queue_.find(*next) : nullptr) wanted.emplace(item->track.hash, track_ref(*item));
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

void PlaybackCore::send(const std::string& to, protocol::Message message) {
  effects_.messages.push_back({to, std::move(message)});
}

void PlaybackCore::broadcast(protocol::Message message) {
  effects_.messages.push_back({std::nullopt, std::move(message)});
}

void PlaybackCore::reply(ReplyToken token, Outcome outcome) {
  effects_.replies.push_back({token, std::move(outcome)});
}

void PlaybackCore::note(LogLevel level, std::string text) {
  effects_.log.push_back({level, std::move(text)});
}

Deadlines PlaybackCore::deadlines() const {
  Deadlines deadlines;
  if (end_of_track_) deadlines.end_of_track = end_of_track_->fire_at;
  deadlines.state_request = state_request_at_;
  deadlines.resume = resume_at_;
  deadlines.forget_previous = forget_previous_at();
  for (const auto& [id, pending] : pending_controls_) {
    deadlines.control = std::min(deadlines.control.value_or(pending.deadline), pending.deadline);
  }
  return deadlines;
}

}  // namespace chorus::node
