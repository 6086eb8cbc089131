#include "chorus/node/playback_controller.hpp"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <filesystem>

#include "chorus/content/chunking.hpp"
#include "chorus/node/library_watcher.hpp"
#include "chorus/node/playback_reports.hpp"
#include "kept_state_files.hpp"
#include "chorus/node/queue_list.hpp"
#include "chorus/node/track_list.hpp"
#include "chorus/time_base.hpp"

namespace chorus::node {

namespace asio = boost::asio;

PlaybackController::PlaybackController(asio::io_context& io, net::Transport& network,
                                       ClockSampler& clock_sampler, playback::PlayerConfig config,
                                       StateHeldHandler on_state_held)
    : io_(io),
      network_(network),
      watch_tracks_(config.watch),
      player_(
          std::move(config), [&io](std::function<void()> work) { asio::post(io, std::move(work)); },
          [this] { feed([&](std::int64_t now) { core_->track_opened(now); }); },
          [this](const playback::TrackToOpen& track) { return find_bytes(track); }),
      clock_sampler_(clock_sampler),
      on_state_held_(std::move(on_state_held)),
      end_timer_(io),
      state_request_timer_(io),
      control_timer_(io),
      resume_timer_(io),
      forget_previous_timer_(io),
      keep_timer_(io) {}

PlaybackController::~PlaybackController() { stop(); }

namespace {

/// Where a node keeps what it fetches unless told: $XDG_CACHE_HOME/chorus/ID, else
/// ~/.cache/chorus/ID, else /var/cache/chorus/ID. The id is reduced to characters safe in a
/// file name.
std::filesystem::path default_cache_directory(const std::string& id) {
  std::string name;
  for (const char c : id) name += (std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-') ? c : '_';
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    return std::filesystem::path(xdg) / "chorus" / name;
  }
  if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    return std::filesystem::path(home) / ".cache" / "chorus" / name;
  }
  return std::filesystem::path("/var/cache/chorus") / name;
}

}  // namespace

void PlaybackController::start(content::ContentConfig content, bool resume_playing) {
  if (content.cache.directory.empty()) content.cache.directory = default_cache_directory(network_.id());
  std::error_code ignored;  // the cache reports an unusable directory itself
  std::filesystem::create_directories(content.cache.directory, ignored);
  player_.start(content.cache.directory / "library.sqlite", [this] {
    asio::post(io_, [this] { library_changed(); });
  });
  watcher_ = std::make_unique<LibraryWatcher>(io_, watch_tracks_, [this] { player_.rescan_library(); });
  watcher_->watch(player_.library().directories());
  // The id is known once the network has started.
  core_.emplace(network_.id());
  auto kept = load_kept_state(content.cache.directory, content.cluster);
  if (kept.playback) kept_epoch_ = kept.playback->highest_epoch;
  if (kept.queue || kept.playback) {
    spdlog::info("kept from the last run: {}; {}",
                 kept.queue ? fmt::format("a queue of {} items (version {})", kept.queue->size(), kept.queue->version())
                            : std::string("no queue"),
                 kept.playback ? describe_state(kept.playback->state) : std::string("no playback state"));
  }
  feed([&](std::int64_t) {
    core_->restore(std::move(kept.queue),
                   kept.playback ? std::optional(kept.playback->state) : std::nullopt, resume_playing);
  });
  kept_writer_ = std::make_unique<KeptStateWriter>(content.cache.directory, content.cluster);
  content::ContentService::Callbacks callbacks{
      [this](std::function<void()> work) { asio::post(io_, std::move(work)); },
      [this](std::shared_ptr<const content::Catalog> catalog) { on_catalog(std::move(catalog)); },
      [this](const std::string& hash) { player_.bytes_arrived(hash, core_->frame_of(now_us(), hash)); }};
  content_.emplace(std::move(content), local_tracks_, std::move(callbacks));
  content_->start();
  spdlog::info("content links on port {}; cache {}", content_->port(),
               content_->cache().config().directory.string());
}

std::filesystem::path PlaybackController::cache_directory() const {
  return content_ ? content_->cache().config().directory : std::filesystem::path{};
}

std::uint16_t PlaybackController::content_port() const { return content_ ? content_->port() : 0; }

void PlaybackController::peer_up(const net::PeerInfo& peer) {
  if (content_) content_->peer_up(peer.id, peer.endpoint.host, peer.content_port);
}

void PlaybackController::peer_down(const std::string& id) {
  if (content_) content_->peer_down(id);
}

void PlaybackController::library_changed() {
  if (content_) content_->local_catalog_changed();
  if (watcher_) watcher_->watch(player_.library().directories());
  const auto job = player_.library().stats().updating_job;
  if (job != updating_job_) {
    updating_job_ = job;
    changed(control::kUpdate);
  }
}

void PlaybackController::on_catalog(std::shared_ptr<const content::Catalog> catalog) {
  catalog_ = std::move(catalog);
  std::vector<playback::TrackInfo> tracks;
  tracks.reserve(catalog_->entries.size());
  for (const auto& entry : catalog_->entries) tracks.push_back(track_info(entry, tracks.size()));
  feed([&](std::int64_t now) { core_->set_tracks(now, std::move(tracks)); });
  changed(control::kDatabase);
}

std::optional<playback::ExternalTrack> PlaybackController::find_bytes(const playback::TrackToOpen& track) const {
  if (!content_) return std::nullopt;
  auto& cache = content_->cache();
  if (auto path = cache.complete_path(track.hash)) return playback::ExternalTrack{track.name, track.frames, *path, {}};
  auto partial = cache.partial(track.hash);
  if (!partial || partial->chunk_count() == 0) return std::nullopt;
  // Enough to start: the container's header and the chunk the start frame is in. What else the
  // decoder reads (an Ogg file's end, say) it waits for, and its wait asks for it first.
  const auto start = content::chunk_at_frame(partial->size(), track.frames, track.start_frame);
  if (!partial->has(0) || !partial->has(start)) return std::nullopt;
  return playback::ExternalTrack{track.name, track.frames, {}, std::move(partial)};
}

void PlaybackController::want(const std::vector<playback::TrackToOpen>& tracks) {
  if (!content_) return;
  for (const auto& t : tracks) {
    const bool known = std::any_of(wanted_.begin(), wanted_.end(),
                                   [&](const content::WantedTrack& w) { return w.hash == t.hash; });
    if (!known) wanted_.push_back({t.hash, t.root, t.size, t.name, t.frames, t.start_frame});
  }
  // The same tracks come with every publication, clock updates included: the content service
  // (another thread) is woken only when they change. A fetch under way keeps its own pace.
  std::vector<std::string> hashes;
  for (const auto& w : wanted_) hashes.push_back(w.hash);
  if (hashes == told_content_) return;
  told_content_ = std::move(hashes);
  content_->want(wanted_);
}

void PlaybackController::stop() {
  keep_state_now();
  if (kept_writer_) kept_writer_->stop();
  keep_timer_.cancel();
  resume_timer_.cancel();
  forget_previous_timer_.cancel();
  state_request_timer_.cancel();
  control_timer_.cancel();
  watcher_.reset();
  if (content_) content_->stop();
  player_.stop();
  end_timer_.cancel();
}

// ---- inputs ------------------------------------------------------------------------------

void PlaybackController::on_leadership(const election::Status& status) {
  kept_epoch_ = std::max(kept_epoch_, status.epoch);
  feed([&](std::int64_t now) { core_->leadership(now, status); });
}

void PlaybackController::on_stalled() {
  feed([&](std::int64_t now) { core_->stalled(now); });
}

void PlaybackController::receive(const std::string& from, const protocol::Message& message) {
  feed([&](std::int64_t now) { core_->receive(now, from, message); });
}

void PlaybackController::command(const cli::Command& command, Reply reply) {
  if (!core_) return reply({false, control::Refusal::unavailable, "error: playback has not started", std::nullopt, std::nullopt});
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
  if (effects.keep_open) {
    wanted_.clear();
    want(*effects.keep_open);
    player_.keep_open(*effects.keep_open);
  }
  if (!effects.open_early.empty()) want(effects.open_early);
  for (const auto& track : effects.open_early) player_.open(track);
  if (effects.publication) {
    player_.play(*effects.publication);
    const auto& track = effects.publication->current.track;
    if (content_ && track && track->hash != last_played_) content_->played(last_played_ = track->hash);
  }
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
  arm(resume_timer_, armed_.resume, effects.deadlines.resume, &PlaybackCore::resume_due);
  arm(forget_previous_timer_, armed_.forget_previous, effects.deadlines.forget_previous,
      &PlaybackCore::forget_previous_due);
  if (effects.changed != 0) {
    changed(effects.changed);
    schedule_keep(effects.changed);
  }
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

void PlaybackController::schedule_keep(control::Subsystems what) {
  const auto now = now_us();
  if ((what & (control::kPlaylist | control::kOptions)) != 0) save_schedule_.queue_changed(now);
  if ((what & control::kPlayer) != 0) {
    save_schedule_.state_changed(now, core_->state().status == protocol::PlaybackStatus::playing);
  }
  const auto due = save_schedule_.due();
  if (due == keep_armed_) return;
  keep_armed_ = due;
  keep_timer_.cancel();
  if (!due) return;
  keep_timer_.expires_at(from_us(*due));
  keep_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec) return;
    keep_armed_.reset();
    keep_due();
  });
}

void PlaybackController::keep_due() {
  keep(save_schedule_.take(now_us()));
  schedule_keep(0);  // the next write while playing
}

void PlaybackController::keep_state_now() {
  keep(SaveParts{.queue = true, .playback = true});
}

void PlaybackController::keep(SaveParts parts) {
  // What a node that does not hold the cluster's state knows may be behind: the file keeps the
  // last state it held (a joiner still fetching the queue keeps the one of its last run).
  if (!core_ || !kept_writer_ || !core_->holds_cluster_state() || (!parts.queue && !parts.playback)) return;
  std::optional<QueueToKeep> queue;
  if (parts.queue) {
    refresh_queue_view();
    const auto& held = core_->queue();
    queue = QueueToKeep{{held.version(), held.next_id(), held.mirrors_library(), held.modes()}, queue_view_};
  }
  std::optional<SavedPlayback> playback;
  if (parts.playback) {
    const auto& state = core_->state();
    const auto frame = state.track ? core_->frame_of(now_us(), state.track->hash).value_or(state.anchor_frame) : 0;
    const auto held = state.status == protocol::PlaybackStatus::paused ? state.anchor_frame : frame;
    playback = SavedPlayback{std::max(kept_epoch_, state.epoch), state_to_save(state, held)};
  }
  kept_writer_->keep(std::move(queue), std::move(playback));
}

void PlaybackController::reply(const PromptReply& reply_effect) {
  auto it = replies_.find(reply_effect.token);
  if (it == replies_.end()) return;
  auto callback = std::move(it->second);
  replies_.erase(it);
  callback(reply_effect.outcome);
}

void PlaybackController::on_changed(ChangeListener listener) { change_listeners_.push_back(std::move(listener)); }

void PlaybackController::changed(control::Subsystems what) {
  refresh_queue_view();
  for (const auto& listener : change_listeners_) listener(what);
}

void PlaybackController::refresh_queue_view() {
  const auto& queue = core_->queue();
  if (queue.version() != queue_view_->version || queue_view_->items.size() != queue.size() ||
      queue_view_->modes != to_control(queue.modes())) {
    auto view = std::make_shared<control::QueueView>();
    view->version = queue.version();
    view->modes = to_control(queue.modes());
    view->items.reserve(queue.size());
    for (const auto& item : queue.items()) view->items.push_back({item.id, item.track});
    queue_view_ = std::move(view);
  }
}

std::string PlaybackController::queue_report(const cli::Command& command) const {
  const auto current = core_ ? core_->current_item() : std::nullopt;
  return command.json ? queue_json(*queue_view_, current) : queue_text(*queue_view_, current);
}

control::NowPlaying PlaybackController::now_playing() const {
  control::NowPlaying now;
  if (!core_) return now;
  const auto& state = core_->state();
  now.status = state.status;
  if (state.status == protocol::PlaybackStatus::stopped || !state.track) return now;
  const auto id = static_cast<std::uint64_t>(state.track->index);
  now.item_id = id;
  now.position = core_->queue().position_of(id);
  if (const auto* item = core_->queue().find(id)) {
    now.track = item->track;
  } else {
    now.track.hash = state.track->hash;
    now.track.root = state.track->root;
    now.track.name = state.track->name;
    now.track.frames = state.track->frames;
    now.track.size = state.track->size;
  }
  now.anchor_local_us = now_us();
  now.anchor_frame = core_->frame_of(now.anchor_local_us, state.track->hash).value_or(state.anchor_frame);
  if (state.status == protocol::PlaybackStatus::paused) now.anchor_frame = state.anchor_frame;
  return now;
}

// ---- views -------------------------------------------------------------------------------

std::string PlaybackController::list_report(const cli::Command& command) const {
  const ListRequest request{command.query, static_cast<std::size_t>(std::max(command.page, 1))};
  const auto where = [this](const protocol::CatalogEntry& entry) { return where_is(entry); };
  return command.json ? track_list_json(*catalog_, request, where) : track_list_text(*catalog_, request, where);
}

std::string PlaybackController::where_is(const protocol::CatalogEntry& entry) const {
  if (player_.library().find_by_hash(entry.hash)) return "local";
  if (!content_) return "not here";
  auto& cache = content_->cache();
  if (cache.state(entry.hash) == content::CacheState::complete) return "cached";
  if (auto partial = cache.partial(entry.hash); partial && partial->chunk_count() > 0) {
    return fmt::format("fetching {}%", partial->held_count() * 100 / partial->chunk_count());
  }
  if (cache.state(entry.hash) == content::CacheState::partial) return "partly cached";
  return "not here";
}

PlaybackView PlaybackController::view() const {
  PlaybackView view;
  view.now_local_us = now_us();
  if (!core_) return view;
  view.state = core_->state();
  if (view.state.track) view.queue_position = core_->queue().position_of(static_cast<std::uint64_t>(view.state.track->index));
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
  if (content_) view.content = content_->view();
  view.library_tracks = player_.library().size();
  view.cluster_tracks = catalog_->entries.size();
  view.scan = player_.library().stats();
  return view;
}

}  // namespace chorus::node
