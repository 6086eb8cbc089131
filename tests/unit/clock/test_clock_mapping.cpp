// ClockMapping: the local → leader line, and ClockSync handing out its estimate as one.

#include "clock/path_model.hpp"

#include <chorus/clock/clock_mapping.hpp>
#include <chorus/clock/clock_sync.hpp>

#include <catch2/catch.hpp>

#include <cstdint>

using chorus::clock::ClockMapping;
using chorus::clock::ClockSync;
using chorus::clock::test::PathModel;
using chorus::clock::test::SimulatedPath;

TEST_CASE("a clock mapping converts both ways consistently") {
  const ClockMapping mapping{5'000'000, -1.3e6, 1e-4};
  for (std::int64_t local : {0LL, 5'000'000LL, 1'000'000'000'000LL}) {
    CHECK(mapping.to_local(mapping.to_leader(local)) == Approx(local).margin(1));
  }
  CHECK(mapping.to_leader(5'000'000) == 5'000'000 - 1'300'000);
  CHECK(mapping.to_leader(15'000'000) == 15'000'000 - 1'300'000 + 1'000);
  CHECK(mapping.offset_at(15'000'000) == Approx(-1'300'000 + 1'000));
}

TEST_CASE("the default clock mapping is the identity: the leader's own clock") {
  const ClockMapping own;
  CHECK(own.to_leader(1'000'000'000'000) == 1'000'000'000'000);
  CHECK(own.to_local(1'000'000'000'000) == 1'000'000'000'000);
}

TEST_CASE("ClockSync's mapping converts exactly as ClockSync does") {
  PathModel model;
  model.offset_us = -700'000'000;
  model.drift_ppm = 80;
  model.forward = {20, 120};
  model.backward = {20, 120};
  SimulatedPath path(model, 3);
  ClockSync sync;
  path.feed(sync, 40, 1'000'000);
  const ClockMapping mapping = sync.mapping();
  CHECK(mapping.drift * 1e6 == Approx(sync.drift_ppm()));
  for (std::int64_t t = path.now_us() - 50'000'000; t < path.now_us() + 50'000'000; t += 999'983) {
    CAPTURE(t);
    CHECK(mapping.to_leader(t) == sync.to_leader(t));
    CHECK(mapping.to_local(t) == sync.to_local(t));
    CHECK(mapping.offset_at(t) == sync.offset_us(t));
  }
}
