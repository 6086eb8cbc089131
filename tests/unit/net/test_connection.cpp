#include <array>
#include <thread>

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
  std::vector<Clock::time_point> received;   ///< when the bytes were read
  std::vector<Clock::time_point> delivered;  ///< when the message reached the observer
  std::optional<std::string> closed;
  void on_message(Connection&, protocol::Message message, Clock::time_point at) override {
    messages.push_back(std::move(message));
    received.push_back(at);
    delivered.push_back(Clock::now());
  }
  void on_closed(Connection&, const std::string& reason) override { closed = reason; }
};

/// Two Connections joined by a loopback TCP connection, `a` the dialer.
struct Pair {
  asio::io_context io;
  TrafficCounters counters;
  Recorder a_seen, b_seen;
  std::shared_ptr<Connection> a, b;

  explicit Pair(const ConnectionPolicy& a_policy = {}, const ConnectionPolicy& b_policy = {}) {
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket dialer(io), accepted(io);
    dialer.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    a = std::make_shared<Connection>(std::move(dialer), true, a_seen, counters, a_policy);
    b = std::make_shared<Connection>(std::move(accepted), false, b_seen, counters, b_policy);
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

ConnectionPolicy keyed(unsigned char fill) {
  auto keys = std::make_shared<security::KeyRing>();
  keys->primary.bytes.fill(fill);
  ConnectionPolicy policy;
  policy.keys = keys;
  return policy;
}

/// A Connection (with `policy`) accepting from a raw socket the test drives.
struct RawPeer {
  asio::io_context io;
  TrafficCounters counters;
  Recorder seen;
  tcp::socket raw{io};
  std::shared_ptr<Connection> connection;

  explicit RawPeer(ConnectionPolicy policy) {
    tcp::acceptor acceptor(io, {asio::ip::make_address("127.0.0.1"), 0});
    tcp::socket accepted(io);
    raw.connect(acceptor.local_endpoint());
    acceptor.accept(accepted);
    connection = std::make_shared<Connection>(std::move(accepted), false, seen, counters, std::move(policy));
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

TEST_CASE("a stamped frame is the kernel's when send_stamped returns, open or keyed") {
  for (bool keyed_link : {false, true}) {
    Pair pair(keyed_link ? keyed(3) : ConnectionPolicy{}, keyed_link ? keyed(3) : ConnectionPolicy{});
    REQUIRE(pair.run_until([&] { return !keyed_link || (pair.a->proven_key() && pair.b->proven_key()); }));
    const auto frames_before = pair.counters.frames_out;
    REQUIRE(pair.a->send_stamped([](std::int64_t stamp_us) {
      return protocol::encode_message_frame(protocol::TimeRequest{"a", 1, stamp_us});
    }));
    // Not one turn of the io thread in between: the stamp is the instant the frame left.
    CHECK(pair.counters.frames_out == frames_before + 1);
    REQUIRE(pair.run_until([&] { return pair.b_seen.messages.size() == 1; }));
    CHECK(std::get<protocol::TimeRequest>(pair.b_seen.messages[0]).id == 1);
  }
}

TEST_CASE("a message's receive instant is when its bytes arrived, not when the io thread read them") {
  RawPeer peer(ConnectionPolicy{});
  auto& io = peer.io;
  auto& seen = peer.seen;
  // Writes a frame while the io thread is busy elsewhere for `busy`, then lets it read.
  auto send_while_busy = [&](std::chrono::milliseconds busy) {
    asio::write(peer.raw, asio::buffer(*frame(protocol::Leave{"a"})));
    const auto written = Clock::now();
    std::this_thread::sleep_for(busy);
    const auto count = seen.messages.size();
    auto deadline = Clock::now() + std::chrono::seconds(3);
    while (seen.messages.size() == count && Clock::now() < deadline) {
      io.run_for(std::chrono::milliseconds(1));
    }
    REQUIRE(seen.messages.size() == count + 1);
    return written;
  };
  // The kernel turns stamping on for the whole machine a moment after the first socket asks
  // (a deferred work item); until then frames arrive unstamped.
  for (int attempt = 0; attempt < 100; ++attempt) {
    send_while_busy(std::chrono::milliseconds(5));
    if (seen.delivered.back() - seen.received.back() >= std::chrono::milliseconds(5)) break;
  }
  const auto written = send_while_busy(std::chrono::milliseconds(30));
  CHECK(seen.received.back() <= written + std::chrono::milliseconds(1));
  CHECK(seen.delivered.back() - seen.received.back() >= std::chrono::milliseconds(30));
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

TEST_CASE("a keyed link delivers frames both ways, those queued during the handshake too") {
  Pair pair(keyed(1), keyed(1));
  // Queued at once: they wait for both proofs, then go sealed.
  for (std::uint64_t i = 0; i < 20; ++i) pair.a->send(frame(protocol::Election{"a", i}));
  for (std::uint64_t i = 0; i < 20; ++i) pair.b->send(frame(protocol::Coordinator{"b", i}));
  REQUIRE(pair.run_until([&] { return pair.a_seen.messages.size() == 20 && pair.b_seen.messages.size() == 20; }));
  for (std::uint64_t i = 0; i < 20; ++i) {
    CHECK(std::get<protocol::Election>(pair.b_seen.messages[i]).epoch == i);
    CHECK(std::get<protocol::Coordinator>(pair.a_seen.messages[i]).epoch == i);
  }
  REQUIRE(pair.a->proven_key());
  CHECK(*pair.a->proven_key() == keyed(1).keys->primary.id());
  CHECK(pair.b->proven_key() == pair.a->proven_key());
  CHECK(pair.counters.failed_handshakes == 0);
}

TEST_CASE("a keyed link stamps a frame when its write starts") {
  Pair pair(keyed(1), keyed(1));
  REQUIRE(pair.run_until([&] { return pair.a->proven_key() && pair.b->proven_key(); }));
  auto queued_at = now_us();
  pair.a->send_stamped([](std::int64_t stamp_us) {
    return protocol::encode_message_frame(protocol::TimeRequest{"a", 1, stamp_us});
  });
  REQUIRE(pair.run_until([&] { return pair.b_seen.messages.size() == 1; }));
  const auto& request = std::get<protocol::TimeRequest>(pair.b_seen.messages[0]);
  CHECK(request.t0_us >= queued_at);
  CHECK(request.t0_us <= to_us(pair.b_seen.received[0]));
}

TEST_CASE("a retired keyed connection delivers what was in flight both ways before it closes") {
  Pair pair(keyed(2), keyed(2));
  for (std::uint64_t i = 0; i < 50; ++i) pair.a->send(frame(protocol::Election{"a", i}));
  pair.a->retire("duplicate connection");
  for (std::uint64_t i = 0; i < 50; ++i) pair.b->send(frame(protocol::Coordinator{"b", i}));
  REQUIRE(pair.run_until([&] { return pair.a_seen.closed && pair.b_seen.closed; }));
  CHECK(pair.b_seen.messages.size() == 50);
  CHECK(pair.a_seen.messages.size() == 50);
}

TEST_CASE("ends holding different keys deliver nothing and report the failed proof") {
  Pair pair(keyed(1), keyed(2));
  pair.a->send(frame(protocol::Election{"a", 1}));
  REQUIRE(pair.run_until([&] { return pair.a_seen.closed && pair.b_seen.closed; }));
  CHECK(pair.a_seen.messages.empty());
  CHECK(pair.b_seen.messages.empty());
  CHECK(pair.a->authentication_failed());
  CHECK(pair.b->authentication_failed());
  CHECK_THAT(*pair.b_seen.closed, Catch::Contains("another cluster key"));
  CHECK_THAT(*pair.a_seen.closed, Catch::Contains("closed the link during the keyed handshake"));
  CHECK(pair.counters.failed_handshakes == 2);
}

TEST_CASE("a keyed node and an open node refuse each other, whichever dials") {
  SECTION("open dialer") {
    Pair pair({}, keyed(1));
    for (std::uint64_t i = 0; i < 3; ++i) pair.a->send(frame(protocol::Election{"a", i}));  // > 48 bytes
    REQUIRE(pair.run_until([&] { return pair.a_seen.closed && pair.b_seen.closed; }));
    CHECK(pair.b_seen.messages.empty());
    CHECK(pair.b->authentication_failed());
    CHECK_THAT(*pair.b_seen.closed, Catch::Contains("does not open with the keyed handshake"));
  }
  SECTION("keyed dialer") {
    Pair pair(keyed(1), {});
    REQUIRE(pair.run_until([&] { return pair.a_seen.closed && pair.b_seen.closed; }));
    CHECK(pair.a_seen.messages.empty());
    CHECK(pair.b_seen.messages.empty());
    CHECK(pair.b->authentication_failed());
    CHECK_THAT(*pair.b_seen.closed, Catch::Contains("requires a cluster key"));
  }
}

TEST_CASE("a peer sending faster than its budget is slowed, and nothing is lost or reordered") {
  ConnectionPolicy slow;
  slow.rate = RateLimits{200, 10, 1 << 20, 1 << 20};
  Pair pair({}, slow);
  for (std::uint64_t i = 0; i < 40; ++i) pair.a->send(frame(protocol::Election{"a", i}));
  REQUIRE(pair.run_until([&] { return pair.b_seen.messages.size() == 40; }));
  for (std::uint64_t i = 0; i < 40; ++i) CHECK(std::get<protocol::Election>(pair.b_seen.messages[i]).epoch == i);
  CHECK(pair.counters.throttled > 0);
  // The burst of 10 at once, then 200 a second: the 40th frame cannot arrive before 145 ms.
  auto spread = pair.b_seen.delivered.back() - pair.b_seen.delivered.front();
  CHECK(spread >= std::chrono::milliseconds(100));
  CHECK_FALSE(pair.b_seen.closed);
}

protocol::Discovery large_discovery() {
  protocol::Discovery discovery{"a", {}};
  for (int i = 0; i < 400; ++i) discovery.members.push_back({"member-" + std::to_string(i), i, {"10.0.0.1", 7600}});
  REQUIRE(protocol::encode_message_frame(discovery).size() > 16 * 1024);
  return discovery;
}

TEST_CASE("before it has identified itself a peer may send only small frames") {
  SECTION("an oversized first frame closes the link") {
    Pair pair;
    pair.a->send(frame(large_discovery()));
    REQUIRE(pair.run_until([&] { return pair.b_seen.closed.has_value(); }));
    CHECK(pair.b_seen.messages.empty());
    CHECK_THAT(*pair.b_seen.closed, Catch::Contains("exceeds the cap"));
  }
  SECTION("once identified, the same frame passes") {
    Pair pair;
    pair.b->identify("a", 1);
    pair.a->send(frame(large_discovery()));
    REQUIRE(pair.run_until([&] { return pair.b_seen.messages.size() == 1; }));
  }
}

TEST_CASE("a keyed acceptor fed a plain frame fails authentication and answers nothing") {
  RawPeer end(keyed(7));
  protocol::Hello hello{{"stranger", 0, 1, {"127.0.0.1", 9}, protocol::kProtocolVersion, "chorus"}};
  asio::write(end.raw, asio::buffer(protocol::encode_message_frame(hello)));
  REQUIRE(end.run_until_closed());
  CHECK(end.connection->authentication_failed());
  CHECK(end.counters.failed_handshakes == 1);
  CHECK(end.seen.messages.empty());
  CHECK(end.received().empty());
}

TEST_CASE("a keyed acceptor whose peer stops in the middle of its HELLO fails authentication") {
  RawPeer end(keyed(7));
  asio::write(end.raw, asio::buffer(std::string("CHRS\x01")));
  end.raw.shutdown(tcp::socket::shutdown_send);
  REQUIRE(end.run_until_closed());
  CHECK(end.connection->authentication_failed());
  CHECK(end.counters.failed_handshakes == 1);
}

TEST_CASE("a keyed acceptor whose peer closes without a byte does not count a failed proof") {
  // What a member sees when another member gives up a dial because their link already exists.
  RawPeer end(keyed(7));
  end.raw.shutdown(tcp::socket::shutdown_send);
  REQUIRE(end.run_until_closed());
  CHECK_FALSE(end.connection->authentication_failed());
  CHECK(end.counters.failed_handshakes == 0);
  CHECK(end.seen.closed->find("before the keyed handshake") != std::string::npos);
}
