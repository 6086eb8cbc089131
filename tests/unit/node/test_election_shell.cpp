// ElectionShell against a fake transport: the core's envelopes go out as wire messages to their
// peer, and wire messages come in as the core's envelopes; the timer is armed for what the core
// needs next. The timer is never run.

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "chorus/node/election_shell.hpp"
#include "node/fake_transport.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;

namespace {

/// The node "b" at priority 0, recording its leadership changes.
struct Shell {
  boost::asio::io_context io;
  FakeTransport transport{"b"};
  std::vector<election::Status> changes;
  ElectionShell shell{io, transport, Rank{0, "b"}, /*preempt=*/false, ElectionTiming{},
                      [this](const election::Status& status) { changes.push_back(status); },
                      /*on_stall=*/[] {}};
};

net::PeerInfo peer(const std::string& id, std::int64_t priority) {
  net::PeerInfo info;
  info.id = id;
  info.priority = priority;
  return info;
}

}  // namespace

TEST_CASE("a leader announces itself to a peer that comes up") {
  Shell b;
  b.shell.start(/*lead=*/true);
  REQUIRE_FALSE(b.changes.empty());
  CHECK(b.changes.back() == election::Status{election::Role::leader, "b", 1});

  b.shell.peer_up(peer("a", 0));
  REQUIRE(b.transport.sent.size() == 1);
  CHECK(b.transport.sent[0].to == "a");
  CHECK(b.transport.sent[0].message == protocol::Message{protocol::Coordinator{"b", 1}});
}

TEST_CASE("a COORDINATOR from a higher-ranked leader is followed") {
  Shell b;
  b.shell.start(/*lead=*/true);
  b.shell.peer_up(peer("z", 5));
  b.shell.receive(protocol::Coordinator{"z", 7});
  REQUIRE_FALSE(b.changes.empty());
  CHECK(b.changes.back().role == election::Role::follower);
  CHECK(b.changes.back().leader == "z");
  CHECK(b.shell.core().status().leader == "z");
}

TEST_CASE("a shell with no election under way sleeps until the freeze watch") {
  using namespace std::chrono_literals;
  Shell b;
  const auto before = std::chrono::steady_clock::now();
  b.shell.start(/*lead=*/true);  // a leader: the core has no timer armed
  const auto after = std::chrono::steady_clock::now();
  REQUIRE(b.shell.armed());
  CHECK(*b.shell.armed() >= before + ElectionTiming{}.stall_watch);
  CHECK(*b.shell.armed() <= after + ElectionTiming{}.stall_watch);
}

TEST_CASE("the freeze watch shares the transport's wake-up when that comes sooner") {
  using namespace std::chrono_literals;
  Shell b;
  b.transport.wakeup = std::chrono::steady_clock::now() + 50ms;
  b.shell.start(/*lead=*/true);
  CHECK(b.shell.armed() == b.transport.wakeup);
  // Every input re-arms: a transport wake-up too far off is not waited for.
  b.transport.wakeup = std::chrono::steady_clock::now() + 10s;
  b.shell.peer_up(peer("a", 0));
  REQUIRE(b.shell.armed());
  CHECK(*b.shell.armed() <= std::chrono::steady_clock::now() + ElectionTiming{}.stall_watch);
}

TEST_CASE("during an election the shell wakes at the tick the core's timer expires") {
  Shell b;
  const auto before = std::chrono::steady_clock::now();
  b.shell.start(/*lead=*/true);
  b.shell.peer_up(peer("z", 5));
  b.shell.peer_up(peer("y", 9));
  b.shell.receive(protocol::Coordinator{"y", 7});  // b steps down and follows y
  b.shell.peer_down("y");                          // and campaigns: an ELECTION to z
  REQUIRE(b.shell.core().role() == election::Role::candidate);
  const auto ticks = b.shell.core().ticks_until_timeout();
  REQUIRE(ticks == 5);  // the answer timeout: 100 ms, sooner than the freeze watch
  const auto tick = ElectionTiming{}.tick;
  REQUIRE(b.shell.armed());
  CHECK(*b.shell.armed() >= before + *ticks * tick);
  CHECK(*b.shell.armed() <= std::chrono::steady_clock::now() + *ticks * tick);
}
