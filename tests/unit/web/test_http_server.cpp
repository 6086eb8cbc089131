// The web server in-process, with a fake ControlPort and Beast clients: the page, /metrics, the
// token, the WebSocket's pushes and commands, and its bounds.

#include <catch2/catch.hpp>

#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "process_limits.hpp"
#include "chorus/web/http_server.hpp"
#include "served.hpp"
#include "web_client.hpp"

namespace {

using namespace chorus;
using namespace chorus::test;

/// The default configuration with some limits changed by `change`.
web::HttpConfig with_limits(void (*change)(web::HttpLimits&)) {
  web::HttpConfig config;
  change(config.limits);
  return config;
}

}  // namespace

TEST_CASE("the page, /metrics, HEAD, 404 and 405") {
  Served served;
  auto page = get(served.number(), "/");
  CHECK(page.result() == http::status::ok);
  CHECK(page[http::field::content_type] == "text/html; charset=utf-8");
  CHECK(page.body().find("id=\"pause\"") != std::string::npos);
  CHECK(page.body().find("http://") == std::string::npos);  // nothing loaded from elsewhere
  CHECK(page[http::field::cache_control] == "no-store");

  auto head = request(served.number(), http::verb::head, "/");
  CHECK(head.result() == http::status::ok);
  CHECK(head[http::field::content_length] == std::to_string(page.body().size()));
  CHECK(head.body().empty());

  auto metrics = get(served.number(), "/metrics");
  CHECK(metrics.result() == http::status::ok);
  CHECK(metrics[http::field::content_type].starts_with("text/plain; version=0.0.4"));
  CHECK(metrics.body().find("\nchorus_leader 1\n") != std::string::npos);
  CHECK(metrics.body().find("chorus_room_volume{room=\"hall\"} 50\n") != std::string::npos);

  CHECK(get(served.number(), "/nothing").result() == http::status::not_found);
  CHECK(request(served.number(), http::verb::post, "/").result() == http::status::method_not_allowed);
  CHECK(request(served.number(), http::verb::delete_, "/metrics").result() == http::status::method_not_allowed);
  CHECK(get(served.number(), "/ws").result() == http::status::upgrade_required);
}

TEST_CASE("with a token, the page, /metrics and the WebSocket need it") {
  web::HttpConfig config;
  config.token = "s3cret-token";
  Served served(config);
  CHECK(get(served.number(), "/").result() == http::status::unauthorized);
  CHECK(get(served.number(), "/metrics").result() == http::status::unauthorized);
  CHECK(get(served.number(), "/?token=s3cret-tokeX").result() == http::status::unauthorized);
  CHECK(get(served.number(), "/?token=s3cret").result() == http::status::unauthorized);
  CHECK(get(served.number(), "/", "Bearer wrong").result() == http::status::unauthorized);
  CHECK(get(served.number(), "/?token=s3cret-token").result() == http::status::ok);
  CHECK(get(served.number(), "/?a=1&token=s3cret%2Dtoken").result() == http::status::ok);
  CHECK(get(served.number(), "/metrics", "Bearer s3cret-token").result() == http::status::ok);
  CHECK(get(served.number(), "/nothing").result() == http::status::not_found);

  WsClient refused(served.number());
  CHECK(refused.handshake("/ws"));
  CHECK(refused.handshake_response().result() == http::status::unauthorized);
  WsClient admitted(served.number());
  REQUIRE_FALSE(admitted.handshake("/ws?token=s3cret-token"));
  CHECK(admitted.read_type("view").at("self") == "kitchen");
}

TEST_CASE("a WebSocket opened from another site's page is refused") {
  Served served;
  WsClient foreign(served.number());
  CHECK(foreign.handshake("/ws", "http://elsewhere.example"));
  CHECK(foreign.handshake_response().result() == http::status::forbidden);
  WsClient own(served.number());
  CHECK_FALSE(own.handshake("/ws", "http://127.0.0.1:" + std::to_string(served.number())));
}

TEST_CASE("a page gets the view on connect, a command's reply, and the view after the change") {
  Served served;
  WsClient client(served.number());
  REQUIRE_FALSE(client.handshake());
  auto view = client.read_type("view");
  CHECK(view.at("now").at("status") == "playing");
  CHECK(view.at("rooms").as_array().size() == 2);
  CHECK(view.at("library").at("tracks") == 300);
  CHECK(wait_until([&] { return served.port.clients == 1; }));

  REQUIRE_FALSE(client.send(R"({"id":7,"cmd":"pause"})"));
  auto reply = client.read_type("reply");
  CHECK(reply.at("id") == 7);
  CHECK(reply.at("ok") == true);
  REQUIRE(served.port.commands().size() == 1);
  CHECK(served.port.commands()[0].kind == cli::CommandKind::pause);
  CHECK(client.read_type("view").at("now").at("status") == "paused");

  REQUIRE_FALSE(client.send(R"({"id":8,"cmd":"volume","room":"hall","volume":30})"));
  CHECK(client.read_type("reply").at("id") == 8);
  const auto after = client.read_type("view");
  CHECK(after.at("rooms").as_array()[1].at("volume") == 30);
}

TEST_CASE("a refused command's outcome reaches the page") {
  Served served;
  served.port.answer = [](const cli::Command&) {
    return control::Outcome{.ok = false, .refusal = control::Refusal::not_now, .text = "error: stopped",
                            .item_id = {}, .job = {}};
  };
  WsClient client(served.number());
  REQUIRE_FALSE(client.handshake());
  REQUIRE_FALSE(client.send(R"({"id":"s","cmd":"seek","seconds":12})"));
  const auto reply = client.read_type("reply");
  CHECK(reply.at("id") == "s");
  CHECK(reply.at("ok") == false);
  CHECK(reply.at("refusal") == "not_now");
  CHECK(reply.at("text") == "error: stopped");
}

TEST_CASE("a change notice pushes the new view to every page") {
  Served served;
  WsClient first(served.number());
  WsClient second(served.number());
  REQUIRE_FALSE(first.handshake());
  REQUIRE_FALSE(second.handshake());
  CHECK(first.read_type("view").at("epoch") == 3);
  CHECK(second.read_type("view").at("epoch") == 3);
  auto changed = two_rooms();
  changed.epoch = 4;
  changed.leader = "hall";
  served.port.change(changed);
  CHECK(first.read_type("view").at("epoch") == 4);
  const auto pushed = second.read_type("view");
  CHECK(pushed.at("epoch") == 4);
  CHECK(pushed.at("leader") == "hall");
}

TEST_CASE("bad messages get an error and the connection stays") {
  Served served;
  WsClient client(served.number());
  REQUIRE_FALSE(client.handshake());
  REQUIRE_FALSE(client.send("nonsense"));
  CHECK(std::string(client.read_type("error").at("text").as_string()).starts_with("not JSON"));
  REQUIRE_FALSE(client.send(R"({"id":2,"cmd":"explode"})"));
  const auto error = client.read_type("error");
  CHECK(error.at("id") == 2);
  CHECK(error.at("text") == "unknown command 'explode'");
  CHECK(served.port.commands().empty());

  REQUIRE_FALSE(client.send(R"({"id":3,"cmd":"library","query":"track-11","page":1})"));
  const auto page = client.read_type("library");
  CHECK(page.at("id") == 3);
  CHECK(page.at("total") == 100);  // track-1100 .. track-1199
  CHECK(page.at("tracks").as_array().size() == 50);
}

TEST_CASE("an oversized header is answered 431") {
  Served served(with_limits([](web::HttpLimits& l) { l.header_bytes = 2048; }));
  RawClient client(served.number());
  client.write("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: " + std::string(4096, 'p') + "\r\n\r\n");
  const auto answer = client.read_until_closed(5s);
  REQUIRE(answer);
  CHECK(answer->starts_with("HTTP/1.1 431"));
  CHECK(get(served.number(), "/").result() == http::status::ok);
}

TEST_CASE("a GET with a body past the limit is answered 413") {
  Served served(with_limits([](web::HttpLimits& l) { l.body_bytes = 16; }));
  RawClient client(served.number());
  client.write("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b'));
  const auto answer = client.read_until_closed(5s);
  REQUIRE(answer);
  CHECK(answer->starts_with("HTTP/1.1 413"));
}

TEST_CASE("a silent connection is closed after the request timeout") {
  Served served(with_limits([](web::HttpLimits& l) { l.request_timeout = 200ms; }));
  RawClient silent(served.number());
  const auto start = std::chrono::steady_clock::now();
  const auto answer = silent.read_until_closed(5s);
  REQUIRE(answer);  // closed, not left open
  CHECK(answer->empty());
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);

  // A request sent a byte at a time is cut off at the same deadline.
  RawClient trickle(served.number());
  trickle.write("GET / HT");
  CHECK(trickle.read_until_closed(5s));
}

TEST_CASE("past the connection cap a connection is closed at once, and a freed place is taken again") {
  Served served(with_limits([](web::HttpLimits& l) { l.max_connections = 2; l.request_timeout = 20'000ms; }));
  RawClient first(served.number());
  RawClient second(served.number());
  RawClient third(served.number());
  const auto refused = third.read_until_closed(3s);
  REQUIRE(refused);
  CHECK(refused->empty());
  first.close();
  CHECK(wait_until([&] { return get(served.number(), "/").result() == http::status::ok; }));
}

TEST_CASE("an idle page is pinged and stays, a silent one is closed") {
  Served served(with_limits([](web::HttpLimits& l) { l.idle_timeout = 400ms; }));
  // A raw client that completes the handshake and then never reads nor answers a ping.
  RawClient silent(served.number());
  silent.write("GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n");
  const auto start = std::chrono::steady_clock::now();
  const auto received = silent.read_until_closed(5s);
  REQUIRE(received);
  CHECK(received->starts_with("HTTP/1.1 101"));
  CHECK(std::chrono::steady_clock::now() - start >= 300ms);
  CHECK(wait_until([&] { return served.port.clients == 0; }));

  // A page that answers pings (Beast's client does while it reads) stays past the idle timeout.
  WsClient idle(served.number());
  REQUIRE_FALSE(idle.handshake());
  idle.read_type("view");
  CHECK(idle.stays_open_for(1500ms));
  CHECK(idle.pings >= 2);
  CHECK(served.port.clients == 1);
}

TEST_CASE("an oversized WebSocket message closes that connection only") {
  Served served(with_limits([](web::HttpLimits& l) { l.message_bytes = 1024; }));
  WsClient other(served.number());
  REQUIRE_FALSE(other.handshake());
  WsClient client(served.number());
  REQUIRE_FALSE(client.handshake());
  client.read_type("view");
  client.send(R"({"cmd":"library","query":")" + std::string(2000, 'q') + R"("})");
  while (client.read(5s)) {
  }
  CHECK_FALSE(client.timed_out);
  CHECK(client.error);
  other.read_type("view");
  REQUIRE_FALSE(other.send(R"({"id":1,"cmd":"next"})"));
  CHECK(other.read_type("reply").at("ok") == true);
}

TEST_CASE("a page that asks but never reads is closed when its answers pile up") {
  Served served(with_limits([](web::HttpLimits& l) { l.write_queue_bytes = 64 * 1024; }));
  WsClient hoarder(served.number(), 4096);
  REQUIRE_FALSE(hoarder.handshake());
  constexpr int kAsked = 3000;  // 3000 pages of ~9 KB: far past every buffer on the way
  int sent = 0;
  while (sent < kAsked && !hoarder.send(R"({"cmd":"library","page":1})")) ++sent;
  int answered = 0;
  while (auto text = hoarder.read(5s)) answered += text->find("\"library\"") != std::string::npos;
  CHECK_FALSE(hoarder.timed_out);
  CHECK(answered < kAsked);
  CHECK(wait_until([&] { return served.port.clients == 0; }));
  CHECK(get(served.number(), "/").result() == http::status::ok);
}

TEST_CASE("commands in flight per page are bounded") {
  Served served(with_limits([](web::HttpLimits& l) { l.commands_in_flight = 2; }));
  served.port.hold();
  WsClient client(served.number());
  REQUIRE_FALSE(client.handshake());
  for (int i = 1; i <= 5; ++i) REQUIRE_FALSE(client.send(R"({"id":)" + std::to_string(i) + R"(,"cmd":"next"})"));
  for (int i = 3; i <= 5; ++i) {
    const auto refused = client.read_type("error");
    CHECK(refused.at("id") == i);
    CHECK(std::string(refused.at("text").as_string()).starts_with("too many commands in flight"));
  }
  CHECK(served.port.commands().size() == 2);
  served.port.release();
  CHECK(client.read_type("reply").at("id") == 1);
  CHECK(client.read_type("reply").at("id") == 2);
  // Answered: the page may send again.
  REQUIRE_FALSE(client.send(R"({"id":6,"cmd":"next"})"));
  CHECK(client.read_type("reply").at("id") == 6);
}

TEST_CASE("the server unsubscribes and gives back its clients when it goes") {
  Served served;
  WsClient client(served.number());
  REQUIRE_FALSE(client.handshake());
  client.read_type("view");
  CHECK(wait_until([&] { return served.port.clients == 1 && served.port.listener_count() == 1; }));
  served.stop_server();
  CHECK(served.port.clients == 0);
  CHECK(served.port.listener_count() == 0);
  CHECK_FALSE(client.read(5s));
  CHECK_FALSE(client.timed_out);  // closed by the server, not left hanging
}

using chorus::test::cpu_seconds;
using chorus::test::DescriptorsExhausted;

TEST_CASE("a failing accept backs off instead of spinning, and serves again once it can") {
  if (chorus::test::kSanitized) {
    WARN("not run under the sanitizers: they need descriptors of their own");
    return;
  }
  // In a child process: the descriptor limit is the whole process's. The parent is the client.
  int to_parent[2];
  REQUIRE(::pipe(to_parent) == 0);
  int to_child[2];
  REQUIRE(::pipe(to_child) == 0);
  std::fflush(nullptr);  // nothing buffered is written twice
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    // The child never returns into the test runner: whatever happens, it exits here.
    int status = 1;
    try {
      Served served;
      const std::uint16_t number = served.number();
      double cpu = 0;
      {
        DescriptorsExhausted exhausted;
        (void)!::write(to_parent[1], &number, sizeof number);
        char go = 0;
        (void)!::read(to_child[0], &go, 1);  // the parent's connections are pending
        const double before = cpu_seconds();
        std::this_thread::sleep_for(1s);  // the window measured: accepts failing all along
        cpu = cpu_seconds() - before;
      }
      (void)!::write(to_parent[1], &cpu, sizeof cpu);
      char done = 0;
      (void)!::read(to_child[0], &done, 1);  // the parent got its answers
      status = 0;
    } catch (...) {
    }
    ::_exit(status);
  }
  std::uint16_t number = 0;
  REQUIRE(::read(to_parent[0], &number, sizeof number) == sizeof number);
  std::vector<std::unique_ptr<RawClient>> clients;
  for (int i = 0; i < 3; ++i) {
    clients.push_back(std::make_unique<RawClient>(number));
    clients.back()->write("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  }
  REQUIRE(::write(to_child[1], "g", 1) == 1);
  double cpu = -1;
  REQUIRE(::read(to_parent[0], &cpu, sizeof cpu) == sizeof cpu);
  // A busy loop would take the whole second; the back-off retries a few times.
  CHECK(cpu < 0.2);
  for (auto& client : clients) {
    const auto answer = client->read_until_closed(10s);
    REQUIRE(answer);
    CHECK(answer->starts_with("HTTP/1.1 200"));
  }
  REQUIRE(::write(to_child[1], "d", 1) == 1);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  for (const int fd : {to_parent[0], to_parent[1], to_child[0], to_child[1]}) ::close(fd);
}
