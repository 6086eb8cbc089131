#pragma once
// TrackDecoder: decodes one audio file to 48 kHz stereo S16, any range of it, in pieces.
// libsndfile reads and seeks the file (WAV, FLAC, Ogg Vorbis, Opus, MP3); an SDL_AudioStream
// converts channels and rate when the file is not 48 kHz stereo. See docs/audio.md, "Decoding".
//
// A file still being fetched (content::PartialFile) is decoded through libsndfile's virtual I/O:
// a read of a chunk not yet in waits for it (bounded), and decode() reports an error when it does
// not come in time. See docs/library.md, "Decoding while fetching".
//
// Not thread-safe: one thread at a time (the library's decoder thread, or a caller of
// Library::decode()). Needs no audio device.

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

struct sf_private_tag;
struct SF_INFO;
struct _SDL_AudioStream;

namespace chorus::content {
class PartialFile;
}

namespace chorus::playback::detail {

struct OpenedDecoder;
struct VirtualSource;

/// How long a read of the file waits for a chunk that has not arrived yet.
inline constexpr std::chrono::milliseconds kChunkPatience{2000};

class TrackDecoder {
 public:
  /// Opens `path` to deliver exactly `frames` output frames (the length the library's scan
  /// found): audio the file has beyond it is cut, audio it lacks is silence. Never throws.
  static OpenedDecoder open(const std::filesystem::path& path, std::int64_t frames);
  /// The same for a file being fetched: reads go through file->read_at(), each waiting up to
  /// `patience` for a missing chunk (the file's on_demand callback hears of it). The decoder
  /// keeps `file` alive. Opening fails when the header's chunks do not come in time; decode()
  /// fails, with silence, where later ones do not (and seeks afresh on the next call).
  static OpenedDecoder open(std::shared_ptr<content::PartialFile> file, std::int64_t frames,
                            std::chrono::milliseconds patience = kChunkPatience);

  ~TrackDecoder();
  TrackDecoder(const TrackDecoder&) = delete;
  TrackDecoder& operator=(const TrackDecoder&) = delete;

  /// Decodes output frames [first, first + out.size() / 2) into `out`. Reading on from where
  /// the last call ended is the cheap case; any other `first` seeks, which for lossy or
  /// resampled files means decoding forward to it (from the start when it lies behind: a cost
  /// that grows with the position). Returns an error text, or
  /// "" on success; after an error `out` holds silence where decoding failed.
  std::string decode(std::int64_t first, std::span<std::int16_t> out);

  std::int64_t frames() const noexcept { return frames_; }
  /// The last decode() or seek failed only because bytes of a file still being fetched did not
  /// arrive in time: trying again later can succeed.
  bool starved() const noexcept { return starved_; }

 private:
  TrackDecoder(sf_private_tag* file, int rate, int channels, bool floating, bool seekable, std::int64_t frames);
  /// The common part of both open()s, once libsndfile has opened the file.
  static OpenedDecoder opened(sf_private_tag* file, const SF_INFO& info, std::int64_t frames,
                              std::unique_ptr<VirtualSource> source);

  /// Goes to output frame `frame`, or to a point before it from which decode() decodes forward.
  std::string seek(std::int64_t frame);
  /// Opens a file being fetched afresh after a read of it starved (file_ null if that fails).
  std::string reopen();
  /// Appends up to `want` converted frames at `dst`; 0 only at the end of the file's audio.
  std::int64_t pull(std::int16_t* dst, std::int64_t want, std::string& error);
  /// Reads up to `max_frames` of the file as S16 at its own rate and channel count into `dst`;
  /// 0 at its end.
  std::int64_t read_source(std::int16_t* dst, std::int64_t max_frames, std::string& error);

  std::unique_ptr<VirtualSource> source_io_;  ///< a file being fetched: what libsndfile reads through
  sf_private_tag* file_;  ///< null only after reopen() failed (starved_ is then set)
  _SDL_AudioStream* stream_ = nullptr;  ///< null when the file is already 48 kHz stereo
  const int rate_;
  const int channels_;
  const bool floating_;  ///< decoded as float (lossy codecs, float PCM), converted here
  const bool seekable_;  ///< a seek lands exactly (lossless at 48 kHz); else decode forward
  const std::int64_t frames_;
  std::int64_t next_ = 0;     ///< output frame the next pulled frame is
  bool source_done_ = false;  ///< the file's audio is all read (and the stream flushed)
  bool starved_ = false;      ///< a read came up short for want of a chunk: seek afresh next time
  std::vector<std::int16_t> source_;  ///< what is fed to the converter
  std::vector<float> floats_;         ///< what libsndfile decodes, for floating_
};

/// What TrackDecoder::open() made: a decoder, or why there is none.
struct OpenedDecoder {
  std::unique_ptr<TrackDecoder> decoder;
  std::string error;
};

}  // namespace chorus::playback::detail
