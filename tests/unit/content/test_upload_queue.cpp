#include <catch2/catch.hpp>

#include <algorithm>
#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "chorus/content/upload_queue.hpp"

using namespace chorus::content;

namespace {

QueuedChunk ask(const std::string& peer, std::uint64_t chunk, std::int64_t since = 0) {
  return QueuedChunk{peer, "h", chunk, since};
}

const auto anyone = [](const std::string&) { return true; };

/// Who gets the next `n` chunks, every link ready.
std::vector<std::string> turns(UploadQueue& q, std::size_t n) {
  std::vector<std::string> out;
  for (std::size_t i = 0; i < n; ++i) {
    auto next = q.pop(anyone);
    if (!next) break;
    out.push_back(next->peer);
  }
  return out;
}

}  // namespace

TEST_CASE("upload queue: empty gives nothing") {
  UploadQueue q(8);
  CHECK(q.empty());
  CHECK(q.size() == 0);
  CHECK_FALSE(q.pop(anyone));
  q.forget("x");
  CHECK(q.empty());
}

TEST_CASE("upload queue: one peer's requests go in the order they came") {
  UploadQueue q(8);
  for (std::uint64_t c : {5, 2, 9}) REQUIRE(q.push(ask("b", c, static_cast<std::int64_t>(c))));
  CHECK(q.queued("b") == 3);
  CHECK(q.pop(anyone) == ask("b", 5, 5));
  CHECK(q.pop(anyone) == ask("b", 2, 2));
  CHECK(q.pop(anyone) == ask("b", 9, 9));
  CHECK(q.empty());
}

TEST_CASE("upload queue: at most max_per_peer queued per peer, the others' room untouched") {
  UploadQueue q(2);
  CHECK(q.push(ask("b", 0)));
  CHECK(q.push(ask("b", 1)));
  CHECK_FALSE(q.push(ask("b", 2)));
  CHECK(q.push(ask("c", 0)));
  CHECK(q.queued("b") == 2);
  CHECK(q.queued("c") == 1);
  CHECK(q.size() == 3);
  REQUIRE(q.pop(anyone));  // b's turn: room for one more of b's
  CHECK(q.push(ask("b", 2)));
  UploadQueue none(0);
  CHECK_FALSE(none.push(ask("b", 0)));
  CHECK(none.empty());
}

TEST_CASE("upload queue: peers take turns, whoever asked first and however much") {
  UploadQueue q(8);
  // b asked for everything before c and d asked once each.
  for (std::uint64_t c = 0; c < 6; ++c) REQUIRE(q.push(ask("b", c)));
  REQUIRE(q.push(ask("d", 0)));
  REQUIRE(q.push(ask("c", 0)));
  CHECK(turns(q, 3) == std::vector<std::string>{"b", "c", "d"});
  // c asks again while b still has requests: it is served after b's next turn, not after all
  // of b's requests.
  REQUIRE(q.push(ask("c", 1)));
  CHECK(turns(q, 3) == std::vector<std::string>{"b", "c", "b"});
  CHECK(turns(q, 10) == std::vector<std::string>{"b", "b", "b"});
  CHECK(q.empty());
}

TEST_CASE("upload queue: a peer that comes later joins the round in id order") {
  UploadQueue q(8);
  REQUIRE(q.push(ask("b", 0)));
  REQUIRE(q.push(ask("b", 1)));
  REQUIRE(q.push(ask("d", 0)));
  CHECK(turns(q, 1) == std::vector<std::string>{"b"});
  REQUIRE(q.push(ask("a", 0)));  // before b by id: its turn comes once the round wraps
  REQUIRE(q.push(ask("c", 0)));  // after b: next
  CHECK(turns(q, 5) == std::vector<std::string>{"c", "d", "a", "b"});
}

TEST_CASE("upload queue: a peer whose link cannot take a chunk keeps its turn for later") {
  UploadQueue q(8);
  for (const char* peer : {"b", "c", "d"}) {
    REQUIRE(q.push(ask(peer, 0)));
    REQUIRE(q.push(ask(peer, 1)));
  }
  std::set<std::string> busy{"c"};
  const auto ready = [&](const std::string& peer) { return !busy.contains(peer); };
  CHECK(q.pop(ready)->peer == "b");
  CHECK(q.pop(ready)->peer == "d");  // c skipped
  CHECK(q.pop(ready)->peer == "b");
  busy = {"b", "c", "d"};
  CHECK_FALSE(q.pop(ready));  // nobody ready: nothing taken, nothing lost
  CHECK(q.size() == 3);
  busy.clear();
  CHECK(q.pop(ready) == ask("c", 0));  // the round goes on after b, the last served
  CHECK(q.pop(ready) == ask("d", 1));
  CHECK(q.pop(ready) == ask("c", 1));
  CHECK(q.empty());
}

TEST_CASE("upload queue: forget drops a peer's requests and the round goes on without it") {
  UploadQueue q(8);
  for (const char* peer : {"b", "c", "d"}) {
    REQUIRE(q.push(ask(peer, 0)));
    REQUIRE(q.push(ask(peer, 1)));
  }
  CHECK(turns(q, 2) == std::vector<std::string>{"b", "c"});
  q.forget("c");  // the last served goes: the next after it is still next
  CHECK(q.queued("c") == 0);
  CHECK(turns(q, 10) == std::vector<std::string>{"d", "b", "d"});
}

TEST_CASE("upload queue: over every order of requests from 3 peers, shares differ by at most one") {
  // Each peer keeps 2 requests queued (a fetcher's per-peer limit) and asks again as soon as one
  // is served; whatever order the first requests came in, after N chunks every peer has had
  // N/3 of them, give or take one.
  const std::vector<std::string> peers{"b", "c", "d"};
  std::vector<std::size_t> order{0, 0, 1, 1, 2, 2};
  do {
    UploadQueue q(2);
    std::uint64_t next_chunk = 0;
    for (const auto i : order) REQUIRE(q.push(ask(peers[i], next_chunk++)));
    std::map<std::string, int> served;
    for (int n = 0; n < 30; ++n) {
      auto got = q.pop(anyone);
      REQUIRE(got);
      ++served[got->peer];
      REQUIRE(q.push(ask(got->peer, next_chunk++)));
      int least = n + 1;
      int most = 0;
      for (const auto& p : peers) {
        least = std::min(least, served[p]);
        most = std::max(most, served[p]);
      }
      REQUIRE(most - least <= 1);
    }
  } while (std::next_permutation(order.begin(), order.end()));
}
