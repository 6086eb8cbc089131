#include "chorus/playback/audio_player.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include <spdlog/spdlog.h>

#include "track_opener.hpp"

namespace chorus::playback {

AudioPlayer::AudioPlayer(PlayerConfig config, Post post, TrackOpened on_opened)
    : config_(std::move(config)),
      post_(std::move(post)),
      on_opened_(std::move(on_opened)),
      opener_(std::make_unique<detail::TrackOpener>()) {}

AudioPlayer::~AudioPlayer() { stop(); }

void AudioPlayer::start() {
  ScanOptions scan;
  scan.index_file = config_.index_file;
  library_ = Library::scan(config_.tracks, std::move(scan));
  if (!library_.error().empty()) spdlog::warn("tracks: {}", library_.error());
  spdlog::info("{} tracks in {}", library_.size(), config_.tracks.string());
  output_ = start_output();
  spdlog::info("output: {}", output_->describe());
}

std::unique_ptr<AudioOutput> AudioPlayer::start_output() {
  const auto latency = std::chrono::duration_cast<std::chrono::microseconds>(config_.latency);
  auto made = make_output(config_.output, config_.block_frames, latency);
  if (!made.output) throw std::runtime_error("--output: " + made.error);
  if (made.output->start(engine_)) return std::move(made.output);
  // A node without its device still follows the schedule (status shows which output it has).
  spdlog::warn("output {} could not start; continuing on null output", made.output->describe());
  auto fallback = make_output("null", config_.block_frames, latency).output;
  fallback->start(engine_);
  return fallback;
}

void AudioPlayer::stop() {
  opener_->stop();  // an open under way finishes; queued ones are dropped
  if (output_) output_->stop();
}

std::optional<std::string> AudioPlayer::missing_track(const PlaybackState& state) const {
  if (!state.track || library_.find_by_hash(state.track->hash)) return std::nullopt;
  return state.track->name;
}

void AudioPlayer::keep_open(const std::vector<TrackToOpen>& tracks) {
  const auto unwanted = [&](const std::string& hash) {
    return std::none_of(tracks.begin(), tracks.end(), [&](const TrackToOpen& track) { return track.hash == hash; });
  };
  std::erase_if(open_, [&](const auto& entry) { return unwanted(entry.first); });
  std::erase_if(opening_, unwanted);  // finish_open() then drops what it brings
  for (const auto& track : tracks) open(track);
}

void AudioPlayer::open(const TrackToOpen& track) {
  if (open_.contains(track.hash) || opening_.contains(track.hash)) return;
  if (!library_.find_by_hash(track.hash)) return;  // not in this node's library: it stays silent (missing_track)
  opening_.insert(track.hash);
  opener_->run([this, hash = track.hash, start = track.start_frame] {
    auto opened = library_.open(hash, start);
    post_([this, hash, opened = std::move(opened)] { finish_open(hash, opened); });
  });
}

void AudioPlayer::finish_open(const std::string& hash, const OpenedTrack& opened) {
  if (opening_.erase(hash) == 0) return;  // no longer wanted since it was asked for
  if (!opened.ok()) return spdlog::warn("cannot open {}: {}", hash.substr(0, 12), opened.error);
  open_[hash] = opened.audio;
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
