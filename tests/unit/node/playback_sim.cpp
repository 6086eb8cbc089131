#include "node/playback_sim.hpp"

#include "node/printing.hpp"

#include <catch2/catch.hpp>

#include <algorithm>
#include <stdexcept>
#include <utility>

namespace chorus::node::test {

std::vector<playback::TrackInfo> make_tracks(std::size_t count, std::int64_t frames) {
  std::vector<playback::TrackInfo> tracks;
  for (std::size_t i = 0; i < count; ++i) {
    playback::TrackInfo track;
    track.index = i;
    track.file_name = "track-" + std::to_string(i + 1) + ".wav";
    track.frames = frames;
    track.content_hash = "hash-" + std::to_string(i + 1);
    tracks.push_back(std::move(track));
  }
  return tracks;
}

// ---- nodes ------------------------------------------------------------------------------------

void PlaybackSim::add(const std::string& id, std::int64_t clock_offset,
                      std::vector<playback::TrackInfo> tracks) {
  Node n;
  n.offset = clock_offset;
  n.core = std::make_unique<PlaybackCore>(id, std::move(tracks));
  n.core->set_lead(kLead);
  nodes_[id] = std::move(n);
}

PlaybackCore& PlaybackSim::core(const std::string& id) { return *node(id).core; }

PlaybackSim::Node& PlaybackSim::node(const std::string& id) {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::invalid_argument("no node " + id);
  return it->second;
}

const PlaybackSim::Node& PlaybackSim::node(const std::string& id) const {
  auto it = nodes_.find(id);
  if (it == nodes_.end()) throw std::invalid_argument("no node " + id);
  return it->second;
}

void PlaybackSim::crash(const std::string& id) { node(id).running = false; }

bool PlaybackSim::running(const std::string& id) const { return node(id).running; }

// ---- time ---------------------------------------------------------------------------------------

std::int64_t PlaybackSim::local(const std::string& id, std::int64_t global) const {
  return global + node(id).offset;
}

void PlaybackSim::run_until(std::int64_t global) {
  while (true) {
    auto timer = next_timer();
    auto event = queue_.begin();
    const bool event_due = event != queue_.end() && event->first.first <= global;
    const bool timer_due = timer && timer->at <= global;
    if (!event_due && !timer_due) break;
    // Events first at equal instants: a message sent before a deadline arrives before it fires.
    if (event_due && (!timer_due || event->first.first <= timer->at)) {
      now_ = std::max(now_, event->first.first);
      auto fn = std::move(event->second);
      queue_.erase(event);
      fn();
    } else {
      now_ = std::max(now_, timer->at);
      fire(*timer);
    }
  }
  now_ = std::max(now_, global);
}

std::optional<PlaybackSim::DueTimer> PlaybackSim::next_timer() const {
  std::optional<DueTimer> next;
  for (const auto& [id, n] : nodes_) {
    if (!n.running) continue;
    const std::optional<std::int64_t>* deadlines[] = {&n.deadlines.end_of_track,
                                                       &n.deadlines.state_request,
                                                       &n.deadlines.control,
                                                       &n.deadlines.resume,
                                                       &n.deadlines.forget_previous};
    for (int which = 0; which < 5; ++which) {
      if (!*deadlines[which]) continue;
      // A deadline already past fires now (as a steady_timer would).
      auto at = std::max(now_, **deadlines[which] - n.offset);
      if (!next || at < next->at) next = DueTimer{at, id, which};
    }
  }
  return next;
}

void PlaybackSim::fire(const DueTimer& timer) {
  auto& n = node(timer.id);
  switch (timer.which) {
    case 0:
      n.deadlines.end_of_track.reset();
      return input(timer.id, [](PlaybackCore& c, std::int64_t now) { c.end_of_track_due(now); });
    case 1:
      n.deadlines.state_request.reset();
      return input(timer.id, [](PlaybackCore& c, std::int64_t now) { c.state_request_due(now); });
    case 2:
      n.deadlines.control.reset();
      return input(timer.id, [](PlaybackCore& c, std::int64_t now) { c.control_due(now); });
    case 3:
      n.deadlines.resume.reset();
      return input(timer.id, [](PlaybackCore& c, std::int64_t now) { c.resume_due(now); });
    default:
      n.deadlines.forget_previous.reset();
      return input(timer.id, [](PlaybackCore& c, std::int64_t now) { c.forget_previous_due(now); });
  }
}

void PlaybackSim::schedule(std::int64_t at, std::function<void()> event) {
  queue_[{at, seq_++}] = std::move(event);
}

// ---- inputs and effects -------------------------------------------------------------------------

void PlaybackSim::input(const std::string& id, const std::function<void(PlaybackCore&, std::int64_t)>& fn) {
  auto& n = node(id);
  if (!n.running) return;
  fn(*n.core, local_now(id));
  collect(id);
}

void PlaybackSim::collect(const std::string& id) {
  auto& n = node(id);
  auto effects = n.core->take_effects();
  if (effects.clock_sampling) {
    n.sampling = effects.clock_sampling->leader;
    ++n.sampling_generation;
    n.samples = 0;
    if (n.sampling) schedule_sample(id, n.sampling_generation, now_ + kSampleInterval);
  }
  for (auto& out : effects.messages) {
    sent_.push_back({now_, id, out.to, out.message});
    std::vector<std::string> receivers;
    if (out.to) {
      receivers.push_back(*out.to);
    } else {
      for (const auto& [other, _] : nodes_) {
        if (other != id) receivers.push_back(other);
      }
    }
    for (const auto& to : receivers) {
      if (!nodes_.contains(to) || !node(to).running) {
        if (out.to) input(id, [&](PlaybackCore& c, std::int64_t now) { c.unsent(now, to, out.message); });
        continue;
      }
      transmit(id, to, [this, id, to, message = out.message] {
        input(to, [&](PlaybackCore& c, std::int64_t now) { c.receive(now, id, message); });
      });
    }
  }
  if (effects.keep_open) {
    std::set<std::string> wanted;
    n.kept_open.clear();
    for (const auto& track : *effects.keep_open) {
      wanted.insert(track.hash);
      n.kept_open.push_back(track.hash);
    }
    std::erase_if(n.open, [&](const std::string& hash) { return !wanted.contains(hash); });
    for (const auto& track : *effects.keep_open) want_open(id, track);
  }
  for (const auto& track : effects.open_early) want_open(id, track);
  if (effects.publication) {
    n.publication = effects.publication;
    ++n.publications;
  }
  if (effects.state_held) ++n.state_held;
  for (auto& line : effects.log) n.log.push_back(std::move(line));
  n.deadlines = effects.deadlines;
  if (effects.changed != 0) n.changed |= effects.changed;
  for (auto& reply : effects.replies) n.replies.push_back({now_, reply.token, reply.outcome.text, reply.outcome});
}

void PlaybackSim::transmit(const std::string& from, const std::string& to, std::function<void()> deliver) {
  auto link = std::make_pair(from, to);
  if (lossy_.contains(link)) return;
  auto delay = delays_.contains(link) ? delays_[link] : kLinkDelay;
  auto at = std::max(now_ + delay, last_delivery_[link]);  // FIFO
  last_delivery_[link] = at;
  schedule(at, [this, from, to, deliver = std::move(deliver)] {
    if (running(from) && running(to)) deliver();
  });
}

void PlaybackSim::schedule_sample(const std::string& id, std::uint64_t generation, std::int64_t at) {
  schedule(at, [this, id, generation] {
    auto& n = node(id);
    if (!n.running || n.sampling_generation != generation || !n.sampling) return;
    if (!running(*n.sampling)) return;  // a dead leader answers no TIME_REQUEST
    if (n.sample_limit && n.samples >= *n.sample_limit) return;
    ++n.samples;
    LeaderClock clock;
    clock.samples = n.samples;
    clock.synced = n.samples >= 4;
    clock.mapping.offset_us = static_cast<double>(node(*n.sampling).offset - n.offset);
    input(id, [&](PlaybackCore& c, std::int64_t now) { c.clock_updated(now, clock); });
    schedule_sample(id, generation, now_ + kSampleInterval);
  });
}

void PlaybackSim::want_open(const std::string& id, const playback::TrackToOpen& track) {
  auto& n = node(id);
  if (n.open.contains(track.hash) || n.opening.contains(track.hash)) return;
  n.opening.insert(track.hash);
  schedule(now_ + kOpenDelay, [this, id, hash = track.hash] {
    auto& opened = node(id);
    opened.opening.erase(hash);
    opened.open.insert(hash);
    input(id, [](PlaybackCore& c, std::int64_t now) { c.track_opened(now); });
  });
}

// ---- network, clocks, election ------------------------------------------------------------------

void PlaybackSim::set_delay(const std::string& from, const std::string& to, std::int64_t delay) {
  delays_[{from, to}] = delay;
}

void PlaybackSim::set_lossy(const std::string& from, const std::string& to, bool lossy) {
  if (lossy) lossy_.insert({from, to});
  else lossy_.erase({from, to});
}

void PlaybackSim::limit_samples(const std::string& id, std::size_t samples) { node(id).sample_limit = samples; }

void PlaybackSim::elect(const std::string& leader, std::uint64_t epoch) {
  election::Status leads{election::Role::leader, leader, epoch};
  node(leader).status = leads;
  input(leader, [&](PlaybackCore& c, std::int64_t now) { c.leadership(now, leads); });
  for (const auto& [id, n] : nodes_) {
    if (id != leader && n.running) announce(leader, epoch, id);
  }
}

void PlaybackSim::announce(const std::string& leader, std::uint64_t epoch, const std::string& to) {
  transmit(leader, to, [this, to, leader, epoch] {
    election::Status follows{election::Role::follower, leader, epoch};
    node(to).status = follows;
    input(to, [&](PlaybackCore& c, std::int64_t now) { c.leadership(now, follows); });
  });
}

void PlaybackSim::lose_leader() {
  for (auto& [id, n] : nodes_) {
    if (!n.running) continue;
    election::Status none{election::Role::follower, std::nullopt, n.status.epoch};
    n.status = none;
    input(id, [&](PlaybackCore& c, std::int64_t now) { c.leadership(now, none); });
  }
}

ReplyToken PlaybackSim::command(const std::string& id, const cli::Command& command) {
  auto token = next_token_++;
  input(id, [&](PlaybackCore& c, std::int64_t now) { c.command(now, command, token); });
  return token;
}

void PlaybackSim::set_tracks(const std::string& id, std::vector<playback::TrackInfo> tracks) {
  input(id, [&](PlaybackCore& core, std::int64_t now) { core.set_tracks(now, std::move(tracks)); });
}

void PlaybackSim::stall(const std::string& id) {
  input(id, [](PlaybackCore& c, std::int64_t now) { c.stalled(now); });
}

void PlaybackSim::inject(const std::string& from, const std::string& to, const protocol::Message& message) {
  input(to, [&](PlaybackCore& c, std::int64_t now) { c.receive(now, from, message); });
}

// ---- observation --------------------------------------------------------------------------------

control::Subsystems PlaybackSim::take_changed(const std::string& id) {
  return std::exchange(node(id).changed, 0);
}

const std::vector<PlaybackSim::Reply>& PlaybackSim::replies(const std::string& id) const {
  return node(id).replies;
}

const std::optional<playback::Publication>& PlaybackSim::publication(const std::string& id) const {
  return node(id).publication;
}

std::size_t PlaybackSim::publications(const std::string& id) const { return node(id).publications; }

playback::Position PlaybackSim::audible(const std::string& id, std::int64_t global) const {
  const auto& published = node(id).publication;
  if (!published) return {};
  const auto at = published->clock.to_leader(local(id, global));
  const auto& state = at >= published->current.anchor_us ? published->current : published->previous;
  return playback::position_at(state, at);
}

int PlaybackSim::state_held(const std::string& id) const { return node(id).state_held; }

const std::vector<std::string>& PlaybackSim::kept_open(const std::string& id) const { return node(id).kept_open; }

const std::vector<LogLine>& PlaybackSim::log(const std::string& id) const { return node(id).log; }

void a_leads_b(PlaybackSim& sim, std::size_t tracks, std::int64_t frames) {
  sim.add("a", 0, make_tracks(tracks, frames));
  sim.add("b", kC, make_tracks(tracks, frames));
  sim.elect("a", 1);
  sim.run_until(kStart + 200'000);
  REQUIRE(sim.core("b").state_synced());
}

void a_leads_b_and_c_playing(PlaybackSim& sim, std::uint64_t epoch) {
  sim.add("a", 0);
  sim.add("b", kB);
  sim.add("c", kC);
  sim.elect("a", epoch);
  sim.run_until(kStart + 200'000);
  sim.command("a", play_command(1));
}

std::vector<std::pair<std::int64_t, protocol::Message>> commands_from(const PlaybackSim& sim,
                                                                      const std::string& from) {
  std::vector<std::pair<std::int64_t, protocol::Message>> out;
  for (const auto& sent : sim.sent()) {
    const bool command = std::holds_alternative<protocol::PlayRequest>(sent.message) ||
                         std::holds_alternative<protocol::PauseRequest>(sent.message) ||
                         std::holds_alternative<protocol::ResumeRequest>(sent.message) ||
                         std::holds_alternative<protocol::StopRequest>(sent.message);
    if (sent.from == from && !sent.to && command) out.emplace_back(sent.at, sent.message);
  }
  return out;
}

std::vector<protocol::QueueEdit> queue_edits_from(const PlaybackSim& sim, const std::string& from) {
  std::vector<protocol::QueueEdit> out;
  for (const auto& sent : sim.sent()) {
    if (sent.from != from || sent.to) continue;
    if (const auto* edit = std::get_if<protocol::QueueEdit>(&sent.message)) out.push_back(*edit);
  }
  return out;
}

std::vector<std::string> texts(const std::vector<PlaybackSim::Reply>& replies) {
  std::vector<std::string> out;
  for (const auto& reply : replies) out.push_back(reply.text);
  return out;
}

void check_same_sound(const PlaybackSim& sim, const std::string& x, const std::string& y, std::int64_t from,
                      std::int64_t span) {
  for (std::int64_t t = from; t < from + span; t += 12'345) {
    INFO("at " << t);
    CHECK(sim.audible(x, t) == sim.audible(y, t));
  }
}

}  // namespace chorus::node::test
