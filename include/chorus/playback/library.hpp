#pragma once
// Library: the tracks under one directory (recursively), in a stable order, each identified
// across nodes by the SHA-256 of its file bytes, streamed as 48 kHz stereo S16 PCM.
//
// What was learned about each file (hashes, chunk digests, length, tags) is kept in a
// LibraryIndex; a file whose size and modification time match its row is not read again. Files
// that are new or changed are read either inside scan() or, with ScanOptions::background, on the
// library's hasher thread, which publishes a new track list after each batch.
//
// rescan() walks the directory again and updates the list incrementally (docs/library.md "New
// music"): files gone are dropped, new and changed ones read, the others kept as they are. A
// background library does this on its hasher thread, which stays for the Library's lifetime
// and serves one rescan after another.
//
// Threads (see docs/audio.md):
//   scan()                    any thread; a stat walk, plus reading the new or changed files
//                             unless they are left to the hasher thread.
//   snapshot(), size(), track(), find_by_hash(), stats(), error(), describe(), manifest()
//                             any thread, concurrently: each call sees one published list.
//   open(), decode()          any thread except the audio thread, concurrently; they block while
//                             they check the file's hash and decode (milliseconds per track).
//   the returned TrackAudio   read by the audio thread without any lock; the library's decoder
//                             thread keeps it filled while the library lives.
//   rescan(), directories()   any thread; a background library's rescan() only queues the work.
//   ScanOptions::on_change    called on the hasher thread.
// Moving a Library while another thread calls it is not allowed; its hasher thread carries on
// across a move (it works on state the Library points to).

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "chorus/content/chunking.hpp"
#include "chorus/playback/track_audio.hpp"

namespace chorus::content {
class PartialFile;
}

namespace chorus::playback {

namespace detail {
struct OpenedDecoder;
}


/// One file of the library. A file with an audio extension that cannot be used (empty, corrupt,
/// unsupported) is still listed, with `error` set and frames == 0.
struct TrackInfo {
  std::size_t index = 0;           ///< position in the snapshot it came from (path order)
  std::string file_name;           ///< path below the library directory, '/' separators, e.g.
                                   ///< "Artist/Album/03 click.ogg"
  std::filesystem::path path;      ///< directory / file_name
  std::string format;              ///< from the content: "wav", "flac", "vorbis", "opus", "mp3"
  std::int64_t frames = 0;         ///< length at 48 kHz; decoding gives exactly this many frames
  std::int64_t duration_us = 0;    ///< frames / 48 kHz, in µs
  int source_rate = 0;             ///< sample rate of the file (resampled to 48 kHz on decode)
  int source_channels = 0;         ///< channels of the file (mixed/duplicated to stereo)
  std::uint64_t file_size = 0;     ///< bytes
  std::int64_t mtime_ns = 0;       ///< modification time when it was hashed, ns since the epoch
  std::string content_hash;        ///< SHA-256 of the file bytes, 64 lower-case hex digits
  std::string chunk_root;          ///< SHA-256 over its chunk digests, hex (content/chunking.hpp)
  std::string title;               ///< from the file's tags, UTF-8; empty if it has none
  std::string artist;
  std::string album;
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

/// The bytes of a track that is not in the library: a complete file (a cached copy, checked
/// against its content hash when it was stored) or one still being fetched.
struct ExternalTrack {
  std::string name;  ///< for the log
  std::int64_t frames = 0;
  std::filesystem::path path;                     ///< a complete file
  std::shared_ptr<content::PartialFile> partial;  ///< or one being fetched (path unused)
};

/// How Library::scan() works.
struct ScanOptions {
  /// The SQLite index kept between runs; empty: an index in memory, for this Library only.
  std::filesystem::path index_file;
  /// Whether new and changed files are read on the hasher thread after scan() returns (true) or
  /// inside scan() (false: tools and tests).
  bool background = false;
  /// Background only: new and changed files are still read inside scan() while their sizes add
  /// up to at most this, so that a small library is complete at once.
  std::uint64_t foreground_bytes = 64u << 20;
  /// Background only: called on the hasher thread after each batch it publishes (at most about
  /// once a second) and once when it is done. It may run before scan() has returned, so it should
  /// only post work to its owner's thread, not call the Library itself. Also called when a
  /// rescan starts and when it ends (whether or not it changed anything).
  std::function<void()> on_change;
};

/// What the scan has done so far.
struct ScanStats {
  std::size_t files_seen = 0;    ///< files named like tracks, found by the stat walk
  std::size_t files_hashed = 0;  ///< of them, read in full (new, changed or not yet indexed)
  std::size_t pending = 0;       ///< of them, still waiting for the hasher thread
  /// The rescan queued or under way (MPD's updating_db), 0 when none is.
  std::uint64_t updating_job = 0;
  std::uint64_t rescans = 0;     ///< rescans finished
};

class Library {
 public:
  /// The file-name extensions considered audio (compared case-insensitively). Other files are
  /// ignored silently.
  static constexpr std::string_view kAudioExtensions[] = {"wav", "flac", "ogg", "opus", "mp3"};

  /// Scans `directory` recursively: files with an audio extension, hidden names (".x") and
  /// symbolic links to directories skipped, sorted by their path below `directory` (byte order,
  /// the same on every node). Never throws for I/O or format problems: a bad file gets an error
  /// entry; a missing, unreadable or audio-less directory gives an empty list and error(). Index
  /// rows of files that are gone are deleted.
  static Library scan(const std::filesystem::path& directory, ScanOptions options = {});

  Library();  ///< empty, with error() "not scanned"
  Library(Library&&) noexcept;
  Library& operator=(Library&&) noexcept;
  Library(const Library&) = delete;
  Library& operator=(const Library&) = delete;
  ~Library();  ///< stops the hasher thread between two files

  const std::filesystem::path& directory() const noexcept { return directory_; }
  /// Why the list is empty (missing directory, no audio files, ...); empty when tracks exist or
  /// the hasher thread may still find some.
  std::string error() const;
  /// The current track list; never null. Later lists replace it; this one never changes.
  std::shared_ptr<const std::vector<TrackInfo>> snapshot() const;
  std::size_t size() const { return snapshot()->size(); }
  /// Track `index` of the current snapshot (a copy), if there is one.
  std::optional<TrackInfo> track(std::size_t index) const;
  /// A copy of the first track of the current snapshot with this content hash (case-insensitive
  /// hex); its `index` is its position in that snapshot.
  std::optional<TrackInfo> find_by_hash(std::string_view content_hash) const;
  ScanStats stats() const;

  /// Walks the directory again: files gone leave the list, new and changed ones are read (a
  /// background library reads them on its hasher thread and returns at once; otherwise they are
  /// read before rescan() returns), unchanged ones are not read again. A directory that cannot be
  /// walked any more is logged as an error and the list is kept. Returns the rescan's job number
  /// (from 1); a request made while another rescan waits to start joins it (same number), so a
  /// burst of requests costs one walk. A library that was moved from does nothing and returns 0.
  std::uint64_t rescan();
  /// The directories of the last successful walk, the library directory first: what a watcher
  /// of the tree should watch.
  std::vector<std::filesystem::path> directories() const;

  /// The chunk digests of the file with this content hash: from the index, or read again from the
  /// file (and checked against the hash) when the index does not have them. None for a hash the
  /// library does not have or a file that changed. Blocking when it reads the file.
  std::optional<std::vector<content::Digest>> manifest(std::string_view content_hash) const;

  /// Opens the track with this content hash for playback, or says why it cannot: re-reads the
  /// file and refuses it if its hash changed since it was scanned, decodes the second that holds
  /// `start_frame` before returning and leaves the rest to the decoder thread, which keeps about
  /// ten seconds ahead of wherever the track is read (TrackAudio). Exactly the track's frames
  /// frames: a decoder that delivers a few more or fewer is cut or padded with silence. Each call
  /// opens anew. Never throws.
  OpenedTrack open(std::string_view content_hash, std::int64_t start_frame = 0) const;
  /// The same for a track from a snapshot; an unplayable one gives its own error.
  OpenedTrack open(const TrackInfo& track, std::int64_t start_frame = 0) const;
  /// The same for a track from elsewhere (the cache), decoded by this library's decoder thread.
  /// Reads of a part still being fetched wait for it (bounded; docs/library.md).
  OpenedTrack open_external(const ExternalTrack& track, std::int64_t start_frame = 0) const;

  /// Decodes the whole of a track at once (for tools and tests; a 4-minute track is 44 MiB). Same
  /// checks and length as open(). Never throws.
  DecodedTrack decode(std::string_view content_hash) const;
  DecodedTrack decode(const TrackInfo& track) const;

  /// Human-readable listing (one line per track), for logs and the REPL.
  std::string describe() const;

 private:
  struct State;
  /// Decodes the chunk that holds `start_frame` and hands the rest to the decoder thread.
  OpenedTrack feed(detail::OpenedDecoder opened, std::int64_t frames, std::int64_t start_frame,
                   const std::string& name) const;

  std::filesystem::path directory_;
  std::shared_ptr<State> state_;  ///< shared with the hasher thread; null once moved from
  std::jthread hasher_;           ///< last: stopped and joined before the rest goes
};

/// SHA-256 of a file's bytes as lower-case hex (OpenSSL EVP), or std::nullopt if it cannot be
/// read. Blocking; any thread.
std::optional<std::string> sha256_file_hex(const std::filesystem::path& path);

}  // namespace chorus::playback
