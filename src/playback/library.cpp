#include "chorus/playback/library.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cctype>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <system_error>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "chorus/playback/library_index.hpp"
#include "chorus/thread_name.hpp"
#include "library_probe.hpp"
#include "library_walk.hpp"
#include "output_format.hpp"
#include "track_decoder.hpp"
#include "track_examiner.hpp"
#include "track_feeder.hpp"

namespace chorus::playback {

namespace fs = std::filesystem;

namespace {

using Tracks = std::vector<TrackInfo>;

/// The hasher thread publishes at most this often, so that a big first scan does not rebuild
/// and hand out a 10,000-entry list for every file.
constexpr auto kPublishInterval = std::chrono::seconds(1);

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

const std::shared_ptr<const Tracks>& no_tracks() {
  static const auto empty = std::make_shared<const Tracks>();
  return empty;
}

TrackInfo track_from(const IndexEntry& e, const fs::path& directory) {
  TrackInfo t;
  t.file_name = e.path;
  t.path = directory / e.path;
  t.format = e.format;
  t.frames = e.frames;
  t.duration_us = detail::frames_to_us(e.frames);
  t.source_rate = e.rate;
  t.source_channels = e.channels;
  t.file_size = e.size;
  t.mtime_ns = e.mtime_ns;
  t.content_hash = e.content_hash;
  t.chunk_root = e.chunk_root;
  t.title = e.title;
  t.artist = e.artist;
  t.album = e.album;
  t.error = e.error;
  return t;
}

TrackInfo unusable(const detail::FoundFile& file, const fs::path& directory) {
  TrackInfo t;
  t.file_name = file.relative;
  t.path = directory / file.relative;
  t.error = file.error;
  return t;
}

/// Why `directory` cannot be scanned at all, or "".
std::string directory_error(const fs::path& directory) {
  std::error_code ec;
  const auto status = fs::status(directory, ec);
  if (ec || !fs::exists(status)) return fmt::format("tracks directory '{}' does not exist", directory.string());
  if (!fs::is_directory(status)) return fmt::format("'{}' is not a directory", directory.string());
  return {};
}

std::string no_audio_error(const fs::path& directory) {
  return fmt::format("no audio files (wav, flac, ogg, opus, mp3) under '{}'", directory.string());
}

/// Whether the file is still the one the scan hashed (nodes must play the same audio): by its
/// size and modification time, as the index trusts it. Hashing it again would delay every start
/// of a big file by its whole read (0.1 s for 30 MB here, a second on a small board) and make
/// this node late; what it serves to peers is checked chunk by chunk anyway.
std::string check_unchanged(const TrackInfo& t) {
  struct stat st {};
  if (::stat(t.path.c_str(), &st) != 0) return "cannot stat: " + std::error_code(errno, std::generic_category()).message();
  if (static_cast<std::uint64_t>(st.st_size) != t.file_size || detail::mtime_ns(st) != t.mtime_ns) {
    return "the file changed since the library was scanned (size or modification time differs); rescan";
  }
  return {};
}

/// A decoder for `t`, after checking that the file is the one scanned.
detail::OpenedDecoder open_decoder(const TrackInfo& t) {
  if (auto error = check_unchanged(t); !error.empty()) return {nullptr, std::move(error)};
  return detail::TrackDecoder::open(t.path, t.frames);
}

}  // namespace

// ------------------------------------------------------------------------------- Library::State

/// What the Library and its hasher thread share.
struct Library::State {
  fs::path directory;
  std::optional<LibraryIndex> index;  ///< none until scanned
  std::function<void()> on_change;
  detail::TrackFeeder feeder;         ///< the decoder thread

  mutable std::mutex mutex;  ///< guards the members down to rescan_wanted
  std::shared_ptr<const Tracks> snapshot = no_tracks();
  std::string error = "not scanned";
  ScanStats stats;
  std::vector<fs::path> directories;
  std::uint64_t last_job = 0;    ///< the last job number handed out
  std::uint64_t queued_job = 0;  ///< a rescan asked for and not started yet, 0: none
  std::condition_variable_any rescan_wanted;

  /// The tracks known so far, by relative path (byte order): written by scan(), then only by the
  /// hasher thread.
  std::map<std::string, TrackInfo> tracks;

  /// Walks the directory and reconciles: `tracks` becomes exactly the files found (those the
  /// index describes complete, the others to be read) and is published. None when the directory
  /// cannot be walked: then `tracks` and the published list are left as they were.
  std::optional<std::vector<detail::FoundFile>> walk_and_reconcile() {
    auto why = directory_error(directory);
    auto walk = why.empty() ? detail::walk_audio_files(directory) : detail::Walk{{}, {}, std::move(why)};
    if (!walk.error.empty()) {
      keep_after_failure(std::move(walk.error));
      return std::nullopt;
    }
    tracks.clear();
    auto to_read = reconcile(walk.files);
    {
      const std::lock_guard lock(mutex);
      stats.files_seen = walk.files.size();
      stats.pending = to_read.size();
      directories.assign(1, directory);
      for (const auto& relative : walk.directories) directories.push_back(directory / relative);
    }
    publish(0);
    return to_read;
  }

  /// The walk failed: the list stays as it was (a directory unmounted for a moment must not
  /// empty the cluster's library), and says why only when it is empty anyway.
  void keep_after_failure(std::string why) {
    bool rescanning = false;
    {
      const std::lock_guard lock(mutex);
      if (snapshot->empty() || error == "not scanned") error = why;
      rescanning = stats.rescans > 0 || stats.updating_job != 0;  // the first scan's caller logs it
    }
    if (rescanning) spdlog::error("library rescan: {}; keeping the last list", why);
  }

  /// A whole rescan: walk, reconcile, read what is new or changed.
  void rescan_now(const std::stop_token& stop, bool notify) {
    if (auto to_read = walk_and_reconcile()) {
      if (notify && on_change) on_change();
      if (!to_read->empty()) read(*to_read, stop, notify);
    }
    if (stop.stop_requested()) return;  // the library is going away
    {
      const std::lock_guard lock(mutex);
      stats.updating_job = queued_job;
      ++stats.rescans;
    }
    if (notify && on_change) on_change();
  }

  /// The hasher thread, once its first reading is done: one rescan after another, as asked.
  void serve_rescans(const std::stop_token& stop) {
    while (true) {
      {
        std::unique_lock lock(mutex);
        if (!rescan_wanted.wait(lock, stop, [&] { return queued_job != 0; })) return;
        stats.updating_job = std::exchange(queued_job, 0);
      }
      if (on_change) on_change();  // the rescan has started
      rescan_now(stop, true);
    }
  }

  /// Numbers a rescan request, joining one that has not started yet.
  std::uint64_t queue_rescan() {
    const std::lock_guard lock(mutex);
    if (queued_job == 0) queued_job = ++last_job;
    if (stats.updating_job == 0) stats.updating_job = queued_job;  // shown at once, not when it starts
    rescan_wanted.notify_all();
    return queued_job;
  }

  /// Fills `tracks` with the files the index describes, forgets the rows of files that are gone
  /// and returns the files that must be read.
  std::vector<detail::FoundFile> reconcile(const std::vector<detail::FoundFile>& files) {
    std::unordered_map<std::string, IndexEntry> rows;
    for (auto& row : index->entries()) rows.emplace(row.path, std::move(row));
    std::vector<detail::FoundFile> to_read;
    for (const auto& file : files) {
      const auto row = rows.find(file.relative);
      if (!file.error.empty()) {
        tracks[file.relative] = unusable(file, directory);
      } else if (row != rows.end() && row->second.size == file.size && row->second.mtime_ns == file.mtime_ns) {
        tracks[file.relative] = track_from(row->second, directory);
      } else {
        to_read.push_back(file);
      }
      if (row != rows.end()) rows.erase(row);  // a changed file's row is replaced once it is read
    }
    std::vector<std::string> gone;
    for (const auto& [path, row] : rows) gone.push_back(path);
    index->remove(gone);
    return to_read;
  }

  /// Reads `files`, storing and publishing them in batches; stops early when asked to.
  void read(const std::vector<detail::FoundFile>& files, const std::stop_token& stop, bool notify) {
    std::vector<IndexEntry> batch;
    std::size_t read_in_batch = 0;
    auto last_publish = std::chrono::steady_clock::now();
    for (const auto& file : files) {
      if (stop.stop_requested()) return;
      auto entry = detail::examine_file(directory / file.relative, file.relative);
      tracks[file.relative] = track_from(entry, directory);
      ++read_in_batch;
      // A file that could not be read has no row: it is tried again by the next scan.
      if (!entry.content_hash.empty()) batch.push_back(std::move(entry));
      if (std::chrono::steady_clock::now() - last_publish >= kPublishInterval) {
        flush(batch, read_in_batch, notify);
        last_publish = std::chrono::steady_clock::now();
      }
    }
    flush(batch, read_in_batch, notify);
  }

  void flush(std::vector<IndexEntry>& batch, std::size_t& read, bool notify) {
    index->put(batch);
    batch.clear();
    publish(read);
    read = 0;
    if (notify && on_change) on_change();
  }

  /// Hands out the current `tracks` as a new snapshot, counting `read` more files read.
  void publish(std::size_t read) {
    auto list = std::make_shared<Tracks>();
    list->reserve(tracks.size());
    for (const auto& [path, track] : tracks) {
      list->push_back(track);
      list->back().index = list->size() - 1;
    }
    const std::lock_guard lock(mutex);
    stats.files_hashed += read;
    stats.pending -= read;
    error = list->empty() && stats.pending == 0 ? no_audio_error(directory) : std::string{};
    snapshot = std::move(list);
  }
};

// ------------------------------------------------------------------------------------ Library

Library::Library() : state_(std::make_shared<State>()) {}
Library::Library(Library&&) noexcept = default;
Library& Library::operator=(Library&&) noexcept = default;
Library::~Library() = default;

Library Library::scan(const fs::path& directory, ScanOptions options) {
  Library lib;
  lib.directory_ = directory;
  State& state = *lib.state_;
  state.directory = directory;
  state.on_change = std::move(options.on_change);
  state.index.emplace(options.index_file);
  auto to_read = state.walk_and_reconcile().value_or(std::vector<detail::FoundFile>{});
  if (!options.background) {
    if (!to_read.empty()) state.read(to_read, {}, false);
    return lib;
  }
  // A few new files are read at once, so that a small library is whole when the node starts;
  // the rest, a big library's first scan, on the hasher thread.
  std::size_t first = 0;
  for (std::uint64_t bytes = 0; first < to_read.size(); ++first) {
    bytes += to_read[first].size;
    if (bytes > options.foreground_bytes) break;
  }
  if (first > 0) state.read({to_read.begin(), to_read.begin() + static_cast<std::ptrdiff_t>(first)}, {}, false);
  to_read.erase(to_read.begin(), to_read.begin() + static_cast<std::ptrdiff_t>(first));
  // The thread stays after reading: it serves rescan() (a directory missing at start may come).
  lib.hasher_ = std::jthread([shared = lib.state_, files = std::move(to_read)](const std::stop_token& stop) {
    name_this_thread("chorus-hasher");
    if (!files.empty()) shared->read(files, stop, true);
    shared->serve_rescans(stop);
  });
  return lib;
}

std::uint64_t Library::rescan() {
  if (!state_) return 0;
  const auto job = state_->queue_rescan();
  if (!hasher_.joinable()) {
    {
      const std::lock_guard lock(state_->mutex);
      state_->stats.updating_job = std::exchange(state_->queued_job, 0);
    }
    state_->rescan_now({}, false);
  }
  return job;
}

std::vector<fs::path> Library::directories() const {
  if (!state_) return {};
  const std::lock_guard lock(state_->mutex);
  return state_->directories;
}

std::string Library::error() const {
  if (!state_) return "library was moved from";
  const std::lock_guard lock(state_->mutex);
  return state_->error;
}

std::shared_ptr<const std::vector<TrackInfo>> Library::snapshot() const {
  if (!state_) return no_tracks();
  const std::lock_guard lock(state_->mutex);
  return state_->snapshot;
}

ScanStats Library::stats() const {
  if (!state_) return {};
  const std::lock_guard lock(state_->mutex);
  return state_->stats;
}

std::optional<TrackInfo> Library::track(std::size_t index) const {
  const auto tracks = snapshot();
  if (index >= tracks->size()) return std::nullopt;
  return (*tracks)[index];
}

std::optional<TrackInfo> Library::find_by_hash(std::string_view content_hash) const {
  const auto tracks = snapshot();
  const auto index = playback::find_by_hash(*tracks, content_hash);
  if (!index) return std::nullopt;
  return (*tracks)[*index];
}

std::optional<std::size_t> find_by_hash(std::span<const TrackInfo> tracks, std::string_view content_hash) {
  const std::string wanted = lower(std::string(content_hash));
  if (wanted.empty()) return std::nullopt;
  for (const auto& t : tracks) {
    if (t.content_hash == wanted) return t.index;
  }
  return std::nullopt;
}

std::optional<std::vector<content::Digest>> Library::manifest(std::string_view content_hash) const {
  const auto track = find_by_hash(content_hash);
  if (!track) return std::nullopt;  // the index may still hold the digests of an older version
  if (state_->index) {
    if (auto chunks = state_->index->chunks(track->content_hash)) return chunks;
  }
  auto hashed = detail::hash_file(track->path);
  if (!hashed.error.empty() || hashed.digests.content_hash != track->content_hash) return std::nullopt;
  return std::move(hashed.digests.chunks);
}

OpenedTrack Library::open(const TrackInfo& track, std::int64_t start_frame) const {
  if (!track.playable()) return {nullptr, track.error};
  return open(track.content_hash, start_frame);
}

OpenedTrack Library::open(std::string_view content_hash, std::int64_t start_frame) const {
  if (!state_) return {nullptr, "library was moved from"};
  const auto found = find_by_hash(content_hash);
  if (!found) return {nullptr, fmt::format("no track with content hash {} in the library", content_hash.substr(0, 12))};
  const TrackInfo& t = *found;
  if (!t.playable()) return {nullptr, t.error};
  return feed(open_decoder(t), t.frames, start_frame, t.file_name);
}

OpenedTrack Library::open_external(const ExternalTrack& track, std::int64_t start_frame) const {
  if (!state_) return {nullptr, "library was moved from"};
  if (track.frames <= 0 || track.frames > detail::kMaxTrackSeconds * detail::kSampleRate) {
    return {nullptr, fmt::format("{} frames is not a track length", track.frames)};
  }
  auto opened = track.partial ? detail::TrackDecoder::open(track.partial, track.frames)
                              : detail::TrackDecoder::open(track.path, track.frames);
  return feed(std::move(opened), track.frames, start_frame, track.name);
}

OpenedTrack Library::feed(detail::OpenedDecoder opened, std::int64_t frames, std::int64_t start_frame,
                          const std::string& name) const {
  if (!opened.decoder) {
    spdlog::warn("cannot play {}: {}", name, opened.error);
    return {nullptr, std::move(opened.error)};
  }
  auto audio = std::make_shared<TrackAudio>(frames);
  // The chunk playback starts in is decoded here, so that it is ready (and a file that does not
  // decode is refused) before anyone plays it; the decoder thread does the rest.
  const auto start = std::clamp<std::int64_t>(start_frame, 0, std::max<std::int64_t>(frames - 1, 0));
  const auto chunk = static_cast<std::size_t>(start / TrackAudio::kChunkFrames);
  std::vector<std::int16_t> samples(static_cast<std::size_t>(audio->chunk_frames(chunk) * kChannels));
  if (auto error = opened.decoder->decode(static_cast<std::int64_t>(chunk) * TrackAudio::kChunkFrames, samples);
      !error.empty()) {
    spdlog::warn("cannot play {}: {}", name, error);
    return {nullptr, std::move(error)};
  }
  audio->store(chunk, std::move(samples));
  audio->hint(start);
  state_->feeder.add(audio, std::move(opened.decoder), name);
  return {std::move(audio), {}};
}

DecodedTrack Library::decode(const TrackInfo& track) const {
  if (!track.playable()) return {{}, track.error};
  return decode(track.content_hash);
}

DecodedTrack Library::decode(std::string_view content_hash) const {
  const auto found = find_by_hash(content_hash);
  if (!found) return {{}, fmt::format("no track with content hash {} in the library", content_hash.substr(0, 12))};
  const TrackInfo& t = *found;
  if (!t.playable()) return {{}, t.error};
  auto opened = open_decoder(t);
  if (!opened.decoder) return {{}, std::move(opened.error)};
  DecodedTrack result;
  result.samples.resize(static_cast<std::size_t>(t.frames * kChannels));
  result.error = opened.decoder->decode(0, result.samples);
  if (!result.error.empty()) result.samples.clear();
  return result;
}

std::string Library::describe() const {
  const auto tracks = snapshot();
  if (tracks->empty()) {
    auto why = error();
    return why.empty() ? "no tracks" : why;
  }
  std::string out;
  for (const auto& t : *tracks) {
    if (t.playable()) {
      const auto ms = t.duration_us / 1000;
      out += fmt::format("{:3}  {}  {} {} Hz {} ch  {}:{:02}.{:03}  {} frames  {}\n", t.index, t.file_name,
                         t.format, t.source_rate, t.source_channels, ms / 60000, ms / 1000 % 60, ms % 1000,
                         t.frames, t.content_hash.substr(0, 12));
    } else {
      out += fmt::format("{:3}  {}  error: {}\n", t.index, t.file_name, t.error);
    }
  }
  return out;
}

std::optional<std::string> sha256_file_hex(const fs::path& path) {
  auto hashed = detail::hash_file(path);
  if (!hashed.error.empty()) return std::nullopt;
  return std::move(hashed.digests.content_hash);
}

}  // namespace chorus::playback
