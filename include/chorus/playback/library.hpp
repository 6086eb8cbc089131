#pragma once
// Library: the tracks in one directory, in a stable order, each identified across nodes by the
// SHA-256 of its file bytes, decoded on demand to 48 kHz stereo S16 PCM.
//
// Threads (see docs/audio.md):
//   scan()                    any thread; blocking file I/O (reads and hashes every audio file).
//                             Run it at start-up or on a worker, not on the io thread for big dirs.
//   tracks(), track(), find_by_hash(), directory(), error()
//                             any thread, concurrently: the track list is immutable after scan().
//   load()                    any thread except the audio thread, concurrently; blocks while it
//                             reads and decodes (milliseconds to about a second per track).
//   the returned Pcm          immutable: the audio thread may read it without any lock.
// A Library must outlive the load() calls made on it; moving it while loads run is not allowed.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace chorus::playback {

/// Decoded audio: interleaved L,R signed 16-bit samples at 48 kHz (2 × frames values).
using Pcm = std::shared_ptr<const std::vector<std::int16_t>>;

/// One file of the library. A file with an audio extension that cannot be used (empty, corrupt,
/// unsupported) is still listed, with `error` set and frames == 0.
struct TrackInfo {
  std::size_t index = 0;           ///< position in the library (file-name order)
  std::string file_name;           ///< base name, e.g. "03-click-track.ogg"
  std::filesystem::path path;      ///< directory / file_name
  std::string format;              ///< from the content: "wav", "flac", "vorbis", "opus", "mp3"
  std::int64_t frames = 0;         ///< length at 48 kHz; load() returns exactly this many frames
  std::int64_t duration_us = 0;    ///< frames / 48 kHz, in µs
  int source_rate = 0;             ///< sample rate of the file (resampled to 48 kHz on decode)
  int source_channels = 0;         ///< channels of the file (mixed/duplicated to stereo)
  std::uint64_t file_size = 0;     ///< bytes
  std::string content_hash;        ///< SHA-256 of the file bytes, 64 lower-case hex digits
  std::string error;               ///< empty when the track is playable

  bool playable() const noexcept { return error.empty(); }
};

/// Result of Library::load(): the PCM, or an error (never both).
struct LoadResult {
  Pcm pcm;
  std::string error;

  bool ok() const noexcept { return pcm != nullptr; }
};

class Library {
 public:
  /// The file-name extensions considered audio (compared case-insensitively). Other files are
  /// ignored silently.
  static constexpr std::string_view kAudioExtensions[] = {"wav", "flac", "ogg", "opus", "mp3"};

  /// Scans `directory` (not recursively): regular files with an audio extension, sorted by file
  /// name (byte order, the same on every node). Never throws for I/O or format problems: a bad
  /// file gets an error entry; a missing, unreadable or audio-less directory gives an empty list
  /// and error(). `cache_tracks` decoded tracks are kept in memory by load() (least recently
  /// used evicted first).
  static Library scan(const std::filesystem::path& directory, std::size_t cache_tracks = 4);

  Library();  ///< empty, with error() "not scanned"
  Library(Library&&) noexcept;
  Library& operator=(Library&&) noexcept;
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library();

  const std::filesystem::path& directory() const noexcept { return directory_; }
  /// Why the list is empty (missing directory, no audio files, ...); empty when tracks exist.
  const std::string& error() const noexcept { return error_; }
  const std::vector<TrackInfo>& tracks() const noexcept { return tracks_; }
  std::size_t size() const noexcept { return tracks_.size(); }
  /// nullptr when index is out of range.
  const TrackInfo* track(std::size_t index) const noexcept;
  /// The index of the first track with this content hash (case-insensitive hex).
  std::optional<std::size_t> find_by_hash(std::string_view content_hash) const;

  /// Decodes track `index` to 48 kHz stereo S16 (exactly track(index)->frames frames; a resampler
  /// that delivers a few frames more or less is trimmed or padded with silence), or returns why it
  /// cannot. Re-reads the file and refuses it if its hash changed since scan(). Decoded PCM is
  /// cached (errors are not: the next call tries again); concurrent loads of one track decode it
  /// once. Never throws.
  LoadResult load(std::size_t index) const;

  /// Human-readable listing (one line per track), for logs and the REPL.
  std::string describe() const;

 private:
  struct Cache;

  std::filesystem::path directory_;
  std::string error_;
  std::vector<TrackInfo> tracks_;
  std::unique_ptr<Cache> cache_;
};

/// SHA-256 of a file's bytes as lower-case hex (OpenSSL EVP), or std::nullopt if it cannot be
/// read. Blocking; any thread.
std::optional<std::string> sha256_file_hex(const std::filesystem::path& path);

}  // namespace chorus::playback
