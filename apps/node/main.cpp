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
#include "chorus/config/node_options.hpp"
#include "chorus/node/peer_node.hpp"
#include "chorus/node/service_notifier.hpp"
#include "chorus/security/key_file.hpp"
#include "chorus/thread_name.hpp"

namespace asio = boost::asio;

namespace {

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
  chorus::name_this_thread("chorus-prompt");
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
  // The options come from the command line and the configuration file (docs/configuration.md).
  chorus::config::NodeCommandLine command_line;
  auto& app = command_line.app();
  const auto& options = command_line.options();
  chorus::node::NodeConfig config;
  try {
    command_line.parse(argc, argv);
    if (!options.gen_key.empty()) return generate_key(options.gen_key);
    config = chorus::config::node_config(options);
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
    // Run by systemd (chorus-node.service): READY once listening, STATUS, the watchdog's pings.
    chorus::node::ServiceNotifier service(io, node.control_port());
    service.ready();

    asio::signal_set signals(io, SIGINT, SIGTERM);
    signals.async_wait([&](const boost::system::error_code& ec, int signal) {
      if (ec) return;
      spdlog::info("signal {}: leaving the cluster", signal);
      service.stopping();
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
