#include "chorus/playback/library.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <list>
#include <map>
#include <mutex>
#include <system_error>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "decoder_mixer.hpp"
#include "library_probe.hpp"
#include "output_format.hpp"

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

TrackInfo examine(std::size_t index, const fs::path& path) {
  TrackInfo t;
  t.index = index;
  t.file_name = path.filename().string();
  t.path = path;
  const File file(path);
  if (!file.error().empty()) {
    t.error = file.error();
    return t;
  }
  t.file_size = file.size();
  Sha256 sha;
  if (auto err = file.read_all([&](std::span<const std::uint8_t> b) { sha.update(b.data(), b.size()); });
      !err.empty()) {
    t.error = std::move(err);
    return t;
  }
  t.content_hash = sha.hex();
  if (t.content_hash.empty()) {
    t.error = "SHA-256 failed (OpenSSL)";
    return t;
  }
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

/// Reads the file and decodes it to exactly t.frames frames.
LoadResult decode_track(const TrackInfo& t) {
  LoadResult result;
  const File file(t.path);
  if (!file.error().empty()) {
    result.error = file.error();
    return result;
  }
  std::vector<std::uint8_t> bytes;
  bytes.reserve(static_cast<std::size_t>(file.size()));
  Sha256 sha;
  if (auto err = file.read_all([&](std::span<const std::uint8_t> b) {
        sha.update(b.data(), b.size());
        bytes.insert(bytes.end(), b.begin(), b.end());
      });
      !err.empty()) {
    result.error = std::move(err);
    return result;
  }
  if (sha.hex() != t.content_hash) {
    result.error = "the file changed since the library was scanned (content hash differs); rescan";
    return result;
  }
  detail::Decoded decoded = t.format == "wav" ? detail::decode_wav(bytes)
                                              : detail::decode_with_mixer(bytes, t.source_rate, t.source_channels);
  if (!decoded.error.empty()) {
    result.error = std::move(decoded.error);
    return result;
  }
  const auto decoded_frames = static_cast<std::int64_t>(decoded.samples.size() / kChannels);
  if (decoded_frames == 0) {
    result.error = "decoding produced no audio";
    return result;
  }
  if (decoded_frames != t.frames) {
    // Resamplers and MP3 decoders may deliver a few frames more or less than the header says;
    // every node must agree on the length, so the header's count wins (silence or trim at the end).
    spdlog::debug("{}: decoded {} frames, header says {}; {} to match", t.file_name, decoded_frames, t.frames,
                  decoded_frames < t.frames ? "padding" : "trimming");
    decoded.samples.resize(static_cast<std::size_t>(t.frames) * kChannels, 0);
  }
  result.pcm = std::make_shared<const std::vector<std::int16_t>>(std::move(decoded.samples));
  return result;
}

}  // namespace

// ------------------------------------------------------------------------------------ cache

struct Library::Cache {
  struct Entry {
    std::mutex mutex;  // held while one thread decodes; others wait for its result
    bool done = false;
    LoadResult result;
  };

  explicit Cache(std::size_t limit_) : limit(limit_) {}

  std::mutex mutex;  // guards entries and lru only; never held while decoding
  std::size_t limit;
  std::map<std::size_t, std::shared_ptr<Entry>> entries;
  std::list<std::size_t> lru;  // most recently used first

  std::shared_ptr<Entry> entry(std::size_t index) {
    std::lock_guard lock(mutex);
    auto& slot = entries[index];
    if (!slot) slot = std::make_shared<Entry>();
    lru.remove(index);
    lru.push_front(index);
    return slot;
  }

  /// Drops `index` if it still maps to `e` (a newer entry for it is left alone).
  void forget(std::size_t index, const std::shared_ptr<Entry>& e) {
    std::lock_guard lock(mutex);
    if (auto it = entries.find(index); it != entries.end() && it->second == e) {
      entries.erase(it);
      lru.remove(index);
    }
  }

  void trim() {
    std::lock_guard lock(mutex);
    while (entries.size() > limit && !lru.empty()) {
      entries.erase(lru.back());
      lru.pop_back();
    }
  }
};

// ------------------------------------------------------------------------------------ Library

Library::Library() : error_("not scanned"), cache_(std::make_unique<Cache>(0)) {}
Library::Library(Library&&) noexcept = default;
Library& Library::operator=(Library&&) noexcept = default;
Library::~Library() = default;

Library Library::scan(const fs::path& directory, std::size_t cache_tracks) {
  Library lib;
  lib.directory_ = directory;
  lib.error_.clear();
  lib.cache_ = std::make_unique<Cache>(cache_tracks);

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

std::optional<std::size_t> Library::find_by_hash(std::string_view content_hash) const {
  const std::string wanted = lower(std::string(content_hash));
  if (wanted.empty()) return std::nullopt;
  for (const auto& t : tracks_) {
    if (t.content_hash == wanted) return t.index;
  }
  return std::nullopt;
}

LoadResult Library::load(std::size_t index) const {
  const TrackInfo* t = track(index);
  if (t == nullptr) return {nullptr, fmt::format("no track {} (the library has {})", index, tracks_.size())};
  if (!t->playable()) return {nullptr, t->error};
  if (!cache_) return {nullptr, "library was moved from"};

  const auto entry = cache_->entry(index);
  LoadResult result;
  {
    std::lock_guard lock(entry->mutex);
    if (!entry->done) {
      entry->result = decode_track(*t);
      entry->done = true;
      if (!entry->result.ok()) spdlog::warn("cannot play {}: {}", t->file_name, entry->result.error);
    }
    result = entry->result;
  }
  // Errors are not kept: some are transient (no decoding device for a moment, a file being
  // rewritten), so the next load() tries again. Threads that waited on this decode share its result.
  if (result.ok()) {
    cache_->trim();
  } else {
    cache_->forget(index, entry);
  }
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
  const File file(path);
  if (!file.error().empty()) return std::nullopt;
  Sha256 sha;
  if (!file.read_all([&](std::span<const std::uint8_t> b) { sha.update(b.data(), b.size()); }).empty())
    return std::nullopt;
  auto hex = sha.hex();
  if (hex.empty()) return std::nullopt;
  return hex;
}

}  // namespace chorus::playback
