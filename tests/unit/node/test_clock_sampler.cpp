// ClockSampler against a fake transport: requests to the leader followed, answers to anyone,
// and an answer from the leader to a request not yet answered counts as a sample, once.

#include <catch2/catch.hpp>

#include <chrono>
#include <cmath>
#include <string>
#include <variant>

#include <boost/asio/io_context.hpp>

#include "chorus/node/clock_sampler.hpp"
#include "node/fake_transport.hpp"

using namespace chorus;
using namespace chorus::node;
using namespace chorus::node::test;

namespace {

net::Clock::time_point at_us(std::int64_t us) {
  return net::Clock::time_point{std::chrono::microseconds{us}};
}

/// A follower "b" sampling the leader "a"; its timer is never run.
struct Follower {
  boost::asio::io_context io;
  FakeTransport transport{"b"};
  int samples = 0;
  ClockSampler sampler{io, transport, [this] { ++samples; }};
};

}  // namespace

TEST_CASE("following a leader sends it a request stamped when the write starts") {
  Follower b;
  b.transport.write_start_us = 1'000;
  b.sampler.follow("a");
  REQUIRE(b.transport.sent.size() == 1);
  CHECK(b.transport.sent[0].to == "a");
  CHECK(b.transport.sent[0].message == protocol::Message{protocol::TimeRequest{"b", 1, 1'000}});
}

TEST_CASE("a request is answered with its receive stamp and the reply's write-start stamp") {
  Follower b;
  b.transport.write_start_us = 9'000;
  b.sampler.on_request("c", protocol::TimeRequest{"c", 42, 5'000}, at_us(8'000));
  REQUIRE(b.transport.sent.size() == 1);
  CHECK(b.transport.sent[0].to == "c");
  CHECK(b.transport.sent[0].message ==
        protocol::Message{protocol::TimeResponse{"b", 42, 5'000, 8'000, 9'000}});
}

TEST_CASE("only the leader's answer to a request sent is a sample, and only once") {
  Follower b;
  b.transport.write_start_us = 1'000;
  b.sampler.follow("a");  // request 1, t0 = 1000
  const protocol::TimeResponse answer{"a", 1, 1'000, 5'000, 5'100};

  b.sampler.on_response("c", protocol::TimeResponse{"c", 1, 1'000, 5'000, 5'100}, at_us(2'000));
  b.sampler.on_response("a", protocol::TimeResponse{"a", 2, 1'000, 5'000, 5'100}, at_us(2'000));
  CHECK(b.samples == 0);

  b.sampler.on_response("a", answer, at_us(2'000));
  CHECK(b.samples == 1);
  CHECK(b.sampler.clock().sample_count() == 1);

  b.sampler.on_response("a", answer, at_us(2'100));  // a duplicate
  CHECK(b.samples == 1);
}

TEST_CASE("answers that arrive after the next request left are samples, in order, once") {
  // A round trip longer than the burst interval: request 2 leaves before request 1 is answered.
  Follower b;
  b.transport.write_start_us = 1'000;
  b.sampler.follow("a");
  b.io.run_for(std::chrono::milliseconds(100));  // the burst timer sends more requests
  REQUIRE(b.transport.sent.size() >= 3);
  b.sampler.on_response("a", protocol::TimeResponse{"a", 1, 1'000, 5'000, 5'100}, at_us(2'000));
  b.sampler.on_response("a", protocol::TimeResponse{"a", 2, 1'000, 5'000, 5'100}, at_us(2'100));
  CHECK(b.samples == 2);
  // An answer to a request before the last one answered: replayed, or out of order.
  b.sampler.on_response("a", protocol::TimeResponse{"a", 1, 1'000, 5'000, 5'100}, at_us(2'200));
  CHECK(b.samples == 2);
  b.sampler.on_response("a", protocol::TimeResponse{"a", 3, 1'000, 5'000, 5'100}, at_us(2'300));
  CHECK(b.samples == 3);
}

TEST_CASE("answers to requests sent to an earlier leader are not samples of the new one") {
  Follower b;
  b.sampler.follow("a");  // request 1 to a
  b.sampler.follow("c");  // request 2 to c
  b.sampler.on_response("c", protocol::TimeResponse{"c", 1, 0, 5'000, 5'100}, at_us(2'000));
  CHECK(b.samples == 0);
  b.sampler.on_response("c", protocol::TimeResponse{"c", 2, 0, 5'000, 5'100}, at_us(2'000));
  CHECK(b.samples == 1);
}

TEST_CASE("after a pause no answer is a sample") {
  Follower b;
  b.sampler.follow("a");
  b.sampler.pause();
  b.sampler.on_response("a", protocol::TimeResponse{"a", 1, 0, 5'000, 5'100}, at_us(2'000));
  CHECK(b.samples == 0);
}

TEST_CASE("an answer that contradicts the estimate is held back: it is not a sample for playback") {
  Follower b;
  b.transport.write_start_us = 1'000;
  b.sampler.follow("a");  // request 1, t0 = 1000
  b.sampler.on_response("a", protocol::TimeResponse{"a", 1, 1'000, 5'000, 5'100}, at_us(2'000));
  REQUIRE(b.samples == 1);  // offset 3550 µs, round trip 900 µs

  b.transport.write_start_us = 40'000;
  while (b.transport.sent.size() < 2) b.io.run_one();  // request 2 on the burst timer
  // The leader's answer is 300 ms further ahead than the first one said.
  b.sampler.on_response("a", protocol::TimeResponse{"a", 2, 40'000, 344'000, 344'100},
                        at_us(41'000));
  CHECK(b.samples == 1);
  CHECK(b.sampler.clock().held_samples() == 1);
  CHECK(b.sampler.clock().jumps().held_back == 1);
  CHECK(b.sampler.clock().offset_us(41'000) == Approx(3'550));
  while (b.transport.sent.size() < 3) b.io.run_one();  // and it re-measures
  CHECK(std::get<protocol::TimeRequest>(b.transport.sent[2].message).id == 3);
}

namespace {

/// Answers every request `b` sends to `peer` from `from_request` on, until `done()`: a clock 5 ms
/// ahead, 100 µs each way. The timers send the requests after the first.
template <class Done>
void answer_until(Follower& b, const std::string& peer, std::size_t from_request, Done done) {
  std::size_t answered = from_request;
  while (!done()) {
    while (b.transport.sent.size() <= answered) b.io.run_one();
    const auto& sent = b.transport.sent[answered++];
    const auto* request = std::get_if<protocol::TimeRequest>(&sent.message);
    if (request == nullptr || sent.to != peer) continue;
    b.sampler.on_response(peer,
                          protocol::TimeResponse{peer, request->id, request->t0_us,
                                                 request->t0_us + 5'100, request->t0_us + 5'150},
                          at_us(request->t0_us + 250));
  }
}

/// Answers every request `b` sends to `leader` until its estimate of it is synced.
void sync_with(Follower& b, const std::string& leader) {
  answer_until(b, leader, 0, [&] { return b.sampler.clock().synced(); });
}

/// What `b` answers a TIME_REQUEST with.
protocol::TimeResponse answer_of(Follower& b) {
  b.sampler.on_request("c", protocol::TimeRequest{"c", 9, 1'000}, at_us(2'000));
  return std::get<protocol::TimeResponse>(b.transport.sent.back().message);
}

}  // namespace

TEST_CASE("a node that followed no leader answers without a rate before") {
  Follower b;
  CHECK_FALSE(answer_of(b).rate_before.has_value());
  b.sampler.follow("a");  // not synced: nothing worth announcing
  b.sampler.pause();
  CHECK_FALSE(answer_of(b).rate_before.has_value());
}

TEST_CASE("a node that stopped following a synced leader announces its rate against it") {
  Follower b;
  b.sampler.follow("a");
  sync_with(b, "a");
  b.sampler.pause();  // b leads now
  const protocol::TimeResponse answer = answer_of(b);
  REQUIRE(answer.rate_before.has_value());
  CHECK(answer.rate_before->leader == "a");
  CHECK(answer.rate_before->drift_ppb == std::llround(b.sampler.clock().drift_ppm() * 1000));
}

TEST_CASE("a new leader's announced rate against the old leader gives the new window its rate") {
  Follower b;
  b.sampler.follow("a");
  sync_with(b, "a");
  REQUIRE(b.sampler.clock().drift_ppm() == 0);  // b runs at a's rate
  b.transport.write_start_us = 3'000'000;
  b.sampler.follow("c");
  const auto id = std::get<protocol::TimeRequest>(b.transport.sent.back().message).id;
  // c runs 100 ppm fast against a (a's rate minus c's: −100 ppm), so 100 ppm fast against b.
  const std::string old_leader = GENERATE("a", "z");
  const int samples_of_a = b.samples;
  b.sampler.on_response("c", protocol::TimeResponse{"c", id, 3'000'000, 9'000'000, 9'000'050,
                                                    protocol::RateBefore{old_leader, -100'000}},
                        at_us(3'000'200));
  CAPTURE(old_leader);
  CHECK(b.samples == samples_of_a + 1);
  // Against another old leader the announcement says nothing about c's rate against b.
  CHECK(b.sampler.clock().drift_ppm() == Approx(old_leader == "a" ? 100.0 : 0.0));
}

TEST_CASE("a leader that stepped down takes the new leader's announced rate against it, negated") {
  Follower b;  // b led; c followed it and leads now, 100 ppm slow against b (b − c = +100 ppm)
  b.transport.write_start_us = 3'000'000;
  b.sampler.follow("c");
  const auto id = std::get<protocol::TimeRequest>(b.transport.sent.back().message).id;
  b.sampler.on_response("c", protocol::TimeResponse{"c", id, 3'000'000, 9'000'000, 9'000'050,
                                                    protocol::RateBefore{"b", 100'000}},
                        at_us(3'000'200));
  CHECK(b.sampler.clock().drift_ppm() == Approx(-100.0));
}

TEST_CASE("the heir is sampled beside the leader, in a window of its own that playback does not see") {
  Follower b;
  b.sampler.follow("a");
  b.sampler.watch_heir("c");
  REQUIRE(b.transport.sent.size() == 2);
  CHECK(b.transport.sent[1].to == "c");
  answer_until(b, "c", 0, [&] { return b.sampler.heir_clock().synced(); });
  CHECK(b.samples == 0);
  CHECK(b.sampler.clock().sample_count() == 0);
  CHECK(b.sampler.heir() == "c");
  CHECK(b.sampler.heir_clock().offset_us(0) == Approx(5'000));
}

TEST_CASE("when the heir takes over, its window carries on as the leader's") {
  Follower b;
  b.sampler.follow("a");
  b.sampler.watch_heir("c");
  answer_until(b, "c", 0, [&] { return b.sampler.heir_clock().sample_count() >= 6; });
  // One more request to c, not answered yet.
  const std::size_t sent = b.transport.sent.size();
  while (b.transport.sent.size() == sent || b.transport.sent.back().to != "c") b.io.run_one();
  const auto in_flight = std::get<protocol::TimeRequest>(b.transport.sent.back().message);
  b.sampler.pause();  // a went away: an election runs
  b.sampler.follow("c");
  CHECK(b.sampler.clock().synced());
  CHECK(b.sampler.clock().sample_count() == 6);
  CHECK(b.sampler.clock().offset_us(0) == Approx(5'000));
  CHECK_FALSE(b.sampler.heir().has_value());
  CHECK(b.sampler.heir_clock().sample_count() == 0);
  b.io.poll();  // playback hears of the estimate at once
  CHECK(b.samples == 1);
  // The request in flight when c took over answers for the leader's window.
  b.sampler.on_response("c", protocol::TimeResponse{"c", in_flight.id, in_flight.t0_us,
                                                    in_flight.t0_us + 5'100, in_flight.t0_us + 5'150},
                        at_us(in_flight.t0_us + 250));
  CHECK(b.sampler.clock().sample_count() == 7);
  CHECK(b.samples == 2);
}

TEST_CASE("a heir's window not yet synced is handed over as it is, and playback waits for it") {
  Follower b;
  b.sampler.follow("a");
  b.sampler.watch_heir("c");
  answer_until(b, "c", 0, [&] { return b.sampler.heir_clock().sample_count() >= 2; });
  REQUIRE(b.sampler.heir_clock().sample_count() == 2);
  b.sampler.follow("c");
  CHECK(b.sampler.clock().sample_count() == 2);
  CHECK_FALSE(b.sampler.clock().synced());
  b.io.poll();
  CHECK(b.samples == 0);
}

TEST_CASE("a new leader that was not the heir starts from scratch, and the heir is still watched") {
  Follower b;
  b.sampler.follow("a");
  b.sampler.watch_heir("c");
  answer_until(b, "c", 0, [&] { return b.sampler.heir_clock().synced(); });
  b.sampler.follow("d");
  CHECK(b.sampler.clock().sample_count() == 0);
  CHECK(b.sampler.heir() == "c");
  CHECK(b.sampler.heir_clock().synced());
  b.io.poll();
  CHECK(b.samples == 0);
}

TEST_CASE("another heir starts a new window, none stops sampling, and the old heir's answers are not samples") {
  Follower b;
  b.sampler.follow("a");
  b.sampler.watch_heir("c");
  answer_until(b, "c", 0, [&] { return b.sampler.heir_clock().synced(); });
  const auto c_request = std::get<protocol::TimeRequest>(b.transport.sent.back().message);
  b.sampler.watch_heir("c");  // the same heir: the window stays
  CHECK(b.sampler.heir_clock().synced());
  b.sampler.watch_heir("d");
  CHECK(b.sampler.heir_clock().sample_count() == 0);
  CHECK(b.transport.sent.back().to == "d");
  b.sampler.on_response("c", protocol::TimeResponse{"c", c_request.id, 0, 5'000, 5'100},
                        at_us(2'000));
  CHECK(b.sampler.heir_clock().sample_count() == 0);
  b.sampler.watch_heir(std::nullopt);
  const std::size_t sent = b.transport.sent.size();
  b.sampler.pause();
  b.io.run_for(std::chrono::milliseconds(100));
  CHECK(b.transport.sent.size() == sent);  // no timer left running
}
