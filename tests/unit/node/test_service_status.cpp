// The one-line status systemd shows for a node: role, leader, peers, what plays.

#include <catch2/catch.hpp>

#include "chorus/node/service_status.hpp"

using chorus::control::ClusterView;
using chorus::control::QueueItem;
using chorus::control::QueueView;
using chorus::node::service_status_line;
using chorus::protocol::PlaybackStatus;

namespace {

ClusterView view_of(std::optional<std::string> leader, std::size_t up, std::size_t known) {
  ClusterView view;
  view.self = "A";
  view.leader = std::move(leader);
  view.metrics.peers_up = up;
  view.metrics.peers_known = known;
  return view;
}

/// Playing (or paused) the item at `position` of a queue of `items`.
void play(ClusterView& view, PlaybackStatus status, std::size_t position, std::size_t items) {
  auto queue = std::make_shared<QueueView>();
  queue->items.resize(items);
  view.queue = queue;
  view.now.status = status;
  view.now.position = position;
  view.now.item_id = 7;
  view.now.track.name = "demo/03-click-track.ogg";
}

}  // namespace

TEST_CASE("the status line names the role and the leader", "[service]") {
  CHECK(service_status_line(view_of("A", 2, 3)) == "leader, 2 of 3 peers up, stopped");
  CHECK(service_status_line(view_of("B", 1, 1)) == "following B, 1 of 1 peer up, stopped");
  CHECK(service_status_line(view_of(std::nullopt, 0, 2)) == "electing, 0 of 2 peers up, stopped");
  CHECK(service_status_line(view_of("A", 0, 0)) == "leader, no peers, stopped");
}

TEST_CASE("the status line says what plays, by title and artist when tagged", "[service]") {
  auto view = view_of("A", 0, 0);
  play(view, PlaybackStatus::playing, 2, 4);
  CHECK(service_status_line(view) == "leader, no peers, playing \"demo/03-click-track.ogg\" (3/4)");
  view.now.track.title = "Click";
  CHECK(service_status_line(view) == "leader, no peers, playing \"Click\" (3/4)");
  view.now.track.artist = "chorus";
  CHECK(service_status_line(view) == "leader, no peers, playing \"chorus - Click\" (3/4)");
  view.now.status = PlaybackStatus::paused;
  CHECK(service_status_line(view) == "leader, no peers, paused \"chorus - Click\" (3/4)");
  view.now.position.reset();  // the item was removed from the queue while it plays
  CHECK(service_status_line(view) == "leader, no peers, paused \"chorus - Click\"");
}

TEST_CASE("long names are cut at a character boundary so the line stays short", "[service]") {
  std::string long_name;
  for (int i = 0; i < 30; ++i) long_name += "é";  // 2 bytes each: 60 bytes
  auto view = view_of(long_name, 1, 1);
  const auto line = service_status_line(view);
  const auto name = line.substr(std::string("following ").size(), line.find(',') - std::string("following ").size());
  CHECK(name == std::string(long_name, 0, 48) + "…");
  CHECK(line.size() < 100);

  std::string ascii(47, 'x');
  ascii += "yz";  // 49 bytes: cut after 48
  auto tagged = view_of("A", 0, 0);
  play(tagged, PlaybackStatus::playing, 0, 1);
  tagged.now.track.title = ascii;
  CHECK(service_status_line(tagged) == "leader, no peers, playing \"" + std::string(47, 'x') + "y…\" (1/1)");
}
