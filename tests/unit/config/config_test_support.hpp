// Helpers of the configuration tests: a temporary directory, files in it, and parsing a node's
// command line as main() does.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <vector>

#include "chorus/config/node_options.hpp"

namespace chorus::test {

/// A directory removed with everything in it when the test ends.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "chorus-config-XXXXXX").string();
    path_ = ::mkdtemp(pattern.data());
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }

  /// Writes `text` to the file `name` in the directory; returns its path.
  std::string write(const std::string& name, const std::string& text) const {
    const auto file = path_ / name;
    std::ofstream(file) << text;
    return file.string();
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// Parses `args` (without the program name) as the node's main() does.
inline void parse(config::NodeCommandLine& command_line, std::initializer_list<std::string> args) {
  std::vector<std::string> words{"node"};
  words.insert(words.end(), args.begin(), args.end());
  std::vector<const char*> argv;
  for (const auto& word : words) argv.push_back(word.c_str());
  command_line.parse(static_cast<int>(argv.size()), argv.data());
}

}  // namespace chorus::test
