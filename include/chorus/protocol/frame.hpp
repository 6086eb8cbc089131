#pragma once
// Framing: a 4-byte big-endian length, then that many bytes of JSON. Pure: fed bytes, no socket.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "chorus/protocol/messages.hpp"

namespace chorus::protocol {

/// Bytes of the length prefix.
inline constexpr std::size_t kFrameHeaderBytes = 4;

/// One whole frame body (the JSON text).
struct Frame {
  std::string body;
};
/// Not enough bytes buffered for the next frame yet.
struct NeedMore {};
/// The stream is broken (zero or oversized length); the connection must be closed.
struct FrameError {
  std::string detail;
};

using FrameResult = std::variant<Frame, NeedMore, FrameError>;

/// Prefixes `body` with its length. `body` must not exceed kMaxFrameBytes.
std::string encode_frame(std::string_view body);

/// Prefixes any bytes (fewer than 2^32) with their length, as encode_frame does.
std::string encode_length_prefixed(std::string_view bytes);

/// encode_frame(encode(message)).
std::string encode_message_frame(const Message& message);

/// Incremental decoder: feed() whatever the socket delivered, then call next() until NeedMore.
/// A length is checked against the cap before any body memory is reserved.
/// After a FrameError every further next() returns the same error.
class FrameDecoder {
 public:
  explicit FrameDecoder(std::uint32_t max_frame_bytes = kMaxFrameBytes);

  /// Appends received bytes.
  void feed(std::string_view bytes);
  /// Extracts the next complete frame, if any.
  FrameResult next();
  /// Bytes received but not yet returned as frames.
  std::size_t buffered() const;
  /// Changes the cap for frames not yet begun (e.g. once the peer has identified itself).
  void set_max_frame_bytes(std::uint32_t max_frame_bytes) { max_frame_bytes_ = max_frame_bytes; }

 private:
  std::uint32_t max_frame_bytes_;
  std::string buffer_;
  std::size_t consumed_ = 0;
  std::string error_;
};

}  // namespace chorus::protocol
