#include "chorus/security/record_layer.hpp"

#include <cassert>

#include "sodium_ready.hpp"

namespace chorus::security {

RecordSealer::RecordSealer(const StreamKey& key) {
  ensure_sodium();
  crypto_secretstream_xchacha20poly1305_init_push(&state_, header_.data(), key.data());
}

RecordSealer::~RecordSealer() { sodium_memzero(&state_, sizeof state_); }

std::string RecordSealer::seal(std::string_view body) {
  assert(body.size() <= protocol::kMaxFrameBytes);
  std::string ciphertext(body.size() + kRecordOverhead, '\0');
  crypto_secretstream_xchacha20poly1305_push(
      &state_, reinterpret_cast<unsigned char*>(ciphertext.data()), nullptr,
      reinterpret_cast<const unsigned char*>(body.data()), body.size(), nullptr, 0,
      crypto_secretstream_xchacha20poly1305_TAG_MESSAGE);
  return protocol::encode_length_prefixed(ciphertext);
}

RecordOpener::RecordOpener(const StreamKey& key, const StreamHeader& header)
    : records_(protocol::kMaxFrameBytes + kRecordOverhead) {
  ensure_sodium();
  crypto_secretstream_xchacha20poly1305_init_pull(&state_, header.data(), key.data());
}

RecordOpener::~RecordOpener() { sodium_memzero(&state_, sizeof state_); }

void RecordOpener::feed(std::string_view bytes) {
  if (error_.empty()) records_.feed(bytes);
}

protocol::FrameResult RecordOpener::next() {
  if (!error_.empty()) return protocol::FrameError{error_};
  auto result = records_.next();
  auto* record = std::get_if<protocol::Frame>(&result);
  if (!record) return result;
  if (record->body.size() <= kRecordOverhead) {
    error_ = "record too short to hold a frame";
    return protocol::FrameError{error_};
  }
  std::string body(record->body.size() - kRecordOverhead, '\0');
  unsigned char tag = 0;
  int opened = crypto_secretstream_xchacha20poly1305_pull(
      &state_, reinterpret_cast<unsigned char*>(body.data()), nullptr, &tag,
      reinterpret_cast<const unsigned char*>(record->body.data()), record->body.size(), nullptr, 0);
  if (opened != 0 || tag != crypto_secretstream_xchacha20poly1305_TAG_MESSAGE) {
    error_ = "record failed authentication (altered, replayed, reordered or lost)";
    return protocol::FrameError{error_};
  }
  return protocol::Frame{std::move(body)};
}

}  // namespace chorus::security
