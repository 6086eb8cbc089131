#pragma once
// The record layer of an authenticated link: each frame body is sealed with libsodium's
// secretstream (XChaCha20-Poly1305) under a key of its own direction and sent as a
// length-prefixed record. secretstream advances its nonce with every record, so a record that is
// replayed, reordered, dropped or altered fails authentication, and the link is closed.
//
//   record = 4-byte big-endian length L | L bytes of ciphertext (the body + 17 bytes of tag)

#include <array>
#include <cstddef>
#include <string>
#include <string_view>

#include <sodium.h>

#include "chorus/protocol/frame.hpp"

namespace chorus::security {

using StreamKey = std::array<unsigned char, crypto_secretstream_xchacha20poly1305_KEYBYTES>;
using StreamHeader = std::array<unsigned char, crypto_secretstream_xchacha20poly1305_HEADERBYTES>;

/// Bytes a record adds to its frame body, besides the length prefix.
inline constexpr std::size_t kRecordOverhead = crypto_secretstream_xchacha20poly1305_ABYTES;

/// Seals the frames one side sends. Its header must reach the peer before the first record.
class RecordSealer {
 public:
  explicit RecordSealer(const StreamKey& key);
  ~RecordSealer();
  RecordSealer(RecordSealer&&) noexcept = default;
  RecordSealer& operator=(RecordSealer&&) noexcept = default;

  const StreamHeader& header() const { return header_; }
  /// The record carrying `body` (at most protocol::kMaxFrameBytes bytes).
  std::string seal(std::string_view body);

 private:
  crypto_secretstream_xchacha20poly1305_state state_{};
  StreamHeader header_{};
};

/// Opens the records one side receives, in order: fed raw bytes, returns frame bodies.
class RecordOpener {
 public:
  RecordOpener(const StreamKey& key, const StreamHeader& header);
  ~RecordOpener();
  RecordOpener(RecordOpener&&) noexcept = default;
  RecordOpener& operator=(RecordOpener&&) noexcept = default;

  void feed(std::string_view bytes);
  /// The next frame body, NeedMore, or a FrameError that stays (a record that fails
  /// authentication breaks the stream for good).
  protocol::FrameResult next();
  std::size_t buffered() const { return records_.buffered(); }

 private:
  crypto_secretstream_xchacha20poly1305_state state_{};
  protocol::FrameDecoder records_;
  std::string error_;
};

/// Both directions of one established link.
struct SecureSession {
  RecordSealer sealer;
  RecordOpener opener;
};

}  // namespace chorus::security
