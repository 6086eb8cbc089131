#include "kept_state_files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iterator>
#include <system_error>

#include <spdlog/spdlog.h>

#include "chorus/thread_name.hpp"

namespace chorus::node {

namespace {

/// The file's text; nullopt if it does not exist. Larger than `limit`: the first limit + 1
/// bytes (the decoder refuses them).
std::optional<std::string> read_text(const std::filesystem::path& file, std::size_t limit) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return std::nullopt;
  std::string text;
  text.resize(limit + 1);
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  return text;
}

template <class T>
std::optional<T> usable(const std::filesystem::path& file, Loaded<T> loaded) {
  if (!loaded.value) spdlog::warn("ignoring {}: {}", file.string(), loaded.problem);
  return std::move(loaded.value);
}

}  // namespace

KeptState load_kept_state(const std::filesystem::path& directory, const std::string& cluster) {
  KeptState kept;
  const auto queue_file = directory / kKeptQueueFile;
  if (auto text = read_text(queue_file, kMaxSavedQueueBytes)) {
    kept.queue = usable(queue_file, decode_saved_queue(*text, cluster));
  }
  const auto playback_file = directory / kKeptPlaybackFile;
  if (auto text = read_text(playback_file, kMaxSavedPlaybackBytes)) {
    kept.playback = usable(playback_file, decode_saved_playback(*text, cluster));
  }
  return kept;
}

bool replace_file(const std::filesystem::path& file, const std::string& text, std::string* problem) {
  auto temporary = file;
  temporary += ".new";
  const int fd = ::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool written = fd >= 0;
  for (std::size_t done = 0; written && done < text.size();) {
    const auto n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    written = n > 0;
    if (written) done += static_cast<std::size_t>(n);
  }
  // On disk before the rename: after a power cut the name points at a whole file.
  written = written && ::fsync(fd) == 0;
  if (fd >= 0) written = ::close(fd) == 0 && written;
  if (!written) {
    if (problem != nullptr) *problem = "cannot write " + temporary.string() + ": " + std::strerror(errno);
    return false;
  }
  std::error_code ec;
  std::filesystem::rename(temporary, file, ec);
  if (ec) {
    if (problem != nullptr) *problem = "cannot replace " + file.string() + ": " + ec.message();
    return false;
  }
  return true;
}

KeptStateWriter::KeptStateWriter(std::filesystem::path directory, std::string cluster)
    : directory_(std::move(directory)), cluster_(std::move(cluster)), thread_([this] { run(); }) {}

KeptStateWriter::~KeptStateWriter() { stop(); }

void KeptStateWriter::keep(std::optional<QueueToKeep> queue, std::optional<SavedPlayback> playback) {
  {
    std::lock_guard lock(mutex_);
    if (queue) queue_ = std::move(queue);
    if (playback) playback_ = std::move(playback);
  }
  wake_.notify_one();
}

void KeptStateWriter::stop() {
  {
    std::lock_guard lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
  }
  wake_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void KeptStateWriter::run() {
  name_this_thread("chorus-saver");
  std::unique_lock lock(mutex_);
  for (;;) {
    wake_.wait(lock, [this] { return stopping_ || queue_ || playback_; });
    auto queue = std::exchange(queue_, std::nullopt);
    auto playback = std::exchange(playback_, std::nullopt);
    if (!queue && !playback && stopping_) return;
    lock.unlock();  // no lock held while writing
    if (queue) write(*queue);
    if (playback) write(*playback);
    lock.lock();
  }
}

void KeptStateWriter::write(const QueueToKeep& queue) const {
  const auto started = std::chrono::steady_clock::now();
  std::string problem;
  static const std::vector<control::QueueItem> kNoItems;
  const auto& items = queue.items ? queue.items->items : kNoItems;
  if (!replace_file(directory_ / kKeptQueueFile, encode_saved_queue(cluster_, queue.header, items), &problem)) {
    spdlog::warn("the queue is not kept for the next run: {}", problem);
    return;
  }
  spdlog::debug("kept the queue (version {}, {} items) in {} ms", queue.header.version, items.size(),
                std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started).count());
}

void KeptStateWriter::write(const SavedPlayback& playback) const {
  std::string problem;
  if (!replace_file(directory_ / kKeptPlaybackFile, encode_saved_playback(cluster_, playback), &problem)) {
    spdlog::warn("the playback state is not kept for the next run: {}", problem);
  }
}

}  // namespace chorus::node
