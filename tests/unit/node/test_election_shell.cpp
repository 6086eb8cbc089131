// ElectionShell against a fake transport: the core's envelopes go out as wire messages to their
// peer, and wire messages come in as the core's envelopes. The tick timer is never run.

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
