// The node's options: one CLI11 App that the command line, the configuration file
// (docs/configuration.md), --help and the man page all come from.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "chorus/config/toml_config.hpp"
#include "chorus/node/peer_node.hpp"

namespace chorus::config {

/// Where the node looks for its configuration file when no --config is given.
inline constexpr const char* kDefaultConfigPath = "/etc/chorus/chorus.toml";
/// Names another default file; set but empty: no default file. Lets tests (and packagers) run
/// the node without depending on what is in /etc.
inline constexpr const char* kDefaultConfigVariable = "CHORUS_DEFAULT_CONFIG";

/// kDefaultConfigPath, or the value of $CHORUS_DEFAULT_CONFIG when that is set.
std::string default_config_path();

/// The values of the options, as parsed; node_config() turns them into a NodeConfig.
struct NodeOptions {
  node::NodeConfig node;
  std::vector<std::string> bootstrap;
  std::string log_level = "info";
  int heartbeat_ms = 200;
  int latency_ms = 0;
  int forget_down_after_ms = 600'000;
  std::uint64_t cache_mb = 2048;
  double upload_limit_mb = 6;
  std::string gen_key;
  std::string key_file;
  std::vector<std::string> accept_key_files;
  bool no_prompt = false;
  bool no_mdns = false;
  bool no_watch = false;
  bool show_access = false;
};

/// The node's App bound to its options. Neither copied nor moved: the App holds pointers to the
/// options.
class NodeCommandLine {
 public:
  /// `default_config`: the file read when present and no --config is given ("" for none).
  explicit NodeCommandLine(const std::string& default_config = default_config_path());
  NodeCommandLine(const NodeCommandLine&) = delete;
  NodeCommandLine& operator=(const NodeCommandLine&) = delete;

  /// Parses the command line, then the configuration file; throws CLI::ParseError (a refused
  /// file: ConfigFileError) for CLI::App::exit.
  void parse(int argc, const char* const* argv);

  CLI::App& app() { return app_; }
  const CLI::App& app() const { return app_; }
  NodeOptions& options() { return options_; }

 private:
  NodeOptions options_;
  CLI::App app_;
  std::shared_ptr<TomlConfig> config_file_;
};

/// The NodeConfig the parsed options describe, with the checks CLI11 cannot make alone (the
/// bootstrap port, printable ids) and the key files loaded. Throws CLI::ValidationError.
node::NodeConfig node_config(const NodeOptions& options);

}  // namespace chorus::config
