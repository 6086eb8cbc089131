// MessageHandler: every message type reaches exactly the component that acts on it, with what it
// needs (sender, receive stamp); the network layer's own messages reach none.

#include <catch2/catch.hpp>

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include "chorus/node/message_handler.hpp"
#include "protocol/samples.hpp"

using namespace chorus;
using namespace chorus::node;

namespace {

/// What reached a fake component: "<component> <TYPE> from <sender>".
using Deliveries = std::vector<std::string>;

std::string delivery(const std::string& component, const protocol::Message& message,
                     const std::string& from) {
  return component + " " + std::string(protocol::type_name(message)) + " from " + from;
}

class FakeElection final : public ElectionInbox {
 public:
  explicit FakeElection(Deliveries& log) : log_(log) {}
  void receive(const protocol::Election& m) override { record(m); }
  void receive(const protocol::ElectionAnswer& m) override { record(m); }
  void receive(const protocol::Coordinator& m) override { record(m); }

 private:
  void record(const protocol::Message& m) {
    log_.push_back(delivery("election", m, protocol::sender(m)));
  }
  Deliveries& log_;
};

class FakeClock final : public ClockInbox {
 public:
  FakeClock(Deliveries& log, std::vector<net::Clock::time_point>& stamps)
      : log_(log), stamps_(stamps) {}
  void on_request(const std::string& from, const protocol::TimeRequest& m,
                  net::Clock::time_point received) override {
    record(from, m, received);
  }
  void on_response(const std::string& from, const protocol::TimeResponse& m,
                   net::Clock::time_point received) override {
    record(from, m, received);
  }

 private:
  void record(const std::string& from, const protocol::Message& m,
              net::Clock::time_point received) {
    log_.push_back(delivery("clock", m, from));
    stamps_.push_back(received);
  }
  Deliveries& log_;
  std::vector<net::Clock::time_point>& stamps_;
};

class FakePlayback final : public PlaybackInbox {
 public:
  FakePlayback(Deliveries& log, std::vector<protocol::Message>& messages)
      : log_(log), messages_(messages) {}
  void receive(const std::string& from, const protocol::Message& m) override {
    log_.push_back(delivery("playback", m, from));
    messages_.push_back(m);
  }

 private:
  Deliveries& log_;
  std::vector<protocol::Message>& messages_;
};

class FakeRooms final : public RoomInbox {
 public:
  explicit FakeRooms(Deliveries& log) : log_(log) {}
  void receive(const std::string& from, const protocol::Message& m) override {
    log_.push_back(delivery("rooms", m, from));
  }

 private:
  Deliveries& log_;
};

/// The component each type belongs to; empty for the network layer's own messages.
const std::map<std::string, std::string> kOwner = {
    {"HELLO", ""},
    {"RECONNECT", ""},
    {"HELLO_REJECT", ""},
    {"DISCOVERY", ""},
    {"HEARTBEAT", ""},
    {"LEAVE", ""},
    {"ELECTION", "election"},
    {"ELECTION_ANSWER", "election"},
    {"COORDINATOR", "election"},
    {"TIME_REQUEST", "clock"},
    {"TIME_RESPONSE", "clock"},
    {"PLAY_REQUEST", "playback"},
    {"PAUSE_REQUEST", "playback"},
    {"RESUME_REQUEST", "playback"},
    {"STOP_REQUEST", "playback"},
    {"STATE_SYNC_REQUEST", "playback"},
    {"STATE_SYNC_RESPONSE", "playback"},
    {"STATE_OFFER", "playback"},
    {"CONTROL_REQUEST", "playback"},
    {"CONTROL_RESPONSE", "playback"},
    {"ROOM_SET", "rooms"},
    {"ROOM_STATE", "rooms"},
    {"QUEUE_EDIT", "playback"},
    {"QUEUE_SYNC_REQUEST", "playback"},
    {"QUEUE_SNAPSHOT", "playback"},
    {"QUEUE_OFFER", "playback"},
    // Content messages travel on content links only: on the cluster link they reach nothing.
    {"CONTENT_HELLO", ""},
    {"CATALOG_NOTICE", ""},
    {"CATALOG_REQUEST", ""},
    {"CATALOG_PAGE", ""},
    {"WANT", ""},
    {"HAVE", ""},
    {"MANIFEST_REQUEST", ""},
    {"MANIFEST", ""},
    {"CHUNK_REQUEST", ""},
    {"CHUNK_DATA", ""},
    {"CONTENT_REFUSED", ""},
};

struct Components {
  Deliveries log;
  std::vector<net::Clock::time_point> stamps;
  std::vector<protocol::Message> playback_messages;
  FakeElection election{log};
  FakeClock clock{log, stamps};
  FakePlayback playback{log, playback_messages};
  FakeRooms rooms{log};
  MessageHandler handler{election, clock, playback, rooms};
};

}  // namespace

TEST_CASE("every message type reaches exactly its component, or none for the network layer's") {
  REQUIRE(kOwner.size() == std::variant_size_v<protocol::Message>);
  for (const auto& message : protocol::test::typical_messages()) {
    const std::string type(protocol::type_name(message));
    INFO(type);
    REQUIRE(kOwner.contains(type));
    Components components;
    const std::string from = protocol::sender(message);
    components.handler.handle(from, message, net::Clock::time_point{});
    const std::string& owner = kOwner.at(type);
    if (owner.empty()) {
      CHECK(components.log.empty());
    } else {
      CHECK(components.log == Deliveries{delivery(owner, message, from)});
    }
  }
}

TEST_CASE("clock sampling gets the sender and the receive stamp") {
  Components components;
  const net::Clock::time_point received{std::chrono::microseconds{123'456}};
  components.handler.handle("node-b", protocol::TimeResponse{"node-b", 4, 1, 2, 3}, received);
  CHECK(components.log == Deliveries{"clock TIME_RESPONSE from node-b"});
  REQUIRE(components.stamps.size() == 1);
  CHECK(std::chrono::duration_cast<std::chrono::microseconds>(
            components.stamps.front().time_since_epoch()).count() == 123'456);
}

TEST_CASE("playback gets the message whole, from the peer it came from") {
  Components components;
  const protocol::Message pause = protocol::PauseRequest{"node-a", 3, 9, 96'000, 5'000'000};
  components.handler.handle("node-a", pause, net::Clock::time_point{});
  REQUIRE(components.playback_messages.size() == 1);
  CHECK(components.playback_messages.front() == pause);
}
