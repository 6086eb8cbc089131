#include "chorus/playback/audio_player.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "track_opener.hpp"

namespace chorus::playback {

AudioPlayer::AudioPlayer(PlayerConfig config, Post post, TrackOpened on_opened, FindBytes find_bytes)
    : config_(std::move(config)),
      post_(std::move(post)),
      on_opened_(std::move(on_opened)),
      find_bytes_(std::move(find_bytes)),
      opener_(std::make_unique<detail::TrackOpener>()) {}

AudioPlayer::~AudioPlayer() { stop(); }

void AudioPlayer::start(std::filesystem::path index_file, std::function<void()> on_library_change) {
  ScanOptions scan;
  scan.index_file = config_.index_file.empty() ? std::move(index_file) : config_.index_file;
  scan.background = static_cast<bool>(on_library_change);
  scan.on_change = std::move(on_library_change);
  library_ = Library::scan(config_.tracks, std::move(scan));
  if (!library_.error().empty()) spdlog::warn("tracks: {}", library_.error());
  const auto stats = library_.stats();
  spdlog::info("{} tracks in {}{}", library_.size(), config_.tracks.string(),
               stats.pending > 0 ? fmt::format(" ({} new or changed files being read)", stats.pending) : "");
  output_ = start_output();
  spdlog::info("output: {}", output_->describe());
}

std::unique_ptr<AudioOutput> AudioPlayer::start_output() {
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(config_.latency);
  auto made = make_output(config_.output, config_.block_frames, latency);
  if (!made.output) throw std::runtime_error("--output: " + made.error);
  if (made.output->start(gain_)) return std::move(made.output);
  // A node without its device still follows the schedule (status shows which output it has).
  spdlog::warn("output {} could not start; continuing on null output", made.output->describe());
  auto fallback = make_output("null", config_.block_frames, latency).output;
  fallback->start(gain_);
  return fallback;
}

void AudioPlayer::stop() {
  opener_->stop();  // an open under way finishes; queued ones are dropped
  if (output_) output_->stop();
}

std::optional<std::string> AudioPlayer::missing_track(const PlaybackState& state) const {
  if (!state.track || !awaiting_.contains(state.track->hash)) return std::nullopt;
  return state.track->name;
}

void AudioPlayer::bytes_arrived(const std::string& hash, std::optional<std::int64_t> frame_now) {
  auto it = awaiting_.find(hash);
  if (it == awaiting_.end()) return;
  auto track = it->second;
  if (frame_now) track.start_frame = *frame_now;
  awaiting_.erase(it);
  open(track);
}

void AudioPlayer::keep_open(const std::vector<TrackToOpen>& tracks) {
  const auto unwanted = [&](const std::string& hash) {
    return std::none_of(tracks.begin(), tracks.end(), [&](const TrackToOpen& track) { return track.hash == hash; });
  };
  std::erase_if(open_, [&](const auto& entry) { return unwanted(entry.first); });
  std::erase_if(opening_, unwanted);  // finish_open() then drops what it brings
  std::erase_if(awaiting_, [&](const auto& entry) { return unwanted(entry.first); });
  for (const auto& track : tracks) open(track);
}

void AudioPlayer::open(const TrackToOpen& track) {
  if (open_.contains(track.hash) || opening_.contains(track.hash)) return;
  if (library_.find_by_hash(track.hash)) {
    opening_.insert(track.hash);
    opener_->run([this, track] {
      auto opened = library_.open(track.hash, track.start_frame);
      post_([this, track, opened = std::move(opened)] { finish_open(track, opened, false); });
    });
    return;
  }
  auto bytes = find_bytes_ ? find_bytes_(track) : std::nullopt;
  if (!bytes) {
    awaiting_[track.hash] = track;  // until bytes_arrived()
    return;
  }
  opening_.insert(track.hash);
  opener_->run([this, track, bytes = std::move(*bytes)] {
    auto opened = library_.open_external(bytes, track.start_frame);
    post_([this, track, opened = std::move(opened)] { finish_open(track, opened, true); });
  });
}

void AudioPlayer::finish_open(const TrackToOpen& track, const OpenedTrack& opened, bool fetched) {
  if (opening_.erase(track.hash) == 0) return;  // no longer wanted since it was asked for
  if (!opened.ok()) {
    spdlog::warn("cannot open {}: {}", track.hash.substr(0, 12), opened.error);
    // A fetch that fell behind the reader: try again when more has arrived.
    if (fetched) awaiting_[track.hash] = track;
    return;
  }
  open_[track.hash] = opened.audio;
  on_opened_();
}

void AudioPlayer::play(const Publication& publication) {
  Snapshot snapshot;
  snapshot.clock = publication.clock;
  snapshot.previous = {publication.previous, audio_for(publication.previous)};
  snapshot.current = {publication.current, audio_for(publication.current)};
  // A start or a jump elsewhere in the track: have the decoder go there before the engine does.
  if (snapshot.current.audio && publication.current_frame) {
    snapshot.current.audio->hint(*publication.current_frame);
  }
  engine_.publish(std::move(snapshot));  // also frees the snapshots the audio thread let go
}

std::shared_ptr<const TrackAudio> AudioPlayer::audio_for(const PlaybackState& state) const {
  if (!state.track) return nullptr;
  auto it = open_.find(state.track->hash);
  return it == open_.end() ? nullptr : it->second;
}

PlayerStats AudioPlayer::stats() const {
  return {engine_.stats(), output_ ? output_->stats() : OutputStats{}};
}

std::string AudioPlayer::describe_output() const { return output_ ? output_->describe() : "none"; }

std::int64_t AudioPlayer::fill_ahead_us() const { return output_ ? output_->fill_ahead_us() : 0; }

}  // namespace chorus::playback
