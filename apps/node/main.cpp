// node: one chorus cluster member with an interactive prompt on stdin, or (--no-prompt) a
// service that runs until it is told to stop by a signal.

#include <unistd.h>

#include <csignal>
#include <future>
#include <iostream>
#include <thread>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "chorus/cli/command.hpp"
#include "chorus/node/peer_node.hpp"
#include "chorus/protocol/inert_text.hpp"
#include "chorus/protocol/messages.hpp"
#include "chorus/security/key_file.hpp"

namespace asio = boost::asio;

namespace {

struct Options {
  chorus::node::NodeConfig node;
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
  bool show_access = false;
};

void add_options(CLI::App& app, Options& options) {
  auto& network = options.node.network;
  app.add_option("host", network.listen.host, "Address to listen on")->capture_default_str();
  app.add_option("port", network.listen.port, "TCP port to listen on (0: any free port)")
      ->capture_default_str();
  app.add_flag("--leader", options.node.lead_at_start, "Start a new cluster as its leader");
  app.add_option("--bootstrap", options.bootstrap, "Join the cluster through this member")
      ->expected(2)
      ->type_name("HOST PORT");
  app.add_option("--priority", network.priority,
                 "Election priority: the highest (priority, id) leads")
      ->capture_default_str();
  app.add_option("--id", network.id, "Unique node id (default: HOSTNAME:PORT)");
  app.add_option("--cluster", network.cluster, "Cluster name; nodes of other clusters are refused")
      ->capture_default_str();
  app.add_option("--advertise", network.advertised_host,
                 "Host peers should dial (default: the address they see us at)");
  app.add_option("--advertise-port", network.advertised_port,
                 "Port peers should dial, e.g. a proxy's (default: the listen port)");
  auto& playback = options.node.playback;
  app.add_option("--tracks", playback.tracks,
                 "Directory of this node's music (searched recursively; may be empty or missing: the "
                 "node then plays the other nodes' tracks)")
      ->capture_default_str();
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
  app.add_option("--output", playback.output, "Audio output: auto (a sound server, else ALSA, else sdl, else null), alsa[:DEVICE], "
                 "pulse[:SINK], sdl, null or file:PATH (raw S16LE 48 kHz stereo)")
      ->capture_default_str();
  app.add_option("--latency-ms", options.latency_ms,
                 "Extra output latency of this node's speakers, in ms")
      ->check(CLI::Range(-1000, 5000))
      ->capture_default_str();
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
  app.add_option("--gen-key", options.gen_key,
                 "Write a new cluster key to this file (mode 0600) and exit; copy it to every node")
      ->type_name("PATH");
  auto* key_file = app.add_option("--key-file", options.key_file,
                                  "Cluster key: only nodes proving it can join, and every link is "
                                  "encrypted (without one the cluster is open to anyone)")
                       ->type_name("PATH");
  app.add_flag("--show-access", options.show_access,
               "Print the MPD password and the web page's token the cluster key gives, and exit")
      ->needs(key_file);
  app.add_option("--accept-key-file", options.accept_key_files,
                 "Also accept peers proving this key (while the cluster's key is rotated)")
      ->type_name("PATH")
      ->needs(key_file);
  auto& control = options.node.control;
  app.add_option("--mpd-port", control.mpd_port,
                 "TCP port of the MPD protocol server for music clients (0: off; a port already taken "
                 "is logged and the node runs without it)")
      ->capture_default_str();
  app.add_option("--http-port", control.http_port,
                 "TCP port of the web page, its WebSocket and /metrics (0: off)")
      ->capture_default_str();
  app.add_flag("--no-prompt", options.no_prompt,
               "Service mode: no prompt, standard input is ignored; the node runs until SIGTERM or "
               "SIGINT, then leaves the cluster gracefully");
  app.add_option("--log-level", options.log_level, "Log level on stderr")
      ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}))
      ->capture_default_str();
}

std::shared_ptr<const chorus::security::KeyRing> load_keys(const Options& options);

chorus::node::NodeConfig finish_config(Options& options) {
  auto config = options.node;
  if (!options.bootstrap.empty()) {
    int port = 0;
    try {
      port = std::stoi(options.bootstrap[1]);
    } catch (const std::exception&) {
      port = -1;
    }
    if (port < 1 || port > 65535) {
      throw CLI::ValidationError("--bootstrap", "PORT must be a number from 1 to 65535");
    }
    config.network.bootstrap = chorus::protocol::Endpoint{options.bootstrap[0],
                                                          static_cast<std::uint16_t>(port)};
  }
  // Peers refuse an id or host name that is too long or would not print as it is.
  const auto check_id = [](const std::string& option, const std::string& value) {
    if (value.size() > chorus::protocol::kMaxIdBytes || !chorus::protocol::is_inert(value)) {
      throw CLI::ValidationError(option, "must be at most " +
                                             std::to_string(chorus::protocol::kMaxIdBytes) +
                                             " bytes of UTF-8 without control characters");
    }
  };
  check_id("--id", config.network.id);
  check_id("--advertise", config.network.advertised_host);
  config.network.liveness.interval = std::chrono::milliseconds(options.heartbeat_ms);
  config.network.forget_down_after = std::chrono::milliseconds(options.forget_down_after_ms);
  config.playback.latency = std::chrono::milliseconds(options.latency_ms);
  config.content.cache.max_bytes = options.cache_mb << 20;
  config.content.upload_bytes_per_second = static_cast<std::uint64_t>(options.upload_limit_mb * 1024 * 1024);
  if (!options.key_file.empty()) {
    config.network.connection.keys = load_keys(options);
    config.control.secrets = chorus::security::derive_control_secrets(config.network.connection.keys->primary);
  }
  return config;
}

std::shared_ptr<const chorus::security::KeyRing> load_keys(const Options& options) {
  try {
    auto keys = std::make_shared<chorus::security::KeyRing>();
    keys->primary = chorus::security::load_key_file(options.key_file);
    for (const auto& path : options.accept_key_files) {
      keys->also_accepted.push_back(chorus::security::load_key_file(path));
    }
    return keys;
  } catch (const chorus::security::KeyFileError& error) {
    throw CLI::ValidationError("--key-file", error.what());
  }
}

/// --gen-key: writes the key file and says what to do with it.
int generate_key(const std::string& path) {
  try {
    auto key = chorus::security::generate_key_file(path);
    std::cout << "wrote a new cluster key to " << path << " (key id "
              << chorus::security::to_hex(key.id()) << ")\n"
              << "copy it to every node, readable only by the user that runs the node "
                 "(chmod 600), and start each node with --key-file " << path << "\n";
    return 0;
  } catch (const chorus::security::KeyFileError& error) {
    std::cerr << "--gen-key: " << error.what() << "\n";
    return 1;
  }
}

void setup_logging(const std::string& level) {
  auto logger = spdlog::stderr_color_mt("chorus");
  logger->set_pattern("%H:%M:%S.%e %^%l%$ %v");
  spdlog::set_default_logger(logger);
  spdlog::set_level(spdlog::level::from_str(level));
}

void print(const std::string& text) {
  std::cout << text;
  if (text.empty() || text.back() != '\n') std::cout << '\n';
  std::cout << std::flush;
}

/// Reads stdin on its own thread; each line is parsed here and executed on the io thread.
/// The next line is read only once the previous command has replied, so answers keep order.
void read_prompt(asio::io_context& io, chorus::node::PeerNode& node) {
  bool interactive = ::isatty(STDIN_FILENO) != 0;
  std::string line;
  while (true) {
    if (interactive) std::cout << "> " << std::flush;
    if (!std::getline(std::cin, line)) break;
    auto parsed = chorus::cli::parse_command(line);
    if (auto* error = std::get_if<chorus::cli::ParseError>(&parsed)) {
      print("error: " + error->message());
      continue;
    }
    auto* command = std::get_if<chorus::cli::Command>(&parsed);
    if (!command) continue;
    if (command->kind == chorus::cli::CommandKind::exit) break;
    std::promise<void> replied;
    asio::post(io, [&node, &replied, cmd = *command] {
      node.execute(cmd, [&replied](const std::string& text) {
        print(text);
        replied.set_value();
      });
    });
    replied.get_future().wait();
  }
  asio::post(io, [&io, &node] { node.shutdown([&io] { io.stop(); }); });
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"chorus node: synchronized audio playback across a cluster of peers"};
  Options options;
  add_options(app, options);
  chorus::node::NodeConfig config;
  try {
    app.parse(argc, argv);
    if (!options.gen_key.empty()) return generate_key(options.gen_key);
    config = finish_config(options);
    if (options.show_access) {
      std::cout << "mpd password: " << config.control.secrets->mpd_password << "\n"
                << "web token: " << config.control.secrets->web_token << "\n";
      return 0;
    }
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  }
  setup_logging(options.log_level);
  std::signal(SIGPIPE, SIG_IGN);

  try {
    asio::io_context io;
    chorus::node::PeerNode node(io, config);
    node.start();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("signal {}: leaving the cluster", signal);
      node.shutdown([&io] { io.stop(); });
    });

    // The prompt thread may be blocked in a read when the node stops; it is left behind then.
    if (!options.no_prompt) std::thread(read_prompt, std::ref(io), std::ref(node)).detach();
    io.run();
    spdlog::info("node {} stopped", node.id());
    std::cout << std::flush;
    std::_Exit(0);  // the prompt thread may still hold references to io and node
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return 1;
  }
}
