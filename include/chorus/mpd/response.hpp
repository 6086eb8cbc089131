#pragma once
// The MPD protocol's answers: `key: value` lines, then `OK` (or `list_OK` inside a command list),
// or one `ACK [error@command_listNum] {current_command} message_text` line. Pure.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace chorus::mpd {

/// The protocol's error codes (MPD's enum ack).
enum class Ack : int {
  not_list = 1,
  arg = 2,
  password = 3,
  permission = 4,
  unknown = 5,
  no_exist = 50,
  playlist_max = 51,
  system = 52,
  playlist_load = 53,
  update_already = 54,
  player_sync = 55,
  exist = 56,
};

/// An error as a command reports it: its code and the text after the braces.
struct Failure {
  Ack code = Ack::unknown;
  std::string message;
  friend bool operator==(const Failure&, const Failure&) = default;
};

/// The whole ACK line, with its '\n'. Control bytes in `command` and `message` become spaces.
std::string ack_line(Ack code, std::size_t list_index, std::string_view command,
                     std::string_view message);

/// Builds the body of an answer: one `key: value` line at a time.
class ResponseWriter {
 public:
  /// Writes `key: value\n`; a line break or other control byte in `value` becomes a space, so a
  /// tag can never end the line early or forge another one.
  void field(std::string_view key, std::string_view value);
  void field(std::string_view key, std::int64_t value);
  void field(std::string_view key, std::uint64_t value);
  void field(std::string_view key, int value) { field(key, static_cast<std::int64_t>(value)); }
  /// Writes the value with exactly three decimals (elapsed, duration).
  void seconds(std::string_view key, double value);

  const std::string& text() const { return text_; }
  std::string take() { return std::move(text_); }
  bool empty() const { return text_.empty(); }

 private:
  std::string text_;
};

}  // namespace chorus::mpd
