#include "chorus/protocol/frame.hpp"

#include <cassert>

#include "chorus/protocol/codec.hpp"

namespace chorus::protocol {

std::string encode_frame(std::string_view body) {
  assert(body.size() <= kMaxFrameBytes && "frame body over kMaxFrameBytes");
  return encode_length_prefixed(body);
}

std::string encode_length_prefixed(std::string_view body) {
  const auto n = static_cast<std::uint32_t>(body.size());
  std::string frame;
  frame.reserve(kFrameHeaderBytes + body.size());
  frame.push_back(static_cast<char>((n >> 24) & 0xff));
  frame.push_back(static_cast<char>((n >> 16) & 0xff));
  frame.push_back(static_cast<char>((n >> 8) & 0xff));
  frame.push_back(static_cast<char>(n & 0xff));
  frame.append(body);
  return frame;
}

std::string encode_message_frame(const Message& message) { return encode_frame(encode(message)); }

FrameDecoder::FrameDecoder(std::uint32_t max_frame_bytes) : max_frame_bytes_(max_frame_bytes) {}

void FrameDecoder::feed(std::string_view bytes) {
  if (!error_.empty()) return;  // a broken stream stays broken; keep nothing
  // Drop consumed bytes once they are at least half the buffer: amortised O(1) per byte, and
  // the buffer never holds more than one partial frame plus what was fed since the last next().
  if (consumed_ > 0 && consumed_ * 2 >= buffer_.size()) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(bytes);
}

FrameResult FrameDecoder::next() {
  if (!error_.empty()) return FrameError{error_};
  const std::size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderBytes) return NeedMore{};

  const auto* header = reinterpret_cast<const unsigned char*>(buffer_.data() + consumed_);
  const std::uint32_t length = (std::uint32_t{header[0]} << 24) | (std::uint32_t{header[1]} << 16) |
                               (std::uint32_t{header[2]} << 8) | std::uint32_t{header[3]};
  if (length == 0 || length > max_frame_bytes_) {
    error_ = length == 0 ? "frame length 0"
                         : "frame length " + std::to_string(length) + " exceeds the cap of " +
                               std::to_string(max_frame_bytes_) + " bytes";
    std::string().swap(buffer_);  // release the memory: nothing more will be read
    consumed_ = 0;
    return FrameError{error_};
  }
  if (available - kFrameHeaderBytes < length) return NeedMore{};

  Frame frame{buffer_.substr(consumed_ + kFrameHeaderBytes, length)};
  consumed_ += kFrameHeaderBytes + length;
  if (consumed_ == buffer_.size()) {
    // An idle connection keeps no large buffer a big frame once needed.
    constexpr std::size_t kKeptCapacity = 64 * 1024;
    if (buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);
    else buffer_.clear();
    consumed_ = 0;
  }
  return frame;
}

std::size_t FrameDecoder::buffered() const { return buffer_.size() - consumed_; }

}  // namespace chorus::protocol
