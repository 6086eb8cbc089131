#pragma once
// LibraryWatcher: notices music added to, changed in or removed from the node's music directory
// and asks for a rescan (docs/library.md "New music"). On the io thread.
//
// Linux inotify, read through an Asio stream_descriptor: the directory and every directory below
// it are watched for files written and closed (IN_CLOSE_WRITE, so a file still being copied is
// not taken half-written), moved in or out, deleted, and directories created. Events only mark
// the directory changed; RescanSchedule turns a burst of them into one rescan. The watcher walks
// nothing itself: the library's rescan (on its hasher thread) lists the directories, and watch()
// adds the new ones. Without inotify, or past the watch limit, it logs once and polls instead.

#include <cstdint>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "chorus/node/rescan_schedule.hpp"

namespace chorus::node {

class LibraryWatcher {
 public:
  using Rescan = std::function<void()>;

  /// `inotify` false (--no-watch): poll only. Starts at once; `rescan` is called on the io thread.
  LibraryWatcher(boost::asio::io_context& io, bool inotify, Rescan rescan);
  ~LibraryWatcher();
  LibraryWatcher(const LibraryWatcher&) = delete;
  LibraryWatcher& operator=(const LibraryWatcher&) = delete;

  /// Watches these directories too (the library's directories() after a walk). A directory
  /// watched for the first time gets a rescan soon: files may have come before its watch did.
  void watch(const std::vector<std::filesystem::path>& directories);
  /// Whether the directory is watched (false: polled).
  bool watching() const { return inotify_.has_value() && !schedule_.polling(); }

 private:
  void read_events();
  void on_events(const char* data, std::size_t size);
  void fall_back_to_polling(const std::string& why);
  void changed();
  void arm();

  boost::asio::io_context& io_;
  Rescan rescan_;
  std::optional<boost::asio::posix::stream_descriptor> inotify_;
  std::map<int, std::filesystem::path> watches_;  ///< by watch descriptor
  std::set<std::filesystem::path> watched_;
  RescanSchedule schedule_;
  boost::asio::steady_timer timer_;
  std::optional<std::int64_t> armed_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace chorus::node
