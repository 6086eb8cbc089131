#include "chorus/node/library_watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string>
#include <system_error>

#include <spdlog/spdlog.h>

#include "chorus/time_base.hpp"

namespace chorus::node {

namespace asio = boost::asio;

namespace {

/// Finished files, files and directories moved in or out or deleted, directories created. Not
/// IN_CREATE or IN_MODIFY of a file: it is taken once it is closed after writing.
constexpr std::uint32_t kEvents =
    IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CREATE | IN_DELETE_SELF | IN_MOVE_SELF;

/// Whether an event can change the library: hidden names (editors' and rsync's temporary files,
/// the index) and files merely created (still empty) do not.
bool matters(const inotify_event& event) {
  if (event.len > 0 && event.name[0] == '.') return false;
  if ((event.mask & IN_CREATE) != 0 && (event.mask & IN_ISDIR) == 0) return false;
  return true;
}

std::string system_error_text(int error) { return std::error_code(error, std::generic_category()).message(); }

}  // namespace

LibraryWatcher::LibraryWatcher(asio::io_context& io, bool inotify, Rescan rescan)
    : io_(io), rescan_(std::move(rescan)), timer_(io) {
  if (!inotify) {
    spdlog::info("the music directory is not watched (--no-watch): rescanned every {} s and by update",
                 kPollIntervalUs / 1'000'000);
    schedule_.poll(now_us());
    arm();
    return;
  }
  const int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    fall_back_to_polling("inotify is not available: " + system_error_text(errno));
    return;
  }
  inotify_.emplace(io_, fd);
  read_events();
}

LibraryWatcher::~LibraryWatcher() {
  *alive_ = false;
  timer_.cancel();
  if (inotify_) {
    boost::system::error_code ignored;
    inotify_->close(ignored);
  }
}

void LibraryWatcher::watch(const std::vector<std::filesystem::path>& directories) {
  if (!inotify_) return;
  bool added = false;
  for (const auto& directory : directories) {
    if (watched_.contains(directory)) continue;
    const int wd = ::inotify_add_watch(inotify_->native_handle(), directory.c_str(), kEvents | IN_ONLYDIR);
    if (wd < 0) {
      if (errno == ENOSPC || errno == ENOMEM) {
        fall_back_to_polling("the inotify watch limit is reached (sysctl fs.inotify.max_user_watches)");
        return;
      }
      continue;  // gone again since the walk: the next rescan sees that
    }
    watches_[wd] = directory;
    watched_.insert(directory);
    added = true;
  }
  if (watches_.empty()) {
    fall_back_to_polling("the music directory cannot be watched (it does not exist or is not readable)");
    return;
  }
  if (added) changed();
}

void LibraryWatcher::read_events() {
  inotify_->async_wait(asio::posix::stream_descriptor::wait_read,
                       [this, alive = alive_](const boost::system::error_code& ec) {
                         if (ec || !*alive) return;
                         // Drained until EAGAIN; the buffer holds at least one event of any length.
                         alignas(inotify_event) std::array<char, 16 * 1024> buffer{};
                         while (true) {
                           const auto got = ::read(inotify_->native_handle(), buffer.data(), buffer.size());
                           if (got <= 0) break;
                           on_events(buffer.data(), static_cast<std::size_t>(got));
                         }
                         read_events();
                       });
}

void LibraryWatcher::on_events(const char* data, std::size_t size) {
  bool any = false;
  for (std::size_t at = 0; at + sizeof(inotify_event) <= size;) {
    inotify_event event{};
    std::memcpy(&event, data + at, sizeof event);
    const auto* whole = reinterpret_cast<const inotify_event*>(data + at);
    if ((event.mask & IN_Q_OVERFLOW) != 0) any = true;  // events were lost: rescan anyway
    if ((event.mask & IN_IGNORED) != 0) {
      // The directory went: it may come back under the same name and must be watched again.
      if (auto it = watches_.find(event.wd); it != watches_.end()) {
        watched_.erase(it->second);
        watches_.erase(it);
      }
    } else if (matters(*whole)) {
      any = true;
    }
    at += sizeof(inotify_event) + event.len;
  }
  if (any) changed();
}

void LibraryWatcher::fall_back_to_polling(const std::string& why) {
  if (schedule_.polling()) return;
  spdlog::warn("{}; new music is found by a rescan every {} s (or update)", why, kPollIntervalUs / 1'000'000);
  schedule_.poll(now_us());
  arm();
}

void LibraryWatcher::changed() {
  schedule_.changed(now_us());
  arm();
}

void LibraryWatcher::arm() {
  const auto due = schedule_.due();
  if (!due || due == armed_) return;
  armed_ = due;
  timer_.expires_at(from_us(*due));
  timer_.async_wait([this, alive = alive_](const boost::system::error_code& ec) {
    if (ec || !*alive) return;
    armed_.reset();
    if (schedule_.take(now_us())) rescan_();
    arm();
  });
}

}  // namespace chorus::node
