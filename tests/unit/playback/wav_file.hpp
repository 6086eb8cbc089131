#pragma once
// Test tracks written on the spot: raw files and canonical 16-bit PCM WAV files; raw sample files
// read back.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace chorus::test {

inline void write_file(const std::filesystem::path& path, const void* data, std::size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(static_cast<const char*>(data), static_cast<std::streamsize>(size));
}

inline void write_file(const std::filesystem::path& path, const std::string& text) {
  write_file(path, text.data(), text.size());
}

/// A canonical 16-bit PCM WAV file of interleaved `samples`.
inline std::vector<unsigned char> make_wav(int rate, int channels,
                                           const std::vector<std::int16_t>& samples) {
  std::vector<unsigned char> out;
  out.reserve(44 + samples.size() * 2);
  auto u32 = [&](std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(v >> (8 * i)));
  };
  auto u16 = [&](std::uint16_t v) {
    out.push_back(static_cast<unsigned char>(v));
    out.push_back(static_cast<unsigned char>(v >> 8));
  };
  auto tag = [&](const char* t) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<unsigned char>(t[i]));
  };
  const auto data_bytes = static_cast<std::uint32_t>(samples.size() * 2);
  tag("RIFF");
  u32(36 + data_bytes);
  tag("WAVE");
  tag("fmt ");
  u32(16);
  u16(1);
  u16(static_cast<std::uint16_t>(channels));
  u32(static_cast<std::uint32_t>(rate));
  u32(static_cast<std::uint32_t>(rate * channels * 2));
  u16(static_cast<std::uint16_t>(channels * 2));
  u16(16);
  tag("data");
  u32(data_bytes);
  for (auto s : samples) u16(static_cast<std::uint16_t>(s));
  return out;
}

inline void write_wav(const std::filesystem::path& path, int rate, int channels,
                      const std::vector<std::int16_t>& samples) {
  const auto wav = make_wav(rate, channels, samples);
  write_file(path, wav.data(), wav.size());
}

/// A short stereo 48 kHz WAV whose samples depend on `seed`, so that every file has its own
/// hash; its directory is made if missing.
inline void write_tone(const std::filesystem::path& path, int seed, std::size_t frames = 2400) {
  std::filesystem::create_directories(path.parent_path());
  std::vector<std::int16_t> samples(frames * 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = static_cast<std::int16_t>((i * 37 + static_cast<std::size_t>(seed) * 101) % 20000);
  }
  write_wav(path, 48000, 2, samples);
}

/// The 16-bit little-endian samples of a raw file (a trailing odd byte is ignored).
inline std::vector<std::int16_t> read_samples(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  const std::vector<char> bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::int16_t> samples(bytes.size() / 2);
  for (std::size_t i = 0; i < samples.size(); ++i) {
    samples[i] = static_cast<std::int16_t>(static_cast<std::uint8_t>(bytes[2 * i]) |
                                           (static_cast<std::uint8_t>(bytes[2 * i + 1]) << 8));
  }
  return samples;
}

}  // namespace chorus::test
