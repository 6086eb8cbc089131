#include "fake_port.hpp"

#include <algorithm>

namespace chorus::mpd::test {

protocol::CatalogEntry track(std::string name, std::string title, std::string artist,
                             std::string album, int seconds) {
  protocol::CatalogEntry entry;
  entry.hash = std::string(64, 'a');
  entry.name = std::move(name);
  entry.title = std::move(title);
  entry.artist = std::move(artist);
  entry.album = std::move(album);
  entry.format = "flac";
  entry.frames = static_cast<std::int64_t>(seconds) * 48000;
  return entry;
}

control::ClusterView sample_view() {
  control::ClusterView view;
  view.self = "node-a";
  view.leader = "node-b";
  view.rooms = {
      {.id = "node-a", .self = true, .up = true, .leader = false, .volume = 80, .muted = false,
       .output = "pulse"},
      {.id = "node-b", .self = false, .up = true, .leader = true, .volume = 50, .muted = true,
       .output = "alsa"},
  };
  auto library = std::make_shared<content::Catalog>();
  library->entries = {
      track("Artist A/Album X/01 one.flac", "One", "Artist A", "Album X", 180),
      track("Artist A/Album X/02 two.flac", "Two", "Artist A", "Album X", 200),
      track("Artist B/three.ogg", "Three", "Artist B", "Album Y", 60),
      track("loose.wav", "", "", "", 10),
  };
  library->version = "v1";
  view.library = library;
  auto queue = std::make_shared<control::QueueView>();
  queue->version = 12;
  queue->items = {{7, library->entries[0]}, {9, library->entries[2]}};
  view.queue = queue;
  view.now.status = protocol::PlaybackStatus::paused;
  view.now.item_id = 9;
  view.now.position = 1;
  view.now.track = library->entries[2];
  view.now.anchor_frame = 48000 * 30 + 24000;  // 30.5 s
  return view;
}

FakePort::FakePort(control::ClusterView start)
    : work_(boost::asio::make_work_guard(io_)),
      view_(std::make_shared<const control::ClusterView>(std::move(start))),
      thread_([this] { io_.run(); }) {}

FakePort::~FakePort() {
  work_.reset();
  io_.stop();
  thread_.join();
}

std::shared_ptr<const control::ClusterView> FakePort::view() const {
  std::lock_guard lock(mutex_);
  return view_;
}

void FakePort::run(cli::Command command, Done done) {
  boost::asio::post(io_, [this, command = std::move(command), done = std::move(done)] {
    control::ClusterView view = *this->view();
    control::Subsystems changed = 0;
    control::Outcome outcome;
    {
      std::lock_guard lock(mutex_);
      commands_.push_back(command);
    }
    std::optional<std::pair<control::Refusal, std::string>> refusal;
    {
      std::lock_guard lock(mutex_);
      refusal = std::exchange(refusal_, std::nullopt);
    }
    if (refusal) {
      outcome = {.ok = false, .refusal = refusal->first, .text = "error: " + refusal->second,
                 .item_id = {}, .job = {}};
    } else {
      outcome = apply(command, view, changed);
    }
    if (outcome.ok) publish(std::move(view), changed);
    done(outcome);
  });
}

control::Subscription FakePort::subscribe(Listener listener) {
  std::lock_guard lock(mutex_);
  const int id = next_listener_++;
  listeners_[id] = std::move(listener);
  return control::Subscription([this, id] {
    std::lock_guard inner(mutex_);
    listeners_.erase(id);
  });
}

void FakePort::clients_changed(int delta) {
  std::lock_guard lock(mutex_);
  clients_ += delta;
}

void FakePort::change(std::function<void(control::ClusterView&)> edit, control::Subsystems changed) {
  boost::asio::post(io_, [this, edit = std::move(edit), changed] {
    control::ClusterView view = *this->view();
    edit(view);
    publish(std::move(view), changed);
  });
}

std::vector<cli::Command> FakePort::commands() const {
  std::lock_guard lock(mutex_);
  return commands_;
}

int FakePort::clients() const {
  std::lock_guard lock(mutex_);
  return clients_;
}

std::size_t FakePort::subscribers() const {
  std::lock_guard lock(mutex_);
  return listeners_.size();
}

void FakePort::refuse_next(control::Refusal refusal, std::string text) {
  std::lock_guard lock(mutex_);
  refusal_ = std::make_pair(refusal, std::move(text));
}

void FakePort::publish(control::ClusterView view, control::Subsystems changed) {
  std::vector<Listener> listeners;
  {
    std::lock_guard lock(mutex_);
    view_ = std::make_shared<const control::ClusterView>(std::move(view));
    for (auto& [id, listener] : listeners_) listeners.push_back(listener);
  }
  for (auto& listener : listeners) listener(changed);
}

namespace {

control::Outcome ok(std::string text = "ok") {
  return {.ok = true, .refusal = control::Refusal::none, .text = std::move(text), .item_id = {}, .job = {}};
}
control::Outcome refused(control::Refusal refusal, std::string text) {
  return {.ok = false, .refusal = refusal, .text = "error: " + std::move(text), .item_id = {}, .job = {}};
}

control::RoomView* room_named(control::ClusterView& view, const std::string& id) {
  for (auto& room : view.rooms) {
    if (id.empty() ? room.self : room.id == id) return &room;
  }
  return nullptr;
}

}  // namespace

control::Outcome FakePort::apply(const cli::Command& command, control::ClusterView& view,
                                 control::Subsystems& changed) {
  using K = cli::CommandKind;
  auto queue = std::make_shared<control::QueueView>(*view.queue);
  auto& items = queue->items;
  control::Outcome outcome = ok();
  switch (command.kind) {
    case K::add: {
      std::vector<control::QueueItem> added;
      for (const auto& entry : view.library->entries) {
        const std::string& uri = command.uri.value_or("");
        if (uri.empty() || entry.name == uri || entry.name.starts_with(uri + "/")) {
          added.push_back({next_id_++, entry});
        }
      }
      if (added.empty()) return refused(control::Refusal::no_such, "no such track");
      const std::size_t at = command.position ? static_cast<std::size_t>(*command.position - 1)
                                              : items.size();
      if (at > items.size()) return refused(control::Refusal::bad_argument, "position past the end");
      outcome.item_id = added.front().id;
      items.insert(items.begin() + static_cast<long>(at), added.begin(), added.end());
      changed |= control::kPlaylist;
      break;
    }
    case K::clear:
      items.clear();
      changed |= control::kPlaylist;
      break;
    case K::remove: {
      std::size_t first = static_cast<std::size_t>(command.track - 1);
      std::size_t count = static_cast<std::size_t>(command.count);
      if (command.item_id) {
        auto it = std::find_if(items.begin(), items.end(),
                               [&](const auto& item) { return item.id == *command.item_id; });
        if (it == items.end()) return refused(control::Refusal::no_such, "no such item");
        first = static_cast<std::size_t>(it - items.begin());
        count = 1;
      }
      if (first + count > items.size()) return refused(control::Refusal::bad_argument, "bad range");
      items.erase(items.begin() + static_cast<long>(first),
                  items.begin() + static_cast<long>(first + count));
      changed |= control::kPlaylist;
      break;
    }
    case K::play:
      if (items.empty()) return refused(control::Refusal::not_now, "the queue is empty");
      view.now.status = protocol::PlaybackStatus::playing;
      if (command.track > 0) {
        if (static_cast<std::size_t>(command.track) > items.size()) {
          return refused(control::Refusal::bad_argument, "no such position");
        }
        view.now.position = static_cast<std::size_t>(command.track - 1);
      } else if (command.item_id) {
        auto it = std::find_if(items.begin(), items.end(),
                               [&](const auto& item) { return item.id == *command.item_id; });
        if (it == items.end()) return refused(control::Refusal::no_such, "no such item");
        view.now.position = static_cast<std::size_t>(it - items.begin());
      } else if (!view.now.position) {
        view.now.position = 0;
      }
      view.now.item_id = items[*view.now.position].id;
      view.now.track = items[*view.now.position].track;
      changed |= control::kPlayer;
      break;
    case K::pause:
      if (view.now.status != protocol::PlaybackStatus::playing) {
        return refused(control::Refusal::not_now, "not playing");
      }
      view.now.status = protocol::PlaybackStatus::paused;
      changed |= control::kPlayer;
      break;
    case K::resume:
    case K::stop:
    case K::next:
    case K::prev:
    case K::seek:
      if (command.kind == K::stop) view.now = {};
      if (command.kind == K::resume) view.now.status = protocol::PlaybackStatus::playing;
      changed |= control::kPlayer;
      break;
    case K::random: queue->modes.random = command.mode == cli::Switch::on; changed |= control::kOptions; break;
    case K::repeat: queue->modes.repeat = command.mode == cli::Switch::on; changed |= control::kOptions; break;
    case K::single: queue->modes.single = command.mode; changed |= control::kOptions; break;
    case K::consume: queue->modes.consume = command.mode; changed |= control::kOptions; break;
    case K::volume: {
      control::RoomView* room = room_named(view, command.room);
      if (!room) return refused(control::Refusal::no_such, "no such room");
      if (command.volume) {
        room->volume = std::clamp(command.relative_volume ? room->volume + *command.volume
                                                          : *command.volume, 0, 100);
      }
      changed |= control::kMixer;
      break;
    }
    case K::mute:
    case K::unmute: {
      control::RoomView* room = room_named(view, command.room);
      if (!room) return refused(control::Refusal::no_such, "no such room");
      room->muted = command.kind == K::mute;
      changed |= control::kOutput;
      break;
    }
    default:
      break;
  }
  if ((changed & control::kPlaylist) != 0) queue->version += 1;
  view.queue = queue;
  return outcome;
}

}  // namespace chorus::mpd::test
