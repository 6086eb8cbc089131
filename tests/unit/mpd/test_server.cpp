// The server over real sockets: greeting, commands through the port, idle pushed by notices, and
// the limits a LAN-facing port needs.
#include <sys/resource.h>

#include <catch2/catch.hpp>
#include <memory>
#include <vector>

#include "server_fixture.hpp"

using namespace chorus;
using namespace chorus::mpd;
using namespace chorus::mpd::test;

TEST_CASE("a client is greeted, gets answers and its commands reach the port") {
  RunningServer running;
  REQUIRE(running.started);
  LineClient client(running.tcp_port());
  CHECK(client.line() == "OK MPD 0.23.5");
  CHECK(eventually([&] { return running.port.clients() == 1; }));
  client.send("ping\n");
  CHECK(client.answer() == "OK\n");
  client.send("setvol 30\ngetvol\n");  // pipelined: getvol waits for setvol's outcome
  CHECK(client.answer() == "OK\n");
  CHECK(client.answer() == "volume: 30\nOK\n");
  client.send("addid loose.wav\n");
  CHECK(client.answer() == "Id: 100\nOK\n");
  client.send("nosuch\n");
  CHECK(client.answer() == "ACK [5@0] {} unknown command \"nosuch\"\n");
  client.send("close\n");
  CHECK(client.closed_within(2000ms));
  CHECK(eventually([&] { return running.port.clients() == 0 && running.connections() == 0; }));
}

TEST_CASE("a port in use leaves the server off") {
  RunningServer first;
  REQUIRE(first.started);
  FakePort port;
  asio::io_context io;
  MpdServer second(io, port,
                   MpdConfig{.host = "127.0.0.1", .port = first.tcp_port(), .any_port = false,
                             .password = std::nullopt, .limits = {}});
  CHECK_FALSE(second.start());
  MpdServer off(io, port, MpdConfig{});
  CHECK_FALSE(off.start());
}

TEST_CASE("idle is answered by a change made elsewhere, for every idling client") {
  RunningServer running;
  constexpr int kClients = 100;
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.push_back(std::make_unique<LineClient>(running.tcp_port()));
    REQUIRE(clients.back()->line() == "OK MPD 0.23.5");
    clients.back()->send("idle mixer\n");
  }
  // A change that comes before a client's idle is read is remembered for it, so the answers are
  // the same either way; the probe only makes the timing below mostly the fan-out's.
  LineClient probe(running.tcp_port());
  REQUIRE(probe.line());
  probe.send("ping\n");
  REQUIRE(probe.answer() == "OK\n");
  REQUIRE(eventually([&] { return running.connections() == kClients + 1; }));
  const auto before = std::chrono::steady_clock::now();
  running.port.change([](control::ClusterView& view) { view.rooms[0].volume = 5; },
                      control::kMixer);
  for (auto& client : clients) CHECK(client->answer() == "changed: mixer\nOK\n");
  const auto took = std::chrono::steady_clock::now() - before;
  INFO("fan-out to 100 clients took "
       << std::chrono::duration_cast<std::chrono::microseconds>(took).count() << " us");
  CHECK(took < 500ms);
  CHECK(running.port.subscribers() == 1);  // one subscription for the whole server
  clients.front()->send("getvol\n");
  CHECK(clients.front()->answer() == "volume: 5\nOK\n");
}

TEST_CASE("an overlong line is refused and the connection closed") {
  MpdConfig config;
  config.limits.max_line_bytes = 1024;
  RunningServer running(config);
  LineClient client(running.tcp_port());
  REQUIRE(client.line());
  client.send("add \"" + std::string(5000, 'x'));
  CHECK(client.line() == "ACK [2@0] {} line too long");
  CHECK(client.closed_within(2000ms));
  LineClient next(running.tcp_port());  // the server goes on
  REQUIRE(next.line());
  next.send("ping\n");
  CHECK(next.answer() == "OK\n");
}

TEST_CASE("a line just under the limit is read") {
  MpdConfig config;
  config.limits.max_line_bytes = 1024;
  RunningServer running(config);
  LineClient client(running.tcp_port());
  REQUIRE(client.line());
  client.send("find \"(file == '" + std::string(1000, 'x') + "')\"\n");
  CHECK(client.answer() == "OK\n");
}

TEST_CASE("connections beyond the limit are closed at once") {
  rlimit limit{};
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const rlim_t wanted = 2400;
  if (limit.rlim_cur < wanted && limit.rlim_max >= wanted) {
    limit.rlim_cur = wanted;
    ::setrlimit(RLIMIT_NOFILE, &limit);
  }
  ::getrlimit(RLIMIT_NOFILE, &limit);
  const int attempts = limit.rlim_cur >= wanted ? 1000 : 300;
  RunningServer running;  // the default limit: 128
  std::vector<std::unique_ptr<LineClient>> clients;
  int greeted = 0;
  for (int i = 0; i < attempts; ++i) {
    clients.push_back(std::make_unique<LineClient>(running.tcp_port()));
    if (clients.back()->line(2000ms)) ++greeted;
  }
  CHECK(greeted == 128);
  CHECK(running.connections() == 128);
  clients.front()->send("ping\n");
  CHECK(clients.front()->answer() == "OK\n");
  clients.clear();
  CHECK(eventually([&] { return running.connections() == 0 && running.port.clients() == 0; }));
  LineClient again(running.tcp_port());
  CHECK(again.line() == "OK MPD 0.23.5");
}

TEST_CASE("a silent connection times out, a client in idle does not") {
  MpdConfig config;
  config.limits.idle_timeout = 300ms;
  RunningServer running(config);
  LineClient silent(running.tcp_port());
  LineClient idler(running.tcp_port());
  REQUIRE(silent.line());
  REQUIRE(idler.line());
  idler.send("idle\n");
  const auto start = std::chrono::steady_clock::now();
  CHECK(silent.closed_within(3000ms));
  CHECK(std::chrono::steady_clock::now() - start >= 250ms);
  // well past the timeout, the idler is still there and still answered
  CHECK_FALSE(idler.closed_within(1000ms));
  running.port.change([](control::ClusterView&) {}, control::kPlayer);
  CHECK(idler.answer() == "changed: player\nOK\n");
  // after its idle the silence counts again
  CHECK(idler.closed_within(3000ms));
}

TEST_CASE("a command during idle closes the connection over the wire") {
  RunningServer running;
  LineClient client(running.tcp_port());
  REQUIRE(client.line());
  client.send("idle\nstatus\n");
  CHECK(client.closed_within(2000ms));
}

TEST_CASE("a client that never reads its answers is closed, others are served") {
  MpdConfig config;
  config.limits.max_output_bytes = 256 * 1024;
  RunningServer running(config);
  LineClient hog(running.tcp_port());
  REQUIRE(hog.line());
  // shrink what the kernel buffers for it, so that the server's queue is what fills
  hog.socket().set_option(asio::socket_base::receive_buffer_size(4096));
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += "listallinfo\n";
  for (int i = 0; i < 20 && running.connections() > 0; ++i) {
    boost::system::error_code ec;
    asio::write(hog.socket(), asio::buffer(burst), ec);
    if (ec) break;
  }
  CHECK(eventually([&] { return running.connections() == 0; }));
  LineClient other(running.tcp_port());
  REQUIRE(other.line());
  other.send("ping\n");
  CHECK(other.answer() == "OK\n");
}

TEST_CASE("a client in idle that never reads costs one answer, not a queue") {
  RunningServer running;
  LineClient sleeper(running.tcp_port());
  REQUIRE(sleeper.line());
  sleeper.send("idle\n");
  LineClient probe(running.tcp_port());
  REQUIRE(probe.line());
  for (int i = 0; i < 1000; ++i) {
    running.port.change([](control::ClusterView&) {}, control::kPlayer | control::kMixer);
  }
  probe.send("ping\n");
  CHECK(probe.answer() == "OK\n");
  CHECK(running.connections() == 2);
  CHECK(sleeper.answer() == "changed: player\nchanged: mixer\nOK\n");
  CHECK_FALSE(sleeper.line(200ms));  // nothing more was queued for it
}

TEST_CASE("the password gates commands over the wire") {
  MpdConfig config;
  config.password = "open sesame";
  RunningServer running(config);
  LineClient client(running.tcp_port());
  REQUIRE(client.line());
  client.send("status\n");
  CHECK(client.answer() == "ACK [4@0] {status} you don't have permission for \"status\"\n");
  client.send("password \"open sesame\"\nstatus\n");
  CHECK(client.answer() == "OK\n");
  CHECK(client.answer().find("state: pause\n") != std::string::npos);
  CHECK(running.port.commands().empty());
}
