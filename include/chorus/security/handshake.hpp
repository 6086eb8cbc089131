#pragma once
// The handshake of an authenticated link: both ends prove the cluster key to each other and agree
// on a fresh pair of record keys, before either says anything else. A state machine fed with the
// bytes received; it owns no socket (the connection moves the bytes).
//
//   dialer                                         acceptor
//     HELLO  magic, version, key id, ephemeral ──▶   (unknown key id: close, say nothing)
//            ◀── HELLO (same key id, ephemeral) + PROOF (MAC, record header)
//   (wrong proof: close)
//     PROOF  (MAC, record header)            ──▶   (wrong proof: close)
//   established: records both ways
//
//   HELLO = "CHRS" | version 1 | 3 zero bytes | key id (8) | X25519 public key (32)   48 bytes
//   PROOF = MAC (32) | secretstream header (24)                                      56 bytes
//
// Each side's ephemeral X25519 key is new for every connection and serves as its nonce. Both ends
// derive, with libsodium's KDF, from
//   master = BLAKE2b-256(key = cluster key, X25519(own secret, peer public) | BLAKE2b-256(both HELLOs))
// the dialer's and the acceptor's MAC and one record key per direction. A MAC proves the key and
// binds both fresh ephemerals, so an old handshake replayed gets nowhere; a record key is one
// connection's and one direction's; and a recorded session stays sealed even if the cluster key
// leaks later (the ephemeral secrets are gone).

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

#include "chorus/security/cluster_key.hpp"
#include "chorus/security/record_layer.hpp"

namespace chorus::security {

enum class Role { dialer, acceptor };

inline constexpr std::size_t kHandshakeHelloBytes = 48;
inline constexpr std::size_t kHandshakeProofBytes = 56;
/// The first bytes of a HELLO: how a node tells a keyed peer from an open one.
inline constexpr std::string_view kHandshakeMagic = "CHRS";

/// One connection's X25519 key pair.
struct Ephemeral {
  std::array<unsigned char, 32> public_key{};
  std::array<unsigned char, 32> secret_key{};
  /// A fresh pair from the operating system's random source.
  static Ephemeral generate();
};

class Handshake {
 public:
  enum class State { in_progress, established, failed };

  Handshake(Role role, KeyRing keys, Ephemeral ephemeral);
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  /// How many more bytes the handshake needs before it can move on (0 once it has ended): read
  /// no more than this from a peer that has not proved the key.
  std::size_t wanted() const;
  /// Takes from `received` the bytes of the handshake's own messages, never one more; returns
  /// how many it took (the rest are the first records).
  std::size_t feed(std::string_view received);
  /// Bytes to send now; empty when there is nothing new.
  std::string take_output();

  State state() const { return state_; }
  /// Why the handshake failed (empty unless failed).
  const std::string& failure() const { return failure_; }
  /// The key the two ends share (valid once established).
  const KeyId& key_id() const { return key_id_; }
  /// The link's record layer: once, after established.
  SecureSession take_session();

 private:
  void on_peer_hello();
  void on_peer_proof();
  bool derive_secrets();
  std::string hello() const;
  std::string proof();
  void fail(std::string reason);

  Role role_;
  KeyRing keys_;
  Ephemeral ephemeral_;
  State state_ = State::in_progress;
  std::string failure_;
  std::string received_;  ///< the peer's current message, at most kHandshakeProofBytes
  std::string own_hello_;
  std::string peer_hello_;
  std::string output_;
  bool peer_hello_done_ = false;
  ClusterKey key_;
  KeyId key_id_{};
  std::array<unsigned char, 32> own_mac_{};
  std::array<unsigned char, 32> peer_mac_{};
  StreamKey send_key_{};
  StreamKey receive_key_{};
  std::optional<RecordSealer> sealer_;
  std::optional<RecordOpener> opener_;
};

}  // namespace chorus::security
