#include "chorus/config/node_options.hpp"

#include <cstdlib>

#include "chorus/protocol/inert_text.hpp"
#include "chorus/protocol/messages.hpp"
#include "chorus/security/key_file.hpp"

namespace chorus::config {
namespace {

constexpr const char* kDescription =
    "chorus node: synchronized audio playback across a cluster of peers";

/// Peers refuse an id or host name that is too long or would not print as it is.
CLI::Validator printable_id() {
  return CLI::Validator(
      [](std::string& value) -> std::string {
        if (value.size() <= protocol::kMaxIdBytes && protocol::is_inert(value)) return {};
        return "must be at most " + std::to_string(protocol::kMaxIdBytes) +
               " bytes of UTF-8 without control characters";
      },
      "");
}

/// --bootstrap HOST PORT: the second value is a TCP port.
CLI::Validator bootstrap_port() {
  return CLI::Validator(
             [](std::string& value) -> std::string {
               int port = 0;
               try {
                 std::size_t used = 0;
                 port = std::stoi(value, &used);
                 if (used != value.size()) port = -1;
               } catch (const std::exception&) {
                 port = -1;
               }
               if (port >= 1 && port <= 65535) return {};
               return "PORT must be a number from 1 to 65535";
             },
             "")
      .application_index(1);
}

void add_network_options(CLI::App& app, NodeOptions& options) {
  auto& network = options.node.network;
  app.add_option("host", network.listen.host, "Address to listen on")->capture_default_str();
  app.add_option("port", network.listen.port, "TCP port to listen on (0: any free port)")
      ->capture_default_str();
  app.add_flag("--leader", options.node.lead_at_start, "Start a new cluster as its leader");
  app.add_option("--bootstrap", options.bootstrap, "Join the cluster through this member")
      ->expected(2)
      ->type_name("HOST PORT")
      ->check(bootstrap_port());
  app.add_option("--priority", network.priority,
                 "Election priority: the highest (priority, id) leads")
      ->capture_default_str();
  app.add_option("--id", network.id, "Unique node id (default: HOSTNAME:PORT)")
      ->check(printable_id());
  app.add_option("--cluster", network.cluster, "Cluster name; nodes of other clusters are refused")
      ->capture_default_str();
  app.add_option("--advertise", network.advertised_host,
                 "Host peers should dial (default: the address they see us at)")
      ->check(printable_id());
  app.add_option("--advertise-port", network.advertised_port,
                 "Port peers should dial, e.g. a proxy's (default: the listen port)");
  app.add_flag("--no-mdns", options.no_mdns,
               "Neither announce this node nor look for its cluster on the LAN (mDNS/DNS-SD "
               "through avahi-daemon)");
}

void add_content_options(CLI::App& app, NodeOptions& options) {
  auto& playback = options.node.playback;
  auto& network = options.node.network;
  app.add_option("--tracks", playback.tracks,
                 "Directory of this node's music (searched recursively; may be empty or missing: the "
                 "node then plays the other nodes' tracks)")
      ->type_name("PATH")
      ->capture_default_str();
  app.add_flag("--no-watch", options.no_watch,
               "Do not watch the music directory for new files (inotify); it is then rescanned every "
               "5 minutes and by the update command");
  auto& content = options.node.content;
  app.add_option("--cache-dir", content.cache.directory,
                 "Where tracks fetched from peers are kept (default: $XDG_CACHE_HOME/chorus/ID), "
                 "with this node's library index")
      ->type_name("PATH");
  app.add_option("--cache-mb", options.cache_mb, "Most megabytes of fetched tracks kept")
      ->check(CLI::Range(16, 1 << 24))
      ->capture_default_str();
  app.add_option("--content-port", content.listen.port,
                 "TCP port serving track bytes and catalogs to peers (0: any free port)")
      ->capture_default_str();
  app.add_option("--advertise-content-port", network.content_port,
                 "Content port peers should dial, e.g. a proxy's (default: the content port)");
  app.add_option("--upload-limit-mb", options.upload_limit_mb,
                 "Most megabytes per second this node uploads to peers (0: no limit)")
      ->check(CLI::Range(0.0, 10000.0))
      ->capture_default_str();
  app.add_option("--library-index", playback.index_file,
                 "SQLite file remembering the tracks' hashes and tags, so that unchanged files are not "
                 "read at start (default: library.sqlite in the cache directory)")
      ->type_name("PATH");
}

void add_playback_options(CLI::App& app, NodeOptions& options) {
  auto& playback = options.node.playback;
  app.add_option("--output", playback.output,
                 "Audio output: auto (a sound server, else ALSA, else sdl, else null), alsa[:DEVICE], "
                 "pulse[:SINK], sdl, null or file:PATH (raw S16LE 48 kHz stereo)")
      ->capture_default_str();
  app.add_option("--latency-ms", options.latency_ms,
                 "Extra output latency of this node's speakers, in ms")
      ->check(CLI::Range(-1000, 5000))
      ->capture_default_str();
}

void add_membership_options(CLI::App& app, NodeOptions& options) {
  auto& network = options.node.network;
  app.add_flag("--resume-playing", options.node.resume_playing,
               "After a restart, play the kept state if it was playing (default: restored paused)");
  app.add_flag("--preempt", options.node.preempt,
               "A higher-ranked node that joins takes over leadership");
  app.add_option("--heartbeat-ms", options.heartbeat_ms, "Heartbeat interval on idle links")
      ->check(CLI::Range(20, 10000))
      ->capture_default_str();
  app.add_option("--max-members", network.max_members,
                 "Most cluster members this node keeps track of; more are refused")
      ->check(CLI::Range(2, 65536))
      ->capture_default_str();
  app.add_option("--forget-down-after-ms", options.forget_down_after_ms,
                 "A member down this long is forgotten")
      ->check(CLI::Range(1000, 86'400'000))
      ->capture_default_str();
}

// --gen-key and --show-access do something and exit: as settings in a file they would stop every
// start of the node, so they are not configurable.
void add_key_options(CLI::App& app, NodeOptions& options) {
  app.add_option("--gen-key", options.gen_key,
                 "Write a new cluster key to this file (mode 0600) and exit; copy it to every node")
      ->type_name("PATH")
      ->configurable(false);
  auto* key_file = app.add_option("--key-file", options.key_file,
                                  "Cluster key: only nodes proving it can join, and every link is "
                                  "encrypted (without one the cluster is open to anyone)")
                       ->type_name("PATH");
  app.add_flag("--show-access", options.show_access,
               "Print the MPD password and the web page's token the cluster key gives, and exit")
      ->needs(key_file)
      ->configurable(false);
  app.add_option("--accept-key-file", options.accept_key_files,
                 "Also accept peers proving this key (while the cluster's key is rotated)")
      ->type_name("PATH")
      ->needs(key_file);
}

void add_control_options(CLI::App& app, NodeOptions& options) {
  auto& control = options.node.control;
  app.add_option("--mpd-port", control.mpd_port,
                 "TCP port of the MPD protocol server for music clients (0: off; a port already taken "
                 "is logged and the node runs without it)")
      ->capture_default_str();
  app.add_option("--http-port", control.http_port,
                 "TCP port of the web page, its WebSocket and /metrics (0: off)")
      ->capture_default_str();
}

void add_service_options(CLI::App& app, NodeOptions& options) {
  app.add_flag("--no-prompt", options.no_prompt,
               "Service mode: no prompt, standard input is ignored; the node runs until SIGTERM or "
               "SIGINT, then leaves the cluster gracefully");
  app.add_option("--log-level", options.log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

void add_config_option(CLI::App& app, const std::string& default_config) {
  app.set_config("--config", default_config,
                 "TOML file of settings, one key per long option (the command line overrides it); "
                 "without --config, " +
                     std::string(kDefaultConfigPath) + " is read when present")
      ->type_name("PATH");
}

std::shared_ptr<const security::KeyRing> load_keys(const NodeOptions& options) {
  try {
    auto keys = std::make_shared<security::KeyRing>();
    keys->primary = security::load_key_file(options.key_file);
    for (const auto& path : options.accept_key_files) {
      keys->also_accepted.push_back(security::load_key_file(path));
    }
    return keys;
  } catch (const security::KeyFileError& error) {
    throw CLI::ValidationError("--key-file", error.what());
  }
}

}  // namespace

std::string default_config_path() {
  const char* chosen = std::getenv(kDefaultConfigVariable);
  return chosen ? std::string(chosen) : std::string(kDefaultConfigPath);
}

NodeCommandLine::NodeCommandLine(const std::string& default_config) : app_(kDescription) {
  add_network_options(app_, options_);
  add_content_options(app_, options_);
  add_playback_options(app_, options_);
  add_membership_options(app_, options_);
  add_key_options(app_, options_);
  add_control_options(app_, options_);
  add_service_options(app_, options_);
  add_config_option(app_, default_config);
  config_file_ = std::make_shared<TomlConfig>(app_, [] {
    auto checker = std::make_shared<NodeCommandLine>("");
    return std::shared_ptr<CLI::App>(checker, &checker->app());
  });
  app_.config_formatter(config_file_);
}

void NodeCommandLine::parse(int argc, const char* const* argv) {
  config_file_->reset();
  app_.parse(argc, argv);
  config_file_->check_after_parse();
}

node::NodeConfig node_config(const NodeOptions& options) {
  auto config = options.node;
  if (!options.bootstrap.empty()) {
    // The port was checked by the option's validator.
    config.network.bootstrap = protocol::Endpoint{
        options.bootstrap[0], static_cast<std::uint16_t>(std::stoi(options.bootstrap[1]))};
  }
  config.network.liveness.interval = std::chrono::milliseconds(options.heartbeat_ms);
  config.network.forget_down_after = std::chrono::milliseconds(options.forget_down_after_ms);
  config.network.mdns = !options.no_mdns;
  config.playback.watch = !options.no_watch;
  config.playback.latency = std::chrono::milliseconds(options.latency_ms);
  config.content.cache.max_bytes = options.cache_mb << 20;
  config.content.upload_bytes_per_second =
      static_cast<std::uint64_t>(options.upload_limit_mb * 1024 * 1024);
  if (!options.key_file.empty()) {
    config.network.connection.keys = load_keys(options);
    config.control.secrets =
        security::derive_control_secrets(config.network.connection.keys->primary);
  }
  return config;
}

}  // namespace chorus::config
