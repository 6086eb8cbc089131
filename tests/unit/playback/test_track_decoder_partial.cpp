// Decoding a track file while its chunks are still being fetched into the content cache.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <numeric>
#include <string>
#include <thread>
#include <vector>

#include "chorus/content/content_cache.hpp"
#include "playback/temp_dir.hpp"
#include "playback/track_decoder.hpp"
#include "playback/wav_file.hpp"

using namespace chorus;
using content::kChunkBytes;
using playback::detail::TrackDecoder;
namespace fs = std::filesystem;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// `seconds` of stereo audio at `rate`: a tone under noise, so that FLAC cannot shrink it much.
std::vector<std::int16_t> noisy_tone(int rate, int seconds) {
  std::vector<std::int16_t> samples(static_cast<std::size_t>(rate * seconds * 2));
  std::uint32_t x = 12345;
  for (std::size_t i = 0; i < samples.size(); ++i) {
    x = x * 1664525u + 1013904223u;
    const double tone = 8000.0 * std::sin(2.0 * 3.141592653589793 * 440.0 * static_cast<double>(i / 2) / rate);
    samples[i] = static_cast<std::int16_t>(tone + static_cast<double>(static_cast<std::int32_t>(x >> 16) - 32768) / 4);
  }
  return samples;
}

/// Decodes all `frames` in pieces, as the library's decoder thread does; the first error, if any.
std::vector<std::int16_t> decode_all(TrackDecoder& decoder, std::int64_t frames, std::string& error) {
  std::vector<std::int16_t> out(static_cast<std::size_t>(frames * 2));
  constexpr std::int64_t kPiece = 12000;
  for (std::int64_t at = 0; at < frames; at += kPiece) {
    const auto n = std::min(kPiece, frames - at);
    auto e = decoder.decode(at, std::span(out).subspan(static_cast<std::size_t>(at * 2), static_cast<std::size_t>(n * 2)));
    if (error.empty()) error = e;
  }
  return out;
}

/// A track file, what it decodes to by path, and a fetch of it begun in a cache.
struct Fetch {
  test::TempDir dir;
  fs::path track;
  std::int64_t frames = 0;
  std::vector<std::int16_t> expected;
  std::vector<std::uint8_t> data;
  std::string hash;
  std::vector<content::Digest> digests;
  content::ContentCache cache{{dir.path / "cache", 64 << 20}};
  std::shared_ptr<content::PartialFile> file;

  /// kind: "flac" (48 kHz, decoded as it is) or "wav44" (44.1 kHz WAV, resampled).
  explicit Fetch(const std::string& kind) {
    const int rate = kind == "flac" ? 48000 : 44100;
    const int seconds = 6;
    frames = std::int64_t{48000} * seconds;
    const auto wav = dir.path / "track.wav";
    test::write_wav(wav, rate, 2, noisy_tone(rate, seconds));
    track = wav;
    if (kind == "flac") {
      track = dir.path / "track.flac";
      const std::string command = "flac --silent --force -o '" + track.string() + "' '" + wav.string() + "'";
      REQUIRE(std::system(command.c_str()) == 0);
    }
    data = read_bytes(track);
    REQUIRE(data.size() > 3 * kChunkBytes);
    content::FileHasher hasher;
    hasher.update(data);
    auto r = hasher.finish();
    hash = r.content_hash;
    digests = r.chunks;

    auto opened = TrackDecoder::open(track, frames);
    INFO(opened.error);
    REQUIRE(opened.decoder);
    std::string error;
    expected = decode_all(*opened.decoder, frames, error);
    REQUIRE(error.empty());

    file = cache.begin(hash, data.size(), digests, error);
    INFO(error);
    REQUIRE(file);
  }
  std::span<const std::uint8_t> chunk(std::uint64_t c) const {
    return std::span(data).subspan(content::chunk_offset(c), content::chunk_length(data.size(), c));
  }
  void store(std::uint64_t c) {
    std::string error;
    const auto result = file->store(c, chunk(c), error);
    INFO(error);
    REQUIRE(result == content::StoreResult::stored);
  }
};

/// Stores the chunks in `order`, a little apart (as from a peer), on its own thread.
std::thread writer(Fetch& fetch, std::vector<std::uint64_t> order) {
  return std::thread([&fetch, order] {
    for (const auto c : order) {
      std::this_thread::sleep_for(3ms);  // pacing only: nothing waits on it
      std::string error;
      if (fetch.file->store(c, fetch.chunk(c), error) != content::StoreResult::stored) fetch.file->abandon();
    }
  });
}

}  // namespace

TEST_CASE("a FLAC file decodes from its partial file while its chunks arrive, exactly as from its path") {
  Fetch fetch("flac");
  std::vector<std::uint64_t> order(fetch.file->chunk_count());
  std::iota(order.begin(), order.end(), 0);
  auto thread = writer(fetch, order);
  // Patience far beyond the writer's pace: the test does not depend on timing.
  auto opened = TrackDecoder::open(fetch.file, fetch.frames, 600s);
  INFO(opened.error);
  REQUIRE(opened.decoder);
  std::string error;
  const auto got = decode_all(*opened.decoder, fetch.frames, error);
  thread.join();
  CHECK(error.empty());
  CHECK(got == fetch.expected);
}

TEST_CASE("a resampled WAV file decodes from its partial file with its chunks arriving out of order") {
  Fetch fetch("wav44");
  std::vector<std::uint64_t> order(fetch.file->chunk_count());
  std::iota(order.rbegin(), order.rend(), 0);  // last chunk first: the decoder waits for the first
  auto thread = writer(fetch, order);
  auto opened = TrackDecoder::open(fetch.file, fetch.frames, 600s);
  INFO(opened.error);
  REQUIRE(opened.decoder);
  std::string error;
  const auto got = decode_all(*opened.decoder, fetch.frames, error);
  thread.join();
  CHECK(error.empty());
  CHECK(got == fetch.expected);
}

TEST_CASE("a chunk that never arrives fails the decode within the patience, and decoding recovers once it is in") {
  for (const char* kind : {"flac", "wav44"}) {
    DYNAMIC_SECTION(kind) {
      Fetch fetch(kind);
      const auto last = fetch.file->chunk_count() - 1;
      for (std::uint64_t c = 0; c < last; ++c) fetch.store(c);
      auto opened = TrackDecoder::open(fetch.file, fetch.frames, 20ms);
      INFO(opened.error);
      REQUIRE(opened.decoder);
      std::string error;
      decode_all(*opened.decoder, fetch.frames, error);
      CHECK(error.find("chunk " + std::to_string(last) + " of the file did not arrive in time") != std::string::npos);
      CHECK(fetch.file->demanded() == last);

      // The last chunk comes; the fetch is finished (its file renamed) and the cache's pointer
      // dropped: the decoder still has its own and decodes everything from the start.
      fetch.store(last);
      REQUIRE(fetch.cache.finish(fetch.hash, error));
      fetch.file.reset();
      error.clear();
      const auto got = decode_all(*opened.decoder, fetch.frames, error);
      INFO(error);
      CHECK(error.empty());
      CHECK((got == fetch.expected));
    }
  }
}

TEST_CASE("abandoning the fetch ends a decoder's wait for the header at once") {
  Fetch fetch("flac");
  content::PartialFile* raw = fetch.file.get();
  fetch.file->on_demand([raw](std::uint64_t) { raw->abandon(); });
  const auto opened = TrackDecoder::open(fetch.file, fetch.frames, 600s);
  CHECK_FALSE(opened.decoder);
  CHECK(opened.error == "cannot decode: chunk 0 of the file did not arrive in time");
}
