#pragma once
// RoomControl: the Asio shell around RoomMixer (the rooms' volume and mute, pure), on the io
// thread. It owns what the core may not: the answer timer, the file that keeps this room's level
// across restarts, the prompt's reply callbacks; it sends through the transport and hands this
// room's gain to the audio path (the output ramps to it; playback/gain_stage.hpp).
//
//   every input (command, message, peer up/down, timer) -> the core, with now; then its effects:
//     sends -> the transport      own level -> ApplyGain + the level file
//     replies -> the callbacks    changed   -> Changed (after the table shows the change)

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <boost/asio/steady_timer.hpp>

#include "chorus/cli/command.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/net/transport.hpp"
#include "chorus/node/message_handler.hpp"
#include "chorus/node/room_mixer.hpp"

namespace chorus::node {

class RoomControl final : public RoomInbox {
 public:
  using Done = std::function<void(control::Outcome)>;
  /// The gain this room plays at, 0..1 (called at once with the kept level, then on changes).
  using ApplyGain = std::function<void(float gain)>;
  using Changed = std::function<void(control::Subsystems changed)>;

  /// `level_file` keeps this room's level between runs (e.g. room.json in the cache directory);
  /// a missing or unreadable file means volume 100, unmuted.
  RoomControl(boost::asio::io_context& io, net::Transport& network,
              std::filesystem::path level_file, ApplyGain apply_gain, Changed changed = {});
  ~RoomControl();

  /// volume, mute, unmute; `done` is called exactly once, on the io thread.
  void command(const cli::Command& command, Done done);
  void peer_up(const std::string& id);
  void peer_down(const std::string& id);
  /// ROOM_SET and ROOM_STATE (MessageHandler routes only those here).
  void receive(const std::string& from, const protocol::Message& message) override;
  void stop();

  /// This room first, then the peers by id (`leader` and `output` left for the caller).
  std::vector<control::RoomView> rooms() const { return mixer_.rooms(); }
  const RoomLevel& own() const { return mixer_.own(); }

 private:
  template <class Input>
  void feed(Input&& input);
  void act(RoomEffects effects);
  void arm();

  net::Transport& network_;
  std::filesystem::path level_file_;
  ApplyGain apply_gain_;
  Changed changed_;
  RoomMixer mixer_;
  boost::asio::steady_timer timer_;
  std::optional<std::int64_t> armed_;
  std::map<RoomToken, Done> replies_;
  RoomToken next_token_ = 1;
};

}  // namespace chorus::node
