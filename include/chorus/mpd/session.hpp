#pragma once
// Session: one MPD client connection's protocol state, without the socket. Pure: the server hands
// it each request line with the newest snapshot and the time, runs the cli::Command a step asks
// for, and hands back its outcome; change notices come in through on_changes().
//
//   greeting        "OK MPD 0.23.5"
//   command lists   command_list_begin / command_list_ok_begin ... command_list_end: run in order,
//                   stopping at the first error, whose ACK names its index in the list
//   idle / noidle   changes since the last idle, or the first ones while idling; any other command
//                   during idle ends the connection (as MPD does)
//   password        when configured, every command but password, ping, close, commands and
//                   notcommands is refused until it is given
//   everything else the command table (src/mpd/commands.cpp)
//
// A step that carries a command must be answered with on_outcome() before the next line: commands
// run strictly in order, as clients that pipeline expect.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/cli/command.hpp"
#include "chorus/control/control_port.hpp"
#include "chorus/mpd/response.hpp"
#include "chorus/mpd/tokenizer.hpp"

namespace chorus::mpd {

/// The protocol version announced; the commands of docs/mpd.md are those of this version.
inline constexpr std::string_view kProtocolVersion = "0.23.5";

struct SessionConfig {
  std::optional<std::string> password;  ///< absent: no password, every command allowed
  std::size_t max_command_list = 4096;  ///< commands in one list; more: the list is refused
};

/// The times a session reports (status, stats): passed in, so the session stays pure.
struct Instant {
  std::int64_t steady_us = 0;       ///< chorus::now_us(): where the playing track is
  std::int64_t uptime_s = 0;        ///< since the server started
  std::int64_t db_update_unix = 0;  ///< when the library last changed (or the server started)
};

/// What the server does after a line, an outcome or a change notice.
struct Step {
  std::string output;                  ///< bytes to send, in order
  std::optional<cli::Command> command; ///< run this, then call on_outcome() with its result
  bool close = false;                  ///< close after sending `output`
};

/// Tags a client may switch off with `tagtypes` (song entries leave them out).
struct TagMask {
  bool title = true;
  bool artist = true;
  bool album = true;
};

class Session {
 public:
  explicit Session(SessionConfig config);

  /// The first line the server sends.
  static std::string greeting();

  /// One request line, without its '\n'.
  Step on_line(std::string_view line, const control::ClusterView& view, const Instant& now);
  /// The result of the step's command.
  Step on_outcome(const control::Outcome& outcome, const control::ClusterView& view,
                  const Instant& now);
  /// Something changed; while idling, this may answer the idle.
  Step on_changes(control::Subsystems changed);

  bool idling() const { return idle_mask_ != 0; }
  bool awaiting_outcome() const { return !pending_.empty(); }
  bool authorized() const { return authorized_; }

 private:
  Step run_batch(const control::ClusterView& view, const Instant& now, Step step);
  Step finish_batch(Step step);
  Step fail(Step step, const Failure& failure);
  Step idle_command(const Words& words, Step step);
  std::string answer_idle();
  /// close, idle, noidle, password: `answered` when the step is complete (closed, idling,
  /// refused), `next` to go on with the batch, `none` for the command table.
  enum class Special { none, next, answered };
  Special special_command(const Words& words, Step& step);

  SessionConfig config_;
  bool authorized_;
  TagMask tags_;
  control::Subsystems changed_ = 0;    ///< since the last idle answer
  control::Subsystems idle_mask_ = 0;  ///< idling for these (0: not idling)

  enum class ListMode { none, plain, with_ok };
  ListMode collecting_ = ListMode::none;  ///< inside command_list_begin ... end
  std::vector<std::string> collected_;  ///< lines, tokenized when the list runs (as MPD does)

  // The batch being run: one command, or a whole list.
  std::vector<std::string> batch_;
  Words current_;  ///< the command of batch_ being run
  ListMode batch_mode_ = ListMode::none;
  std::size_t batch_next_ = 0;
  std::vector<cli::Command> pending_;  ///< the current command's remaining cli commands
  bool answer_id_ = false;
  std::optional<std::uint64_t> added_id_;
};

}  // namespace chorus::mpd
