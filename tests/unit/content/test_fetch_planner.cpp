#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <set>
#include <string>
#include <vector>

#include "chorus/content/fetch_planner.hpp"

using namespace chorus::content;

namespace {

std::vector<bool> none(std::size_t n) { return std::vector<bool>(n, false); }
std::vector<bool> all(std::size_t n) { return std::vector<bool>(n, true); }
std::vector<bool> only(std::size_t n, std::initializer_list<std::uint64_t> chunks) {
  auto out = none(n);
  for (auto c : chunks) out[c] = true;
  return out;
}

std::vector<std::uint64_t> chunks_of(const std::vector<ChunkAsk>& asks) {
  std::vector<std::uint64_t> out;
  for (const auto& a : asks) out.push_back(a.chunk);
  return out;
}

/// Roomy limits, no urgency past the cursor: the order alone decides.
FetchConfig wide() {
  FetchConfig c;
  c.window = 100;
  c.per_peer = 100;
  c.urgent_chunks = 0;
  return c;
}

}  // namespace

TEST_CASE("an empty file is done at once and asks for nothing") {
  FetchPlanner p("me", {});
  CHECK(p.done());
  CHECK(p.chunk_count() == 0);
  p.holder("src", all(3));  // a buggy peer's bitmap for a file with no chunks
  p.demand(7);
  CHECK(p.next(0).empty());
  CHECK(p.unavailable().empty());
  CHECK_FALSE(p.next_deadline());
}

TEST_CASE("a one-chunk file asks for its chunk and is done when it arrives") {
  FetchPlanner p("me", none(1));
  CHECK_FALSE(p.done());
  CHECK(p.unavailable() == std::vector<std::uint64_t>{0});
  p.holder("src", all(1));
  CHECK(p.unavailable().empty());
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 0}});
  CHECK(p.next(1).empty());
  p.received(2, "src", 0);
  CHECK(p.done());
  CHECK(p.held_count() == 1);
  CHECK(p.outstanding() == 0);
  CHECK(p.received_from().at("src") == 1);
  CHECK(p.next(3).empty());
}

TEST_CASE("order: chunk 0 then from the demand cursor then the chunks before it") {
  SECTION("cursor at 0: the last chunk comes in its turn") {
    FetchPlanner p("me", none(10), wide());
    p.holder("src", all(10));
    CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9});
  }
  SECTION("cursor moved") {
    FetchPlanner p("me", none(10), wide());
    p.holder("src", all(10));
    p.demand(5);
    CHECK(p.demand_cursor() == 5);
    CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 5, 6, 7, 8, 9, 1, 2, 3, 4});
  }
  SECTION("a cursor past the end is the last chunk") {
    FetchPlanner p("me", none(10), wide());
    p.holder("src", all(10));
    p.demand(1000);
    CHECK(p.demand_cursor() == 9);
    CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 9, 1, 2, 3, 4, 5, 6, 7, 8});
  }
  SECTION("a window of 3 takes the head of the order, the rest as slots free") {
    auto cfg = wide();
    cfg.window = 3;
    FetchPlanner p("me", none(10), cfg);
    p.holder("src", all(10));
    p.demand(4);
    CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 4, 5});
    p.received(1, "src", 0);
    CHECK(chunks_of(p.next(1)) == std::vector<std::uint64_t>{6});
    p.demand(8);  // the decoder jumped: 8 comes before 7 now
    p.received(2, "src", 4);
    p.received(2, "src", 5);
    CHECK(chunks_of(p.next(2)) == std::vector<std::uint64_t>{8, 9});
  }
}

TEST_CASE("resumed chunks are never requested") {
  auto held = only(8, {0, 3, 7});
  FetchPlanner p("me", held, wide());
  CHECK(p.held_count() == 3);
  p.holder("src", all(8));
  const auto asked = chunks_of(p.next(0));
  CHECK(asked == std::vector<std::uint64_t>{1, 2, 4, 5, 6});
  for (auto c : asked) p.received(1, "src", c);
  CHECK(p.done());
  CHECK(p.received_from().at("src") == 5);

  FetchPlanner whole("me", all(4));
  whole.holder("src", all(4));
  CHECK(whole.done());
  CHECK(whole.next(0).empty());
}

TEST_CASE("chunks are spread over the co-fetchers, urgent ones asked of anyone at once") {
  // Members sorted: me, p1, p2. Chunk c is fetched by member c mod 3.
  auto cfg = wide();
  cfg.urgent_chunks = 1;  // cursor 0: chunks 0 and 1
  FetchPlanner p("me", none(12), cfg);
  p.cofetchers({"p1", "p2"});
  p.holder("src", all(12));
  p.holder("p1", none(12));
  p.holder("p2", none(12));
  // Urgent: 0 and 1 from the source although 1 is p1's. Then mine (3, 6, 9). The last chunk
  // (11, p2's) is not urgent: it waits for p2 like the others.
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 0}, {"src", 1}, {"src", 3}, {"src", 6},
                                           {"src", 9}});

  SECTION("the designated co-fetcher is asked once it holds the chunk") {
    p.holder("p1", only(12, {4, 7}));
    p.holder("p2", only(12, {5}));
    CHECK(p.next(10) == std::vector<ChunkAsk>{{"p1", 4}, {"p2", 5}, {"p1", 7}});
  }
  SECTION("another co-fetcher holding it is asked rather than waiting for the source") {
    p.holder("p2", only(12, {4}));  // 4 is p1's, p1 does not have it
    CHECK(p.next(10) == std::vector<ChunkAsk>{{"p2", 4}});
  }
  SECTION("the designated co-fetcher is asked even when a co-fetcher with fewer requests has it") {
    p.holder("p1", only(12, {4, 7, 10}));
    p.holder("p2", only(12, {4, 7, 10}));
    CHECK(p.next(10) == std::vector<ChunkAsk>{{"p1", 4}, {"p1", 7}, {"p1", 10}});
  }
}

TEST_CASE("a chunk waits peer_wait for its co-fetcher, then any holder will do") {
  auto cfg = wide();
  cfg.peer_wait_us = 1000;
  FetchPlanner p("me", none(9), cfg);
  p.cofetchers({"p1", "p2"});
  p.holder("src", all(9));
  // Urgent: 0 (the first and the cursor chunk); mine: 3, 6. 1, 2, 4, 5, 7 and the last, 8, wait.
  CHECK(chunks_of(p.next(100)) == std::vector<std::uint64_t>{0, 3, 6});
  CHECK(p.next_deadline() == 1100);
  CHECK(p.next(1099).empty());
  CHECK(chunks_of(p.next(1100)) == std::vector<std::uint64_t>{1, 2, 4, 5, 7, 8});
  // Chunk 0, urgent, is given up first.
  CHECK(p.next_deadline() == 100 + cfg.urgent_timeout_us);
}

TEST_CASE("the wait runs only for chunks in the next window of not-requested ones") {
  auto cfg = wide();
  cfg.window = 2;
  cfg.per_peer = 3;  // above the window: rule 3b's slot kept for this node's share never binds
  cfg.urgent_chunks = 0;
  cfg.peer_wait_us = 1000;
  FetchPlanner p("me", none(20), cfg);
  p.cofetchers({"p1"});  // members: me, p1; odd chunks are p1's
  p.holder("src", all(20));
  // 0 urgent, 1 p1's (waits), 2 mine; slots full. 1 and 3 are the two not requested: both wait.
  CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 2});
  CHECK(p.next_deadline() == 1000);
  p.received(10, "src", 0);
  p.received(10, "src", 2);
  // 1 and 3 wait (since 0); 4 and 6 are mine; 5 is past the window of two: not waiting yet.
  CHECK(chunks_of(p.next(10)) == std::vector<std::uint64_t>{4, 6});
  CHECK(p.next_deadline() == 1000);
  p.received(20, "src", 4);
  p.received(20, "src", 6);
  CHECK(chunks_of(p.next(1000)) == std::vector<std::uint64_t>{1, 3});
  // 5 and 7 wait from now (1000), not from when they were first passed over.
  CHECK(p.next_deadline() == 2000);
  p.received(1001, "src", 1);
  p.received(1001, "src", 3);
  // 9 and 11 are past the window, so not waiting and not asked although slots are free.
  CHECK(chunks_of(p.next(1001)) == std::vector<std::uint64_t>{8, 10});
  CHECK(p.next_deadline() == 2000);
  p.received(1005, "src", 8);
  CHECK(chunks_of(p.next(1010)) == std::vector<std::uint64_t>{12});
  CHECK(p.next_deadline() == 2000);
  p.received(1500, "src", 10);
  p.received(1500, "src", 12);
  CHECK(chunks_of(p.next(2000)) == std::vector<std::uint64_t>{5, 7});
  CHECK(p.next_deadline() == 3000);
}

TEST_CASE("a chunk whose wait ran out leaves a source's last slot to this node's own share") {
  // Members me, p1: even chunks are mine, odd ones p1's. Chunk 0 is held, so nothing is urgent.
  auto cfg = wide();
  cfg.window = 4;
  cfg.per_peer = 2;
  cfg.urgent_chunks = 0;
  cfg.peer_wait_us = 1000;
  FetchPlanner p("me", only(12, {0}), cfg);
  p.cofetchers({"p1"});
  p.holder("src", all(12));
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 2}, {"src", 4}});  // 1, 3, 5 wait for p1
  p.received(10, "src", 2);
  p.received(10, "src", 4);
  // The waits of 1, 3 and 5 ran out: 1 takes one of the source's two slots; 3 and 5 would take
  // the last, which goes to 6, mine: p1 is most likely fetching 3 and 5 from the source itself,
  // and nobody but me will fetch 6 from it.
  CHECK(p.next(1000) == std::vector<ChunkAsk>{{"src", 1}, {"src", 6}});
  p.received(1001, "src", 1);
  CHECK(p.next(1001) == std::vector<ChunkAsk>{{"src", 8}});
  p.received(1002, "src", 6);
  p.received(1002, "src", 8);
  CHECK(p.next(1002) == std::vector<ChunkAsk>{{"src", 3}, {"src", 10}});
  p.received(1003, "src", 3);
  p.received(1003, "src", 10);
  // My share is in or asked for (0 to 10); 7's wait (from 1000) and 9's (from 1001) still run.
  CHECK(p.next(1003) == std::vector<ChunkAsk>{{"src", 5}});

  SECTION("with my share in, the chunks whose wait ran out have both slots") {
    p.received(1004, "src", 5);
    CHECK(p.next(2001) == std::vector<ChunkAsk>{{"src", 7}, {"src", 9}});
  }
  SECTION("a co-fetcher holding the chunk is asked as before") {
    p.holder("p1", only(12, {9}));
    CHECK(p.next(1004) == std::vector<ChunkAsk>{{"p1", 9}});
  }
}

TEST_CASE("with nothing of its own share to ask, a chunk whose wait ran out takes any free slot") {
  auto cfg = wide();
  cfg.per_peer = 2;
  cfg.urgent_chunks = 0;
  cfg.peer_wait_us = 1000;
  FetchPlanner p("me", only(6, {0, 2, 4}), cfg);  // my share (0, 2, 4) is in
  p.cofetchers({"p1"});
  p.holder("src", all(6));
  CHECK(p.next(0).empty());
  CHECK(p.next(1000) == std::vector<ChunkAsk>{{"src", 1}, {"src", 3}});
}

TEST_CASE("a source's last slot is not kept when it has only one, nor for an urgent chunk") {
  auto cfg = wide();
  cfg.urgent_chunks = 0;
  cfg.peer_wait_us = 1000;
  SECTION("one slot per peer") {
    cfg.per_peer = 1;
    FetchPlanner p("me", only(6, {0}), cfg);
    p.cofetchers({"p1"});
    p.holder("src", all(6));
    CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 2}});
    p.received(10, "src", 2);
    CHECK(p.next(1000) == std::vector<ChunkAsk>{{"src", 1}});
  }
  SECTION("an urgent chunk takes the last slot") {
    cfg.per_peer = 2;
    FetchPlanner p("me", only(8, {0}), cfg);
    p.cofetchers({"p1"});
    p.holder("src", all(8));
    CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 2}, {"src", 4}});
    p.received(10, "src", 4);
    p.demand(5);  // p1's, and now the reader's: asked at once, of the source's last slot
    CHECK(p.next(20) == std::vector<ChunkAsk>{{"src", 5}});
  }
}

TEST_CASE("if self is the designated co-fetcher, the best holder is asked") {
  auto cfg = wide();
  FetchPlanner p("me", none(6), cfg);
  p.cofetchers({"p1"});
  p.holder("src", all(6));
  p.holder("p1", only(6, {2}));  // 2 is mine (2 mod 2 = 0): p1 still fetching beats the source
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 0}, {"p1", 2}, {"src", 4}});
}

TEST_CASE("holder preference: not corrupt, under its limit, still fetching, least busy, smallest id") {
  auto cfg = wide();
  cfg.per_peer = 2;
  SECTION("a still-fetching holder over a complete one") {
    FetchPlanner p("me", none(3), cfg);
    p.holder("a-seed", all(3));
    p.holder("z-peer", only(3, {0, 1}));
    // z-peer takes 1 too though a-seed has fewer outstanding: still fetching ranks first.
    CHECK(p.next(0) == std::vector<ChunkAsk>{{"z-peer", 0}, {"z-peer", 1}, {"a-seed", 2}});
  }
  SECTION("fewest outstanding, then the smallest id") {
    FetchPlanner p("me", none(4), cfg);
    p.holder("b", all(4));
    p.holder("a", all(4));
    CHECK(p.next(0) == std::vector<ChunkAsk>{{"a", 0}, {"b", 1}, {"a", 2}, {"b", 3}});
  }
  SECTION("a holder at its per-peer limit is passed over") {
    FetchPlanner p("me", none(5), cfg);
    p.holder("a", all(5));
    p.holder("b", only(5, {0}));
    CHECK(p.next(0) == std::vector<ChunkAsk>{{"b", 0}, {"a", 1}, {"a", 2}});
    CHECK(p.outstanding_to("a") == 2);
    CHECK(p.outstanding() == 3);
  }
  SECTION("one that served the chunk corrupt is not asked for it again") {
    FetchPlanner p("me", none(2), cfg);
    p.holder("a", all(2));
    p.holder("b", all(2));
    CHECK(p.next(0) == std::vector<ChunkAsk>{{"a", 0}, {"b", 1}});
    p.failed(1, "a", 0, ChunkFailure::corrupt);
    CHECK(p.next(1) == std::vector<ChunkAsk>{{"b", 0}});
    p.failed(2, "b", 0, ChunkFailure::corrupt);
    CHECK(p.next(2).empty());
    CHECK(p.unavailable() == std::vector<std::uint64_t>{0});
    CHECK(p.corrupt_count() == 2);
  }
}

TEST_CASE("the window and per-peer limits hold") {
  FetchConfig cfg;
  cfg.window = 6;
  cfg.per_peer = 3;
  FetchPlanner p("me", none(50), cfg);
  p.holder("a", all(50));
  CHECK(p.next(0).size() == 3);
  CHECK(p.next(0).empty());
  p.holder("b", all(50));
  p.holder("c", all(50));
  CHECK(p.next(1).size() == 3);
  CHECK(p.outstanding() == 6);
  CHECK(p.next(2).empty());
  for (const auto* peer : {"a", "b", "c"}) CHECK(p.outstanding_to(peer) <= 3);
}

TEST_CASE("a request unanswered past the timeout is dropped, the peer charged, the chunk due again") {
  auto cfg = wide();
  cfg.request_timeout_us = 500;
  FetchPlanner p("me", none(1), cfg);
  p.holder("a", all(1));
  p.holder("b", all(1));
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"a", 0}});
  CHECK(p.next_deadline() == 500);
  CHECK(p.next(499).empty());
  // The one that let it time out goes last.
  CHECK(p.next(500) == std::vector<ChunkAsk>{{"b", 0}});
  CHECK(p.failures_of("a") == 1);
  // The shell's own timeout for the dropped request is not charged twice.
  p.failed(501, "a", 0, ChunkFailure::timeout);
  CHECK(p.failures_of("a") == 1);
  CHECK(p.outstanding() == 1);
  // A late answer from the first peer is taken: it was verified.
  p.received(600, "a", 0);
  CHECK(p.done());
  CHECK(p.outstanding() == 0);
  CHECK_FALSE(p.next_deadline());
}

TEST_CASE("an urgent chunk's request is given up after the urgent timeout, the others' after the request timeout") {
  auto cfg = wide();
  cfg.urgent_timeout_us = 200;
  cfg.request_timeout_us = 5000;
  FetchPlanner p("me", none(8), cfg);
  p.holder("a", all(8));
  const auto asked = chunks_of(p.next(0));
  REQUIRE(asked.size() >= 2);
  CHECK(asked.front() == 0);
  CHECK(p.next_deadline() == 200);
  CHECK(p.next(199).empty());
  p.holder("b", all(8));
  // Only the urgent chunk came due: asked again, of the holder that did not let it time out.
  CHECK(p.next(200) == std::vector<ChunkAsk>{{"b", 0}});
  CHECK(p.failures_of("a") == 1);
  // Its second request waits twice as long; the others keep the request timeout.
  CHECK(p.next_deadline() == 200 + 400);
}

TEST_CASE("a refusal frees the chunk at once and waives the wait for the refusing co-fetcher") {
  auto cfg = wide();
  FetchPlanner p("me", none(6), cfg);
  p.cofetchers({"p1"});
  p.holder("src", all(6));
  p.holder("p1", only(6, {3}));
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 0}, {"src", 2}, {"p1", 3}, {"src", 4}});
  p.failed(1, "p1", 3, ChunkFailure::refused);
  CHECK(p.failures_of("p1") == 1);
  CHECK(p.next(1) == std::vector<ChunkAsk>{{"src", 3}});
}

TEST_CASE("a peer that served corrupt_limit corrupt chunks is not asked again") {
  auto cfg = wide();
  cfg.per_peer = 10;
  FetchPlanner p("me", none(10), cfg);
  p.holder("bad", all(10));
  const auto first = p.next(0);
  REQUIRE(first.size() == 10);
  p.failed(1, "bad", 0, ChunkFailure::corrupt);
  p.failed(1, "bad", 9, ChunkFailure::corrupt);
  CHECK_FALSE(p.barred("bad"));
  CHECK(p.outstanding() == 8);
  p.failed(1, "bad", 1, ChunkFailure::corrupt);
  CHECK(p.barred("bad"));
  CHECK(p.corrupt_count() == 3);
  CHECK(p.outstanding() == 0);  // what it still owes us will not be good either
  CHECK(p.next(2).empty());
  CHECK(p.unavailable().size() == 10);
  // A new bitmap from it changes nothing.
  p.holder("bad", all(10));
  CHECK(p.next(3).empty());
  p.holder("good", all(10));
  const auto again = p.next(4);
  CHECK(again.size() == 10);
  for (const auto& a : again) CHECK(a.peer == "good");
}

TEST_CASE("holder_gone frees its requests at once, forgets its bitmap and its WANT") {
  auto cfg = wide();
  FetchPlanner p("me", none(6), cfg);
  p.cofetchers({"p1"});
  p.holder("src", all(6));
  p.holder("p1", only(6, {1, 3}));
  // 5 is p1's and p1 lacks it: it waits.
  CHECK(p.next(0) == std::vector<ChunkAsk>{{"src", 0}, {"p1", 1}, {"src", 2}, {"p1", 3}, {"src", 4}});
  p.holder_gone("p1");
  CHECK(p.outstanding() == 3);
  CHECK(p.outstanding_to("p1") == 0);
  CHECK(p.failures_of("p1") == 0);
  // Alone now: everything is mine, no wait.
  CHECK(p.next(1) == std::vector<ChunkAsk>{{"src", 1}, {"src", 3}, {"src", 5}});
  p.holder_gone("src");
  CHECK(p.outstanding() == 0);
  CHECK(p.unavailable().size() == 6);
  CHECK(p.next(2).empty());
  CHECK_FALSE(p.next_deadline());
}

TEST_CASE("wrong-length bitmaps: bits past the end ignored, missing bits not held") {
  FetchPlanner p("me", none(5), wide());
  std::vector<bool> longer(64, true);
  p.holder("long", longer);
  p.holder("short", only(2, {1}));
  p.holder("empty", {});
  const auto asks = p.next(0);
  CHECK(asks.size() == 5);
  for (const auto& a : asks) {
    CHECK(a.chunk < 5);
    CHECK((a.peer == "long" || (a.peer == "short" && a.chunk == 1)));
  }
  p.holder_gone("long");
  CHECK(p.unavailable() == std::vector<std::uint64_t>{0, 2, 3, 4});
  // Nonsense chunk numbers from the shell are ignored.
  p.received(1, "short", 99);
  p.failed(1, "short", 99, ChunkFailure::corrupt);
  CHECK(p.held_count() == 0);
  CHECK(p.corrupt_count() == 0);
  CHECK_FALSE(p.holds(99));
}

TEST_CASE("self is neither a holder nor a co-fetcher to itself") {
  FetchPlanner p("me", none(3), wide());
  p.holder("me", all(3));
  p.cofetchers({"me"});
  CHECK(p.next(0).empty());
  CHECK(p.unavailable().size() == 3);
}

TEST_CASE("demand moves the cursor and the urgent region with it") {
  FetchConfig cfg;
  cfg.window = 4;
  cfg.per_peer = 4;
  cfg.urgent_chunks = 2;
  FetchPlanner p("me", none(100), cfg);
  p.cofetchers({"p1", "p2", "p3"});  // 3 of 4 chunks would wait but for urgency
  p.holder("src", all(100));
  // 0, 1, 2 urgent; 3 waits for p3; 4 mine. The last chunk (99) is not fetched early.
  CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 1, 2, 4});
  p.demand(50);
  for (auto c : {0, 1, 2, 4}) p.received(1, "src", static_cast<std::uint64_t>(c));
  // 50, 51, 52 urgent; 52 is mine anyway (52 mod 4 = 0, "me" first); 53 waits for p1.
  CHECK(chunks_of(p.next(2)) == std::vector<std::uint64_t>{50, 51, 52, 56});
}

TEST_CASE("demanding the last chunk makes it urgent and asks for it at once") {
  FetchConfig cfg;
  cfg.window = 4;
  cfg.per_peer = 4;
  cfg.urgent_chunks = 2;
  FetchPlanner p("me", none(100), cfg);
  p.cofetchers({"p1", "p2", "p3"});  // 99 is p3's (99 mod 4 = 3): it would wait for p3
  p.holder("src", all(100));
  CHECK(chunks_of(p.next(0)) == std::vector<std::uint64_t>{0, 1, 2, 4});
  for (auto c : {0, 1, 2, 4}) p.received(1, "src", static_cast<std::uint64_t>(c));
  CHECK(chunks_of(p.next(2)) == std::vector<std::uint64_t>{8, 12, 16, 20});
  // The decoder reads the file's end (an Ogg file's length): 99 goes out as soon as a slot frees.
  p.demand(99);
  CHECK(p.demand_cursor() == 99);
  p.received(3, "src", 8);
  CHECK(p.next(3) == std::vector<ChunkAsk>{{"src", 99}});
}
