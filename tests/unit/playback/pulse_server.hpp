#pragma once
// A private PulseAudio server for one test: Debian's `pulseaudio` started with its own runtime
// directory and a config of our own (no sound card, no D-Bus, null sinks at 48 kHz), reachable
// through PULSE_SERVER, which this fixture sets for the test process (libpulse and ALSA's pulse
// plugin both read it). Stopped (SIGTERM, then SIGKILL) and its directory removed at scope exit.
//
// The null sinks stand in for sound cards: each consumes audio at its own clock and offers what it
// played on its monitor source.

#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "temp_dir.hpp"

extern char** environ;

namespace chorus::test {

class PulseServer {
 public:
  /// Starts the server with one null sink per name (48 kHz, s16le, stereo). REQUIREs that it
  /// answers within 10 s.
  explicit PulseServer(std::vector<std::string> sinks) : sinks_(std::move(sinks)) {
    start();
  }
  ~PulseServer() {
    stop();
    ::unsetenv("PULSE_SERVER");
  }
  PulseServer(const PulseServer&) = delete;
  PulseServer& operator=(const PulseServer&) = delete;

  /// "unix:/tmp/.../native", also in PULSE_SERVER.
  std::string address() const { return "unix:" + (dir_.path / "run" / "native").string(); }

  /// Runs `pactl ARGS...` against this server; true on exit status 0.
  bool pactl(const std::vector<std::string>& args) const {
    std::vector<std::string> argv{"pactl", "--server=" + address()};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv) == 0;
  }

  /// Removes a null sink (its streams are moved to another sink or killed, as when a USB card
  /// is unplugged).
  bool unload_sink(const std::string& name) const {
    return pactl({"unload-module", module_of(name)});
  }

  /// Kills the server and starts it again with the same sinks.
  void restart() {
    stop();
    start();
  }

  /// SIGSTOP / SIGCONT: a server that stops answering.
  void freeze() const { ::kill(pid_, SIGSTOP); }
  void thaw() const { ::kill(pid_, SIGCONT); }

 private:
  void start() {
    const auto run_dir = dir_.path / "run";
    std::filesystem::create_directories(run_dir);
    {
      std::ofstream config(dir_.path / "server.pa");
      config << "load-module module-native-protocol-unix socket=" << (run_dir / "native").string()
             << " auth-anonymous=1\n";
      // norewinds: an idle null sink renders silence up to its largest latency (2 s) ahead, and
      // when a stream arrives it can rewind only as far as the stream's own, shorter latency; the
      // stream then waits, unplayed, for up to 2 s. Without rewinds the sink renders at most 50 ms
      // ahead, so a new stream starts within 50 ms, as on a card; and its monitor carries exactly
      // what was played, never audio rendered again after a rewind.
      for (const auto& sink : sinks_) {
        config << "load-module module-null-sink sink_name=" << sink
               << " rate=48000 format=s16le channels=2 norewinds=1\n";
      }
    }
    const std::string home = "HOME=" + dir_.path.string();
    const std::string runtime = "XDG_RUNTIME_DIR=" + run_dir.string();
    const std::string pulse_runtime = "PULSE_RUNTIME_PATH=" + run_dir.string();
    // No memfd, as in tests/system/sound_server.py: PulseAudio 16.1 logged memfd errors in
    // every run of the system test and once aborted after them.
    std::vector<std::string> argv{"pulseaudio", "-n", "-F", (dir_.path / "server.pa").string(),
                                  "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no",
                                  "--enable-memfd=no",
                                  "--log-target=file:" + (dir_.path / "server.log").string()};
    pid_ = spawn(argv, {home, runtime, pulse_runtime});
    REQUIRE(pid_ > 0);
    ::setenv("PULSE_SERVER", address().c_str(), 1);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!pactl({"info"})) {
      REQUIRE(std::chrono::steady_clock::now() < give_up);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    give_main_thread_realtime_priority();
  }

  /// pulseaudio runs its sink threads at real-time priority (SCHED_RR 5) but its main thread,
  /// which takes each client's audio off its socket and hands it to the sink thread, at normal
  /// priority (nice −11; it resets a priority inherited from its parent). A busy machine then keeps
  /// that thread off the CPU for longer than a stream's 40 ms buffer now and then, and the sink
  /// plays silence for a stream that was written in time, which a sound card, for which the null
  /// sinks stand in, never does. So the main thread gets its sink threads' priority, where allowed.
  void give_main_thread_realtime_priority() const {
    sched_param param{};
    param.sched_priority = kSinkThreadPriority;
    ::sched_setscheduler(pid_, SCHED_RR, &param);  // refused without the privilege: left as it is
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGCONT);
    ::kill(pid_, SIGTERM);
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (std::chrono::steady_clock::now() > give_up) {
        ::kill(pid_, SIGKILL);
        ::waitpid(pid_, &status, 0);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = -1;
  }

  /// The index of the module that made sink `name`, as the server lists it.
  std::string module_of(const std::string& name) const {
    const auto out = dir_.path / "modules.txt";
    if (run({"pactl", "--server=" + address(), "list", "short", "modules"}, out.string()) != 0) return "-1";
    std::ifstream in(out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.find("sink_name=" + name + " ") != std::string::npos) return line.substr(0, line.find('\t'));
    }
    return "-1";
  }

  /// Starts argv[0] from PATH with `extra_env` before the test's environment; its standard output
  /// goes to `stdout_path` (the test's output stays readable).
  static pid_t spawn(const std::vector<std::string>& argv, const std::vector<std::string>& extra_env,
                     const std::string& stdout_path = "/dev/null") {
    std::vector<std::string> env_strings(extra_env);
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    std::vector<char*> env;
    for (const auto& e : env_strings) env.push_back(const_cast<char*>(e.c_str()));
    env.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, stdout_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    // pactl's complaints while the server starts ("Connection refused") are expected.
    posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
    pid_t pid = -1;
    const int error = ::posix_spawnp(&pid, argv[0].c_str(), &actions, nullptr, args.data(), env.data());
    posix_spawn_file_actions_destroy(&actions);
    return error == 0 ? pid : -1;
  }

  static int run(const std::vector<std::string>& argv, const std::string& stdout_path = "/dev/null") {
    const pid_t pid = spawn(argv, {}, stdout_path);
    if (pid <= 0) return -1;
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  /// pulseaudio's default realtime-priority (daemon.conf), which its sink threads run at.
  static constexpr int kSinkThreadPriority = 5;

  TempDir dir_;
  std::vector<std::string> sinks_;
  pid_t pid_ = -1;
};

}  // namespace chorus::test
