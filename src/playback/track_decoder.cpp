#include "track_decoder.hpp"

#include <SDL.h>
#include <sndfile.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include <fmt/format.h>

#include "chorus/content/content_cache.hpp"
#include "output_format.hpp"

namespace chorus::playback::detail {

namespace {

/// Source frames read at a time (about; see open()).
constexpr std::int64_t kReadFrames = 4096;

bool is_lossy(int format) {
  switch (format & SF_FORMAT_SUBMASK) {
    case SF_FORMAT_VORBIS:
    case SF_FORMAT_OPUS:
    case SF_FORMAT_MPEG_LAYER_I:
    case SF_FORMAT_MPEG_LAYER_II:
    case SF_FORMAT_MPEG_LAYER_III:
      return true;
    default:
      return false;
  }
}

/// Encodings libsndfile decodes to floating point (lossy codecs, float PCM): read as float and
/// rounded here, because libsndfile's float-to-short path would rescale by the file's peak.
bool decodes_to_float(int format) {
  const int subtype = format & SF_FORMAT_SUBMASK;
  return is_lossy(format) || subtype == SF_FORMAT_FLOAT || subtype == SF_FORMAT_DOUBLE;
}

std::int16_t to_s16(float sample) {
  return static_cast<std::int16_t>(std::lrint(std::clamp(sample, -1.0f, 1.0f) * 32767.0f));
}

std::string sdl_error(const char* what) {
  const char* e = SDL_GetError();
  return fmt::format("{}: {}", what, (e != nullptr && *e != '\0') ? e : "unknown SDL error");
}

/// SDL keeps per-thread state (the SDL_GetError() buffer) that it frees only for threads it
/// created; decodes run on ours, so release it when a call into SDL is done with.
struct ReleaseSdlThreadState {
  ReleaseSdlThreadState() = default;
  ReleaseSdlThreadState(const ReleaseSdlThreadState&) = delete;
  ReleaseSdlThreadState& operator=(const ReleaseSdlThreadState&) = delete;
  ~ReleaseSdlThreadState() { SDL_TLSCleanup(); }
};

}  // namespace

/// What libsndfile's virtual I/O reads a file being fetched through: the file and a position.
struct VirtualSource {
  std::shared_ptr<content::PartialFile> file;
  std::chrono::milliseconds patience;
  sf_count_t position = 0;
  /// A read ended short before the end of the file: a chunk did not arrive within `patience`.
  bool starved = false;
  std::uint64_t starved_chunk = 0;

  static sf_count_t length(void* self) {
    return static_cast<sf_count_t>(static_cast<VirtualSource*>(self)->file->size());
  }
  static sf_count_t seek(sf_count_t offset, int whence, void* self) {
    auto& s = *static_cast<VirtualSource*>(self);
    sf_count_t base = 0;
    if (whence == SEEK_CUR) base = s.position;
    if (whence == SEEK_END) base = static_cast<sf_count_t>(s.file->size());
    s.position = std::max<sf_count_t>(0, base + offset);
    return s.position;
  }
  static sf_count_t read(void* ptr, sf_count_t count, void* self) {
    auto& s = *static_cast<VirtualSource*>(self);
    if (count <= 0) return 0;
    const auto size = static_cast<sf_count_t>(s.file->size());
    const std::size_t got = s.file->read_at(
        static_cast<std::uint64_t>(s.position),
        std::span(static_cast<std::uint8_t*>(ptr), static_cast<std::size_t>(count)), s.patience);
    const auto end = s.position + static_cast<sf_count_t>(got);
    if (static_cast<sf_count_t>(got) < count && end < size && !s.starved) {
      s.starved = true;
      s.starved_chunk = static_cast<std::uint64_t>(end) / content::kChunkBytes;
    }
    s.position = end;
    return static_cast<sf_count_t>(got);
  }
  static sf_count_t write(const void*, sf_count_t, void*) { return 0; }
  static sf_count_t tell(void* self) { return static_cast<VirtualSource*>(self)->position; }

  /// The callbacks, for sf_open_virtual() (which keeps the pointer while the file is open).
  static SF_VIRTUAL_IO* io() {
    static SF_VIRTUAL_IO callbacks{&length, &seek, &read, &write, &tell};
    return &callbacks;
  }
};

OpenedDecoder TrackDecoder::open(const std::filesystem::path& path, std::int64_t frames) {
  const ReleaseSdlThreadState release;
  SF_INFO info{};
  SNDFILE* file = sf_open(path.c_str(), SFM_READ, &info);
  if (file == nullptr) return {nullptr, fmt::format("cannot decode: {}", sf_strerror(nullptr))};
  return opened(file, info, frames, nullptr);
}

OpenedDecoder TrackDecoder::open(std::shared_ptr<content::PartialFile> partial, std::int64_t frames,
                                 std::chrono::milliseconds patience) {
  const ReleaseSdlThreadState release;
  if (!partial) return {nullptr, "cannot decode: no file"};
  auto source = std::make_unique<VirtualSource>();
  source->file = std::move(partial);
  source->patience = patience;
  SF_INFO info{};
  SNDFILE* file = sf_open_virtual(VirtualSource::io(), SFM_READ, &info, source.get());
  if (file == nullptr) {
    if (source->starved) {
      return {nullptr, fmt::format("cannot decode: chunk {} of the file did not arrive in time", source->starved_chunk)};
    }
    return {nullptr, fmt::format("cannot decode: {}", sf_strerror(nullptr))};
  }
  return opened(file, info, frames, std::move(source));
}

OpenedDecoder TrackDecoder::opened(SNDFILE* file, const SF_INFO& info, std::int64_t frames,
                                   std::unique_ptr<VirtualSource> source) {
  if (info.samplerate <= 0 || info.channels <= 0 || info.channels > 8) {
    sf_close(file);
    return {nullptr, fmt::format("cannot decode audio of {} channels at {} Hz", info.channels, info.samplerate)};
  }
  // Only a lossless file at the output rate is seeked in: libsndfile lands a Vorbis seek up to
  // a few hundred frames off, and SDL's resampler output depends on where it started by a
  // fraction of a frame. Anywhere else a seek decodes forward from where the decoder is (or
  // from the start), so every node gets the same frame at the same index however it got there.
  const bool seekable = info.samplerate == kSampleRate && !is_lossy(info.format);
  std::unique_ptr<TrackDecoder> decoder(
      new TrackDecoder(file, info.samplerate, info.channels, decodes_to_float(info.format), seekable, frames));
  decoder->source_io_ = std::move(source);  // libsndfile reads through it until sf_close()
  if (info.samplerate != kSampleRate || info.channels != kChannels) {
    decoder->stream_ = SDL_NewAudioStream(AUDIO_S16SYS, static_cast<Uint8>(info.channels), info.samplerate,
                                          AUDIO_S16SYS, static_cast<Uint8>(kChannels), kSampleRate);
    if (decoder->stream_ == nullptr) return {nullptr, sdl_error("cannot convert the audio format")};
  }
  // SDL 2.26 converts each put on its own and drops the fraction of an output frame it would
  // end on (2.5 frames a second when 44.1 kHz comes in 4096-frame pieces). Every `rate / g`
  // source frames (g = gcd(rate, 48000)) make exactly `48000 / g` output frames, so reads are
  // whole multiples of that and nothing is dropped.
  const std::int64_t step = info.samplerate / std::gcd(std::int64_t{info.samplerate}, std::int64_t{kSampleRate});
  const std::int64_t read_frames = std::max<std::int64_t>(1, kReadFrames / step) * step;
  decoder->source_.resize(static_cast<std::size_t>(read_frames * info.channels));
  if (decoder->floating_) decoder->floats_.resize(decoder->source_.size());
  return {std::move(decoder), {}};
}

TrackDecoder::TrackDecoder(SNDFILE* file, int rate, int channels, bool floating, bool seekable, std::int64_t frames)
    : file_(file),
      rate_(rate),
      channels_(channels),
      floating_(floating),
      seekable_(seekable),
      frames_(std::max<std::int64_t>(frames, 0)) {}

TrackDecoder::~TrackDecoder() {
  if (stream_ != nullptr) SDL_FreeAudioStream(stream_);
  if (file_ != nullptr) sf_close(file_);
}

std::string TrackDecoder::decode(std::int64_t first, std::span<std::int16_t> out) {
  const ReleaseSdlThreadState release;
  std::fill(out.begin(), out.end(), std::int16_t{0});
  const auto count = static_cast<std::int64_t>(out.size() / kChannels);
  // Only the part inside the track is decoded; the rest stays silent.
  const std::int64_t begin = std::clamp<std::int64_t>(first, 0, frames_);
  const std::int64_t end = std::clamp<std::int64_t>(first + count, 0, frames_);
  if (begin >= end) return {};
  std::string error;
  if (begin != next_ || starved_) error = seek(begin);
  // Decode forward to `begin` when seek() could not go there directly.
  std::vector<std::int16_t> discard;
  while (error.empty() && next_ < begin) {
    discard.resize(static_cast<std::size_t>(std::min<std::int64_t>(begin - next_, kReadFrames) * kChannels));
    const auto got = pull(discard.data(), static_cast<std::int64_t>(discard.size() / kChannels), error);
    if (got == 0) next_ = begin;  // the file ends before `begin`: the rest is silence
  }
  std::int16_t* dst = out.data() + (begin - first) * kChannels;
  while (error.empty() && next_ < end) {
    const auto got = pull(dst, end - next_, error);
    if (got == 0) break;  // the file holds fewer frames than the scan counted: silence
    dst += got * kChannels;
  }
  if (next_ < end) next_ = end;  // the silent tail counts as decoded: reading on stays cheap
  return error;
}

std::string TrackDecoder::seek(std::int64_t frame) {
  if (!seekable_ && frame > next_ && !starved_) return {};  // decode() decodes forward to it
  const std::int64_t target = seekable_ ? frame : 0;
  source_done_ = false;
  const bool reopen_first = starved_ || file_ == nullptr;
  starved_ = false;
  if (stream_ != nullptr) SDL_AudioStreamClear(stream_);
  next_ = target;
  if (source_io_ && reopen_first) {
    // After a read starved libsndfile's state is not trusted (FLAC's decoder does not recover
    // from a short read at all): open the file afresh. Its header is in, so that reads nothing new.
    if (auto e = reopen(); !e.empty()) {
      starved_ = true;
      return e;
    }
  }
  const bool failed = sf_seek(file_, target, SEEK_SET) < 0;
  if (source_io_ && source_io_->starved) {
    starved_ = true;
    return fmt::format("cannot seek: chunk {} of the file did not arrive in time", source_io_->starved_chunk);
  }
  if (failed) {
    if (target == 0) return fmt::format("cannot seek: {}", sf_strerror(file_));
    source_done_ = true;  // past the file's own end (shorter than the scan said): silence
  }
  return {};
}

std::string TrackDecoder::reopen() {
  if (file_ != nullptr) sf_close(file_);
  file_ = nullptr;
  source_io_->position = 0;
  source_io_->starved = false;
  SF_INFO info{};
  file_ = sf_open_virtual(source_io_->io(), SFM_READ, &info, source_io_.get());
  if (file_ == nullptr) {
    if (source_io_->starved) {
      return fmt::format("cannot seek: chunk {} of the file did not arrive in time", source_io_->starved_chunk);
    }
    return fmt::format("cannot seek: cannot open the file again: {}", sf_strerror(nullptr));
  }
  if (info.samplerate != rate_ || info.channels != channels_) {
    return fmt::format("cannot seek: the file opened again as {} channels at {} Hz", info.channels, info.samplerate);
  }
  return {};
}

std::int64_t TrackDecoder::pull(std::int16_t* dst, std::int64_t want, std::string& error) {
  if (stream_ == nullptr) {
    if (source_done_) return 0;
    const auto got = read_source(dst, want, error);
    if (got == 0) source_done_ = true;
    next_ += got;
    return got;
  }
  constexpr int kFrameBytes = kChannels * static_cast<int>(sizeof(std::int16_t));
  while (SDL_AudioStreamAvailable(stream_) < kFrameBytes) {
    if (source_done_) return 0;
    const auto got = read_source(source_.data(), static_cast<std::int64_t>(source_.size()) / channels_, error);
    if (!error.empty()) return 0;
    if (got > 0) {
      if (SDL_AudioStreamPut(stream_, source_.data(), static_cast<int>(got * channels_) * static_cast<int>(sizeof(std::int16_t))) != 0) {
        error = sdl_error("audio conversion failed");
        return 0;
      }
    } else {
      // End of the file: SDL holds back the resampler's last few ms until it sees more input,
      // even after a flush, so feed 200 ms of silence first. What comes out beyond the track's
      // length is cut by decode().
      const std::vector<std::int16_t> padding(static_cast<std::size_t>((rate_ / 5 + 64) * channels_), 0);
      if (SDL_AudioStreamPut(stream_, padding.data(), static_cast<int>(padding.size() * sizeof(std::int16_t))) != 0 ||
          SDL_AudioStreamFlush(stream_) != 0) {
        error = sdl_error("audio conversion failed");
        return 0;
      }
      source_done_ = true;
    }
  }
  const int bytes = static_cast<int>(std::min<std::int64_t>(want * kFrameBytes, SDL_AudioStreamAvailable(stream_)));
  const int got = SDL_AudioStreamGet(stream_, dst, bytes / kFrameBytes * kFrameBytes);
  if (got < 0) {
    error = sdl_error("audio conversion failed");
    return 0;
  }
  next_ += got / kFrameBytes;
  return got / kFrameBytes;
}

std::int64_t TrackDecoder::read_source(std::int16_t* dst, std::int64_t max_frames, std::string& error) {
  sf_count_t got = 0;
  if (floating_) {
    max_frames = std::min<std::int64_t>(max_frames, static_cast<std::int64_t>(floats_.size()) / channels_);
    got = sf_readf_float(file_, floats_.data(), max_frames);
    if (got > 0) std::transform(floats_.begin(), floats_.begin() + got * channels_, dst, to_s16);
  } else {
    got = sf_readf_short(file_, dst, max_frames);
  }
  if (source_io_ && source_io_->starved) {
    // What was read may be cut anywhere in a frame or a block: none of it is used.
    starved_ = true;
    error = fmt::format("decoding failed: chunk {} of the file did not arrive in time", source_io_->starved_chunk);
    return 0;
  }
  if (got < 0 || (got == 0 && sf_error(file_) != SF_ERR_NO_ERROR)) {
    error = fmt::format("decoding failed: {}", sf_strerror(file_));
    return 0;
  }
  return got;
}

}  // namespace chorus::playback::detail
