// The node's command line with its configuration file: the file's values take effect, the command
// line wins, the default file is read when present, and a refused file stops the parse.

#include <catch2/catch.hpp>

#include <string>

#include "chorus/config/node_options.hpp"
#include "chorus/config/toml_config.hpp"
#include "config_test_support.hpp"

using chorus::config::ConfigFileError;
using chorus::config::NodeCommandLine;
using chorus::test::TempDir;
using chorus::test::parse;

TEST_CASE("the file's values take effect", "[config]") {
  TempDir dir;
  const auto file = dir.write("node.toml",
                              "cluster = \"home\"\n"
                              "port = 7601\n"
                              "leader = true\n"
                              "no-prompt = true\n"
                              "cache-mb = 512\n"
                              "upload-limit-mb = 2.5\n"
                              "bootstrap = [\"peer.local\", 7600]\n"
                              "tracks = \"music\"\n"
                              "log-level = \"debug\"\n");
  NodeCommandLine command_line("");
  parse(command_line, {"--config", file});
  const auto& options = command_line.options();
  CHECK(options.node.network.cluster == "home");
  CHECK(options.node.network.listen.port == 7601);
  CHECK(options.node.lead_at_start);
  CHECK(options.no_prompt);
  CHECK(options.cache_mb == 512);
  CHECK(options.upload_limit_mb == 2.5);
  CHECK(options.bootstrap == std::vector<std::string>{"peer.local", "7600"});
  CHECK(options.node.playback.tracks == dir.path() / "music");
  CHECK(options.log_level == "debug");
  const auto config = chorus::config::node_config(options);
  REQUIRE(config.network.bootstrap.has_value());
  CHECK(config.network.bootstrap->port == 7600);
  CHECK(config.content.cache.max_bytes == 512ull << 20);
}

TEST_CASE("the command line overrides the file, key by key", "[config]") {
  TempDir dir;
  const auto file = dir.write("node.toml",
                              "cluster = \"home\"\nhttp-port = 7000\nport = 7601\n"
                              "accept-key-file = [\"a.key\"]\nkey-file = \"k.key\"\n");
  NodeCommandLine command_line("");
  parse(command_line, {"--config", file, "--cluster", "away", "0.0.0.0", "7700",
                       "--accept-key-file", "/b.key", "/c.key"});
  const auto& options = command_line.options();
  CHECK(options.node.network.cluster == "away");
  CHECK(options.node.network.listen.port == 7700);
  CHECK(options.node.control.http_port == 7000);  // not on the command line: the file's
  CHECK(options.accept_key_files == std::vector<std::string>{"/b.key", "/c.key"});
  CHECK(options.key_file == (dir.path() / "k.key").string());
}

TEST_CASE("the file's values get the command line's requirements", "[config]") {
  TempDir dir;
  const auto file = dir.write("node.toml", "accept-key-file = [\"/a.key\"]\n");
  NodeCommandLine command_line("");
  CHECK_THROWS_AS(parse(command_line, {"--config", file}), CLI::RequiresError);
}

TEST_CASE("the default file is read when present and no --config is given", "[config]") {
  TempDir dir;
  const auto default_file = dir.write("chorus.toml", "cluster = \"from-default\"\n");
  const auto other_file = dir.write("other.toml", "http-port = 7001\n");
  SECTION("present") {
    NodeCommandLine command_line(default_file);
    parse(command_line, {});
    CHECK(command_line.options().node.network.cluster == "from-default");
  }
  SECTION("--config replaces it") {
    NodeCommandLine command_line(default_file);
    parse(command_line, {"--config", other_file});
    CHECK(command_line.options().node.network.cluster == "chorus");
    CHECK(command_line.options().node.control.http_port == 7001);
  }
  SECTION("missing: fine") {
    NodeCommandLine command_line((dir.path() / "absent.toml").string());
    parse(command_line, {});
    CHECK(command_line.options().node.network.cluster == "chorus");
  }
  SECTION("none") {
    NodeCommandLine command_line("");
    parse(command_line, {});
    CHECK(command_line.options().node.network.cluster == "chorus");
  }
  SECTION("refused: an error too (CLI11 alone would drop it silently)") {
    const auto bad = dir.write("bad.toml", "cluster = \"x\"\ncache-mb = 1\n");
    NodeCommandLine command_line(bad);
    CHECK_THROWS_WITH(parse(command_line, {}),
                      bad + ":2: key \"cache-mb\": Value 1 not in range 16 to 16777216");
  }
}

TEST_CASE("a --config file that is missing is an error", "[config]") {
  TempDir dir;
  NodeCommandLine command_line("");
  CHECK_THROWS_AS(parse(command_line, {"--config", (dir.path() / "absent.toml").string()}),
                  CLI::FileError);
}

TEST_CASE("a refused file stops the parse with its file:line:key message", "[config]") {
  TempDir dir;
  const auto file = dir.write("node.toml", "# the node\n\nleader = \"yes\"\n");
  NodeCommandLine command_line("");
  CHECK_THROWS_AS(parse(command_line, {"--config", file}), ConfigFileError);
  NodeCommandLine again("");
  CHECK_THROWS_WITH(parse(again, {"--config", file}),
                    file + ":3: key \"leader\": must be true or false");
}

TEST_CASE("--help wins over a refused file", "[config]") {
  TempDir dir;
  const auto file = dir.write("node.toml", "nonsense = 1\n");
  NodeCommandLine command_line("");
  CHECK_THROWS_AS(parse(command_line, {"--config", file, "--help"}), CLI::CallForHelp);
}

TEST_CASE("CHORUS_DEFAULT_CONFIG names the default file", "[config]") {
  const char* saved = std::getenv(chorus::config::kDefaultConfigVariable);
  const std::string saved_value = saved ? saved : "";
  ::setenv(chorus::config::kDefaultConfigVariable, "/tmp/x.toml", 1);
  CHECK(chorus::config::default_config_path() == "/tmp/x.toml");
  ::setenv(chorus::config::kDefaultConfigVariable, "", 1);
  CHECK(chorus::config::default_config_path().empty());
  ::unsetenv(chorus::config::kDefaultConfigVariable);
  CHECK(chorus::config::default_config_path() == "/etc/chorus/chorus.toml");
  if (saved) ::setenv(chorus::config::kDefaultConfigVariable, saved_value.c_str(), 1);
}
