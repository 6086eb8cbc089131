#include <catch2/catch.hpp>

#include "chorus/net/liveness.hpp"

using namespace chorus::net;
using std::chrono::microseconds;
using std::chrono::milliseconds;

TEST_CASE("a peer stays up until two heartbeat intervals pass in silence") {
  LivenessPolicy policy;  // 200 ms interval
  CHECK(policy.assess(microseconds{0}, std::nullopt) == PeerState::up);
  CHECK(policy.assess(microseconds{400'000}, std::nullopt) == PeerState::up);
  CHECK(policy.assess(microseconds{400'001}, std::nullopt) == PeerState::suspect);
}

TEST_CASE("a peer is down after three intervals plus its round-trip time") {
  LivenessPolicy policy;
  CHECK(policy.down_after(std::nullopt) == microseconds{600'000});
  CHECK(policy.down_after(microseconds{50'000}) == microseconds{650'000});
  CHECK(policy.assess(microseconds{600'001}, std::nullopt) == PeerState::down);
  CHECK(policy.assess(microseconds{600'001}, microseconds{50'000}) == PeerState::suspect);
  CHECK(policy.assess(microseconds{650'001}, microseconds{50'000}) == PeerState::down);
}

TEST_CASE("the liveness thresholds scale with the configured interval") {
  LivenessPolicy policy{microseconds{50'000}, 2, 3};
  CHECK(policy.assess(microseconds{100'001}, std::nullopt) == PeerState::suspect);
  CHECK(policy.assess(microseconds{150'001}, std::nullopt) == PeerState::down);
}

TEST_CASE("reconnect backoff doubles from half a second up to five seconds") {
  Backoff backoff(milliseconds{500}, milliseconds{5000});
  std::vector<long> delays;
  for (int i = 0; i < 7; ++i) delays.push_back(backoff.next().count());
  CHECK(delays == std::vector<long>{500, 1000, 2000, 4000, 5000, 5000, 5000});
}

TEST_CASE("reconnect backoff starts again from the first delay after a reset") {
  Backoff backoff(milliseconds{500}, milliseconds{5000});
  backoff.next();
  backoff.next();
  backoff.reset();
  CHECK(backoff.next() == milliseconds{500});
}

TEST_CASE("peer states have the names the prompt shows") {
  CHECK(to_string(PeerState::up) == "up");
  CHECK(to_string(PeerState::suspect) == "suspect");
  CHECK(to_string(PeerState::down) == "down");
  CHECK(to_string(PeerState::left) == "left");
}
