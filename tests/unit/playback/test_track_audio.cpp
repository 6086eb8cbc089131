// TrackAudio: chunked storage read by the audio thread while the decoder thread fills and frees.

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/track_audio.hpp"

using chorus::playback::TrackAudio;

namespace {

constexpr auto kChunk = TrackAudio::kChunkFrames;

/// Chunk `c` of a track whose frame n holds (n % 30000, n / 30000).
std::vector<std::int16_t> numbered_chunk(const TrackAudio& audio, std::size_t c) {
  std::vector<std::int16_t> samples(static_cast<std::size_t>(audio.chunk_frames(c)) * 2);
  for (std::size_t i = 0; i < samples.size() / 2; ++i) {
    const auto n = static_cast<std::int64_t>(c) * kChunk + static_cast<std::int64_t>(i);
    samples[2 * i] = static_cast<std::int16_t>(n % 30000);
    samples[2 * i + 1] = static_cast<std::int16_t>(n / 30000);
  }
  return samples;
}

std::int64_t frame_at(const std::vector<std::int16_t>& block, std::size_t slot) {
  return std::int64_t{block[2 * slot + 1]} * 30000 + block[2 * slot];
}

}  // namespace

TEST_CASE("a track is cut into one-second chunks, the last one shorter") {
  const TrackAudio audio(kChunk * 2 + 100);
  CHECK(audio.frames() == kChunk * 2 + 100);
  CHECK(audio.chunk_count() == 3);
  CHECK(audio.chunk_frames(0) == kChunk);
  CHECK(audio.chunk_frames(2) == 100);
  CHECK(audio.chunk_frames(3) == 0);
  const TrackAudio empty(0);
  CHECK(empty.chunk_count() == 0);
  std::vector<std::int16_t> out(20, 7);
  CHECK(empty.read(0, out) == 0);
  CHECK(out == std::vector<std::int16_t>(20, 0));
}

TEST_CASE("reads span chunks, come out silent outside the track, and count frames not decoded yet") {
  TrackAudio audio(kChunk * 3);
  audio.store(0, numbered_chunk(audio, 0));
  audio.store(1, numbered_chunk(audio, 1));
  CHECK(audio.resident_chunks() == 2);

  std::vector<std::int16_t> block(200 * 2);
  CHECK(audio.read(kChunk - 100, block) == 0);  // across chunks 0 and 1
  for (std::size_t i = 0; i < 200; ++i) CHECK(frame_at(block, i) == kChunk - 100 + static_cast<std::int64_t>(i));
  CHECK(audio.cursor() == kChunk + 100);

  CHECK(audio.read(2 * kChunk - 50, block) == 150);  // chunk 2 is not there: 150 silent frames
  CHECK(frame_at(block, 49) == 2 * kChunk - 1);
  for (std::size_t i = 50; i < 200; ++i) CHECK(block[2 * i] == 0);

  CHECK(audio.read(-100, block) == 0);  // before the track: silence, then its first frames
  CHECK(block[2 * 99] == 0);
  CHECK(frame_at(block, 101) == 1);
  CHECK(audio.read(3 * kChunk - 10, block) == 10);  // the track's end, then silence
}

TEST_CASE("store ignores a wrong size or a chunk already there, and evict frees and can be repeated") {
  TrackAudio audio(kChunk * 2);
  audio.store(0, std::vector<std::int16_t>(10));
  CHECK_FALSE(audio.has(0));
  audio.store(0, numbered_chunk(audio, 0));
  audio.store(0, std::vector<std::int16_t>(static_cast<std::size_t>(kChunk) * 2, 5));  // ignored
  std::vector<std::int16_t> frame(2);
  audio.read(7, frame);
  CHECK(frame_at(frame, 0) == 7);
  CHECK(audio.evict(0));
  CHECK_FALSE(audio.has(0));
  CHECK(audio.resident_chunks() == 0);
  CHECK(audio.evict(0));
  CHECK(audio.evict(99));
  CHECK(audio.read(7, frame) == 1);
}

TEST_CASE("evict can hand the chunk's storage back instead of freeing it") {
  TrackAudio audio(kChunk * 2);
  auto chunk = numbered_chunk(audio, 0);
  const auto* storage = chunk.data();
  audio.store(0, std::move(chunk));
  std::vector<std::int16_t> reclaimed;
  CHECK(audio.evict(0, &reclaimed));
  CHECK_FALSE(audio.has(0));
  CHECK(reclaimed.data() == storage);  // the same memory, not a copy
  CHECK(reclaimed.size() == static_cast<std::size_t>(kChunk) * 2);
  std::vector<std::int16_t> nothing;
  CHECK(audio.evict(0, &nothing));  // nothing there: nothing handed back
  CHECK(nothing.empty());
}

TEST_CASE("a hint moves the cursor until the first read, then only reads do") {
  TrackAudio audio(kChunk * 10);
  audio.hint(kChunk * 5);
  CHECK(audio.cursor() == kChunk * 5);
  std::vector<std::int16_t> block(100 * 2);
  audio.read(kChunk * 7, block);
  CHECK(audio.cursor() == kChunk * 7 + 100);
  audio.hint(kChunk * 2);  // a seek: the reader is still at its place until it jumps
  CHECK(audio.cursor() == kChunk * 7 + 100);
  CHECK(audio.hinted() == kChunk * 2);
}

TEST_CASE("a hint stays pending while the old place is still read, until reading gets there") {
  TrackAudio audio(kChunk * 40);
  std::vector<std::int16_t> block(480 * 2);
  audio.read(kChunk * 2, block);
  CHECK(audio.hinted() == -1);
  audio.hint(kChunk * 30 + 10);  // a seek, effective a lead later
  audio.read(kChunk * 2 + 480, block);  // the old place, during the lead
  CHECK(audio.hinted() == kChunk * 30 + 10);
  audio.read(kChunk * 30 + 10, block);  // the jump
  CHECK(audio.hinted() == -1);
}

TEST_CASE("a hint backwards stays pending while the later old place is still read") {
  TrackAudio audio(kChunk * 40);
  std::vector<std::int16_t> block(480 * 2);
  audio.hint(kChunk * 3);
  audio.read(kChunk * 20, block);
  CHECK(audio.hinted() == kChunk * 3);
  audio.read(kChunk * 3 + 480, block);
  CHECK(audio.hinted() == -1);
}

TEST_CASE("a reader racing a writer that stores and evicts never sees a wrong frame") {
  // Run under ASan, this also shows that no chunk is freed while it is being read.
  TrackAudio audio(kChunk * 4);
  std::atomic<bool> stop{false};
  std::atomic<std::int64_t> wrong{0}, present{0};
  std::thread reader([&] {
    std::vector<std::int16_t> block(480 * 2);
    std::int64_t at = 0;
    while (!stop.load()) {
      const auto missing = audio.read(at, block);
      if (missing == 0) {
        ++present;
        for (std::size_t i = 0; i < 480; ++i) {
          if (frame_at(block, i) != at + static_cast<std::int64_t>(i)) ++wrong;
        }
      }
      at = (at + 4801) % (kChunk * 4 - 480);
    }
  });
  for (int round = 0; round < 2000; ++round) {
    const auto c = static_cast<std::size_t>(round % 4);
    audio.store(c, numbered_chunk(audio, c));
    while (!audio.evict((c + 2) % 4)) {
    }
  }
  stop = true;
  reader.join();
  CHECK(wrong == 0);
  CHECK(present > 0);
}
