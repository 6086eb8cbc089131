// What `peers` and `status` show of the rooms.

#include <boost/json.hpp>
#include <catch2/catch.hpp>

#include "chorus/node/reports.hpp"

using namespace chorus;
using namespace chorus::node;

namespace {

PeersView two_peers() {
  PeersView view;
  view.self_id = "A";
  view.self_address = {"10.0.0.1", 7000};
  net::PeerInfo b;
  b.id = "B";
  b.endpoint = {"10.0.0.2", 7000};
  b.state = net::PeerState::up;
  net::PeerInfo c = b;
  c.id = "C";
  view.peers = {b, c};
  view.rooms = {{.id = "A", .self = true, .up = true, .leader = true, .volume = 70, .muted = false, .output = "null"},
                {.id = "B", .self = false, .up = true, .leader = false, .volume = 40, .muted = true, .output = ""}};
  return view;
}

}  // namespace

TEST_CASE("peers --json gives each room's volume and mute, null for a node not heard from") {
  const auto out = boost::json::parse(peers_json(two_peers())).as_object();
  CHECK(out.at("self").at("volume") == 70);
  CHECK(out.at("self").at("muted") == false);
  const auto& peers = out.at("peers").as_array();
  CHECK(peers.at(0).at("volume") == 40);
  CHECK(peers.at(0).at("muted") == true);
  CHECK(peers.at(1).at("volume").is_null());
  CHECK(peers.at(1).at("muted").is_null());
}

TEST_CASE("peers shows a VOLUME column") {
  const auto text = peers_text(two_peers());
  CHECK(text.find("volume 70") != std::string::npos);
  CHECK(text.find("VOLUME") != std::string::npos);
  CHECK(text.find("40 muted") != std::string::npos);
}

TEST_CASE("status shows this room's volume, mute and applied gain") {
  const control::RoomView room{.id = "A", .self = true, .up = true, .leader = false, .volume = 40, .muted = true, .output = ""};
  CHECK(room_status_text(room, 0.0f) == "room: volume 40, muted (gain 0.000)\n");
  boost::json::object out;
  add_room_status(out, room, 0.5f);
  CHECK(out.at("room").at("volume") == 40);
  CHECK(out.at("room").at("muted") == true);
  CHECK(out.at("room").at("gain").as_double() == 0.5);
}
