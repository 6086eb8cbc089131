#include <array>

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "chorus/net/connection.hpp"
#include "chorus/protocol/frame.hpp"
#include "chorus/security/cluster_key.hpp"
#include "chorus/time_base.hpp"

using namespace chorus;
using namespace chorus::net;
namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

struct Recorder final : ConnectionObserver {
  std::vector<protocol::Message> messages;
  std::vector<Clock::time_point> received;
  std::optional<std::string> closed;
  void on_message(Connection&, protocol::Message message, Clock::time_point at) override {
    messages.push_back(std::move(message));
    received.push_back(at);
  }
  void on_closed(Connection&, const std::string& reason) override { closed = reason; }
};

/// Two Connections joined by a loopback TCP connection, `a` the dialer.
struct Pair {
  asio::io_context io;
  TrafficCounters counters;
  Recorder a_seen, b_seen;
  std::shared_ptr<Connection> a, b;

  Pair() {
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket dialer(io), accepted(io);
    dialer.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    a = std::make_shared<Connection>(std::move(dialer), true, a_seen, counters, ConnectionPolicy{});
    b = std::make_shared<Connection>(std::move(accepted), false, b_seen, counters, ConnectionPolicy{});
    a->start();
    b->start();
  }

  bool run_until(const std::function<bool()>& done) {
    auto deadline = Clock::now() + std::chrono::seconds(3);
    while (!done() && Clock::now() < deadline) io.run_for(std::chrono::milliseconds(1));
    return done();
  }
};

std::shared_ptr<const std::string> frame(const protocol::Message& message) {
  return std::make_shared<const std::string>(protocol::encode_message_frame(message));
}

ConnectionPolicy keyed_policy(unsigned char fill = 7) {
  security::KeyRing keys;
  keys.primary.bytes.fill(fill);
  ConnectionPolicy policy;
  policy.keys = std::make_shared<const security::KeyRing>(keys);
  return policy;
}

/// A keyed Connection accepting from a raw socket the test drives.
struct KeyedAcceptor {
  asio::io_context io;
  TrafficCounters counters;
  Recorder seen;
  tcp::socket raw{io};
  std::shared_ptr<Connection> connection;

  KeyedAcceptor() {
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket accepted(io);
    raw.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    connection = std::make_shared<Connection>(std::move(accepted), false, seen, counters, keyed_policy());
    connection->start();
  }

  bool run_until_closed() {
    auto deadline = Clock::now() + std::chrono::seconds(3);
    while (!seen.closed && Clock::now() < deadline) io.run_for(std::chrono::milliseconds(1));
    return seen.closed.has_value();
  }

  /// Everything the connection sent the raw socket before closing it.
  std::string received() {
    std::string out;
    boost::system::error_code ec;
    std::array<char, 4096> buffer{};
    while (!ec) out.append(buffer.data(), raw.read_some(asio::buffer(buffer), ec));
    return out;
  }
};

}  // namespace

TEST_CASE("a retired connection delivers what was in flight both ways before it closes") {
  Pair pair;
  for (std::uint64_t i = 0; i < 50; ++i) pair.a->send(frame(protocol::Election{"a", i}));
  pair.a->retire("duplicate connection");
  CHECK_FALSE(pair.a->send(frame(protocol::Leave{"a"})));  // no new frames once retiring
  // The other end keeps sending until it sees the end of the stream.
  for (std::uint64_t i = 0; i < 50; ++i) pair.b->send(frame(protocol::Coordinator{"b", i}));
  REQUIRE(pair.run_until([&] { return pair.a_seen.closed && pair.b_seen.closed; }));
  CHECK(pair.b_seen.messages.size() == 50);
  CHECK(pair.a_seen.messages.size() == 50);
  CHECK(*pair.a_seen.closed == "duplicate connection");
}

TEST_CASE("a frame sent with a stamp is stamped when its write starts") {
  Pair pair;
  auto queued_at = now_us();
  pair.a->send_stamped([](std::int64_t stamp_us) {
    return protocol::encode_message_frame(protocol::TimeRequest{"a", 1, stamp_us});
  });
  REQUIRE(pair.run_until([&] { return pair.b_seen.messages.size() == 1; }));
  const auto& request = std::get<protocol::TimeRequest>(pair.b_seen.messages[0]);
  auto received_us = to_us(pair.b_seen.received[0]);
  CHECK(request.t0_us >= queued_at);
  CHECK(request.t0_us <= received_us);
}

TEST_CASE("a full send queue disconnects the peer instead of waiting") {
  Pair pair;
  Recorder slow_seen;
  tcp::acceptor acceptor(pair.io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket dialer(pair.io), accepted(pair.io);
  dialer.connect(acceptor.local_endpoint());
  acceptor.accept(accepted);  // `accepted` is never read: a peer that does not keep up
  auto fast = std::make_shared<Connection>(std::move(dialer), true, slow_seen, pair.counters,
                                           ConnectionPolicy{QueueLimits{8, 1u << 20}, {}, {}});
  fast->start();
  bool refused = false;
  for (int i = 0; i < 9 && !refused; ++i) refused = !fast->send(frame(protocol::Leave{"a"}));
  CHECK(refused);
  CHECK_FALSE(fast->is_open());
  CHECK(pair.counters.queue_overflows == 1);
  REQUIRE(pair.run_until([&] { return slow_seen.closed.has_value(); }));
  CHECK(slow_seen.closed->find("overflow") != std::string::npos);
}

TEST_CASE("two keyed ends prove the key and pass frames both ways") {
  asio::io_context io;
  TrafficCounters counters;
  Recorder a_seen, b_seen;
  tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
  tcp::socket dialer(io), accepted(io);
  dialer.connect(acceptor.local_endpoint());
  acceptor.accept(accepted);
  auto a = std::make_shared<Connection>(std::move(dialer), true, a_seen, counters, keyed_policy());
  auto b = std::make_shared<Connection>(std::move(accepted), false, b_seen, counters, keyed_policy());
  a->start();
  b->start();
  a->send(frame(protocol::Election{"a", 1}));
  b->send(frame(protocol::Coordinator{"b", 2}));
  auto deadline = Clock::now() + std::chrono::seconds(3);
  while ((a_seen.messages.empty() || b_seen.messages.empty()) && Clock::now() < deadline) {
    io.run_for(std::chrono::milliseconds(1));
  }
  REQUIRE(b_seen.messages.size() == 1);
  REQUIRE(a_seen.messages.size() == 1);
  CHECK(std::get<protocol::Election>(b_seen.messages[0]).epoch == 1);
  CHECK(std::get<protocol::Coordinator>(a_seen.messages[0]).epoch == 2);
  CHECK(a->proven_key() == keyed_policy().keys->primary.id());
  CHECK(counters.failed_handshakes == 0);
}

TEST_CASE("a keyed acceptor fed a plain frame fails authentication and answers nothing") {
  KeyedAcceptor end;
  protocol::Hello hello{{"stranger", 0, 1, {"127.0.0.1", 9}, protocol::kProtocolVersion, "chorus"}};
  asio::write(end.raw, asio::buffer(protocol::encode_message_frame(hello)));
  REQUIRE(end.run_until_closed());
  CHECK(end.connection->authentication_failed());
  CHECK(end.counters.failed_handshakes == 1);
  CHECK(end.seen.messages.empty());
  CHECK(end.received().empty());
}

TEST_CASE("a keyed acceptor whose peer stops in the middle of its HELLO fails authentication") {
  KeyedAcceptor end;
  asio::write(end.raw, asio::buffer(std::string("CHRS\x01")));
  end.raw.shutdown(tcp::socket::shutdown_send);
  REQUIRE(end.run_until_closed());
  CHECK(end.connection->authentication_failed());
  CHECK(end.counters.failed_handshakes == 1);
}

TEST_CASE("a keyed acceptor whose peer closes without a byte does not count a failed proof") {
  // What a member sees when another member gives up a dial because their link already exists.
  KeyedAcceptor end;
  end.raw.shutdown(tcp::socket::shutdown_send);
  REQUIRE(end.run_until_closed());
  CHECK_FALSE(end.connection->authentication_failed());
  CHECK(end.counters.failed_handshakes == 0);
  CHECK(end.seen.closed->find("before the keyed handshake") != std::string::npos);
}
