// What `queue [--json]` prints: position, id, length and name, the current item marked, the modes.

#include <catch2/catch.hpp>

#include <boost/json/parse.hpp>

#include <string>

#include "chorus/node/queue_list.hpp"

using namespace chorus;

namespace {

control::QueueView sample_queue() {
  control::QueueView view;
  view.version = 7;
  view.modes = {.random = true, .repeat = false, .single = cli::Switch::oneshot, .consume = cli::Switch::off};
  protocol::CatalogEntry plain{.hash = std::string(64, 'a'), .root = std::string(64, 'b'), .name = "a/one.wav",
                               .title = "", .artist = "", .album = "", .format = "wav", .frames = 48'000 * 75,
                               .size = 10};
  protocol::CatalogEntry tagged = plain;
  tagged.name = "b/two.flac";
  tagged.title = "Two\x1b[2J";
  tagged.artist = "Band";
  view.items = {{.id = 3, .track = plain}, {.id = 9, .track = tagged}};
  return view;
}

}  // namespace

TEST_CASE("the queue as text: one line per item, the current one marked, then the modes") {
  const auto text = node::queue_text(sample_queue(), 9);
  CHECK(text.find("      1  id 3") == 0);
  CHECK(text.find(">     2  id 9") != std::string::npos);
  CHECK(text.find("1:15") != std::string::npos);
  CHECK(text.find("Band - Two") != std::string::npos);
  CHECK(text.find('\x1b') == std::string::npos);  // names are printed inert
  CHECK(text.find("2 items, version 7; random on, repeat off, single oneshot, consume off") != std::string::npos);
  CHECK(node::queue_text(control::QueueView{}, std::nullopt).find("the queue is empty") == 0);
}

TEST_CASE("the queue as JSON: the same items, the current id and the modes") {
  const auto doc = boost::json::parse(node::queue_json(sample_queue(), 3)).as_object();
  const auto& items = doc.at("items").as_array();
  REQUIRE(items.size() == 2);
  CHECK(items[0].at("position").as_int64() == 1);
  CHECK(items[0].at("id").as_int64() == 3);
  CHECK(items[0].at("current").as_bool());
  CHECK_FALSE(items[1].at("current").as_bool());
  CHECK(items[1].at("name").as_string() == "b/two.flac");
  CHECK(doc.at("current").as_int64() == 3);
  CHECK(doc.at("version").as_int64() == 7);
  CHECK(doc.at("modes").at("single").as_string() == "oneshot");
  CHECK(doc.at("modes").at("random").as_bool());
  CHECK(boost::json::parse(node::queue_json(control::QueueView{}, std::nullopt)).at("current").is_null());
}
