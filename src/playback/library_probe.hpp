#pragma once
// Probing audio files without decoding them: format (from the content, not the extension),
// sample rate, channels and exact length, from the headers (WAV fmt/data, FLAC STREAMINFO,
// Ogg Vorbis/Opus last granule position) or, for MP3, by walking the frame headers.
// Pure functions over a byte source; no SDL, no allocation beyond small buffers.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace chorus::playback::detail {

/// Random access to a file's bytes.
class ByteReader {
 public:
  virtual ~ByteReader() = default;
  virtual std::uint64_t size() const = 0;
  /// Reads up to out.size() bytes at `offset`; returns the count (short only at EOF or error).
  virtual std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out) const = 0;
};

class MemoryReader final : public ByteReader {
 public:
  explicit MemoryReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::uint64_t size() const override { return bytes_.size(); }
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out) const override;

 private:
  std::span<const std::uint8_t> bytes_;
};

/// pread() on an open descriptor (not owned), through a small read-ahead window so that walking
/// MP3 frame headers costs few system calls.
class FdReader final : public ByteReader {
 public:
  FdReader(int fd, std::uint64_t size) : fd_(fd), size_(size) {}
  std::uint64_t size() const override { return size_; }
  std::size_t read_at(std::uint64_t offset, std::span<std::uint8_t> out) const override;

 private:
  int fd_;
  std::uint64_t size_;
  mutable std::uint8_t window_[16384];
  mutable std::uint64_t window_offset_ = 0;
  mutable std::size_t window_size_ = 0;
};

struct ProbeResult {
  std::string format;               ///< "wav", "flac", "vorbis", "opus", "mp3"
  int rate = 0;                     ///< source sample rate
  int channels = 0;
  std::int64_t source_frames = 0;   ///< at the source rate
  std::string error;                ///< empty on success
};

/// Longest track accepted, in seconds (a week). A header that claims more is corrupt, and its
/// length in frames, µs and ns at 48 kHz would overflow.
inline constexpr std::int64_t kMaxTrackSeconds = 7 * 24 * 3600;

/// Identifies and measures the audio in `reader`: on success, a rate, channels and a length
/// under kMaxTrackSeconds that is at least one frame at 48 kHz. Never throws.
ProbeResult probe_audio(const ByteReader& reader);

/// source_frames at `rate` → frames at 48 kHz (exact when rate is 48000, rounded otherwise).
std::int64_t frames_at_output_rate(std::int64_t source_frames, int rate);

}  // namespace chorus::playback::detail
