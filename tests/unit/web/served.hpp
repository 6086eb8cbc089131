#pragma once
// The web server under test: a fake ControlPort with two rooms, a playing track and a 300-track
// library, and an HttpServer on a control thread of its own, as the node runs it.

#include <catch2/catch.hpp>

#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "chorus/time_base.hpp"
#include "chorus/web/http_server.hpp"
#include "fake_control_port.hpp"

namespace chorus::test {

inline control::ClusterView two_rooms() {
  control::ClusterView view;
  view.self = "kitchen";
  view.leader = "kitchen";
  view.epoch = 3;
  view.metrics.node = "kitchen";
  view.metrics.leader = true;
  view.now.status = protocol::PlaybackStatus::playing;
  view.now.track.name = "song.flac";
  view.now.track.frames = 48'000 * 100;
  view.now.anchor_local_us = now_us();  // 10 s into the track now, moving on
  view.now.anchor_frame = 48'000 * 10;
  view.rooms = {control::RoomView{.id = "kitchen", .self = true, .up = true, .leader = true, .volume = 80,
                                  .muted = false, .output = "pulse"},
                control::RoomView{.id = "hall", .self = false, .up = true, .leader = false, .volume = 50,
                                  .muted = false, .output = "alsa"}};
  std::vector<protocol::CatalogEntry> entries;
  for (int i = 0; i < 300; ++i) {
    protocol::CatalogEntry entry;
    entry.hash = std::to_string(i);
    entry.name = "library/track-" + std::to_string(1000 + i) + "-with-a-longish-name-to-fill-pages.flac";
    entry.title = "Title " + std::to_string(i);
    entry.frames = 48'000 * 180;
    entries.push_back(entry);
  }
  auto queue = std::make_shared<control::QueueView>();
  for (std::uint64_t id = 1; id <= 3; ++id) queue->items.push_back({id, entries[id]});
  view.queue = queue;
  view.library = std::make_shared<const content::Catalog>(content::Catalog{entries, "v1"});
  return view;
}

/// The server on a control thread of its own, as the node runs it.
class Served {
 public:
  explicit Served(web::HttpConfig config = {}) : work_(io_.get_executor()) {
    config.host = "127.0.0.1";
    config.port = 0;
    port.set_view(two_rooms());
    server_.emplace(io_, port, std::move(config));
    REQUIRE(server_->start());
    number_ = server_->local_port();
    thread_ = std::thread([this] { io_.run(); });
  }
  ~Served() {
    server_.reset();
    work_.reset();
    thread_.join();
  }
  std::uint16_t number() const { return number_; }
  /// Destroys the server while its control thread runs on.
  void stop_server() { server_.reset(); }

  FakeControlPort port;

 private:
  boost::asio::io_context io_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::optional<web::HttpServer> server_;
  std::thread thread_;
  std::uint16_t number_ = 0;
};

}  // namespace chorus::test
