// The server over real sockets: greeting, commands through the port, idle pushed by notices, and
// the limits a LAN-facing port needs.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <memory>
#include <vector>

#include "process_limits.hpp"
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

TEST_CASE("a thousand silent connections keep the count at the limit and real clients served") {
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
  LineClient talker(running.tcp_port());
  REQUIRE(talker.line());
  talker.send("ping\n");
  REQUIRE(talker.answer() == "OK\n");
  std::vector<std::unique_ptr<LineClient>> silent;
  for (int i = 0; i < attempts; ++i) {
    silent.push_back(std::make_unique<LineClient>(running.tcp_port()));
    // each is greeted: the oldest silent one made way for it
    REQUIRE(silent.back()->line(2000ms));
  }
  CHECK(running.connections() == 128);
  CHECK(silent.front()->closed_within(2000ms));
  CHECK_FALSE(silent.back()->closed_within(100ms));
  // the client that spoke kept its connection through the flood
  talker.send("ping\n");
  CHECK(talker.answer() == "OK\n");
  silent.clear();
  CHECK(eventually([&] { return running.connections() == 1 && running.port.clients() == 1; }));
}

TEST_CASE("when every client has spoken, a connection beyond the limit is closed at once") {
  MpdConfig config;
  config.limits.max_connections = 4;
  RunningServer running(config);
  std::vector<std::unique_ptr<LineClient>> clients;
  for (int i = 0; i < 4; ++i) {
    clients.push_back(std::make_unique<LineClient>(running.tcp_port()));
    REQUIRE(clients.back()->line());
    clients.back()->send("ping\n");
    REQUIRE(clients.back()->answer() == "OK\n");
  }
  LineClient extra(running.tcp_port());
  CHECK_FALSE(extra.line(500ms));
  CHECK(extra.closed_within(2000ms));
  CHECK(running.connections() == 4);
  for (auto& client : clients) {
    client->send("ping\n");
    CHECK(client->answer() == "OK\n");
  }
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
  config.limits.idle_timeout = 500ms;
  RunningServer running(config);
  LineClient hog(running.tcp_port());
  REQUIRE(hog.line());
  // shrink what the kernel buffers for it, so that the server's queue is what fills
  hog.socket().set_option(asio::socket_base::receive_buffer_size(4096));
  std::string burst;
  for (int i = 0; i < 2000; ++i) burst += "listallinfo\n";
  // the server stops taking its commands once its answers wait: the sends below fill the
  // socket buffers until the kernel takes no more
  const auto start = std::chrono::steady_clock::now();
  std::size_t sent = 0;
  while (sent < 64 * 1024 * 1024) {
    const ssize_t n = ::send(hog.socket().native_handle(), burst.data(), burst.size(),
                             MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n <= 0) break;
    sent += static_cast<std::size_t>(n);
  }
  INFO("sent " << sent << " bytes of commands");
  CHECK(eventually([&] { return running.connections() == 0; }, 5000ms));
  CHECK(std::chrono::steady_clock::now() - start >= 400ms);  // closed for not reading, not at once
  LineClient other(running.tcp_port());
  REQUIRE(other.line());
  other.send("ping\n");
  CHECK(other.answer() == "OK\n");
}

TEST_CASE("an answer larger than the output limit reaches a client that reads it") {
  MpdConfig config;
  config.limits.max_output_bytes = 256;
  RunningServer running(config);
  LineClient client(running.tcp_port());
  REQUIRE(client.line());
  client.send("listallinfo\nping\n");  // pipelined after an answer above the limit
  const std::string answer = client.answer();
  CHECK(answer.size() > 256);
  CHECK(answer.find("file: loose.wav\n") != std::string::npos);
  CHECK(client.answer() == "OK\n");
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

using chorus::test::cpu_seconds;
using chorus::test::DescriptorsExhausted;

TEST_CASE("accepting without descriptors backs off instead of spinning, then recovers") {
  if (chorus::test::kSanitized) {
    WARN("not run under the sanitizers: they need descriptors of their own");
    return;
  }
  RunningServer running;
  // the clients' sockets exist before the descriptors run out: connecting needs none
  std::vector<std::unique_ptr<tcp::socket>> pending;
  asio::io_context client_io;
  for (int i = 0; i < 20; ++i) {
    pending.push_back(std::make_unique<tcp::socket>(client_io));
    pending.back()->open(tcp::v4());
  }
  double cpu_used = 0;
  {
    DescriptorsExhausted exhausted;
    for (auto& socket : pending) {
      socket->connect(tcp::endpoint(asio::ip::make_address("127.0.0.1"), running.tcp_port()));
    }
    const double before = cpu_seconds();
    std::this_thread::sleep_for(1s);  // a span to measure the server's CPU use over, not a sync
    cpu_used = cpu_seconds() - before;
  }
  INFO("CPU while out of descriptors: " << cpu_used << " s in 1 s");
  CHECK(cpu_used < 0.1);
  pending.clear();
  // with descriptors again, new clients are served once the back-off has passed
  LineClient client(running.tcp_port());
  CHECK(client.line(5000ms) == "OK MPD 0.23.5");
}
