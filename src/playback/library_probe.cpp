#include "library_probe.hpp"

#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "output_format.hpp"

namespace chorus::playback::detail {

std::size_t MemoryReader::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
  if (offset >= bytes_.size() || out.empty()) return 0;
  const auto n = std::min<std::uint64_t>(out.size(), bytes_.size() - offset);
  std::memcpy(out.data(), bytes_.data() + offset, static_cast<std::size_t>(n));
  return static_cast<std::size_t>(n);
}

std::size_t FdReader::read_at(std::uint64_t offset, std::span<std::uint8_t> out) const {
  std::size_t done = 0;
  while (done < out.size()) {
    const std::uint64_t at = offset + done;
    if (at >= size_) break;
    if (at >= window_offset_ && at < window_offset_ + window_size_) {
      const auto from = static_cast<std::size_t>(at - window_offset_);
      const auto n = std::min(out.size() - done, window_size_ - from);
      std::memcpy(out.data() + done, window_ + from, n);
      done += n;
      continue;
    }
    ssize_t got;
    do {
      got = ::pread(fd_, window_, sizeof window_, static_cast<off_t>(at));
    } while (got < 0 && errno == EINTR);
    if (got <= 0) {
      window_size_ = 0;
      break;
    }
    window_offset_ = at;
    window_size_ = static_cast<std::size_t>(got);
  }
  return done;
}

std::int64_t frames_at_output_rate(std::int64_t source_frames, int rate) {
  if (rate <= 0 || source_frames <= 0) return 0;
  if (rate == kSampleRate) return source_frames;
  // source_frames · 48000 / rate, rounded, without overflow.
  const std::int64_t whole = source_frames / rate * kSampleRate;
  const std::int64_t part = (source_frames % rate * kSampleRate + rate / 2) / rate;
  return whole + part;
}

namespace {

std::uint16_t le16(const std::uint8_t* p) { return static_cast<std::uint16_t>(p[0] | p[1] << 8); }
std::uint32_t le32(const std::uint8_t* p) {
  return static_cast<std::uint32_t>(p[0]) | static_cast<std::uint32_t>(p[1]) << 8 |
         static_cast<std::uint32_t>(p[2]) << 16 | static_cast<std::uint32_t>(p[3]) << 24;
}
std::uint64_t le64(const std::uint8_t* p) {
  return static_cast<std::uint64_t>(le32(p)) | static_cast<std::uint64_t>(le32(p + 4)) << 32;
}
bool tag_is(const std::uint8_t* p, const char (&tag)[5]) { return std::memcmp(p, tag, 4) == 0; }

ProbeResult fail(std::string format, std::string error) {
  ProbeResult r;
  r.format = std::move(format);
  r.error = std::move(error);
  return r;
}

// ---------------------------------------------------------------- WAV (what SDL_LoadWAV reads)
constexpr std::uint16_t kWavePcm = 0x0001;
constexpr std::uint16_t kWaveMsAdpcm = 0x0002;
constexpr std::uint16_t kWaveFloat = 0x0003;
constexpr std::uint16_t kWaveAlaw = 0x0006;
constexpr std::uint16_t kWaveMulaw = 0x0007;
constexpr std::uint16_t kWaveImaAdpcm = 0x0011;
constexpr std::uint16_t kWaveExtensible = 0xFFFE;

ProbeResult probe_wav(const ByteReader& in) {
  const std::uint64_t size = in.size();
  std::uint64_t pos = 12;
  bool have_fmt = false;
  std::uint16_t tag = 0, channels = 0, block_align = 0, bits = 0, samples_per_block = 0;
  std::uint32_t rate = 0;
  std::int64_t fact_frames = -1;

  while (pos + 8 <= size) {
    std::uint8_t head[8];
    if (in.read_at(pos, head) != 8) break;
    const std::uint32_t length = le32(head + 4);
    const std::uint64_t body = pos + 8;
    if (tag_is(head, "fmt ")) {
      if (length < 16) return fail("wav", "WAV fmt chunk too short");
      std::array<std::uint8_t, 40> f{};
      const auto want = std::min<std::size_t>(length, f.size());
      if (in.read_at(body, std::span(f.data(), want)) != want) return fail("wav", "truncated WAV fmt chunk");
      tag = le16(&f[0]);
      channels = le16(&f[2]);
      rate = le32(&f[4]);
      block_align = le16(&f[12]);
      bits = le16(&f[14]);
      if (length >= 20) samples_per_block = le16(&f[18]);
      if (tag == kWaveExtensible) {
        if (length < 40) return fail("wav", "WAV extensible fmt chunk too short");
        tag = le16(&f[24]);  // first two bytes of the sub-format GUID
      }
      have_fmt = true;
    } else if (tag_is(head, "fact") && length >= 4) {
      std::uint8_t v[4];
      if (in.read_at(body, v) == 4) fact_frames = le32(v);
    } else if (tag_is(head, "data")) {
      if (!have_fmt) return fail("wav", "WAV data chunk before its fmt chunk");
      if (channels == 0 || channels > 8) return fail("wav", fmt::format("unsupported WAV channel count {}", channels));
      if (rate == 0 || rate > 384000) return fail("wav", fmt::format("unsupported WAV sample rate {}", rate));
      if (block_align == 0) return fail("wav", "WAV block align is 0");
      // A data length past the end of the file (truncated download, streaming writer): SDL drops
      // the missing frames, and so do we.
      const std::uint64_t data = std::min<std::uint64_t>(length, size - body);
      std::int64_t frames = 0;
      switch (tag) {
        case kWavePcm:
          if (bits != 8 && bits != 16 && bits != 24 && bits != 32)
            return fail("wav", fmt::format("unsupported WAV PCM sample size {} bits", bits));
          [[fallthrough]];
        case kWaveFloat:
          if (tag == kWaveFloat && bits != 32)
            return fail("wav", fmt::format("unsupported WAV float sample size {} bits", bits));
          [[fallthrough]];
        case kWaveAlaw:
        case kWaveMulaw:
          if (block_align != channels * ((bits + 7) / 8))
            return fail("wav", "WAV block align does not match channels × sample size");
          frames = static_cast<std::int64_t>(data / block_align);
          break;
        case kWaveMsAdpcm:
        case kWaveImaAdpcm:
          if (fact_frames >= 0) {
            frames = fact_frames;
          } else if (samples_per_block > 0) {
            frames = static_cast<std::int64_t>(data / block_align) * samples_per_block;
          } else {
            return fail("wav", "ADPCM WAV without a sample count");
          }
          break;
        default:
          return fail("wav", fmt::format("unsupported WAV encoding (format tag 0x{:04x})", tag));
      }
      if (frames == 0) return fail("wav", "WAV file has no audio frames");
      ProbeResult r;
      r.format = "wav";
      r.rate = static_cast<int>(rate);
      r.channels = channels;
      r.source_frames = frames;
      return r;
    }
    pos = body + length + (length & 1u);
  }
  return fail("wav", have_fmt ? "WAV file has no data chunk" : "WAV file has no fmt chunk");
}

// ---------------------------------------------------------------- ID3v2 (before FLAC or MP3)
std::uint64_t skip_id3v2(const ByteReader& in) {
  std::uint8_t h[10];
  if (in.read_at(0, h) != 10 || std::memcmp(h, "ID3", 3) != 0) return 0;
  if ((h[6] | h[7] | h[8] | h[9]) & 0x80) return 0;  // not a syncsafe size: not a tag
  const std::uint64_t body = static_cast<std::uint64_t>(h[6]) << 21 | h[7] << 14 | h[8] << 7 | h[9];
  return 10 + body + ((h[5] & 0x10) ? 10 : 0);
}

// ---------------------------------------------------------------- FLAC
ProbeResult probe_flac(const ByteReader& in, std::uint64_t at) {
  std::uint8_t b[4 + 4 + 34];
  if (in.read_at(at, b) != sizeof b) return fail("flac", "truncated FLAC header");
  const std::uint8_t* block = b + 4;
  if ((block[0] & 0x7f) != 0) return fail("flac", "FLAC file does not start with STREAMINFO");
  const std::uint8_t* si = block + 4;
  const int rate = si[10] << 12 | si[11] << 4 | si[12] >> 4;
  const int channels = ((si[12] >> 1) & 7) + 1;
  const std::int64_t total = static_cast<std::int64_t>(si[13] & 0x0f) << 32 |
                             static_cast<std::int64_t>(si[14]) << 24 | si[15] << 16 | si[16] << 8 | si[17];
  if (rate == 0) return fail("flac", "FLAC STREAMINFO has sample rate 0");
  if (total == 0) return fail("flac", "FLAC STREAMINFO gives no length (total samples 0)");
  ProbeResult r;
  r.format = "flac";
  r.rate = rate;
  r.channels = channels;
  r.source_frames = total;
  return r;
}

// ---------------------------------------------------------------- Ogg Vorbis / Opus
constexpr std::uint64_t kNoGranule = ~std::uint64_t{0};

ProbeResult probe_ogg(const ByteReader& in) {
  // First page: the identification header of the first logical stream.
  std::array<std::uint8_t, 27 + 255 + 64> first{};
  const auto got = in.read_at(0, first);
  if (got < 27 || first[4] != 0) return fail("ogg", "not a valid Ogg page");
  const std::uint32_t serial = le32(&first[14]);
  const std::size_t segments = first[26];
  const std::size_t packet = 27 + segments;
  if (got < packet + 19) return fail("ogg", "truncated Ogg header");
  const std::uint8_t* p = &first[packet];

  ProbeResult r;
  std::uint64_t pre_skip = 0;
  if (p[0] == 1 && std::memcmp(p + 1, "vorbis", 6) == 0) {
    if (le32(p + 7) != 0) return fail("vorbis", "unsupported Vorbis version");
    r.format = "vorbis";
    r.channels = p[11];
    r.rate = static_cast<int>(le32(p + 12));
  } else if (std::memcmp(p, "OpusHead", 8) == 0) {
    if ((p[8] & 0xf0) != 0) return fail("opus", "unsupported Opus version");
    r.format = "opus";
    r.channels = p[9];
    pre_skip = le16(p + 10);
    r.rate = kSampleRate;  // Opus always decodes at 48 kHz
  } else {
    return fail("ogg", "unsupported Ogg stream (neither Vorbis nor Opus)");
  }
  if (r.channels == 0 || r.rate <= 0) return fail(r.format, "invalid Ogg identification header");

  // Last page of that stream with a granule position: the stream's length in samples. A page
  // is at most 65307 bytes, so the last one starts within that distance of the end.
  const std::uint64_t size = in.size();
  const std::uint64_t tail_len = std::min<std::uint64_t>(size, 65536 + 512);
  std::vector<std::uint8_t> tail(static_cast<std::size_t>(tail_len));
  if (in.read_at(size - tail_len, tail) != tail.size()) return fail(r.format, "cannot read the end of the Ogg file");
  std::uint64_t granule = kNoGranule;
  for (std::size_t i = tail.size() >= 27 ? tail.size() - 27 + 1 : 0; i-- > 0;) {
    const std::uint8_t* q = &tail[i];
    if (q[0] != 'O' || q[1] != 'g' || q[2] != 'g' || q[3] != 'S' || q[4] != 0) continue;
    if (le32(q + 14) != serial) continue;
    const std::uint64_t g = le64(q + 6);
    if (g == kNoGranule) continue;
    granule = g;
    break;
  }
  if (granule == kNoGranule) return fail(r.format, "cannot find the length of the Ogg stream (truncated?)");
  if (granule <= pre_skip) return fail(r.format, "Ogg stream has no audio frames");
  const std::uint64_t samples = granule - pre_skip;
  if (samples > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
    return fail(r.format, "Ogg stream length out of range (granule position past 2^63)");
  r.source_frames = static_cast<std::int64_t>(samples);
  return r;
}

// ---------------------------------------------------------------- MP3 (MPEG audio frames)
struct MpegFrame {
  int version = 0;  // 1 = MPEG-1, 2 = MPEG-2, 25 = MPEG-2.5
  int layer = 0;
  int rate = 0;
  int channels = 0;
  std::uint32_t length = 0;
  int samples = 0;
  int side_info = 0;  // layer III side information size (where a Xing/Info tag would start)
};

bool parse_mpeg_header(const std::uint8_t* h, MpegFrame& f) {
  if (h[0] != 0xff || (h[1] & 0xe0) != 0xe0) return false;
  const int version_bits = (h[1] >> 3) & 3;
  const int layer_bits = (h[1] >> 1) & 3;
  const int bitrate_index = h[2] >> 4;
  const int rate_index = (h[2] >> 2) & 3;
  const int padding = (h[2] >> 1) & 1;
  if (version_bits == 1 || layer_bits == 0 || bitrate_index == 0 || bitrate_index == 15 || rate_index == 3)
    return false;
  static constexpr int kBitrates[5][15] = {
      {0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448},  // V1 L1
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384},     // V1 L2
      {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320},      // V1 L3
      {0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256},     // V2 L1
      {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160},          // V2 L2/L3
  };
  static constexpr int kRates[3] = {44100, 48000, 32000};
  f.version = version_bits == 3 ? 1 : version_bits == 2 ? 2 : 25;
  f.layer = 4 - layer_bits;
  const int row = f.version == 1 ? f.layer - 1 : (f.layer == 1 ? 3 : 4);
  const int kbps = kBitrates[row][bitrate_index];
  f.rate = kRates[rate_index] / (f.version == 1 ? 1 : f.version == 2 ? 2 : 4);
  const bool mono = (h[3] >> 6) == 3;
  f.channels = mono ? 1 : 2;
  if (f.layer == 1) {
    f.length = static_cast<std::uint32_t>((12 * kbps * 1000 / f.rate + padding) * 4);
    f.samples = 384;
  } else if (f.layer == 2 || f.version == 1) {
    f.length = static_cast<std::uint32_t>(144 * kbps * 1000 / f.rate + padding);
    f.samples = 1152;
  } else {
    f.length = static_cast<std::uint32_t>(72 * kbps * 1000 / f.rate + padding);
    f.samples = 576;
  }
  f.side_info = f.version == 1 ? (mono ? 17 : 32) : (mono ? 9 : 17);
  return f.length >= 4;
}

ProbeResult probe_mp3(const ByteReader& in, std::uint64_t start) {
  const std::uint64_t size = in.size();
  // Find the first frame: a valid header followed by another valid header (or the end).
  MpegFrame first;
  std::uint64_t pos = start;
  bool found = false;
  for (const std::uint64_t limit = std::min(size, start + 65536); pos + 4 <= limit; ++pos) {
    std::uint8_t h[4];
    if (in.read_at(pos, h) != 4) break;
    if (!parse_mpeg_header(h, first)) continue;
    std::uint8_t n[4];
    MpegFrame next;
    const std::uint64_t after = pos + first.length;
    if (after == size || (in.read_at(after, n) == 4 && parse_mpeg_header(n, next) &&
                          next.version == first.version && next.layer == first.layer && next.rate == first.rate)) {
      found = true;
      break;
    }
  }
  if (!found) return fail("mp3", "no MPEG audio frames found");

  std::int64_t samples = 0;
  bool is_first = true;
  MpegFrame f;
  while (pos + 4 <= size) {
    std::uint8_t h[4];
    if (in.read_at(pos, h) != 4 || !parse_mpeg_header(h, f)) break;  // trailing tags or junk
    if (f.rate != first.rate || f.layer != first.layer) break;
    bool counts = true;
    if (is_first && f.layer == 3) {
      // A Xing/Info/VBRI frame carries no audio: the decoder skips it.
      std::uint8_t tag[4];
      if ((in.read_at(pos + 4 + static_cast<std::uint64_t>(f.side_info), tag) == 4 &&
           (tag_is(tag, "Xing") || tag_is(tag, "Info"))) ||
          (in.read_at(pos + 4 + 32, tag) == 4 && tag_is(tag, "VBRI")))
        counts = false;
    }
    is_first = false;
    if (pos + f.length > size) break;  // a truncated last frame is not decoded
    if (counts) samples += f.samples;
    pos += f.length;
  }
  if (samples == 0) return fail("mp3", "MP3 file has no audio frames");
  ProbeResult r;
  r.format = "mp3";
  r.rate = first.rate;
  r.channels = first.channels;
  r.source_frames = samples;
  return r;
}

/// A length read from a header, refused past kMaxTrackSeconds or under one frame at 48 kHz.
ProbeResult plausible(ProbeResult r) {
  if (!r.error.empty()) return r;
  if (r.source_frames / r.rate >= kMaxTrackSeconds) {
    return fail(r.format, fmt::format("implausible length in the header: {} frames at {} Hz, over {} days",
                                      r.source_frames, r.rate, kMaxTrackSeconds / 86400));
  }
  if (frames_at_output_rate(r.source_frames, r.rate) == 0) {
    return fail(r.format, fmt::format("too short: {} frames at {} Hz is under one frame at 48 kHz",
                                      r.source_frames, r.rate));
  }
  return r;
}

ProbeResult probe_any(const ByteReader& in) {
  if (in.size() == 0) return fail("", "empty file");
  std::array<std::uint8_t, 12> h{};
  const auto got = in.read_at(0, h);
  if (got >= 12 && tag_is(&h[0], "RIFF") && tag_is(&h[8], "WAVE")) return probe_wav(in);
  if (got >= 4 && (tag_is(&h[0], "RIFX") || tag_is(&h[0], "RF64")))
    return fail("wav", "unsupported WAV variant (RIFX/RF64)");
  if (got >= 4 && tag_is(&h[0], "OggS")) return probe_ogg(in);
  if (got >= 4 && tag_is(&h[0], "fLaC")) return probe_flac(in, 0);
  const std::uint64_t after_id3 = skip_id3v2(in);
  if (after_id3 > 0) {
    std::uint8_t m[4];
    if (in.read_at(after_id3, m) == 4 && tag_is(m, "fLaC")) return probe_flac(in, after_id3);
  }
  ProbeResult mp3 = probe_mp3(in, after_id3);
  if (mp3.error.empty() || after_id3 > 0) return mp3;
  return fail("", "not a recognised audio file (WAV, FLAC, Ogg Vorbis/Opus or MP3)");
}

}  // namespace

ProbeResult probe_audio(const ByteReader& in) { return plausible(probe_any(in)); }

}  // namespace chorus::playback::detail
