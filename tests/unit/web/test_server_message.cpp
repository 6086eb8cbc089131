// The server's WebSocket messages: the view (positions from 1, elapsed at the send time), library
// pages, replies and errors.

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include "chorus/web/server_message.hpp"

namespace {

using namespace chorus;
namespace json = boost::json;

protocol::CatalogEntry track(std::string name, std::string title, std::int64_t seconds) {
  protocol::CatalogEntry entry;
  entry.hash = std::string(64, 'a');
  entry.name = std::move(name);
  entry.title = std::move(title);
  entry.artist = "Artist";
  entry.album = "Album";
  entry.frames = seconds * 48'000;
  return entry;
}

control::ClusterView playing_view() {
  control::ClusterView view;
  view.self = "kitchen";
  view.leader = "hall";
  view.epoch = 4;
  auto queue = std::make_shared<control::QueueView>();
  queue->version = 9;
  queue->items = {{11, track("a.flac", "A", 100)}, {12, track("b.flac", "B", 200)}};
  queue->modes.random = true;
  queue->modes.single = cli::Switch::oneshot;
  view.queue = queue;
  view.now.status = protocol::PlaybackStatus::playing;
  view.now.item_id = 12;
  view.now.position = 1;
  view.now.track = queue->items[1].track;
  view.now.anchor_local_us = 1'000'000;
  view.now.anchor_frame = 48'000 * 10;
  view.rooms = {control::RoomView{.id = "kitchen", .self = true, .up = true, .leader = false, .volume = 40,
                                  .muted = false, .output = "pulse"},
                control::RoomView{.id = "hall", .self = false, .up = true, .leader = true, .volume = 100,
                                  .muted = true, .output = "alsa"}};
  return view;
}

json::object parsed(const std::string& text) { return json::parse(text).as_object(); }

}  // namespace

TEST_CASE("frame_at: playing moves from the anchor, paused stays, both clamped to the track") {
  control::NowPlaying now;
  now.status = protocol::PlaybackStatus::playing;
  now.track.frames = 48'000 * 60;
  now.anchor_local_us = 5'000'000;
  now.anchor_frame = 48'000;
  CHECK(web::frame_at(now, 5'000'000) == 48'000);
  CHECK(web::frame_at(now, 7'500'000) == 48'000 * 3.5);
  CHECK(web::frame_at(now, 5'000'021) == 48'001);  // 21 µs is one frame at 48 kHz
  CHECK(web::frame_at(now, 1'000'000'000) == 48'000 * 60);
  CHECK(web::frame_at(now, 0) == 0);
  now.status = protocol::PlaybackStatus::paused;
  CHECK(web::frame_at(now, 9'000'000) == 48'000);
}

TEST_CASE("the view carries rooms, now playing at the send time, the queue and its modes") {
  const auto message = parsed(web::view_message(playing_view(), 3'000'000));
  CHECK(message.at("type") == "view");
  CHECK(message.at("self") == "kitchen");
  CHECK(message.at("leader") == "hall");
  CHECK(message.at("epoch") == 4);

  const auto& rooms = message.at("rooms").as_array();
  REQUIRE(rooms.size() == 2);
  CHECK(rooms[0].at("id") == "kitchen");
  CHECK(rooms[0].at("volume") == 40);
  CHECK(rooms[0].at("self") == true);
  CHECK(rooms[1].at("leader") == true);
  CHECK(rooms[1].at("muted") == true);
  CHECK(rooms[1].at("up") == true);

  const auto& now = message.at("now").as_object();
  CHECK(now.at("status") == "playing");
  CHECK(now.at("item_id") == 12);
  CHECK(now.at("position") == 2);  // from 1, like the commands
  CHECK(now.at("elapsed").as_double() == Approx(12.0));  // anchored at 10 s, sent 2 s later
  CHECK(now.at("track").at("path") == "b.flac");
  CHECK(now.at("track").at("duration").as_double() == Approx(200.0));

  const auto& queue = message.at("queue").as_object();
  CHECK(queue.at("version") == 9);
  const auto& items = queue.at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("id") == 11);
  CHECK(items[0].at("position") == 1);
  CHECK(items[1].at("position") == 2);
  CHECK(items[0].at("title") == "A");
  CHECK(items[0].at("artist") == "Artist");
  CHECK(items[0].at("duration").as_double() == Approx(100.0));
  CHECK(queue.at("modes").at("random") == true);
  CHECK(queue.at("modes").at("repeat") == false);
  CHECK(queue.at("modes").at("single") == "oneshot");
  CHECK(queue.at("modes").at("consume") == "off");
}

TEST_CASE("a stopped view has no track, no leader during an election") {
  control::ClusterView view;
  const auto message = parsed(web::view_message(view, 0));
  CHECK(message.at("leader").is_null());
  CHECK(message.at("now").at("status") == "stopped");
  CHECK(message.at("now").at("track").is_null());
  CHECK(message.at("now").at("position").is_null());
  CHECK(message.at("queue").at("items").as_array().empty());
}

TEST_CASE("library pages: matches only, numbered as the whole library, pages counted") {
  std::vector<protocol::CatalogEntry> entries;
  for (int i = 0; i < 120; ++i) {
    entries.push_back(track("dir/" + std::to_string(1000 + i) + (i % 2 ? "-odd" : "-even") + ".flac", "", 60));
  }
  content::Catalog catalog{entries, "v1"};
  auto page = parsed(web::library_message(catalog, {.id = 5, .query = "ODD", .page = 2}, 50));
  CHECK(page.at("type") == "library");
  CHECK(page.at("id") == 5);
  CHECK(page.at("total") == 60);
  CHECK(page.at("pages") == 2);
  CHECK(page.at("page") == 2);
  CHECK(page.at("version") == "v1");
  const auto& tracks = page.at("tracks").as_array();
  REQUIRE(tracks.size() == 10);
  // The 51st odd entry is entry 101 of the library (index 101, numbered from 1: 102).
  CHECK(tracks[0].at("number") == 102);
  CHECK(tracks[0].at("path") == "dir/1101-odd.flac");

  page = parsed(web::library_message(catalog, {.id = nullptr, .query = "", .page = 9}, 50));
  CHECK(page.at("tracks").as_array().empty());
  CHECK(page.at("pages") == 3);
  page = parsed(web::library_message(catalog, {.id = nullptr, .query = "nothing like it", .page = 1}, 50));
  CHECK(page.at("total") == 0);
  CHECK(page.at("pages") == 1);
}

TEST_CASE("replies carry the id, the outcome and its text, errors their text") {
  control::Outcome refused{.ok = false, .refusal = control::Refusal::not_now, .text = "error: nothing plays",
                           .item_id = {}, .job = {}};
  auto reply = parsed(web::reply_message(7, refused));
  CHECK(reply.at("type") == "reply");
  CHECK(reply.at("id") == 7);
  CHECK(reply.at("ok") == false);
  CHECK(reply.at("refusal") == "not_now");
  CHECK(reply.at("text") == "error: nothing plays");
  CHECK_FALSE(reply.contains("item_id"));
  control::Outcome added{.ok = true, .refusal = control::Refusal::none, .text = "ok", .item_id = 31, .job = {}};
  reply = parsed(web::reply_message("x", added));
  CHECK(reply.at("item_id") == 31);
  CHECK(reply.at("id") == "x");
  const auto error = parsed(web::error_message(nullptr, "unknown command 'x'"));
  CHECK(error.at("type") == "error");
  CHECK(error.at("id").is_null());
  CHECK(error.at("text") == "unknown command 'x'");
}
