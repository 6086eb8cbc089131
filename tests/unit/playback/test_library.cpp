// Library: scanning tracks/, content hashes, decoding, and bad files.
//
// The repository's tracks/ directory is found from this source file's path (__FILE__ is
// absolute under CMake), so the test runs from any working directory; CHORUS_TRACKS_DIR
// overrides it.

#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/library.hpp"
#include "playback/eventually.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

namespace fs = std::filesystem;
using chorus::playback::DecodedTrack;
using chorus::playback::Library;
using chorus::playback::OpenedTrack;
using chorus::playback::TrackAudio;

using chorus::test::eventually;
using chorus::test::make_wav;
using chorus::test::TempDir;
using chorus::test::write_file;

namespace {

fs::path tracks_dir() {
  if (const char* env = std::getenv("CHORUS_TRACKS_DIR"); env != nullptr && *env != '\0') return env;
  // tests/unit/playback/test_library.cpp → repository root
  return fs::path(__FILE__).parent_path().parent_path().parent_path().parent_path() / "tracks";
}

std::vector<unsigned char> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// SHA-256 computed here, independently of the library's code path.
std::string sha256_hex(const std::vector<unsigned char>& bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  REQUIRE(EVP_Digest(bytes.data(), bytes.size(), md, &len, EVP_sha256(), nullptr) == 1);
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    static constexpr char kDigits[] = "0123456789abcdef";
    hex += kDigits[md[i] >> 4];
    hex += kDigits[md[i] & 15];
  }
  return hex;
}

int peak(const std::vector<std::int16_t>& pcm, std::size_t first_frame, std::size_t frames) {
  int p = 0;
  for (std::size_t i = first_frame * 2; i < (first_frame + frames) * 2 && i < pcm.size(); ++i)
    p = std::max(p, std::abs(static_cast<int>(pcm[i])));
  return p;
}

struct Expected {
  const char* name;
  const char* format;
  std::int64_t frames;
};
constexpr std::array<Expected, 4> kTracks = {{
    {"01-tone-a440.wav", "wav", 4 * 48000},
    {"02-chord.flac", "flac", 6 * 48000},
    {"03-click-track.ogg", "vorbis", 8 * 48000},
    {"04-sweep.wav", "wav", 3 * 48000},
}};

}  // namespace

TEST_CASE("the library lists the repository's tracks in file-name order with exact 48 kHz frame counts") {
  const Library lib = Library::scan(tracks_dir());
  INFO("tracks dir: " << tracks_dir() << ", error: " << lib.error());
  CHECK(lib.error().empty());
  REQUIRE(lib.size() == kTracks.size());
  for (std::size_t i = 0; i < kTracks.size(); ++i) {
    const auto& t = lib.snapshot()->at(i);
    INFO(t.file_name << ": " << t.error);
    CHECK(t.index == i);
    CHECK(t.file_name == kTracks[i].name);
    CHECK(t.path == tracks_dir() / kTracks[i].name);
    CHECK(t.playable());
    CHECK(t.format == kTracks[i].format);
    CHECK(t.frames == kTracks[i].frames);
    CHECK(t.duration_us == kTracks[i].frames * 1000 / 48);  // frames / 48 kHz, in µs
    CHECK(t.source_rate == 48000);
    CHECK(t.source_channels == 2);
    CHECK(t.file_size == fs::file_size(t.path));
  }
  CHECK_FALSE(lib.track(kTracks.size()).has_value());
  CHECK(lib.describe().find("03-click-track.ogg") != std::string::npos);
}

TEST_CASE("track content hashes are the SHA-256 of the file bytes and stable across scans") {
  const Library first = Library::scan(tracks_dir());
  const Library second = Library::scan(tracks_dir());
  REQUIRE(first.size() == kTracks.size());
  REQUIRE(second.size() == first.size());
  for (std::size_t i = 0; i < first.size(); ++i) {
    const auto& t = first.snapshot()->at(i);
    const std::string independent = sha256_hex(read_file(t.path));
    CHECK(t.content_hash == independent);
    CHECK(t.content_hash.size() == 64);
    CHECK(second.snapshot()->at(i).content_hash == t.content_hash);
    CHECK(chorus::playback::sha256_file_hex(t.path) == independent);
    REQUIRE(first.find_by_hash(t.content_hash).has_value());
    CHECK(first.find_by_hash(t.content_hash)->index == i);
    std::string upper = t.content_hash;
    std::transform(upper.begin(), upper.end(), upper.begin(), [](unsigned char c) { return std::toupper(c); });
    CHECK(first.find_by_hash(upper)->file_name == t.file_name);
  }
  CHECK_FALSE(first.find_by_hash(std::string(64, '0')).has_value());
  CHECK_FALSE(first.find_by_hash("").has_value());
}

TEST_CASE("decoding each track gives exactly its frame count of stereo samples") {
  const Library lib = Library::scan(tracks_dir());
  REQUIRE(lib.size() == kTracks.size());
  for (const auto& t : *lib.snapshot()) {
    INFO(t.file_name);
    const DecodedTrack r = lib.decode(t);
    INFO(r.error);
    REQUIRE(r.ok());
    CHECK(r.samples.size() == static_cast<std::size_t>(t.frames) * 2);
    CHECK(peak(r.samples, 0, static_cast<std::size_t>(t.frames)) > 1000);  // not silence
  }
}

TEST_CASE("a 48 kHz stereo WAV decodes to its own samples, unchanged") {
  const Library lib = Library::scan(tracks_dir());
  REQUIRE(lib.size() == kTracks.size());
  const auto bytes = read_file(lib.snapshot()->at(0).path);
  REQUIRE(bytes.size() == 44 + 192000 * 4);  // sox writes a canonical 44-byte header
  const DecodedTrack r = lib.decode(lib.snapshot()->at(0));
  REQUIRE(r.ok());
  REQUIRE(r.samples.size() * 2 == bytes.size() - 44);
  CHECK(std::memcmp(r.samples.data(), bytes.data() + 44, bytes.size() - 44) == 0);
}

TEST_CASE("the decoded click track has a click at every half second and silence between") {
  const Library lib = Library::scan(tracks_dir());
  REQUIRE(lib.size() == kTracks.size());
  const DecodedTrack r = lib.decode(lib.snapshot()->at(2));
  REQUIRE(r.ok());
  const auto& pcm = r.samples;
  for (std::size_t beat = 0; beat < 16; ++beat) {
    INFO("beat " << beat);
    const std::size_t at = beat * 24000;  // 0.5 s at 48 kHz
    CHECK(peak(pcm, at, 480) > 4000);            // the 10 ms click
    CHECK(peak(pcm, at + 2400, 19200) < 300);    // quiet from 50 ms to 450 ms after it
  }
}

TEST_CASE("an opened track holds the second it starts in, decoded exactly as a whole decode, for every format") {
  const Library lib = Library::scan(tracks_dir());
  REQUIRE(lib.size() == kTracks.size());
  for (const auto& t : *lib.snapshot()) {
    const DecodedTrack whole = lib.decode(t);
    REQUIRE(whole.ok());
    // Starts inside the first, a middle and the last chunk: each is a seek for the decoder.
    for (const std::int64_t start : {std::int64_t{100}, t.frames / 2 + 7, t.frames - 1}) {
      INFO(t.file_name << " from frame " << start);
      const OpenedTrack opened = lib.open(t, start);
      INFO(opened.error);
      REQUIRE(opened.ok());
      const TrackAudio& audio = *opened.audio;
      CHECK(audio.frames() == t.frames);
      const auto chunk = static_cast<std::size_t>(start / TrackAudio::kChunkFrames);
      REQUIRE(audio.has(chunk));
      const auto first = static_cast<std::int64_t>(chunk) * TrackAudio::kChunkFrames;
      std::vector<std::int16_t> got(static_cast<std::size_t>(audio.chunk_frames(chunk)) * 2);
      CHECK(audio.read(first, got) == 0);
      const auto from = whole.samples.begin() + first * 2;
      CHECK(std::equal(got.begin(), got.end(), from));
    }
  }
}

TEST_CASE("a resampled track decodes the same samples when opened mid-track as from the start, and keeps its timing") {
  // 70 s at 44.1 kHz with a click at every whole second: 44.1 → 48 kHz must neither drift nor
  // depend on where decoding started (nodes that join mid-track start there).
  TempDir dir;
  std::vector<std::int16_t> mono(44100 * 70, 0);
  for (std::size_t second = 0; second < 70; ++second) {
    for (std::size_t i = 0; i < 20; ++i) mono[second * 44100 + i] = 20000;
  }
  const auto wav = make_wav(44100, 1, mono);
  write_file(dir.path / "clicks.wav", wav.data(), wav.size());
  const Library lib = Library::scan(dir.path);
  REQUIRE(lib.size() == 1);
  REQUIRE(lib.snapshot()->at(0).frames == 48000 * 70);
  const DecodedTrack whole = lib.decode(lib.snapshot()->at(0));
  REQUIRE(whole.ok());
  for (std::size_t second : {1u, 30u, 69u}) {
    INFO("second " << second);
    // The click's first loud frame is where the second starts (the filter rings a few frames
    // ahead of an edge).
    std::size_t loud = second * 48000 - 10;
    while (std::abs(whole.samples[loud * 2]) < 5000) ++loud;
    CHECK(loud >= second * 48000 - 3);
    CHECK(loud <= second * 48000 + 1);
  }
  for (const std::int64_t start : {std::int64_t{48000 * 17 + 5}, std::int64_t{48000 * 69}}) {
    INFO("open at " << start);
    const OpenedTrack opened = lib.open(lib.snapshot()->at(0), start);
    REQUIRE(opened.ok());
    const auto chunk = static_cast<std::size_t>(start / TrackAudio::kChunkFrames);
    std::vector<std::int16_t> got(static_cast<std::size_t>(opened.audio->chunk_frames(chunk)) * 2);
    opened.audio->read(static_cast<std::int64_t>(chunk) * TrackAudio::kChunkFrames, got);
    CHECK(std::equal(got.begin(), got.end(), whole.samples.begin() + static_cast<std::ptrdiff_t>(chunk) * 96000));
  }
}

TEST_CASE("the decoder thread fills an open track ahead of where it is read and frees what is behind") {
  const Library lib = Library::scan(tracks_dir());
  REQUIRE(lib.size() == kTracks.size());
  const auto& t = lib.snapshot()->at(1);  // the FLAC chord, 6 s: six chunks
  const DecodedTrack whole = lib.decode(t);
  REQUIRE(whole.ok());
  const OpenedTrack opened = lib.open(t);
  REQUIRE(opened.ok());
  const TrackAudio& audio = *opened.audio;
  REQUIRE(audio.chunk_count() == 6);
  REQUIRE(eventually([&] { return audio.resident_chunks() == 6; }));  // all within the window
  std::vector<std::int16_t> all(whole.samples.size());
  CHECK(audio.read(0, all) == 0);
  CHECK(all == whole.samples);
}

TEST_CASE("a long track keeps only its window in memory while it is read through") {
  TempDir dir;
  std::vector<std::int16_t> stereo(48000 * 2 * 40);  // 40 s
  for (std::size_t i = 0; i < stereo.size(); ++i) stereo[i] = static_cast<std::int16_t>(i / 2 % 30000);
  const auto wav = make_wav(48000, 2, stereo);
  write_file(dir.path / "long.wav", wav.data(), wav.size());
  const Library lib = Library::scan(dir.path);
  REQUIRE(lib.size() == 1);
  const OpenedTrack opened = lib.open(lib.snapshot()->at(0));
  REQUIRE(opened.ok());
  const TrackAudio& audio = *opened.audio;
  REQUIRE(audio.chunk_count() == 40);
  std::vector<std::int16_t> second(96000);
  for (std::int64_t s = 0; s < 40; ++s) {
    INFO("second " << s);
    REQUIRE(eventually([&] { return audio.has(static_cast<std::size_t>(s)); }));
    CHECK(audio.read(s * 48000, second) == 0);
    CHECK(second[0] == static_cast<std::int16_t>(s * 48000 % 30000));
    CHECK(second[95998] == static_cast<std::int16_t>((s * 48000 + 47999) % 30000));
    CHECK(audio.resident_chunks() <= 1 + 1 + 10);  // behind, current, ahead
  }
  // Read near the end: what lies behind has been let go.
  REQUIRE(eventually([&] { return !audio.has(20); }));
  CHECK_FALSE(audio.has(0));
  CHECK(audio.has(39));
}

TEST_CASE("a 44.1 kHz mono WAV is resampled to 48 kHz stereo of the advertised length") {
  TempDir dir;
  std::vector<std::int16_t> mono(44100);
  for (std::size_t i = 0; i < mono.size(); ++i)
    mono[i] = static_cast<std::int16_t>(10000 * std::sin(2 * std::numbers::pi * 1000.0 * static_cast<double>(i) / 44100.0));
  const auto wav = make_wav(44100, 1, mono);
  write_file(dir.path / "mono.wav", wav.data(), wav.size());

  const Library lib = Library::scan(dir.path);
  REQUIRE(lib.size() == 1);
  const auto& t = lib.snapshot()->at(0);
  INFO(t.error);
  REQUIRE(t.playable());
  CHECK(t.source_rate == 44100);
  CHECK(t.source_channels == 1);
  CHECK(t.frames == 48000);
  const DecodedTrack r = lib.decode(lib.snapshot()->at(0));
  INFO(r.error);
  REQUIRE(r.ok());
  REQUIRE(r.samples.size() == 96000);
  bool channels_equal = true;
  for (std::size_t i = 0; i < r.samples.size(); i += 2) channels_equal = channels_equal && r.samples[i] == r.samples[i + 1];
  CHECK(channels_equal);
  const int p = peak(r.samples, 1000, 46000);
  CHECK(p > 9000);
  CHECK(p < 11000);
  // The resampler's tail is there too: the last 8 ms are signal, not padding.
  CHECK(peak(r.samples, 47600, 400) > 9000);
}

TEST_CASE("corrupt, empty and junk files with audio extensions are listed with errors and never throw") {
  TempDir dir;
  const auto good = read_file(tracks_dir() / "01-tone-a440.wav");
  const auto flac = read_file(tracks_dir() / "02-chord.flac");
  const auto ogg = read_file(tracks_dir() / "03-click-track.ogg");
  REQUIRE(!good.empty());
  REQUIRE(flac.size() > 4096);
  REQUIRE(ogg.size() > 4096);

  write_file(dir.path / "a-good.wav", good.data(), good.size());
  write_file(dir.path / "b-empty.wav", "");
  write_file(dir.path / "c-junk.wav", "this is not audio at all, just text with a .wav name\n");
  write_file(dir.path / "d-truncated.flac", flac.data(), 20);
  write_file(dir.path / "e-header-only.ogg", ogg.data(), 200);
  std::vector<unsigned char> garbled(flac.begin(), flac.begin() + 4096);
  for (std::size_t i = 200; i < garbled.size(); ++i) garbled[i] = static_cast<unsigned char>(i * 7919 >> 3);
  write_file(dir.path / "f-garbled-body.flac", garbled.data(), garbled.size());
  write_file(dir.path / "g-riff-junk.WAV", std::string("RIFF\x10\0\0\0WAVEjunkjunk", 20));
  write_file(dir.path / "h-junk.mp3", std::string(1000, 'x'));
  write_file(dir.path / "i-junk.opus", "OggS");
  REQUIRE(::mkfifo((dir.path / "j-fifo.wav").c_str(), 0600) == 0);  // must not block the scan
  write_file(dir.path / "notes.txt", "ignored: not an audio extension");
  write_file(dir.path / "cover.jpg", "ignored");
  fs::create_directory(dir.path / "k-directory.wav");  // ignored: not a file

  Library lib;
  REQUIRE_NOTHROW(lib = Library::scan(dir.path));
  CHECK(lib.error().empty());
  std::vector<std::string> names;
  for (const auto& t : *lib.snapshot()) names.push_back(t.file_name);
  CHECK(names == std::vector<std::string>{"a-good.wav", "b-empty.wav", "c-junk.wav", "d-truncated.flac",
                                          "e-header-only.ogg", "f-garbled-body.flac", "g-riff-junk.WAV",
                                          "h-junk.mp3", "i-junk.opus", "j-fifo.wav"});
  REQUIRE(lib.size() == names.size());

  CHECK(lib.snapshot()->at(0).playable());
  CHECK(lib.snapshot()->at(0).frames == 192000);
  CHECK(lib.snapshot()->at(1).error == "empty file");
  for (std::size_t i = 1; i < lib.size(); ++i) {
    const auto& t = lib.snapshot()->at(i);
    INFO(t.file_name << ": " << t.error);
    if (t.file_name == "f-garbled-body.flac") {
      // The header is intact, so the scan cannot tell; decoding decides (below).
      CHECK(t.playable());
      continue;
    }
    CHECK_FALSE(t.playable());
    CHECK(t.frames == 0);
    OpenedTrack r;
    REQUIRE_NOTHROW(r = lib.open(lib.snapshot()->at(i)));
    CHECK_FALSE(r.ok());
    CHECK(r.error == t.error);
  }
  CHECK(lib.snapshot()->at(9).error == "not a regular file");

  // Decoding a file whose body is garbage never throws: it either fails with a reason or yields
  // exactly the advertised length (decoders conceal damage differently).
  DecodedTrack garbled_result;
  REQUIRE_NOTHROW(garbled_result = lib.decode(lib.snapshot()->at(5)));
  INFO("garbled: " << garbled_result.error);
  if (garbled_result.ok()) {
    CHECK(garbled_result.samples.size() == static_cast<std::size_t>(lib.snapshot()->at(5).frames) * 2);
  } else {
    CHECK_FALSE(garbled_result.error.empty());
  }
  OpenedTrack garbled_open;
  REQUIRE_NOTHROW(garbled_open = lib.open(lib.snapshot()->at(5)));
  CHECK(garbled_open.ok() == garbled_result.ok());
  CHECK(lib.open(lib.snapshot()->at(0)).ok());
}

namespace {

void put_le(std::string& out, std::uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out += static_cast<char>(value >> (8 * i) & 0xff);
}

/// One Ogg page holding one packet of under 255 bytes (the probe does not check the CRC).
std::string ogg_page(std::uint32_t sequence, std::uint64_t granule, std::uint8_t flags, const std::string& packet) {
  std::string page("OggS\0", 5);
  page += static_cast<char>(flags);
  put_le(page, granule, 8);
  put_le(page, 7, 4);  // stream serial number
  put_le(page, sequence, 4);
  put_le(page, 0, 4);  // CRC
  page += '\1';
  page += static_cast<char>(packet.size());
  return page + packet;
}

/// An Ogg Opus file (pre-skip 312) whose last page has granule position `granule`.
std::string opus_file(std::uint64_t granule) {
  std::string head = "OpusHead";
  head += '\1';  // version
  head += '\2';  // channels
  put_le(head, 312, 2);
  put_le(head, 48000, 4);
  put_le(head, 0, 3);  // output gain, channel mapping family
  return ogg_page(0, 0, 2, head) + ogg_page(1, granule, 4, "\xf8\xff\xfe");
}

/// A FLAC file that is only its STREAMINFO block.
std::string flac_file(int rate, std::uint64_t total_samples) {
  std::string f("fLaC\x80\0\0\x22", 8);  // last metadata block: STREAMINFO, 34 bytes
  std::string info(34, '\0');
  info[10] = static_cast<char>(rate >> 12);
  info[11] = static_cast<char>(rate >> 4);
  info[12] = static_cast<char>((rate & 0xf) << 4 | 1 << 1);  // 2 channels
  info[13] = static_cast<char>(total_samples >> 32 & 0x0f);
  for (int i = 0; i < 4; ++i) info[14 + i] = static_cast<char>(total_samples >> (24 - 8 * i));
  return f + info;
}

}  // namespace

// Found by fuzz/fuzz_audio_probe.cpp: an Ogg granule position past 2^63 made a negative length
// and a few samples at a high rate rounded to none at 48 kHz (both listed as playable with 0
// frames), and lengths of millions of years overflowed the µs and 48 kHz arithmetic. A header
// that claims a week or more, or less than one frame at 48 kHz, is now refused.
TEST_CASE("a header with an implausible length is listed with an error, a long plausible one is not") {
  TempDir dir;
  write_file(dir.path / "a-granule-past-2-63.opus", opus_file(0x8000'0000'0000'1000u));
  write_file(dir.path / "b-granule-2-62.opus", opus_file(std::uint64_t{1} << 62));
  write_file(dir.path / "c-2-36-samples-at-1-hz.flac", flac_file(1, (std::uint64_t{1} << 36) - 1));
  write_file(dir.path / "d-a-week.opus", opus_file(312 + std::uint64_t{48000} * 7 * 86400));
  write_file(dir.path / "e-a-day.opus", opus_file(312 + std::uint64_t{48000} * 86400));
  write_file(dir.path / "f-a-day-at-1-hz.flac", flac_file(1, 86400));
  write_file(dir.path / "g-one-sample-at-655350-hz.flac", flac_file(655350, 1));
  write_file(dir.path / "h-one-frame.flac", flac_file(655350, 7));

  const Library lib = Library::scan(dir.path);
  REQUIRE(lib.size() == 8);
  for (const std::size_t i : {0u, 1u, 2u, 3u, 6u}) {
    const auto& t = lib.snapshot()->at(i);
    INFO(t.file_name << ": " << t.error);
    CHECK_FALSE(t.playable());
    CHECK(t.frames == 0);
    CHECK(t.duration_us == 0);
    CHECK_FALSE(lib.open(lib.snapshot()->at(i)).ok());
  }
  CHECK(lib.snapshot()->at(0).error == "Ogg stream length out of range (granule position past 2^63)");
  CHECK(lib.snapshot()->at(1).error.starts_with("implausible length in the header: 4611686018427387592 frames at 48000 Hz"));
  CHECK(lib.snapshot()->at(3).error.starts_with("implausible length in the header"));

  const auto& day = lib.snapshot()->at(4);
  CHECK(day.playable());
  CHECK(day.frames == std::int64_t{48000} * 86400);
  CHECK(day.duration_us == std::int64_t{86400} * 1'000'000);
  const auto& slow = lib.snapshot()->at(5);
  CHECK(slow.playable());
  CHECK(slow.frames == std::int64_t{48000} * 86400);
  CHECK(lib.snapshot()->at(6).error == "too short: 1 frames at 655350 Hz is under one frame at 48 kHz");
  CHECK(lib.snapshot()->at(7).playable());
  CHECK(lib.snapshot()->at(7).frames == 1);  // 7 · 48000 / 655350 = 0.51, rounded
}

TEST_CASE("a track whose file changed after the scan is refused when opened") {
  TempDir dir;
  const auto good = read_file(tracks_dir() / "04-sweep.wav");
  write_file(dir.path / "sweep.wav", good.data(), good.size());
  const Library lib = Library::scan(dir.path);
  REQUIRE(lib.size() == 1);
  REQUIRE(lib.snapshot()->at(0).playable());
  auto changed = good;
  changed[1000] ^= 0x55;
  write_file(dir.path / "sweep.wav", changed.data(), changed.size());
  const OpenedTrack r = lib.open(lib.snapshot()->at(0));
  CHECK_FALSE(r.ok());
  CHECK(r.error.find("changed") != std::string::npos);
  CHECK(lib.decode(lib.snapshot()->at(0)).error.find("changed") != std::string::npos);
}

TEST_CASE("a failed open leaves nothing behind: the next one succeeds once the cause is gone") {
  TempDir dir;
  const auto good = read_file(tracks_dir() / "04-sweep.wav");
  write_file(dir.path / "sweep.wav", good.data(), good.size());
  const Library lib = Library::scan(dir.path);
  REQUIRE(lib.size() == 1);
  auto changed = good;
  changed[2000] ^= 0x01;
  write_file(dir.path / "sweep.wav", changed.data(), changed.size());  // same size, a new mtime
  const OpenedTrack refused = lib.open(lib.snapshot()->at(0));
  CHECK_FALSE(refused.ok());
  CHECK(refused.error.find("changed since the library was scanned") != std::string::npos);
  write_file(dir.path / "sweep.wav", good.data(), good.size());
  const Library rescanned = Library::scan(dir.path);
  const OpenedTrack r = rescanned.open(rescanned.snapshot()->at(0));
  INFO(r.error);
  REQUIRE(r.ok());
  CHECK(r.audio->frames() == 144000);
}

TEST_CASE("tracks decode while the sdl output holds SDL's only dummy device") {
  // Decoding needs no audio device, so an open output does not get in its way.
  const Library lib = Library::scan(tracks_dir());
  REQUIRE(lib.size() == kTracks.size());
  ::setenv("SDL_AUDIODRIVER", "dummy", 1);
  auto made = chorus::playback::make_output("sdl", 512, std::chrono::microseconds(0));
  ::unsetenv("SDL_AUDIODRIVER");
  REQUIRE(made.output);
  REQUIRE(made.output->describe().rfind("sdl", 0) == 0);
  for (const std::size_t index : {1u, 2u}) {  // FLAC, Ogg Vorbis
    const OpenedTrack opened = lib.open(lib.snapshot()->at(index));
    INFO(opened.error);
    CHECK(opened.ok());
  }
}

TEST_CASE("subdirectories are scanned too, in byte order of the relative path, hidden entries and directory links skipped") {
  TempDir dir;
  const auto wav = read_file(tracks_dir() / "04-sweep.wav");
  for (const char* name : {"b/x.wav", "a/z/y.wav", "A.wav", "a.wav", "a/Z.flac", ".hidden/h.wav", ".h.wav", "a/.h/i.wav"}) {
    fs::create_directories((dir.path / name).parent_path());
    write_file(dir.path / name, wav.data(), wav.size());
  }
  fs::create_directory_symlink("..", dir.path / "a" / "loop");         // a cycle, never followed
  fs::create_directory_symlink(dir.path / "b", dir.path / "c-link");  // nor is this one
  fs::create_directory(dir.path / "d.wav");                           // a directory named like a track

  const Library lib = Library::scan(dir.path);
  CHECK(lib.error().empty());
  std::vector<std::string> names;
  for (const auto& t : *lib.snapshot()) names.push_back(t.file_name);
  // '.' (0x2e) sorts before '/' (0x2f), upper case before lower case: byte order, any locale.
  CHECK(names == std::vector<std::string>{"A.wav", "a.wav", "a/Z.flac", "a/z/y.wav", "b/x.wav"});
  const auto tracks = lib.snapshot();
  for (std::size_t i = 0; i < tracks->size(); ++i) {
    CHECK((*tracks)[i].index == i);
    CHECK((*tracks)[i].path == dir.path / (*tracks)[i].file_name);
  }
  CHECK(lib.stats().files_seen == 5);
  CHECK(lib.stats().files_hashed == 5);
  CHECK(lib.open(tracks->at(3)).ok());
}

TEST_CASE("a missing directory gives an empty list with an error") {
  TempDir dir;
  const Library lib = Library::scan(dir.path / "does-not-exist");
  CHECK(lib.size() == 0);
  CHECK(lib.error().find("does not exist") != std::string::npos);
  CHECK_FALSE(lib.open(std::string(64, '0')).ok());
}

TEST_CASE("a directory without audio files gives an empty list with an error") {
  TempDir dir;
  write_file(dir.path / "readme.txt", "no audio here");
  const Library lib = Library::scan(dir.path);
  CHECK(lib.size() == 0);
  CHECK(lib.error().find("no audio files") != std::string::npos);

  TempDir empty;
  const Library none = Library::scan(empty.path);
  CHECK(none.size() == 0);
  CHECK_FALSE(none.error().empty());
}

TEST_CASE("a path that is a file, not a directory, gives an empty list with an error") {
  const Library lib = Library::scan(tracks_dir() / "01-tone-a440.wav");
  CHECK(lib.size() == 0);
  CHECK(lib.error().find("not a directory") != std::string::npos);
}

TEST_CASE("opening a hash the library does not have returns an error") {
  const Library lib = Library::scan(tracks_dir());
  const OpenedTrack r = lib.open(std::string(64, '0'));
  CHECK_FALSE(r.ok());
  CHECK_FALSE(r.error.empty());
  const Library unscanned;
  CHECK(unscanned.size() == 0);
  CHECK_FALSE(unscanned.error().empty());
  CHECK_FALSE(unscanned.open(std::string(64, '0')).ok());
  CHECK_FALSE(unscanned.decode(std::string(64, '0')).ok());
}
