// Which kept state wins when a cluster forms again (node/restore_rules.hpp).

#include <catch2/catch.hpp>

#include <string>
#include <tuple>

#include "chorus/node/restore_rules.hpp"
#include "printing.hpp"

using chorus::node::adopts_queue;
using chorus::node::adopts_state;
using chorus::node::HeldQueue;
using chorus::node::HeldState;
using chorus::node::OfferedQueue;
using chorus::node::OfferedState;
using chorus::node::Origin;
using chorus::playback::PlaybackState;
using chorus::playback::PlayStatus;
using chorus::protocol::TrackRef;

TEST_CASE("a restored state offer: newer wins over restored, anything over none, nothing over live") {
  struct Case {
    Origin origin;
    std::uint64_t held_epoch, held_seq, offered_epoch, offered_seq;
    bool adopted;
  };
  const Case cases[] = {
      {Origin::none, 0, 0, 1, 0, true},        {Origin::none, 0, 0, 7, 3, true},
      {Origin::restored, 5, 3, 5, 4, true},    {Origin::restored, 5, 3, 6, 0, true},
      {Origin::restored, 5, 3, 5, 3, false},   {Origin::restored, 5, 3, 5, 2, false},
      {Origin::restored, 5, 3, 4, 99, false},  {Origin::live, 5, 3, 9, 9, false},
      {Origin::live, 5, 3, 5, 2, false},
  };
  for (const auto& c : cases) {
    CAPTURE(static_cast<int>(c.origin), c.held_epoch, c.held_seq, c.offered_epoch, c.offered_seq);
    const HeldState held{c.origin, c.origin == Origin::live ? "a" : "", c.held_epoch, c.held_seq};
    CHECK(adopts_state(held, OfferedState{true, "", c.offered_epoch, c.offered_seq}) == c.adopted);
  }
}

TEST_CASE("a live state offer wins as before: newer, in the clock taken over, only over a live state") {
  const HeldState live{Origin::live, "a", 5, 3};
  CHECK(adopts_state(live, OfferedState{false, "a", 5, 4}));
  CHECK(adopts_state(live, OfferedState{false, "a", 6, 0}));
  CHECK_FALSE(adopts_state(live, OfferedState{false, "a", 5, 3}));
  CHECK_FALSE(adopts_state(live, OfferedState{false, "a", 4, 9}));
  CHECK_FALSE(adopts_state(live, OfferedState{false, "b", 9, 9}));  // another clock: not mappable
  for (const auto origin : {Origin::none, Origin::restored}) {
    CHECK_FALSE(adopts_state(HeldState{origin, "", 0, 0}, OfferedState{false, "a", 9, 9}));
  }
}

TEST_CASE("a queue offer: a restored one never replaces a live queue, a newer version wins otherwise") {
  struct Case {
    Origin origin;
    std::uint64_t held_version;
    bool restored;
    std::uint64_t offered_version;
    bool adopted;
  };
  const Case cases[] = {
      {Origin::none, 4, true, 2, true},       {Origin::none, 0, true, 0, true},
      {Origin::restored, 40, true, 41, true}, {Origin::restored, 40, true, 40, false},
      {Origin::restored, 40, true, 39, false}, {Origin::live, 40, true, 99, false},
      {Origin::live, 40, false, 41, true},    {Origin::live, 40, false, 40, false},
      {Origin::restored, 40, false, 41, true}, {Origin::none, 4, false, 3, false},
  };
  for (const auto& c : cases) {
    CAPTURE(static_cast<int>(c.origin), c.held_version, c.restored, c.offered_version);
    CHECK(adopts_queue(HeldQueue{c.origin, c.held_version, false}, OfferedQueue{c.restored, c.offered_version}) ==
          c.adopted);
    // A leader whose state is of this run takes no kept queue; a live offer is judged as before.
    CHECK(adopts_queue(HeldQueue{c.origin, c.held_version, true}, OfferedQueue{c.restored, c.offered_version}) ==
          (c.adopted && !c.restored));
  }
}

TEST_CASE("a restored state is paused where it was, in its track, anchored now") {
  const TrackRef track{.index = 4, .name = "a.flac", .hash = std::string(64, 'c'), .frames = 1000, .size = 10,
                       .root = std::string(64, 'd')};
  for (const auto status : {PlayStatus::playing, PlayStatus::paused}) {
    const PlaybackState saved{.epoch = 3, .seq = 9, .status = status, .track = track, .anchor_us = 0, .anchor_frame = 500};
    const auto state = chorus::node::restored_state(saved, 8, 0, 77);
    CHECK(state == PlaybackState{.epoch = 8, .seq = 0, .status = PlayStatus::paused, .track = track, .anchor_us = 77,
                                 .anchor_frame = 500});
  }
  PlaybackState past_end{.epoch = 3, .seq = 9, .status = PlayStatus::paused, .track = track, .anchor_us = 0,
                         .anchor_frame = 5000};
  CHECK(chorus::node::restored_state(past_end, 8, 1, 77).anchor_frame == 999);
  const PlaybackState stopped{.epoch = 3, .seq = 9, .status = PlayStatus::stopped, .track = std::nullopt,
                              .anchor_us = 0, .anchor_frame = 0};
  const auto none = chorus::node::restored_state(stopped, 8, 0, 77);
  CHECK(none.status == PlayStatus::stopped);
  CHECK_FALSE(none.track);
  auto silent = past_end;
  silent.track->frames = 0;
  CHECK(chorus::node::restored_state(silent, 8, 0, 77).status == PlayStatus::stopped);
}

TEST_CASE("a restored cluster plays by itself only with --resume-playing and a state that was playing") {
  using chorus::node::resumes_by_itself;
  for (const bool flag : {false, true}) {
    for (const auto origin : {Origin::none, Origin::restored, Origin::live}) {
      for (const auto status : {PlayStatus::stopped, PlayStatus::playing, PlayStatus::paused}) {
        CAPTURE(flag, static_cast<int>(origin), static_cast<int>(status));
        CHECK(resumes_by_itself(flag, origin, status) ==
              (flag && origin == Origin::restored && status == PlayStatus::playing));
      }
    }
  }
}
