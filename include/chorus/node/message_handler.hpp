#pragma once
// MessageHandler: the one place where each incoming message type meets the component that acts on
// it (docs/architecture.md has the table with files). One std::visit over protocol::Message with
// one overload per type and no catch-all: a new message type that nobody routes does not compile.
//
//   ELECTION, ELECTION_ANSWER, COORDINATOR               -> election (ElectionShell)
//   TIME_REQUEST, TIME_RESPONSE                          -> clock sampling (ClockSampler)
//   PLAY/PAUSE/RESUME/STOP_REQUEST, STATE_SYNC_REQUEST,
//   STATE_SYNC_RESPONSE, STATE_OFFER, CONTROL_REQUEST,
//   CONTROL_RESPONSE, QUEUE_EDIT, QUEUE_SYNC_REQUEST,
//   QUEUE_SNAPSHOT, QUEUE_OFFER                          -> playback (PlaybackController)
//   ROOM_SET, ROOM_STATE                                 -> rooms (RoomControl)
//   HELLO, RECONNECT, HELLO_REJECT, DISCOVERY,
//   HEARTBEAT, LEAVE                                     -> consumed by the network layer; one
//                                                           that gets here is logged and dropped
//
// The components are seen through one small interface each (their "inbox"), so the routing can
// be tested with fakes. The network layer has verified every sender. Io thread only.

#include <string>

#include "chorus/net/connection.hpp"
#include "chorus/protocol/messages.hpp"

namespace chorus::node {

/// The election's messages (ElectionShell).
class ElectionInbox {
 public:
  virtual void receive(const protocol::Election& message) = 0;
  virtual void receive(const protocol::ElectionAnswer& message) = 0;
  virtual void receive(const protocol::Coordinator& message) = 0;

 protected:
  ~ElectionInbox() = default;
};

/// Clock sampling's messages (ClockSampler). `received` is when the bytes met the socket: the
/// sample's receive stamp.
class ClockInbox {
 public:
  virtual void on_request(const std::string& from, const protocol::TimeRequest& request,
                          net::Clock::time_point received) = 0;
  virtual void on_response(const std::string& from, const protocol::TimeResponse& response,
                           net::Clock::time_point received) = 0;

 protected:
  ~ClockInbox() = default;
};

/// Playback's messages (PlaybackController): commands, state and control. They go on whole,
/// because the pure core keeps commands that arrive early as they came.
class PlaybackInbox {
 public:
  virtual void receive(const std::string& from, const protocol::Message& message) = 0;

 protected:
  ~PlaybackInbox() = default;
};

/// The rooms' messages (RoomControl): ROOM_SET and ROOM_STATE.
class RoomInbox {
 public:
  virtual void receive(const std::string& from, const protocol::Message& message) = 0;

 protected:
  ~RoomInbox() = default;
};

class MessageHandler {
 public:
  MessageHandler(ElectionInbox& election, ClockInbox& clock, PlaybackInbox& playback,
                 RoomInbox& rooms);

  /// Hands `message` from the peer `from` to the one component that acts on it.
  void handle(const std::string& from, const protocol::Message& message,
              net::Clock::time_point received) const;

 private:
  ElectionInbox& election_;
  ClockInbox& clock_;
  PlaybackInbox& playback_;
  RoomInbox& rooms_;
};

}  // namespace chorus::node
