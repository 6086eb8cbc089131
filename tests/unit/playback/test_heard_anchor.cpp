// HeardAnchor: a pulse stream's timing updates, each checked against the last one trusted.

#include <cstdint>
#include <vector>

#include <catch2/catch.hpp>

#include "playback/heard_anchor.hpp"

using chorus::playback::detail::HeardAnchor;

namespace {

constexpr std::int64_t kAnchorUs = 5'000'000'000;
constexpr std::int64_t kAgree = HeardAnchor::kAgreeUs;

}  // namespace

TEST_CASE("a timeline's first update is trusted as it comes and asks for another to confirm it") {
  HeardAnchor anchor;
  CHECK_FALSE(anchor.trusted_us());
  CHECK(anchor.offer(kAnchorUs));
  CHECK(anchor.trusted_us() == kAnchorUs);
  CHECK_FALSE(anchor.offer(kAnchorUs + 4));  // confirmed: nothing more asked for
  CHECK(anchor.trusted_us() == kAnchorUs + 4);
  CHECK(anchor.held_total() == 0);
}

TEST_CASE("a bad first update of a timeline is replaced as soon as the two updates after it agree") {
  for (const std::int64_t error : {424, -4857, 15'000}) {
    HeardAnchor anchor;
    CHECK(anchor.offer(kAnchorUs + error));  // used until the confirmation comes
    CHECK(anchor.offer(kAnchorUs));          // disagrees: held, another asked for
    CHECK(anchor.trusted_us() == kAnchorUs + error);
    CHECK_FALSE(anchor.offer(kAnchorUs + 3));  // agrees with the held one: taken
    CHECK(anchor.trusted_us() == kAnchorUs + 3);
  }
}

TEST_CASE("updates that agree with the trusted one are followed, however many") {
  HeardAnchor anchor;
  anchor.offer(kAnchorUs);
  std::int64_t at = kAnchorUs;
  for (int i = 0; i < 100; ++i) {
    at += (i % 2 == 0 ? kAgree : -kAgree / 2);  // each step at most kAgreeUs
    CHECK_FALSE(anchor.offer(at));
    CHECK(anchor.trusted_us() == at);
  }
  CHECK(anchor.held_total() == 0);
}

TEST_CASE("one update further off than kAgreeUs is held and asks for another") {
  HeardAnchor anchor;
  anchor.offer(kAnchorUs);
  CHECK_FALSE(anchor.offer(kAnchorUs + kAgree));
  CHECK(anchor.offer(kAnchorUs + 2 * kAgree + 1));
  CHECK(anchor.trusted_us() == kAnchorUs + kAgree);
}

TEST_CASE(
    "a single bad update is dropped when the next agrees with the "
    "trusted one") {
  // As traced: one update 0.42 ms late among updates that agree within a few µs.
  for (const std::int64_t error : {424, -1350, 1959, 15'000}) {
    HeardAnchor anchor;
    anchor.offer(kAnchorUs);
    CHECK(anchor.offer(kAnchorUs + error));
    CHECK(anchor.trusted_us() == kAnchorUs);  // the output never used it
    CHECK_FALSE(anchor.offer(kAnchorUs + 3));
    CHECK(anchor.trusted_us() == kAnchorUs + 3);
    // Held state is gone: the same error again is held again, not taken as a confirmation.
    CHECK(anchor.offer(kAnchorUs + error));
    CHECK(anchor.held_total() == 2);
  }
}

TEST_CASE("a real step is taken once a second update confirms it") {
  HeardAnchor anchor;
  anchor.offer(kAnchorUs);
  const std::int64_t moved = kAnchorUs + 40'000;  // e.g. the stream moved to another sink
  CHECK(anchor.offer(moved));
  CHECK(anchor.trusted_us() == kAnchorUs);
  CHECK_FALSE(anchor.offer(moved + 5));
  CHECK(anchor.trusted_us() == moved + 5);
  CHECK_FALSE(anchor.offer(moved + 10));  // and followed from there
  CHECK(anchor.trusted_us() == moved + 10);
}

TEST_CASE(
    "a sink drifting far is followed: each step confirmed by the update "
    "asked for at once") {
  // 400 ppm against our clock, updates 1.5 s apart: 600 µs between two automatic updates, a few
  // µs between one and the update asked for right after it.
  HeardAnchor anchor;
  std::int64_t at = kAnchorUs;
  anchor.offer(at);
  for (int i = 0; i < 20; ++i) {
    at += 600;
    CHECK(anchor.offer(at));            // the automatic update: held
    CHECK_FALSE(anchor.offer(at + 2));  // the one asked for 5 ms later confirms it
    CHECK(anchor.trusted_us() == at + 2);
  }
  CHECK(anchor.held_total() == 20);
}

TEST_CASE(
    "updates that keep disagreeing are followed after kMostHeld in a "
    "row, never frozen") {
  HeardAnchor anchor;
  anchor.offer(kAnchorUs);
  std::vector<std::int64_t> scatter;
  for (int i = 1; i <= HeardAnchor::kMostHeld + 1; ++i) {
    scatter.push_back(kAnchorUs + (i % 2 == 1 ? 1 : -1) * i * 10 * kAgree);  // each far from all the others
  }
  for (int i = 0; i < HeardAnchor::kMostHeld; ++i) {
    CHECK(anchor.offer(scatter[static_cast<std::size_t>(i)]));
    CHECK(anchor.trusted_us() == kAnchorUs);
  }
  CHECK_FALSE(anchor.offer(scatter.back()));
  CHECK(anchor.trusted_us() == scatter.back());
  CHECK(anchor.held_total() == static_cast<std::uint64_t>(HeardAnchor::kMostHeld));
}

TEST_CASE(
    "a new timeline takes its first update however far it is from the "
    "old one") {
  HeardAnchor anchor;
  anchor.offer(kAnchorUs);
  anchor.offer(kAnchorUs + 10 * kAgree);  // held
  anchor.restart();
  CHECK_FALSE(anchor.trusted_us());
  CHECK(anchor.offer(kAnchorUs + 300'000));  // the stream restarted 0.3 s later
  CHECK(anchor.trusted_us() == kAnchorUs + 300'000);
  // The held update of the old timeline confirms nothing in the new one.
  CHECK(anchor.offer(kAnchorUs + 10 * kAgree));
  CHECK(anchor.trusted_us() == kAnchorUs + 300'000);
}
