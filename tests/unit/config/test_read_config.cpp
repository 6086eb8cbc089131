// read_config(): the node's configuration file checked against its option table. Every key is
// accepted with a good value; every kind of bad file is refused with FILE:LINE: key "KEY".

#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "chorus/config/node_options.hpp"
#include "chorus/config/toml_config.hpp"

using chorus::config::ConfigFileError;
using chorus::config::NodeCommandLine;
using chorus::config::config_key;
using chorus::config::read_config;

namespace {

const std::string kFile = "/etc/chorus/chorus.toml";

/// A good TOML value for each key that is not a flag (flags take `true`).
const std::map<std::string, std::string> kGoodValues{
    {"host", "\"127.0.0.1\""},
    {"port", "7601"},
    {"bootstrap", "[\"10.0.0.1\", 7600]"},
    {"priority", "5"},
    {"id", "\"living-room\""},
    {"cluster", "\"home\""},
    {"advertise", "\"living-room.local\""},
    {"advertise-port", "7700"},
    {"tracks", "\"/srv/music\""},
    {"cache-dir", "\"/var/cache/chorus\""},
    {"cache-mb", "512"},
    {"content-port", "7602"},
    {"advertise-content-port", "7702"},
    {"upload-limit-mb", "2.5"},
    {"library-index", "\"/var/lib/chorus/library.sqlite\""},
    {"output", "\"null\""},
    {"latency-ms", "-30"},
    {"heartbeat-ms", "100"},
    {"max-members", "64"},
    {"forget-down-after-ms", "60000"},
    {"key-file", "\"/etc/chorus/chorus.key\""},
    {"accept-key-file", "[\"/etc/chorus/old.key\"]"},
    {"mpd-port", "6601"},
    {"http-port", "6681"},
    {"log-level", "\"debug\""},
};


std::vector<CLI::ConfigItem> read_text(const std::string& text, const std::string& file = kFile) {
  NodeCommandLine checker("");
  return read_config(text, file, checker.app());
}

/// The message read_config() refuses `text` with.
std::string refusal(const std::string& text) {
  try {
    read_text(text);
  } catch (const ConfigFileError& error) {
    return error.what();
  }
  return "(accepted)";
}

std::vector<std::string> inputs_of(const std::string& text) {
  const auto items = read_text(text);
  REQUIRE(items.size() == 1);
  return items.front().inputs;
}

}  // namespace

TEST_CASE("every setting of the option table is a key, with a good value for each", "[config]") {
  NodeCommandLine command_line("");
  std::string text;
  std::size_t settings = 0;
  for (const auto* option : command_line.app().get_options()) {
    if (!option->get_configurable()) continue;
    const auto key = config_key(*option);
    INFO("option " << option->get_name());
    REQUIRE_FALSE(key.empty());
    const bool flag = option->get_expected_max() == 0;
    if (!flag) REQUIRE(kGoodValues.count(key) == 1);  // a new option needs a good value here
    text += key + " = " + (flag ? std::string("true") : kGoodValues.at(key)) + "\n";
    ++settings;
  }
  const auto items = read_text(text);
  CHECK(items.size() == settings);
  CHECK(settings >= kGoodValues.size() + 3);  // leader, preempt, no-prompt at least
}

TEST_CASE("keys name options by their long name, or a positional's name", "[config]") {
  const auto items = read_text("host = \"::1\"\nport = 7000\ncache-mb = 64\n");
  REQUIRE(items.size() == 3);
  CHECK(items[0].name == "host");
  CHECK(items[0].inputs == std::vector<std::string>{"::1"});
  CHECK(items[1].name == "port");
  CHECK(items[1].inputs == std::vector<std::string>{"7000"});
  CHECK(items[2].name == "cache-mb");
  CHECK(items[2].inputs == std::vector<std::string>{"64"});
}

TEST_CASE("flags are TOML booleans", "[config]") {
  CHECK(inputs_of("leader = true") == std::vector<std::string>{"true"});
  CHECK(inputs_of("no-prompt = false") == std::vector<std::string>{"false"});
  CHECK(refusal("leader = 1") == kFile + ":1: key \"leader\": must be true or false");
  CHECK(refusal("leader = \"yes\"") == kFile + ":1: key \"leader\": must be true or false");
}

TEST_CASE("options of several values are TOML arrays", "[config]") {
  CHECK(inputs_of("accept-key-file = [\"/a.key\", \"/b.key\"]") ==
        std::vector<std::string>{"/a.key", "/b.key"});
  CHECK(inputs_of("bootstrap = [\"peer.local\", 7600]") ==
        std::vector<std::string>{"peer.local", "7600"});
  CHECK(inputs_of("bootstrap = [\"peer.local\", \"7600\"]") ==
        std::vector<std::string>{"peer.local", "7600"});
  CHECK(read_text("accept-key-file = []").empty());  // an empty array sets nothing
  CHECK(refusal("accept-key-file = \"/a.key\"") ==
        kFile + ":1: key \"accept-key-file\": must be an array of PATHs");
  CHECK(refusal("accept-key-file = [\"/a.key\", 3]") ==
        kFile + ":1: key \"accept-key-file\": each value must be a string");
  CHECK(refusal("bootstrap = [\"peer.local\", 0]") ==
        kFile + ":1: key \"bootstrap\": PORT must be a number from 1 to 65535");
  CHECK_THAT(refusal("bootstrap = [\"peer.local\", 7600, 7601]"),
             Catch::StartsWith(kFile + ":1: key \"bootstrap\": "));
  CHECK_THAT(refusal("bootstrap = [\"peer.local\"]"),
             Catch::StartsWith(kFile + ":1: key \"bootstrap\": "));
}

TEST_CASE("numbers: integers where the option takes one, floats where it takes a number",
          "[config]") {
  CHECK(inputs_of("upload-limit-mb = 2.5") == std::vector<std::string>{"2.5"});
  CHECK(inputs_of("upload-limit-mb = 3") == std::vector<std::string>{"3"});
  CHECK(inputs_of("latency-ms = -20") == std::vector<std::string>{"-20"});
  CHECK(refusal("cache-mb = 64.5") == kFile + ":1: key \"cache-mb\": must be an integer");
  CHECK(refusal("cache-mb = \"64\"") == kFile + ":1: key \"cache-mb\": must be an integer");
  CHECK(refusal("upload-limit-mb = \"2\"") == kFile + ":1: key \"upload-limit-mb\": must be a number");
  CHECK(refusal("cluster = 5") == kFile + ":1: key \"cluster\": must be a string");
  CHECK(refusal("cluster = true") == kFile + ":1: key \"cluster\": must be a string");
  CHECK(refusal("cluster = [\"a\"]") == kFile + ":1: key \"cluster\": must be a string, not an array");
  CHECK(refusal("cluster = 1979-05-27") == kFile + ":1: key \"cluster\": must be a string");
}

TEST_CASE("values get the checks the command line applies", "[config]") {
  CHECK(refusal("cache-mb = 5") ==
        kFile + ":1: key \"cache-mb\": Value 5 not in range 16 to 16777216");
  CHECK(refusal("heartbeat-ms = 10001") ==
        kFile + ":1: key \"heartbeat-ms\": Value 10001 not in range 20 to 10000");
  CHECK(refusal("upload-limit-mb = -1.0") ==
        kFile + ":1: key \"upload-limit-mb\": Value -1 not in range 0.000000 to 10000.000000");
  CHECK(refusal("log-level = \"loud\"") ==
        kFile + ":1: key \"log-level\": loud not in {trace,debug,info,warn,error,off}");
  CHECK(refusal("port = 70000") == kFile + ":1: key \"port\": 70000 is out of range");
  CHECK(refusal("mpd-port = -1") == kFile + ":1: key \"mpd-port\": -1 is out of range");
  CHECK(refusal("id = \"a\\u0007b\"") ==
        kFile + ":1: key \"id\": must be at most 256 bytes of UTF-8 without control characters");
}

TEST_CASE("unknown keys, tables and keys that are not settings are refused", "[config]") {
  CHECK(refusal("\n\ncache-size = 64") == kFile + ":3: key \"cache-size\": unknown key");
  CHECK(refusal("\"--cache-mb\" = 64") == kFile + ":1: key \"--cache-mb\": unknown key");
  CHECK(refusal("[network]\ncluster = \"x\"") == kFile + ":1: key \"network\": unknown key");
  CHECK(refusal("network.cluster = \"x\"") == kFile + ":1: key \"network\": unknown key");
  CHECK(refusal("[tracks]\nmusic = \"x\"") == kFile + ":1: key \"tracks\": must be a value, not a table");
  CHECK(refusal("tracks = { path = \"x\" }") ==
        kFile + ":1: key \"tracks\": must be a value, not a table");
  CHECK(refusal("config = \"/etc/other.toml\"") ==
        kFile + ":1: key \"config\": names the configuration file itself: give it on the command line");
  CHECK(refusal("gen-key = \"/tmp/k\"") ==
        kFile + ":1: key \"gen-key\": is an action of the command line, not a setting: give it on "
                "the command line");
  CHECK(refusal("show-access = true") ==
        kFile + ":1: key \"show-access\": is an action of the command line, not a setting: give it "
                "on the command line");
  CHECK_THAT(refusal("help = true"), Catch::StartsWith(kFile + ":1: key \"help\": is an action"));
  CHECK(refusal("\"bad\\u001bkey\" = 1") == kFile + ":1: key \"bad\\x1bkey\": unknown key");
}

TEST_CASE("syntax errors and keys given twice name the line and column", "[config]") {
  CHECK_THAT(refusal("cluster = \"home\"\ncache-mb = \n"), Catch::StartsWith(kFile + ":2:"));
  CHECK_THAT(refusal("cluster = \"home\"\ncluster = \"away\"\n"),
             Catch::StartsWith(kFile + ":2:") && Catch::Contains("cluster"));
  CHECK_THAT(refusal("cluster = \"unterminated\n"), Catch::StartsWith(kFile + ":1:"));
}

TEST_CASE("the first problem in the file's order is the one reported", "[config]") {
  // toml++ keeps keys sorted by name; the report follows the lines.
  CHECK(refusal("zzz = 1\naaa = 2\n") == kFile + ":1: key \"zzz\": unknown key");
  CHECK(refusal("log-level = \"x\"\ncache-mb = 1\n") ==
        kFile + ":1: key \"log-level\": x not in {trace,debug,info,warn,error,off}");
}

TEST_CASE("relative paths are taken from the file's directory and ~ is refused", "[config]") {
  const auto read_tracks = [](const std::string& value, const std::string& file) {
    const auto items = read_text("tracks = \"" + value + "\"", file);
    REQUIRE(items.size() == 1);
    return items.front().inputs.front();
  };
  CHECK(read_tracks("music", "/etc/chorus/chorus.toml") == "/etc/chorus/music");
  CHECK(read_tracks("../srv/music", "/etc/chorus/chorus.toml") == "/etc/chorus/../srv/music");
  CHECK(read_tracks("/srv/music", "/etc/chorus/chorus.toml") == "/srv/music");
  CHECK(read_tracks("music", "chorus.toml") == "music");  // a file in the working directory
  CHECK(read_tracks("music", "conf/chorus.toml") == "conf/music");
  CHECK(inputs_of("accept-key-file = [\"old.key\", \"/k/new.key\"]") ==
        std::vector<std::string>{"/etc/chorus/old.key", "/k/new.key"});
  CHECK(refusal("cache-dir = \"~/cache\"") ==
        kFile + ":1: key \"cache-dir\": \"~\" is not expanded in a configuration file: give the full path");
  // Not a path: --output's file:PATH is the output's own syntax and is left as written.
  CHECK(inputs_of("output = \"file:out.raw\"") == std::vector<std::string>{"file:out.raw"});
}

TEST_CASE("an empty file and comments set nothing", "[config]") {
  CHECK(read_text("").empty());
  CHECK(read_text("# nothing here\n\n").empty());
}
