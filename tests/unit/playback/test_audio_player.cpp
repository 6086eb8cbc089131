// AudioPlayer: tracks opened on its own thread and handed back through the owner's queue, what a
// publication makes the output play, which tracks it holds open, and tracks it does not have.

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/audio_player.hpp"
#include "chorus/time_base.hpp"
#include "playback/eventually.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

namespace fs = std::filesystem;
using chorus::now_us;
using chorus::playback::AudioPlayer;
using chorus::playback::PlaybackState;
using chorus::playback::PlayerConfig;
using chorus::playback::PlayStatus;
using chorus::playback::Publication;
using chorus::playback::Track;
using chorus::playback::TrackInfo;

using chorus::test::eventually;
using chorus::test::read_samples;
using chorus::test::TempDir;
using chorus::test::write_wav;

namespace {

/// A track to open by hash, from `frame`.
chorus::playback::TrackToOpen to_open(std::string hash, std::int64_t frame) {
  chorus::playback::TrackToOpen track;
  track.hash = std::move(hash);
  track.start_frame = frame;
  return track;
}


constexpr std::int64_t kTrackFrames = 2 * 48'000;

/// Frame n of a counting track holds its own number: L = 1 + n % 30000, R = 1 + n / 30000 (never
/// silent, so silence in the output is never the track).
std::vector<std::int16_t> counting_samples(std::int64_t frames) {
  std::vector<std::int16_t> samples;
  for (std::int64_t n = 0; n < frames; ++n) {
    samples.push_back(static_cast<std::int16_t>(1 + n % 30000));
    samples.push_back(static_cast<std::int16_t>(1 + n / 30000));
  }
  return samples;
}

/// The track frame an output frame holds, or -1 for silence.
std::int64_t counted_frame(std::int16_t left, std::int16_t right) {
  if (left == 0 && right == 0) return -1;
  return std::int64_t{right - 1} * 30000 + (left - 1);
}

/// The player's owner thread, played by the test: work the opener thread posts waits here until
/// the test runs it.
class OwnerQueue {
 public:
  AudioPlayer::Post poster() {
    return [this](std::function<void()> work) {
      const std::lock_guard lock(mutex_);
      queue_.push_back(std::move(work));
    };
  }
  void run() {
    std::vector<std::function<void()>> batch;
    {
      const std::lock_guard lock(mutex_);
      batch.swap(queue_);
    }
    for (auto& work : batch) work();
  }

 private:
  std::mutex mutex_;
  std::vector<std::function<void()>> queue_;
};

/// Two counting tracks, "a.wav" and "b.wav", in a fresh directory, and a player for them.
struct PlayerRig {
  TempDir tracks;
  OwnerQueue owner;
  int opened = 0;  ///< "track opened" notifications
  AudioPlayer player;

  explicit PlayerRig(std::string output = "null")
      : player(config(tracks.path, std::move(output)), owner.poster(), [this] { ++opened; }) {
    player.start();
  }

  static PlayerConfig config(const fs::path& dir, std::string output) {
    write_wav(dir / "a.wav", 48'000, 2, counting_samples(kTrackFrames));
    write_wav(dir / "b.wav", 48'000, 2, counting_samples(kTrackFrames / 2));
    return {dir, std::move(output), std::chrono::milliseconds(0), 480, {}};
  }

  TrackInfo track(std::size_t index) const { return player.library().snapshot()->at(index); }
  std::string hash(std::size_t index) const { return track(index).content_hash; }

  /// Runs the owner's queue until `hash` is open.
  bool wait_open(const std::string& track_hash) {
    return eventually([&] {
      owner.run();
      return player.is_open(track_hash);
    });
  }
};

PlaybackState playing(const TrackInfo& info, std::int64_t anchor_us) {
  const Track track{static_cast<std::int64_t>(info.index), info.file_name, info.content_hash, info.frames, info.file_size, info.chunk_root};
  return {1, 1, PlayStatus::playing, track, anchor_us, 0};
}

}  // namespace

TEST_CASE("the player has no output before start, and the library's tracks after it") {
  TempDir tracks;
  OwnerQueue owner;
  AudioPlayer player(PlayerRig::config(tracks.path, "null"), owner.poster(), [] {});
  CHECK(player.describe_output() == "none");
  CHECK(player.fill_ahead_us() == 0);
  player.start();
  CHECK(player.describe_output().find("null") != std::string::npos);
  REQUIRE(player.library().size() == 2);
  CHECK(player.library().snapshot()->at(0).file_name == "a.wav");
  CHECK(player.library().snapshot()->at(0).frames == kTrackFrames);
}

TEST_CASE("a published playing state advances the position and plays the track's frames from the first") {
  TempDir out;
  const auto raw = out.path / "out.raw";
  PlayerRig rig("file:" + raw.string());
  rig.player.keep_open({to_open(rig.hash(0), 0)});
  REQUIRE(rig.wait_open(rig.hash(0)));
  CHECK(rig.opened == 1);

  // The player's clock is the leader's own (the default mapping): the track starts in 50 ms.
  const auto start_us = now_us() + 50'000;
  rig.player.play(Publication{{}, {}, playing(rig.track(0), start_us), 0});
  REQUIRE(eventually([&] { return rig.player.position().frame >= 9'600; }));  // 200 ms played
  const auto position = rig.player.position();
  rig.player.stop();
  const auto stats = rig.player.stats();
  CHECK(position.playing);
  CHECK(stats.engine.blocks > 0);
  CHECK(stats.output.blocks > 0);
  // A resync (the output fell behind: an overloaded machine) makes the engine slew back to the
  // schedule, so frames would skip; without one, every frame is where the schedule puts it.
  const bool on_time = stats.output.resyncs == 0;
  // The frame after the last block is the one the schedule puts at that block's end.
  if (on_time) CHECK(std::abs(position.frame - (position.local_us - start_us) * 48 / 1000) <= 2);

  // What the file output wrote: silence, then the track's frames in order from frame 0.
  const auto samples = read_samples(raw);
  std::size_t first = 0;
  while (first + 1 < samples.size() && counted_frame(samples[first], samples[first + 1]) < 0) first += 2;
  REQUIRE(first + 2 * 4'800 <= samples.size());
  CHECK(counted_frame(samples[first], samples[first + 1]) == 0);
  std::int64_t out_of_order = 0;
  for (std::size_t i = first + 2; i < first + 2 * 4'800; i += 2) {
    if (counted_frame(samples[i], samples[i + 1]) != counted_frame(samples[i - 2], samples[i - 1]) + 1) ++out_of_order;
  }
  if (on_time) CHECK(out_of_order == 0);
}

TEST_CASE("keep_open closes the tracks no longer wanted at once and opens each wanted one once") {
  PlayerRig rig;
  rig.player.keep_open({to_open(rig.hash(0), 0), to_open(rig.hash(1), 0)});
  CHECK_FALSE(rig.player.is_open(rig.hash(0)));  // the opener thread has them
  REQUIRE(rig.wait_open(rig.hash(0)));
  REQUIRE(rig.wait_open(rig.hash(1)));
  CHECK(rig.opened == 2);

  rig.player.keep_open({to_open(rig.hash(1), 0)});
  CHECK_FALSE(rig.player.is_open(rig.hash(0)));
  CHECK(rig.player.is_open(rig.hash(1)));
  rig.player.open(to_open(rig.hash(1), 48'000));  // open already: nothing to do
  rig.owner.run();
  CHECK(rig.opened == 2);

  rig.player.keep_open({to_open(rig.hash(0), 0)});
  CHECK_FALSE(rig.player.is_open(rig.hash(1)));
  REQUIRE(rig.wait_open(rig.hash(0)));
  CHECK(rig.opened == 3);
}

TEST_CASE("a track missing from the library is reported and never opened") {
  PlayerRig rig;
  const std::string unknown(64, 'f');
  rig.player.keep_open({to_open(unknown, 0), to_open(rig.hash(0), 0)});
  REQUIRE(rig.wait_open(rig.hash(0)));  // opens run in order: the unknown one, had it been queued, too
  CHECK_FALSE(rig.player.is_open(unknown));
  CHECK(rig.opened == 1);

  auto state = playing(rig.track(0), 0);
  CHECK_FALSE(rig.player.missing_track(state));
  state.track->hash = unknown;
  state.track->name = "elsewhere.flac";
  CHECK(rig.player.missing_track(state) == "elsewhere.flac");
  CHECK_FALSE(rig.player.missing_track(PlaybackState{}));  // stopped: no track to miss
}
