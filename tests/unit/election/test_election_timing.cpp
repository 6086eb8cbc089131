#include <catch2/catch.hpp>

#include "chorus/node/election_shell.hpp"

using chorus::node::ElectionTiming;
using namespace std::chrono_literals;

TEST_CASE("election timeouts grow with the worst RTT from their floors") {
  ElectionTiming timing;  // 20 ms ticks
  auto idle = timing.timeouts_for(0us);
  CHECK(idle.discovery == 40);    // 800 ms floor
  CHECK(idle.answer == 5);        // 100 ms floor
  CHECK(idle.coordinator == 10);  // 200 ms floor
  auto slow = timing.timeouts_for(50ms);
  CHECK(slow.discovery == 40);           // 10 RTT = 500 ms, under the floor
  CHECK(slow.answer == 10);              // 4 RTT = 200 ms
  CHECK(slow.coordinator == 20);         // 8 RTT = 400 ms
}

TEST_CASE("election timeouts stop at their ceilings however large the RTT reported") {
  ElectionTiming timing;
  auto absurd = timing.timeouts_for(std::chrono::microseconds{1'975'764'000});  // a forged RTT
  CHECK(absurd.discovery == 150);   // 3 s
  CHECK(absurd.answer == 50);       // 1 s
  CHECK(absurd.coordinator == 100); // 2 s
}
