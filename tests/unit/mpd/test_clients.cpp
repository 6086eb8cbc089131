// Real MPD clients against the server: mpc and python-mpd2 (Debian's python3-mpd).
#include <sys/wait.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <future>

#include "server_fixture.hpp"

using namespace chorus;
using namespace chorus::mpd;
using namespace chorus::mpd::test;

namespace {

struct Run {
  int status = -1;
  std::string output;
};

/// Runs a shell command; stdout and stderr together.
Run run_shell(const std::string& command) {
  Run run;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return run;
  char chunk[4096];
  while (std::size_t n = std::fread(chunk, 1, sizeof chunk, pipe)) run.output.append(chunk, n);
  const int status = ::pclose(pipe);
  run.status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

bool have_mpc() { return run_shell("command -v mpc").status == 0; }
bool have_python_mpd() { return run_shell("/usr/bin/python3 -c 'import mpd'").status == 0; }

std::string mpc(std::uint16_t port, const std::string& args, const std::string& host = "127.0.0.1") {
  // MPD_HOST/MPD_PORT of the environment must not redirect it
  return "env -u MPD_HOST -u MPD_PORT mpc -h '" + host + "' -p " + std::to_string(port) + " " + args;
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("mpc controls the cluster") {
  if (!have_mpc()) {
    WARN("mpc is not installed: skipped");
    return;
  }
  RunningServer running;
  const auto port = running.tcp_port();
  Run status = run_shell(mpc(port, "status"));
  INFO(status.output);
  CHECK(status.status == 0);
  CHECK(contains(status.output, "[paused]"));
  CHECK(contains(status.output, "#2/2"));
  CHECK(contains(status.output, "volume: 80%"));

  Run playlist = run_shell(mpc(port, "playlist"));
  INFO(playlist.output);
  CHECK(contains(playlist.output, "Artist A - One"));
  CHECK(contains(playlist.output, "Artist B - Three"));

  CHECK(run_shell(mpc(port, "add loose.wav")).status == 0);
  auto commands = running.port.commands();
  REQUIRE_FALSE(commands.empty());
  CHECK(commands.back().kind == cli::CommandKind::add);
  CHECK(commands.back().uri == "loose.wav");
  CHECK(contains(run_shell(mpc(port, "playlist")).output, "loose.wav"));

  Run outputs = run_shell(mpc(port, "outputs"));
  INFO(outputs.output);
  CHECK(contains(outputs.output, "Output 1 (node-a) is enabled"));
  CHECK(contains(outputs.output, "Output 2 (node-b) is disabled"));
  CHECK(run_shell(mpc(port, "enable 2")).status == 0);
  CHECK(contains(run_shell(mpc(port, "outputs")).output, "Output 2 (node-b) is enabled"));

  CHECK(run_shell(mpc(port, "volume 40")).status == 0);
  CHECK(contains(run_shell(mpc(port, "volume")).output, "volume: 40%"));

  Run bad = run_shell(mpc(port, "play 99"));
  CHECK(bad.status != 0);

  // idle: mpc waits until a change; make changes until it has seen one
  auto idle = std::async(std::launch::async, [&] { return run_shell(mpc(port, "idle mixer")); });
  bool done = false;
  for (int i = 0; i < 100 && !done; ++i) {
    running.port.change([](control::ClusterView&) {}, control::kMixer);
    done = idle.wait_for(50ms) == std::future_status::ready;
  }
  REQUIRE(done);
  Run idled = idle.get();
  CHECK(idled.status == 0);
  CHECK(contains(idled.output, "mixer"));
}

TEST_CASE("mpc with a password") {
  if (!have_mpc()) {
    WARN("mpc is not installed: skipped");
    return;
  }
  MpdConfig config;
  config.password = "pa55word";
  RunningServer running(config);
  const auto port = running.tcp_port();
  Run refused = run_shell(mpc(port, "status"));
  INFO(refused.output);
  CHECK(refused.status != 0);
  CHECK(contains(refused.output, "permission"));
  Run wrong = run_shell(mpc(port, "status", "nope@127.0.0.1"));
  CHECK(wrong.status != 0);
  CHECK(contains(wrong.output, "incorrect password"));
  Run allowed = run_shell(mpc(port, "status", "pa55word@127.0.0.1"));
  INFO(allowed.output);
  CHECK(allowed.status == 0);
  CHECK(contains(allowed.output, "[paused]"));
}

namespace {

void run_python_client(const std::optional<std::string>& password) {
  if (!have_python_mpd()) {
    WARN("/usr/bin/python3 has no mpd module (python3-mpd): skipped");
    return;
  }
  MpdConfig config;
  config.password = password;
  RunningServer running(config);
  const auto script = std::filesystem::path(CHORUS_MPD_TEST_DIR) / "python_client.py";
  std::string command = "/usr/bin/python3 '" + script.string() + "' " +
                        std::to_string(running.tcp_port());
  if (password) command += " '" + *password + "'";
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::string output;
  char line[4096];
  while (std::fgets(line, sizeof line, pipe) != nullptr) {
    output += line;
    // it waits in idle: make the change it waits for (a change that comes before its idle is
    // read is remembered for it, so one is enough)
    if (std::string_view(line) == "IDLING\n") {
      running.port.change([](control::ClusterView&) {}, control::kMixer);
    }
  }
  const int status = ::pclose(pipe);
  INFO(output);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(contains(output, "ALL OK"));
}

}  // namespace

TEST_CASE("python-mpd2 controls the cluster") { run_python_client(std::nullopt); }

TEST_CASE("python-mpd2 with a password") { run_python_client("s3cret"); }
