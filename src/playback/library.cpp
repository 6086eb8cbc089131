#include "chorus/playback/library.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "library_probe.hpp"
#include "output_format.hpp"
#include "track_decoder.hpp"
#include "track_feeder.hpp"

namespace chorus::playback {

namespace fs = std::filesystem;

namespace {

std::string errno_text(int e) { return std::error_code(e, std::generic_category()).message(); }

/// SHA-256 through OpenSSL's EVP interface.
class Sha256 {
 public:
  Sha256() : ctx_(EVP_MD_CTX_new()) {
    ok_ = ctx_ != nullptr && EVP_DigestInit_ex(ctx_, EVP_sha256(), nullptr) == 1;
  }
  ~Sha256() { EVP_MD_CTX_free(ctx_); }
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size) {
    if (ok_ && size > 0) ok_ = EVP_DigestUpdate(ctx_, data, size) == 1;
  }
  /// Lower-case hex, or empty if OpenSSL failed.
  std::string hex() {
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (!ok_ || EVP_DigestFinal_ex(ctx_, md, &len) != 1) return {};
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(2 * len, '0');
    for (unsigned int i = 0; i < len; ++i) {
      out[2 * i] = kDigits[md[i] >> 4];
      out[2 * i + 1] = kDigits[md[i] & 15];
    }
    return out;
  }

 private:
  EVP_MD_CTX* ctx_;
  bool ok_ = false;
};

/// A read-only descriptor that never blocks on open (a FIFO named like a track must not hang the
/// scan) and is closed on scope exit.
class File {
 public:
  explicit File(const fs::path& path) {
    do {
      fd_ = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    } while (fd_ < 0 && errno == EINTR);
    if (fd_ < 0) {
      error_ = "cannot open: " + errno_text(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd_, &st) != 0) {
      error_ = "cannot stat: " + errno_text(errno);
    } else if (!S_ISREG(st.st_mode)) {
      error_ = "not a regular file";
    } else {
      size_ = static_cast<std::uint64_t>(st.st_size);
    }
  }
  ~File() {
    if (fd_ >= 0) ::close(fd_);
  }
  File(const File&) = delete;
  File& operator=(const File&) = delete;

  int fd() const { return fd_; }
  std::uint64_t size() const { return size_; }
  const std::string& error() const { return error_; }

  /// Calls sink(bytes) for the whole file, in order. Returns an error text or "".
  template <typename Sink>
  std::string read_all(Sink&& sink) const {
    std::vector<std::uint8_t> buffer(1 << 16);
    std::uint64_t offset = 0;
    while (true) {
      const ssize_t got = ::pread(fd_, buffer.data(), buffer.size(), static_cast<off_t>(offset));
      if (got < 0) {
        if (errno == EINTR) continue;
        return "read error: " + errno_text(errno);
      }
      if (got == 0) return {};
      sink(std::span<const std::uint8_t>(buffer.data(), static_cast<std::size_t>(got)));
      offset += static_cast<std::uint64_t>(got);
    }
  }

 private:
  int fd_ = -1;
  std::uint64_t size_ = 0;
  std::string error_;
};

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool has_audio_extension(const fs::path& name) {
  std::string ext = name.extension().string();
  if (ext.size() < 2) return false;
  ext = lower(ext.substr(1));
  return std::find(std::begin(Library::kAudioExtensions), std::end(Library::kAudioExtensions), ext) !=
         std::end(Library::kAudioExtensions);
}

/// SHA-256 of a file's bytes as lower-case hex, or why it could not be computed.
struct FileHash {
  std::string hex;
  std::string error;
};

FileHash hash_file(const File& file) {
  if (!file.error().empty()) return {{}, file.error()};
  Sha256 sha;
  if (auto err = file.read_all([&](std::span<const std::uint8_t> b) { sha.update(b.data(), b.size()); });
      !err.empty()) {
    return {{}, std::move(err)};
  }
  auto hex = sha.hex();
  if (hex.empty()) return {{}, "SHA-256 failed (OpenSSL)"};
  return {std::move(hex), {}};
}

TrackInfo examine(std::size_t index, const fs::path& path) {
  TrackInfo t;
  t.index = index;
  t.file_name = path.filename().string();
  t.path = path;
  const File file(path);
  auto hash = hash_file(file);
  if (!hash.error.empty()) {
    t.error = std::move(hash.error);
    return t;
  }
  t.file_size = file.size();
  t.content_hash = std::move(hash.hex);
  const detail::FdReader reader(file.fd(), file.size());
  const detail::ProbeResult probe = detail::probe_audio(reader);
  t.format = probe.format;
  t.source_rate = probe.rate;
  t.source_channels = probe.channels;
  if (!probe.error.empty()) {
    t.error = probe.error;
    return t;
  }
  t.frames = detail::frames_at_output_rate(probe.source_frames, probe.rate);
  t.duration_us = detail::frames_to_us(t.frames);
  return t;
}

/// Whether the file still has the content the scan hashed (nodes must play the same audio).
std::string check_unchanged(const TrackInfo& t) {
  auto hash = hash_file(File(t.path));
  if (!hash.error.empty()) return hash.error;
  if (hash.hex != t.content_hash) return "the file changed since the library was scanned (content hash differs); rescan";
  return {};
}

/// A decoder for `t`, after checking that the file is the one scanned.
detail::OpenedDecoder open_decoder(const TrackInfo& t) {
  if (auto error = check_unchanged(t); !error.empty()) return {nullptr, std::move(error)};
  return detail::TrackDecoder::open(t.path, t.frames);
}

}  // namespace

// ------------------------------------------------------------------------------------ Library

Library::Library() : error_("not scanned"), feeder_(std::make_unique<detail::TrackFeeder>()) {}
Library::Library(Library&&) noexcept = default;
Library& Library::operator=(Library&&) noexcept = default;
Library::~Library() = default;

Library Library::scan(const fs::path& directory) {
  Library lib;
  lib.directory_ = directory;
  lib.error_.clear();

  std::error_code ec;
  const auto status = fs::status(directory, ec);
  if (ec || !fs::exists(status)) {
    lib.error_ = fmt::format("tracks directory '{}' does not exist", directory.string());
    return lib;
  }
  if (!fs::is_directory(status)) {
    lib.error_ = fmt::format("'{}' is not a directory", directory.string());
    return lib;
  }

  std::vector<std::string> names;
  fs::directory_iterator it(directory, ec);
  if (ec) {
    lib.error_ = fmt::format("cannot read tracks directory '{}': {}", directory.string(), ec.message());
    return lib;
  }
  for (const fs::directory_iterator end; it != end; it.increment(ec)) {
    if (ec) {
      lib.error_ = fmt::format("cannot read tracks directory '{}': {}", directory.string(), ec.message());
      return lib;
    }
    const fs::path& p = it->path();
    if (!has_audio_extension(p.filename())) continue;
    std::error_code type_ec;
    if (it->is_directory(type_ec)) continue;  // a directory named like a track is not a file
    names.push_back(p.filename().string());
  }
  std::sort(names.begin(), names.end());  // byte order: identical on every node, any locale

  lib.tracks_.reserve(names.size());
  for (const auto& name : names) lib.tracks_.push_back(examine(lib.tracks_.size(), directory / name));

  if (lib.tracks_.empty()) {
    lib.error_ = fmt::format("no audio files (wav, flac, ogg, opus, mp3) in '{}'", directory.string());
  }
  return lib;
}

const TrackInfo* Library::track(std::size_t index) const noexcept {
  return index < tracks_.size() ? &tracks_[index] : nullptr;
}

std::optional<std::size_t> find_by_hash(std::span<const TrackInfo> tracks, std::string_view content_hash) {
  const std::string wanted = lower(std::string(content_hash));
  if (wanted.empty()) return std::nullopt;
  for (const auto& t : tracks) {
    if (t.content_hash == wanted) return t.index;
  }
  return std::nullopt;
}

OpenedTrack Library::open(std::size_t index, std::int64_t start_frame) const {
  const TrackInfo* t = track(index);
  if (t == nullptr) return {nullptr, fmt::format("no track {} (the library has {})", index, tracks_.size())};
  if (!t->playable()) return {nullptr, t->error};
  if (!feeder_) return {nullptr, "library was moved from"};
  auto opened = open_decoder(*t);
  if (!opened.decoder) {
    spdlog::warn("cannot play {}: {}", t->file_name, opened.error);
    return {nullptr, std::move(opened.error)};
  }
  auto audio = std::make_shared<TrackAudio>(t->frames);
  // The chunk playback starts in is decoded here, so that it is ready (and a file that does not
  // decode is refused) before anyone plays it; the decoder thread does the rest.
  const auto start = std::clamp<std::int64_t>(start_frame, 0, std::max<std::int64_t>(t->frames - 1, 0));
  const auto chunk = static_cast<std::size_t>(start / TrackAudio::kChunkFrames);
  std::vector<std::int16_t> samples(static_cast<std::size_t>(audio->chunk_frames(chunk) * kChannels));
  if (auto error = opened.decoder->decode(static_cast<std::int64_t>(chunk) * TrackAudio::kChunkFrames, samples);
      !error.empty()) {
    spdlog::warn("cannot play {}: {}", t->file_name, error);
    return {nullptr, std::move(error)};
  }
  audio->store(chunk, std::move(samples));
  audio->hint(start);
  feeder_->add(audio, std::move(opened.decoder), t->file_name);
  return {std::move(audio), {}};
}

DecodedTrack Library::decode(std::size_t index) const {
  const TrackInfo* t = track(index);
  if (t == nullptr) return {{}, fmt::format("no track {} (the library has {})", index, tracks_.size())};
  if (!t->playable()) return {{}, t->error};
  auto opened = open_decoder(*t);
  if (!opened.decoder) return {{}, std::move(opened.error)};
  DecodedTrack result;
  result.samples.resize(static_cast<std::size_t>(t->frames * kChannels));
  result.error = opened.decoder->decode(0, result.samples);
  if (!result.error.empty()) result.samples.clear();
  return result;
}

std::string Library::describe() const {
  if (tracks_.empty()) return error_.empty() ? "no tracks" : error_;
  std::string out;
  for (const auto& t : tracks_) {
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
  auto hash = hash_file(File(path));
  if (!hash.error.empty()) return std::nullopt;
  return std::move(hash.hex);
}

}  // namespace chorus::playback
