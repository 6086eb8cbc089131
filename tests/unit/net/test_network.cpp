#include <algorithm>

#include <boost/asio/connect.hpp>
#include <boost/asio/read.hpp>
#include <boost/asio/write.hpp>
#include <catch2/catch.hpp>

#include "loopback_cluster.hpp"

using namespace chorus;
using namespace chorus::testing;
using namespace std::chrono_literals;

namespace {

std::size_t count(const std::vector<std::string>& events, const std::string& id) {
  return static_cast<std::size_t>(std::count(events.begin(), events.end(), id));
}

protocol::ControlRequest bulky_message(const std::string& from, std::uint64_t id) {
  return {from, id, "flood", std::vector<std::string>(16, std::string(4000, 'x'))};
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
  auto frozen_at = std::chrono::steady_clock::now();
  REQUIRE(cluster.run_until([&] { return a.state_of("c") == "down"; }, 2s));
  auto detected = std::chrono::steady_clock::now() - frozen_at;
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
  config.queue_limits.max_frames = 16;
  auto& a = cluster.start(config);
  auto& b = cluster.start(slow("b"), a.port());
  cluster.start(slow("c"), a.port());
  REQUIRE(cluster.run_until([&] { return cluster.full_mesh(); }, 3s));

  cluster.freeze("c");
  const std::uint64_t limit = 400;  // ~26 MB: more than the kernel buffers for a frozen reader
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
