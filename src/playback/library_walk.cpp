#include "library_walk.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <optional>
#include <system_error>

#include <fmt/format.h>

#include "chorus/playback/library.hpp"

namespace chorus::playback::detail {

namespace fs = std::filesystem;

std::int64_t mtime_ns(const struct stat& st) {
  return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

namespace {

/// The file at `path`, or nothing for a directory (a directory named like a track is not one).
std::optional<FoundFile> found_file(const fs::path& path, std::string relative) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    return FoundFile{std::move(relative), 0, 0, "cannot stat: " + std::error_code(errno, std::generic_category()).message()};
  }
  if (S_ISDIR(st.st_mode)) return std::nullopt;
  FoundFile file{std::move(relative), static_cast<std::uint64_t>(st.st_size), mtime_ns(st), {}};
  if (!S_ISREG(st.st_mode)) file.error = "not a regular file";
  return file;
}

std::string walk_error(const fs::path& directory, const std::error_code& ec) {
  return fmt::format("cannot read tracks directory '{}': {}", directory.string(), ec.message());
}

}  // namespace

bool has_audio_extension(std::string_view name) {
  const auto dot = name.rfind('.');
  if (dot == std::string_view::npos || dot + 1 == name.size()) return false;
  std::string ext(name.substr(dot + 1));
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return std::find(std::begin(Library::kAudioExtensions), std::end(Library::kAudioExtensions), ext) !=
         std::end(Library::kAudioExtensions);
}

Walk walk_audio_files(const fs::path& directory) {
  Walk walk;
  std::error_code ec;
  fs::recursive_directory_iterator it(directory, fs::directory_options::skip_permission_denied, ec);
  if (ec) return {{}, {}, walk_error(directory, ec)};
  for (const fs::recursive_directory_iterator end; it != end; it.increment(ec)) {
    const fs::path& path = it->path();
    const std::string name = path.filename().string();
    if (name.starts_with('.')) {
      it.disable_recursion_pending();  // hidden: version-control and index files, trash
      continue;
    }
    std::error_code type_ec;
    if (it->is_directory(type_ec) && !it->is_symlink(type_ec)) {
      walk.directories.push_back(path.lexically_relative(directory).generic_string());
      continue;
    }
    if (!has_audio_extension(name)) continue;
    if (auto file = found_file(path, path.lexically_relative(directory).generic_string())) {
      walk.files.push_back(std::move(*file));
    }
  }
  if (ec) return {{}, {}, walk_error(directory, ec)};
  // Byte order (std::string compares as unsigned char): identical on every node, any locale.
  std::sort(walk.files.begin(), walk.files.end(),
            [](const FoundFile& a, const FoundFile& b) { return a.relative < b.relative; });
  return walk;
}

}  // namespace chorus::playback::detail
