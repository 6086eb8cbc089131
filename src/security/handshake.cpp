#include "chorus/security/handshake.hpp"

#include <algorithm>
#include <cstdint>
#include <utility>

#include "sodium_ready.hpp"

namespace chorus::security {
namespace {

constexpr std::uint8_t kVersion = 1;
constexpr char kKdfContext[] = "chorus/1";  // libsodium's KDF takes an 8-byte context
enum Subkey : std::uint64_t { dialer_mac = 1, acceptor_mac = 2, dialer_to_acceptor = 3, acceptor_to_dialer = 4 };

const unsigned char* bytes(std::string_view text) {
  return reinterpret_cast<const unsigned char*>(text.data());
}

template <std::size_t N>
void wipe(std::array<unsigned char, N>& secret) {
  sodium_memzero(secret.data(), secret.size());
}

}  // namespace

Ephemeral Ephemeral::generate() {
  ensure_sodium();
  Ephemeral pair;
  crypto_box_keypair(pair.public_key.data(), pair.secret_key.data());
  return pair;
}

Handshake::Handshake(Role role, KeyRing keys, Ephemeral ephemeral)
    : role_(role), keys_(std::move(keys)), ephemeral_(ephemeral) {
  ensure_sodium();
  if (role_ == Role::dialer) {
    key_ = keys_.primary;
    key_id_ = key_.id();
    own_hello_ = hello();
    output_ = own_hello_;
  }
}

Handshake::~Handshake() {
  wipe(ephemeral_.secret_key);
  wipe(key_.bytes);
  wipe(keys_.primary.bytes);
  for (auto& key : keys_.also_accepted) wipe(key.bytes);
  wipe(own_mac_);
  wipe(peer_mac_);
  wipe(send_key_);
  wipe(receive_key_);
}

std::size_t Handshake::wanted() const {
  if (state_ != State::in_progress) return 0;
  std::size_t message = peer_hello_done_ ? kHandshakeProofBytes : kHandshakeHelloBytes;
  return message - received_.size();
}

std::size_t Handshake::feed(std::string_view received) {
  std::size_t taken = 0;
  while (wanted() > 0 && taken < received.size()) {
    std::size_t part = std::min(received.size() - taken, wanted());
    received_.append(received.substr(taken, part));
    taken += part;
    if (wanted() > 0) break;
    if (!peer_hello_done_) {
      on_peer_hello();
    } else {
      on_peer_proof();
    }
    received_.clear();
  }
  return taken;
}

std::string Handshake::take_output() { return std::exchange(output_, {}); }

std::string Handshake::hello() const {
  std::string message(kHandshakeMagic);
  message.push_back(static_cast<char>(kVersion));
  message.append(3, '\0');
  message.append(reinterpret_cast<const char*>(key_id_.data()), key_id_.size());
  message.append(reinterpret_cast<const char*>(ephemeral_.public_key.data()), ephemeral_.public_key.size());
  return message;
}

void Handshake::on_peer_hello() {
  std::string_view message = received_;
  peer_hello_done_ = true;
  if (!message.starts_with(kHandshakeMagic)) {
    return fail("the peer does not open with the keyed handshake (no cluster key, or not a chorus node)");
  }
  if (static_cast<std::uint8_t>(message[4]) != kVersion || message.substr(5, 3) != std::string_view("\0\0\0", 3)) {
    return fail("the peer speaks handshake version " + std::to_string(static_cast<std::uint8_t>(message[4])) +
                ", this node version " + std::to_string(kVersion));
  }
  KeyId peer_key_id{};
  std::copy_n(bytes(message.substr(8)), peer_key_id.size(), peer_key_id.begin());
  if (role_ == Role::acceptor) {
    auto key = keys_.find(peer_key_id);
    if (!key) return fail("the peer uses another cluster key (key id " + to_hex(peer_key_id) + ")");
    key_ = *key;
    key_id_ = peer_key_id;
    own_hello_ = hello();
  } else if (peer_key_id != key_id_) {
    return fail("the peer answered with another cluster key (key id " + to_hex(peer_key_id) + ")");
  }
  peer_hello_ = message;
  if (!derive_secrets()) return fail("the peer's ephemeral key is invalid");
  if (role_ == Role::acceptor) output_ += own_hello_ + proof();
}

bool Handshake::derive_secrets() {
  std::array<unsigned char, crypto_scalarmult_BYTES> shared{};
  const auto* peer_public = bytes(std::string_view(peer_hello_).substr(16));
  if (crypto_scalarmult(shared.data(), ephemeral_.secret_key.data(), peer_public) != 0) return false;
  wipe(ephemeral_.secret_key);  // no longer needed: a later leak of the key cannot open this link

  const std::string& dialer_hello = role_ == Role::dialer ? own_hello_ : peer_hello_;
  const std::string& acceptor_hello = role_ == Role::dialer ? peer_hello_ : own_hello_;
  std::array<unsigned char, crypto_generichash_BYTES> transcript{};
  crypto_generichash_state hash;
  crypto_generichash_init(&hash, nullptr, 0, transcript.size());
  crypto_generichash_update(&hash, bytes(dialer_hello), dialer_hello.size());
  crypto_generichash_update(&hash, bytes(acceptor_hello), acceptor_hello.size());
  crypto_generichash_final(&hash, transcript.data(), transcript.size());

  std::array<unsigned char, crypto_kdf_KEYBYTES> master{};
  crypto_generichash_init(&hash, key_.bytes.data(), key_.bytes.size(), master.size());
  crypto_generichash_update(&hash, shared.data(), shared.size());
  crypto_generichash_update(&hash, transcript.data(), transcript.size());
  crypto_generichash_final(&hash, master.data(), master.size());
  wipe(shared);

  bool dialer = role_ == Role::dialer;
  auto derive = [&](auto& out, Subkey id) {
    crypto_kdf_derive_from_key(out.data(), out.size(), id, kKdfContext, master.data());
  };
  derive(own_mac_, dialer ? dialer_mac : acceptor_mac);
  derive(peer_mac_, dialer ? acceptor_mac : dialer_mac);
  derive(send_key_, dialer ? dialer_to_acceptor : acceptor_to_dialer);
  derive(receive_key_, dialer ? acceptor_to_dialer : dialer_to_acceptor);
  wipe(master);
  return true;
}

std::string Handshake::proof() {
  sealer_.emplace(send_key_);
  std::string message(reinterpret_cast<const char*>(own_mac_.data()), own_mac_.size());
  message.append(reinterpret_cast<const char*>(sealer_->header().data()), sealer_->header().size());
  return message;
}

void Handshake::on_peer_proof() {
  if (crypto_verify_32(bytes(received_), peer_mac_.data()) != 0) {
    return fail("the peer failed to prove the cluster key");
  }
  StreamHeader header{};
  std::copy_n(bytes(std::string_view(received_).substr(32)), header.size(), header.begin());
  opener_.emplace(receive_key_, header);
  if (role_ == Role::dialer) output_ += proof();
  state_ = State::established;
}

void Handshake::fail(std::string reason) {
  state_ = State::failed;
  failure_ = std::move(reason);
  output_.clear();
}

SecureSession Handshake::take_session() {
  return SecureSession{std::move(*sealer_), std::move(*opener_)};
}

}  // namespace chorus::security
