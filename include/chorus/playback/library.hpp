#pragma once
// Library: the tracks in one directory, in a stable order, each identified across nodes by the
// SHA-256 of its file bytes, streamed as 48 kHz stereo S16 PCM.
//
// Threads (see docs/audio.md):
//   scan()                    any thread; blocking file I/O (reads and hashes every audio file).
//                             Run it at start-up or on a worker, not on the io thread for big dirs.
//   tracks(), track(), find_by_hash(), directory(), error()
//                             any thread, concurrently: the track list is immutable after scan().
//   open(), decode()          any thread except the audio thread, concurrently; they block while
//                             they check the file's hash and decode (milliseconds per track).
//   the returned TrackAudio   read by the audio thread without any lock; the library's decoder
//                             thread keeps it filled while the library lives.
// Moving a Library while open() or decode() runs on it is not allowed.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/playback/track_audio.hpp"

namespace chorus::playback {

namespace detail {
class TrackFeeder;
}

/// One file of the library. A file with an audio extension that cannot be used (empty, corrupt,
/// unsupported) is still listed, with `error` set and frames == 0.
struct TrackInfo {
  std::size_t index = 0;           ///< position in the library (file-name order)
  std::string file_name;           ///< base name, e.g. "03-click-track.ogg"
  std::filesystem::path path;      ///< directory / file_name
  std::string format;              ///< from the content: "wav", "flac", "vorbis", "opus", "mp3"
  std::int64_t frames = 0;         ///< length at 48 kHz; decoding gives exactly this many frames
  std::int64_t duration_us = 0;    ///< frames / 48 kHz, in µs
  int source_rate = 0;             ///< sample rate of the file (resampled to 48 kHz on decode)
  int source_channels = 0;         ///< channels of the file (mixed/duplicated to stereo)
  std::uint64_t file_size = 0;     ///< bytes
  std::string content_hash;        ///< SHA-256 of the file bytes, 64 lower-case hex digits
  std::string chunk_root;          ///< SHA-256 over its chunk digests, hex (content/chunking.hpp)
  std::string error;               ///< empty when the track is playable

  bool playable() const noexcept { return error.empty(); }
};

/// A track opened by Library::open(): its streamed audio, or why it cannot be played (never
/// both).
struct OpenedTrack {
  std::shared_ptr<const TrackAudio> audio;
  std::string error;

  bool ok() const noexcept { return audio != nullptr; }
};

/// A track decoded whole by Library::decode(): all of its samples, or why it cannot be decoded.
struct DecodedTrack {
  std::vector<std::int16_t> samples;  ///< interleaved L,R at 48 kHz, 2 × frames values
  std::string error;

  bool ok() const noexcept { return error.empty(); }
};

/// The index of the first of `tracks` with this content hash (case-insensitive hex); none for an
/// empty hash.
std::optional<std::size_t> find_by_hash(std::span<const TrackInfo> tracks, std::string_view content_hash);

class Library {
 public:
  /// The file-name extensions considered audio (compared case-insensitively). Other files are
  /// ignored silently.
  static constexpr std::string_view kAudioExtensions[] = {"wav", "flac", "ogg", "opus", "mp3"};

  /// Scans `directory` (not recursively): regular files with an audio extension, sorted by file
  /// name (byte order, the same on every node). Never throws for I/O or format problems: a bad
  /// file gets an error entry; a missing, unreadable or audio-less directory gives an empty list
  /// and error().
  static Library scan(const std::filesystem::path& directory);

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
  std::optional<std::size_t> find_by_hash(std::string_view content_hash) const {
    return playback::find_by_hash(tracks_, content_hash);
  }

  /// Opens track `index` for playback, or says why it cannot: re-reads the file and refuses it if
  /// its hash changed since scan(), decodes the second that holds `start_frame` before returning
  /// and leaves the rest to the decoder thread, which keeps about ten seconds ahead of wherever
  /// the track is read (TrackAudio). Exactly track(index)->frames frames: a decoder that
  /// delivers a few more or fewer is cut or padded with silence. Each call opens anew. Never
  /// throws.
  OpenedTrack open(std::size_t index, std::int64_t start_frame = 0) const;

  /// Decodes the whole of track `index` at once (for tools and tests; a 4-minute track is
  /// 44 MiB). Same checks and length as open(). Never throws.
  DecodedTrack decode(std::size_t index) const;

  /// Human-readable listing (one line per track), for logs and the REPL.
  std::string describe() const;

 private:
  std::filesystem::path directory_;
  std::string error_;
  std::vector<TrackInfo> tracks_;
  std::unique_ptr<detail::TrackFeeder> feeder_;  ///< the decoder thread
};

/// SHA-256 of a file's bytes as lower-case hex (OpenSSL EVP), or std::nullopt if it cannot be
/// read. Blocking; any thread.
std::optional<std::string> sha256_file_hex(const std::filesystem::path& path);

}  // namespace chorus::playback
