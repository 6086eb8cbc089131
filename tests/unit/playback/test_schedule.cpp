// Schedule: frame-at-time math, leader transitions, catch-up decisions, command precedence.
// Leader times are around 1e12 µs, as a steady clock after days of uptime reads.

#include <chorus/playback/schedule.hpp>

#include <catch2/catch.hpp>

#include <cstdint>
#include <limits>
#include <random>

using chorus::playback::end_instant;
using chorus::playback::frame_at;
using chorus::playback::frames_in;
using chorus::playback::kOutputRate;
using chorus::playback::PlaybackState;
using chorus::playback::Position;
using chorus::playback::position_at;
using chorus::playback::reanchor;
using chorus::playback::PlayStatus;
using chorus::playback::supersedes;
using chorus::playback::Track;
using chorus::playback::us_for;
namespace pb = chorus::playback;

namespace {

constexpr std::int64_t kT = 1'000'000'000'000;     // a leader instant, µs
constexpr std::int64_t kMinute = 60'000'000;
constexpr std::int64_t kLength = 3 * 60 * 48'000;  // a three-minute track, frames

const Track kTrack{3, "intro.flac", "9f86d081884c7d659a2feaa0c55ad015", kLength, 0, ""};

PlaybackState playing(std::int64_t anchor_us, std::int64_t anchor_frame) {
  return {5, 19, PlayStatus::playing, kTrack, anchor_us, anchor_frame};
}

PlaybackState paused_at(std::int64_t frame) { return {5, 19, PlayStatus::paused, kTrack, kT, frame}; }

}  // namespace

TEST_CASE("frames_in rounds down and us_for rounds up at 48 kHz") {
  STATIC_REQUIRE(kOutputRate == 48'000);
  CHECK(frames_in(0) == 0);
  CHECK(frames_in(20) == 0);    // 0.96 frames
  CHECK(frames_in(21) == 1);    // 1.008
  CHECK(frames_in(125) == 6);   // exactly 6
  CHECK(frames_in(1'000'000) == 48'000);
  CHECK(frames_in(-1) == -1);   // floor, not truncation
  CHECK(frames_in(-125) == -6);
  CHECK(us_for(1) == 21);       // 20.83 µs
  CHECK(us_for(6) == 125);
  CHECK(us_for(48'000) == 1'000'000);
  CHECK(us_for(-1) == -20);     // ceil
}

TEST_CASE("frame f starts at us_for(f): frames_in(us_for(f)) == f and one us earlier is f - 1") {
  for (std::int64_t f = -1'000; f <= 100'000; ++f) {
    CAPTURE(f);
    REQUIRE(frames_in(us_for(f)) == f);
    REQUIRE(frames_in(us_for(f) - 1) == f - 1);
  }
}

TEST_CASE("frame arithmetic saturates instead of overflowing") {
  constexpr auto max = std::numeric_limits<std::int64_t>::max();
  constexpr auto min = std::numeric_limits<std::int64_t>::min();
  CHECK(frames_in(max) == max / 125 * 6 + max % 125 * 6 / 125);
  CHECK(us_for(max) == max);
  CHECK(us_for(min) == min);
  CHECK(position_at(playing(min, 0), max) == Position{Position::Kind::ended, kLength});
  CHECK(end_instant(playing(max, 0)) == max);
}

TEST_CASE("a stopped state is silent at every instant") {
  const PlaybackState stopped{5, 19, PlayStatus::stopped, std::nullopt, kT, 0};
  for (const std::int64_t t : {std::int64_t{0}, kT - 1, kT, kT + kMinute}) {
    CHECK(position_at(stopped, t) == Position{Position::Kind::silent, 0});
    CHECK(frame_at(stopped, t) == 0);
  }
}

TEST_CASE("a playing state advances 48 frames per millisecond from its anchor") {
  const PlaybackState s = playing(kT, 96'000);
  CHECK(position_at(s, kT) == Position{Position::Kind::playing, 96'000});
  CHECK(position_at(s, kT + 1'000) == Position{Position::Kind::playing, 96'048});
  CHECK(position_at(s, kT + 20) == Position{Position::Kind::playing, 96'000});
  CHECK(position_at(s, kT + 21) == Position{Position::Kind::playing, 96'001});
  CHECK(position_at(s, kT - 1) == Position{Position::Kind::playing, 95'999});
  CHECK(position_at(s, kT + kMinute) == Position{Position::Kind::playing, 96'000 + 60 * 48'000});
}

TEST_CASE("frame arithmetic is exact at leader times near 1e12 us") {
  std::mt19937_64 rng(2024);
  for (int i = 0; i < 10'000; ++i) {
    const std::int64_t anchor = kT + static_cast<std::int64_t>(rng() % 1'000'000'000'000);
    const std::int64_t elapsed = static_cast<std::int64_t>(rng() % 10'000'000'000);  // ≤ 2.8 h
    const PlaybackState s{1, 1, PlayStatus::playing,
                          Track{0, "long", "h", std::numeric_limits<std::int64_t>::max(), 0, ""}, anchor,
                          0};
    CAPTURE(anchor, elapsed);
    // Whole 125 µs periods are exactly 6 frames; the remainder r < 125 adds ⌊6r/125⌋.
    REQUIRE(position_at(s, anchor + elapsed).frame == elapsed / 125 * 6 + elapsed % 125 * 6 / 125);
  }
}

TEST_CASE("before a future anchor a playing state counts a lead-in of silence") {
  const PlaybackState s = playing(kT, 0);
  CHECK(position_at(s, kT - 1'000) == Position{Position::Kind::lead_in, -48});
  CHECK(position_at(s, kT - 1) == Position{Position::Kind::lead_in, -1});
  CHECK(position_at(s, kT) == Position{Position::Kind::playing, 0});
  CHECK(frame_at(s, kT - 1'000) == 0);
}

TEST_CASE("a paused state holds its frame at every instant") {
  const PlaybackState s = paused_at(12'345);
  for (const std::int64_t t : {kT - kMinute, kT, kT + kMinute}) {
    CHECK(position_at(s, t) == Position{Position::Kind::paused, 12'345});
    CHECK(frame_at(s, t) == 12'345);
  }
}

TEST_CASE("playing past the end of the track reports the end") {
  const PlaybackState s = playing(kT, kLength - 48);  // one millisecond left
  CHECK(position_at(s, kT + 999) == Position{Position::Kind::playing, kLength - 1});
  CHECK(position_at(s, kT + 1'000) == Position{Position::Kind::ended, kLength});
  CHECK(position_at(s, kT + kMinute) == Position{Position::Kind::ended, kLength});
  CHECK(frame_at(s, kT + kMinute) == kLength);
  CHECK(position_at(paused_at(kLength), kT) == Position{Position::Kind::ended, kLength});
}

TEST_CASE("end_instant is the first instant at which the whole track has played") {
  const std::int64_t start_frame = GENERATE(0, 1, 5, 96'001, kLength - 1);
  const PlaybackState s = playing(kT + 7, start_frame);
  const auto end = end_instant(s);
  REQUIRE(end.has_value());
  CAPTURE(start_frame, *end);
  CHECK(position_at(s, *end).kind == Position::Kind::ended);
  CHECK(position_at(s, *end - 1) == Position{Position::Kind::playing, kLength - 1});
  CHECK(*end == kT + 7 + us_for(kLength - start_frame));
}

TEST_CASE("end_instant exists only while playing") {
  CHECK_FALSE(end_instant(paused_at(10)).has_value());
  CHECK_FALSE(end_instant(PlaybackState{}).has_value());
  CHECK(end_instant(playing(kT, 0)) == kT + 3 * kMinute);
}

TEST_CASE("every command stamps the given epoch and the next seq") {
  const PlaybackState s = playing(kT, 0);
  const PlaybackState played = pb::play(s, 6, kTrack, 0, kT + 1);
  CHECK((played.epoch == 6 && played.seq == 20));
  const auto paused = pb::pause(s, 5, kT + 1);
  REQUIRE(paused.has_value());
  CHECK((paused->epoch == 5 && paused->seq == 20));
  const auto resumed = pb::resume(*paused, 5, kT + 2);
  REQUIRE(resumed.has_value());
  CHECK((resumed->epoch == 5 && resumed->seq == 21));
  const PlaybackState stopped = pb::stop(*resumed, 7, kT + 3);
  CHECK((stopped.epoch == 7 && stopped.seq == 22));
}

TEST_CASE("play makes the given frame audible at the given instant") {
  const PlaybackState s = pb::play(PlaybackState{}, 1, kTrack, 4'800, kT + 250'000);
  CHECK(s.status == PlayStatus::playing);
  CHECK(s.track == kTrack);
  CHECK(position_at(s, kT + 250'000) == Position{Position::Kind::playing, 4'800});
  CHECK(position_at(s, kT) == Position{Position::Kind::lead_in, 4'800 - 12'000});
}

TEST_CASE("pause at a future instant holds the frame reached then") {
  const PlaybackState s = playing(kT, 0);
  const auto paused = pb::pause(s, 5, kT + 2 * kMinute + 500);
  REQUIRE(paused.has_value());
  CHECK(paused->status == PlayStatus::paused);
  CHECK(paused->anchor_frame == 2 * 60 * 48'000 + 24);
  CHECK(paused->anchor_us == kT + 2 * kMinute + 500);
  CHECK(position_at(*paused, kT + 3 * kMinute) ==
        Position{Position::Kind::paused, paused->anchor_frame});
}

TEST_CASE("pause then resume lands on the same frame") {
  std::mt19937_64 rng(7);
  for (int i = 0; i < 1'000; ++i) {
    const PlaybackState s = playing(kT + static_cast<std::int64_t>(rng() % 1'000'000), 0);
    const std::int64_t pause_at = kT + static_cast<std::int64_t>(rng() % (2 * kMinute));
    const std::int64_t resume_at = pause_at + static_cast<std::int64_t>(rng() % kMinute);
    const auto paused = pb::pause(s, 5, pause_at);
    REQUIRE(paused.has_value());
    const auto resumed = pb::resume(*paused, 5, resume_at);
    REQUIRE(resumed.has_value());
    const std::int64_t held = frame_at(s, pause_at);
    CAPTURE(pause_at, resume_at, held);
    REQUIRE(position_at(*resumed, resume_at).frame == held);
    REQUIRE(position_at(*resumed, resume_at + 125).frame == held + 6);
  }
}

TEST_CASE("pause applies only while playing and resume only while paused") {
  CHECK_FALSE(pb::pause(paused_at(10), 5, kT).has_value());
  CHECK_FALSE(pb::pause(PlaybackState{}, 5, kT).has_value());
  CHECK_FALSE(pb::resume(playing(kT, 0), 5, kT).has_value());
  CHECK_FALSE(pb::resume(PlaybackState{}, 5, kT).has_value());
}

TEST_CASE("seek keeps playing or paused, the track, and lands on the frame at its instant") {
  const PlaybackState s = playing(kT, 0);
  const auto moved = pb::seek(s, 6, 75 * 48'000, kT + kMinute);
  REQUIRE(moved.has_value());
  CHECK(*moved == PlaybackState{6, 20, PlayStatus::playing, kTrack, kT + kMinute, 75 * 48'000});
  CHECK(position_at(*moved, kT + kMinute) == Position{Position::Kind::playing, 75 * 48'000});
  CHECK(position_at(*moved, kT + kMinute + 1'000) == Position{Position::Kind::playing, 75 * 48'000 + 48});
  // Every frame before the instant is the old state's.
  CHECK(frame_at(s, kT + kMinute - 1) == frames_in(kMinute - 1));

  const auto held = pb::seek(paused_at(10), 5, 4'800, kT + 7);
  REQUIRE(held.has_value());
  CHECK(*held == PlaybackState{5, 20, PlayStatus::paused, kTrack, kT + 7, 4'800});
  CHECK(position_at(*held, kT + kMinute) == Position{Position::Kind::paused, 4'800});
}

TEST_CASE("seek clamps to the track's frames and needs a track") {
  CHECK(pb::seek(playing(kT, 0), 5, -1, kT)->anchor_frame == 0);
  CHECK(pb::seek(playing(kT, 0), 5, std::numeric_limits<std::int64_t>::min(), kT)->anchor_frame == 0);
  CHECK(pb::seek(playing(kT, 0), 5, kLength, kT)->anchor_frame == kLength - 1);
  CHECK(pb::seek(playing(kT, 0), 5, std::numeric_limits<std::int64_t>::max(), kT)->anchor_frame ==
        kLength - 1);
  CHECK(pb::seek(paused_at(10), 5, kLength + 5, kT)->anchor_frame == kLength - 1);
  CHECK(pb::seek(playing(kT, 0), 5, kLength - 1, kT)->anchor_frame == kLength - 1);
  CHECK(end_instant(*pb::seek(playing(kT, 0), 5, kLength + 5, kT)) == kT + us_for(1));
  CHECK_FALSE(pb::seek(PlaybackState{}, 5, 0, kT).has_value());
  CHECK_FALSE(pb::seek(pb::stop(playing(kT, 0), 5, kT), 5, 0, kT + 1).has_value());
}

TEST_CASE("stop silences the output from its instant and forgets the track") {
  const PlaybackState s = pb::stop(playing(kT, 0), 5, kT + kMinute);
  CHECK(s.status == PlayStatus::stopped);
  CHECK_FALSE(s.track.has_value());
  CHECK(s.anchor_us == kT + kMinute);
  CHECK(position_at(s, kT + kMinute).kind == Position::Kind::silent);
}

TEST_CASE("reanchoring never moves a frame") {
  std::mt19937_64 rng(11);
  for (int i = 0; i < 2'000; ++i) {
    const PlaybackState s = playing(kT + static_cast<std::int64_t>(rng() % 1'000'000),
                                    static_cast<std::int64_t>(rng() % 1'000));
    const std::int64_t at = kT + static_cast<std::int64_t>(rng() % kMinute);
    const PlaybackState moved = reanchor(s, at);
    CAPTURE(s.anchor_us, s.anchor_frame, at, moved.anchor_us);
    REQUIRE(moved.anchor_us <= at);
    REQUIRE(at - moved.anchor_us < 125);
    for (std::int64_t t = at - 300; t < at + 300; ++t) {
      REQUIRE(position_at(moved, t) == position_at(s, t));
    }
  }
}

TEST_CASE("a new leader re-expresses the state in its own clock without moving a frame") {
  const PlaybackState old = playing(kT + 123, 4'567);  // in the old leader's clock
  const std::int64_t skew = -987'654'321;             // new leader clock − old leader clock
  const std::int64_t takeover = kT + 90 * 1'000'000;  // old-clock instant of the takeover
  PlaybackState mine = reanchor(old, takeover);
  mine.anchor_us += skew;
  for (std::int64_t t = takeover; t < takeover + kMinute; t += 999'999) {
    CHECK(position_at(mine, t + skew) == position_at(old, t));
  }
  CHECK(reanchor(paused_at(42), kT + 5).anchor_frame == 42);
  CHECK(reanchor(paused_at(42), kT + 5).anchor_us == kT + 5);
}

TEST_CASE("a higher epoch supersedes whatever its seq") {
  const PlaybackState applied = playing(kT, 0);  // epoch 5, seq 19
  CHECK(supersedes(6, 0, applied));
  CHECK(supersedes(6, 19, applied));
  CHECK_FALSE(supersedes(4, 100, applied));
}

TEST_CASE("within an epoch only a higher seq supersedes") {
  const PlaybackState applied = playing(kT, 0);  // epoch 5, seq 19
  CHECK(supersedes(5, 20, applied));
  CHECK_FALSE(supersedes(5, 19, applied));
  CHECK_FALSE(supersedes(5, 3, applied));
  CHECK(supersedes(1, 1, PlaybackState{}));
  CHECK_FALSE(supersedes(0, 0, PlaybackState{}));
}
