#include <algorithm>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "chorus/security/cluster_key.hpp"
#include "loopback_cluster.hpp"

using namespace chorus;
using namespace chorus::testing;
using namespace std::chrono_literals;

namespace {

std::size_t count(const std::vector<std::string>& events, const std::string& id) {
  return static_cast<std::size_t>(std::count(events.begin(), events.end(), id));
}

/// About 8 KB: a track with the longest name and hash a peer accepts.
protocol::PlayRequest bulky_message(const std::string& from, std::uint64_t seq) {
  const protocol::TrackRef track{0, std::string(protocol::kMaxStringBytes, 'n'),
                                 std::string(protocol::kMaxStringBytes, 'h'), 0, 0, ""};
  return {from, 1, seq, track, 0, 0};
}

/// A port nothing listens on: bound, then released.
std::uint16_t closed_port() {
  boost::asio::io_context io;
  boost::asio::ip::tcp::acceptor acceptor(io, {boost::asio::ip::make_address("127.0.0.1"), 0});
  return acceptor.local_endpoint().port();
}

/// A client that completes the dialer's half of a handshake and then sends what a test wants.
struct RawPeer {
  boost::asio::io_context io;
  boost::asio::ip::tcp::socket socket{io};

  RawPeer(std::uint16_t port, const std::string& id) {
    socket.connect({boost::asio::ip::make_address("127.0.0.1"), port});
    send(protocol::Hello{{id, -1, 42, {"127.0.0.1", closed_port()}, protocol::kProtocolVersion,
                          "chorus"}});
  }
  void send(const protocol::Message& message) {
    boost::asio::write(socket, boost::asio::buffer(protocol::encode_message_frame(message)));
  }
};

std::size_t count_prefixed(const std::vector<net::PeerInfo>& peers, const std::string& prefix) {
  return static_cast<std::size_t>(std::count_if(peers.begin(), peers.end(), [&](const auto& peer) {
    return peer.id.rfind(prefix, 0) == 0;
  }));
}

}  // namespace

TEST_CASE("three nodes bootstrapping in a chain form a full mesh") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto& b = cluster.start(loopback_config("b"), a.port());
  cluster.start(loopback_config("c"), b.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  CHECK(count(a.observer.ups, "c") == 1);
}

TEST_CASE("nodes that dial each other at the same moment keep one connection each way") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto& b = cluster.start(loopback_config("b"), a.port());
  auto& c = cluster.start(loopback_config("c"), a.port());  // b and c learn of each other at once
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  cluster.run_for(300ms);  // duplicates, if any, are closed by now
  CHECK(cluster.full_mesh());
  for (auto* node : {&a, &b, &c}) {
    CHECK(node->observer.downs.empty());
    CHECK(node->observer.ups.size() == 2);
  }
}

TEST_CASE("a killed peer is marked down at once and comes back when restarted") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto& b = cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  auto port = b.port();

  cluster.kill("b");
  REQUIRE(cluster.run_until([&] { return a.state_of("b") == "down"; }, 1s));
  CHECK(count(a.observer.downs, "b") == 1);

  auto config = loopback_config("b");
  config.listen.port = port;
  cluster.start(config, a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  CHECK(count(a.observer.ups, "b") == 2);
  CHECK(a.network->peers().size() == 1);
  CHECK(a.network->membership().reconnects == 1);
}

TEST_CASE("a silent peer is declared down after three heartbeat intervals") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  cluster.start(loopback_config("b"), a.port());
  cluster.start(loopback_config("c"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));

  cluster.freeze("c");
  // Silence is counted from the last frame heard, which may come before the freeze.
  auto peers = a.network->peers();
  auto c_row = std::find_if(peers.begin(), peers.end(), [](const auto& p) { return p.id == "c"; });
  REQUIRE(c_row != peers.end());
  auto last_heard = std::chrono::steady_clock::now() - c_row->since_heard.value_or(0us);
  REQUIRE(cluster.run_until([&] { return a.state_of("c") == "down"; }, 2s));
  auto detected = std::chrono::steady_clock::now() - last_heard;
  CHECK(detected >= 150ms);  // 3 intervals of 50 ms: never before
  CHECK(a.network->membership().heartbeat_timeouts >= 1);
  CHECK(a.state_of("b") == "up");

  cluster.thaw("c");
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
}

TEST_CASE("a peer that cannot keep up is disconnected while the others get every message") {
  LoopbackCluster cluster;
  // A slow heartbeat, so that it is the queue bound, not silence, that drops the frozen peer.
  auto slow = [](const std::string& id) {
    auto config = loopback_config(id);
    config.liveness.interval = 2s;
    return config;
  };
  auto config = slow("a");
  config.connection.queue.max_frames = 16;
  auto& a = cluster.start(config);
  auto& b = cluster.start(slow("b"), a.port());
  cluster.start(slow("c"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));

  cluster.freeze("c");
  const std::uint64_t limit = 3200;  // ~26 MB: more than the kernel buffers for a frozen reader
  std::uint64_t sent = 0;
  while (sent < limit && a.state_of("c") != "down") {
    a.network->broadcast(bulky_message("a", sent++));
    cluster.run_for(1ms);
  }
  CHECK(a.state_of("c") == "down");
  CHECK(a.network->traffic().queue_overflows == 1);
  CHECK(a.state_of("b") == "up");
  REQUIRE(cluster.run_until([&] { return b.observer.messages.size() == sent; }, 5s));
}

TEST_CASE("a peer of another cluster is refused at both ends") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto config = loopback_config("x");
  config.cluster = "other";
  auto& x = cluster.start(config, a.port());
  REQUIRE(cluster.run_until([&] {
    return a.network->membership().rejected_connections >= 1 &&
           x.network->membership().rejected_connections >= 1;
  }, 3s));
  CHECK(a.observer.ups.empty());
  CHECK(x.observer.ups.empty());
}

TEST_CASE("garbage from a raw client closes that connection and nothing else") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));

  boost::asio::io_context client_io;
  boost::asio::ip::tcp::socket client(client_io);
  client.connect({boost::asio::ip::make_address("127.0.0.1"), a.port()});
  std::string garbage = "\xff\xff\xff\xffnot a frame";
  boost::asio::write(client, boost::asio::buffer(garbage));
  bool closed = false;
  std::array<char, 4096> sink{};
  std::function<void(boost::system::error_code, std::size_t)> on_read =
      [&](boost::system::error_code ec, std::size_t) {
        if (ec) closed = true;
        else client.async_read_some(boost::asio::buffer(sink), on_read);
      };
  client.async_read_some(boost::asio::buffer(sink), on_read);
  REQUIRE(cluster.run_until([&] { client_io.poll(); return closed; }, 2s));
  CHECK(a.network->traffic().decode_errors == 1);
  cluster.run_for(100ms);
  CHECK(cluster.full_mesh());
}

TEST_CASE("a peer that outruns its read budget is paced, not declared silent") {
  LoopbackCluster cluster;
  auto config = loopback_config("a");
  config.connection.rate = {100, 10, 1 << 20, 1 << 20};  // 100 frames a second
  auto& a = cluster.start(config);
  RawPeer flooder(a.port(), "flooder");
  REQUIRE(cluster.run_until([&] { return a.state_of("flooder") == "up"; }, 2s));
  // 300 heartbeats in one write: the node reads them at once and its budget hands them out over
  // 3 s, far longer than the 150 ms of silence that declare a peer down.
  std::string burst;
  for (std::int64_t i = 1; i <= 300; ++i) {
    burst += protocol::encode_message_frame(protocol::Heartbeat{"flooder", i, 0, 0});
  }
  boost::asio::write(flooder.socket, boost::asio::buffer(burst));
  cluster.run_for(1s);
  CHECK(a.state_of("flooder") == "up");
  CHECK(a.network->traffic().throttled > 0);
  CHECK(a.network->membership().heartbeat_timeouts == 0);
}

TEST_CASE("a node that leaves is marked left at once and not redialled") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto& b = cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  bool left = false;
  b.network->leave(200ms, [&] { left = true; });
  REQUIRE(cluster.run_until([&] { return left && a.state_of("b") == "left"; }, 1s));
  cluster.run_for(300ms);
  CHECK(a.state_of("b") == "left");
  CHECK(a.network->membership().reconnects == 0);
}

TEST_CASE("heartbeats measure a round-trip time for every peer") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] {
    auto peers = a.network->peers();
    return peers.size() == 1 && peers[0].rtt.has_value();
  }, 2s));
  auto rtt = *a.network->peers()[0].rtt;
  CHECK(rtt > 0us);
  CHECK(rtt < 100ms);
  CHECK(a.network->max_rtt() == rtt);
}

TEST_CASE("a link kept busy by other frames still measures its round-trip time, at both ends") {
  // As a follower's link to its leader while its clock settles: a request one way and an answer
  // the other, more often than the heartbeat interval, from the moment the link is up.
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto& b = cluster.start(loopback_config("b"), a.port());
  auto last_busy = std::chrono::steady_clock::time_point{};
  std::uint64_t id = 0;
  auto rtt_known = [](const LoopbackNode& node) {
    auto peers = node.network->peers();
    return peers.size() == 1 && peers[0].rtt.has_value();
  };
  REQUIRE(cluster.run_until([&] {
    auto now = std::chrono::steady_clock::now();
    if (now - last_busy >= 10ms) {  // a fifth of the 50 ms interval: never idle for one
      last_busy = now;
      ++id;
      a.network->send("b", protocol::TimeRequest{"a", id, 0});
      b.network->send("a", protocol::TimeResponse{"b", id, 0, 0, 0});
    }
    return rtt_known(a) && rtt_known(b);
  }, 3s));
  CHECK(*a.network->peers()[0].rtt < 100ms);
  CHECK(*b.network->peers()[0].rtt < 100ms);
  CHECK(id > 10);  // the link was kept busy for a while before both knew
}

TEST_CASE("gossip past the member cap is ignored and members never reached are forgotten") {
  LoopbackCluster cluster;
  auto config = loopback_config("a");
  config.max_members = 8;
  auto& a = cluster.start(config);
  RawPeer gossip(a.port(), "gossip");
  protocol::Discovery discovery{"gossip", {}};
  auto nowhere = closed_port();
  for (int i = 0; i < 100; ++i) {
    discovery.members.push_back({"made-up-" + std::to_string(i), 0, {"127.0.0.1", nowhere}});
  }
  gossip.send(discovery);

  std::size_t most_known = 0;
  bool gossiped = false;
  REQUIRE(cluster.run_until([&] {
    auto peers = a.network->peers();
    most_known = std::max(most_known, peers.size());
    gossiped = gossiped || count_prefixed(peers, "made-up-") > 0;
    return gossiped && count_prefixed(peers, "made-up-") == 0;
  }, 3s));
  CHECK(most_known == 8);
}

TEST_CASE("a HELLO past the member cap is refused at both ends") {
  LoopbackCluster cluster;
  auto config = loopback_config("a");
  config.max_members = 1;
  auto& a = cluster.start(config);
  cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] { return a.state_of("b") == "up"; }, 2s));
  auto& c = cluster.start(loopback_config("c"), a.port());
  REQUIRE(cluster.run_until([&] {
    return a.network->membership().rejected_connections >= 1 &&
           c.network->membership().rejected_connections >= 1;
  }, 2s));
  CHECK(a.network->peers().size() == 1);
  CHECK(c.observer.ups.empty());
}

TEST_CASE("a second live process with an id in use is refused, and joins once the first dies") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  cluster.start(loopback_config("x"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 2s));
  auto first_incarnation = a.network->peers().at(0).incarnation;

  auto& impostor = cluster.start(loopback_config("x"), a.port(), "x-again");
  REQUIRE(cluster.run_until([&] {
    return a.network->membership().rejected_connections >= 1 &&
           impostor.network->membership().rejected_connections >= 1;
  }, 2s));
  cluster.run_for(200ms);
  CHECK(a.network->peers().at(0).incarnation == first_incarnation);
  CHECK(count(a.observer.ups, "x") == 1);
  CHECK(a.observer.downs.empty());
  CHECK(impostor.observer.ups.empty());

  cluster.kill("x");  // its link closes at once: the next HELLO under "x" is a restart
  REQUIRE(cluster.run_until([&] {
    return a.state_of("x") == "up" && a.network->membership().restarts_seen == 1;
  }, 3s));
  CHECK(a.network->peers().at(0).incarnation != first_incarnation);
}

TEST_CASE("a peer down for longer than forget_down_after is forgotten") {
  LoopbackCluster cluster;
  auto config = loopback_config("a");
  config.forget_down_after = 300ms;
  auto& a = cluster.start(config);
  cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 2s));
  cluster.kill("b");
  REQUIRE(cluster.run_until([&] { return a.state_of("b") == "down"; }, 1s));
  auto down_at = std::chrono::steady_clock::now();
  REQUIRE(cluster.run_until([&] { return a.network->peers().empty(); }, 2s));
  CHECK(std::chrono::steady_clock::now() - down_at >= 300ms);
}

namespace {

net::NetworkConfig keyed_config(const std::string& id, unsigned char key_fill) {
  auto config = loopback_config(id);
  auto keys = std::make_shared<security::KeyRing>();
  keys->primary.bytes.fill(key_fill);
  config.connection.keys = keys;
  return config;
}

}  // namespace

TEST_CASE("nodes holding the cluster key form a mesh and refuse a node with another key or none") {
  LoopbackCluster cluster;
  auto& a = cluster.start(keyed_config("a", 1));
  cluster.start(keyed_config("b", 1), a.port());
  cluster.start(keyed_config("c", 1), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  CHECK(a.network->cluster_key_id() == keyed_config("x", 1).connection.keys->primary.id());

  auto& stranger = cluster.start(keyed_config("stranger", 2), a.port());
  auto& open = cluster.start(loopback_config("open"), a.port());
  REQUIRE(cluster.run_until([&] { return a.network->traffic().failed_handshakes >= 2; }, 3s));
  cluster.run_for(300ms);
  CHECK(a.state_of("stranger") == "unknown");
  CHECK(a.state_of("open") == "unknown");
  CHECK(stranger.observer.ups.empty());
  CHECK(open.observer.ups.empty());
  CHECK_FALSE(open.network->cluster_key_id());
  CHECK(count(a.observer.ups, "b") == 1);  // the members were never disturbed
}

TEST_CASE("connections that never finish their handshake are bounded per address and in all") {
  LoopbackCluster cluster;
  auto config = keyed_config("a", 1);
  config.max_unidentified_per_address = 4;
  config.max_unidentified = 6;
  auto& a = cluster.start(config);
  boost::asio::io_context client_io;
  std::vector<std::unique_ptr<boost::asio::ip::tcp::socket>> silent;
  auto open_from = [&](const std::string& address) {
    auto socket = std::make_unique<boost::asio::ip::tcp::socket>(client_io);
    socket->open(boost::asio::ip::tcp::v4());
    socket->bind({boost::asio::ip::make_address(address), 0});
    socket->connect({boost::asio::ip::make_address("127.0.0.1"), a.port()});
    silent.push_back(std::move(socket));
  };
  for (int i = 0; i < 10; ++i) open_from("127.0.0.1");
  REQUIRE(cluster.run_until([&] { return a.network->membership().unidentified_evicted == 6; }, 2s));
  for (int i = 0; i < 3; ++i) open_from("127.0.0.2");
  REQUIRE(cluster.run_until([&] { return a.network->membership().unidentified_evicted == 7; }, 2s));
  // The oldest were closed first: the first socket sees the end of its stream.
  std::array<char, 16> sink{};
  boost::system::error_code ec;
  silent.front()->read_some(boost::asio::buffer(sink), ec);
  CHECK(ec == boost::asio::error::eof);
  // A member's own handshake still gets through, and every silent one ends at the deadline.
  cluster.start(keyed_config("b", 1), a.port());
  REQUIRE(cluster.run_until([&] { return a.state_of("b") == "up"; }, 3s));
}

TEST_CASE("a member announced on the LAN is dialled at once") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  auto& b = cluster.start(loopback_config("b"));
  cluster.run_for(100ms);
  CHECK_FALSE(cluster.full_mesh());
  a.network->learn_announced({"b", 0, {"127.0.0.1", b.port()}});
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 1s));
  CHECK(count(b.observer.ups, "a") == 1);
  a.network->learn_announced({"b", 0, {"127.0.0.1", b.port()}});  // connected: nothing changes
  cluster.run_for(100ms);
  CHECK(count(a.observer.ups, "b") == 1);
  CHECK(a.observer.downs.empty());
}

TEST_CASE("an announcement of a member that is down redials it at once, whatever its back-off") {
  LoopbackCluster cluster;
  auto slow = loopback_config("a");
  slow.reconnect_first = 30s;  // without the announcement, b would not be redialled in this test
  slow.reconnect_max = 30s;
  auto& a = cluster.start(slow);
  auto& b = cluster.start(loopback_config("b"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));
  auto port = b.port();
  cluster.kill("b");
  REQUIRE(cluster.run_until([&] { return a.state_of("b") == "down"; }, 1s));

  auto config = loopback_config("b");
  config.listen.port = port;
  cluster.start(config);  // back, but it does not know a: only a's redial can reconnect them
  cluster.run_for(500ms);
  CHECK(a.state_of("b") == "down");

  a.network->learn_announced({"b", 0, {"127.0.0.1", port}});
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 1s));
  CHECK(count(a.observer.ups, "b") == 2);
}

TEST_CASE("an announcement of this node itself is ignored") {
  LoopbackCluster cluster;
  auto& a = cluster.start(loopback_config("a"));
  a.network->learn_announced({"a", 0, {"127.0.0.1", a.port()}});
  cluster.run_for(100ms);
  CHECK(a.network->peers().empty());
}
