// The state a node keeps between runs: its two documents (node/saved_state.hpp) and when they
// are written (node/save_schedule.hpp).

#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "chorus/node/save_schedule.hpp"
#include "chorus/node/saved_state.hpp"
#include "printing.hpp"

using chorus::control::QueueItem;
using chorus::node::decode_saved_playback;
using chorus::node::decode_saved_queue;
using chorus::node::encode_saved_playback;
using chorus::node::encode_saved_queue;
using chorus::node::SavedPlayback;
using chorus::node::SavedQueueHeader;
using chorus::node::SaveParts;
using chorus::node::SaveSchedule;
using chorus::playback::PlaybackState;
using chorus::playback::PlayStatus;
using chorus::protocol::CatalogEntry;
using chorus::protocol::ModeSwitch;
using chorus::protocol::QueueModes;
using chorus::protocol::TrackRef;

namespace {

CatalogEntry track(int n) {
  const auto digits = fmt::format("{:06}", n);
  return CatalogEntry{.hash = std::string(58, 'a') + digits, .root = std::string(58, 'b') + digits,
                      .name = "dir/track " + digits + ".flac", .title = "Title \"" + digits + "\"",
                      .artist = "Ärtist", .album = "", .format = "flac", .frames = 48'000 * 60, .size = 1000u + n};
}

std::vector<QueueItem> items(int count, std::uint64_t first_id = 1) {
  std::vector<QueueItem> out;
  for (int i = 0; i < count; ++i) out.push_back({first_id + static_cast<std::uint64_t>(i), track(i)});
  return out;
}

const SavedQueueHeader kHeader{.version = 42, .next_id = 20'000, .library = false,
                               .modes = QueueModes{.random = true, .repeat = false, .single = ModeSwitch::oneshot,
                                                   .consume = ModeSwitch::on}};

PlaybackState playing_state() {
  return PlaybackState{.epoch = 7, .seq = 12, .status = PlayStatus::playing,
                       .track = TrackRef{.index = 3, .name = "dir/track 1002.flac", .hash = std::string(64, 'c'),
                                         .frames = 48'000 * 60, .size = 1002, .root = std::string(64, 'd')},
                       .anchor_us = 0, .anchor_frame = 48'000 * 30};
}

}  // namespace

TEST_CASE("a saved queue comes back whole: items, ids, version, next id, modes, library flag") {
  for (const int count : {0, 1, 255, 256, 257, 1000}) {
    CAPTURE(count);
    const auto saved = items(count, 5);
    auto loaded = decode_saved_queue(encode_saved_queue("home", kHeader, saved), "home");
    REQUIRE(loaded.problem == "");
    REQUIRE(loaded.value);
    const auto& queue = *loaded.value;
    CHECK(queue.version() == 42);
    CHECK(queue.next_id() == 20'000);
    CHECK_FALSE(queue.mirrors_library());
    CHECK(queue.modes() == kHeader.modes);
    REQUIRE(queue.size() == saved.size());
    for (std::size_t i = 0; i < saved.size(); ++i) {
      CHECK(queue.items()[i].id == saved[i].id);
      CHECK(queue.items()[i].track == saved[i].track);
    }
  }
}

TEST_CASE("a library queue keeps its flag") {
  SavedQueueHeader header = kHeader;
  header.library = true;
  auto loaded = decode_saved_queue(encode_saved_queue("home", header, items(3)), "home");
  REQUIRE(loaded.value);
  CHECK(loaded.value->mirrors_library());
}

TEST_CASE("a full queue of 16384 items is saved and read back") {
  const auto saved = items(16384);
  const auto text = encode_saved_queue("home", kHeader, saved);
  auto loaded = decode_saved_queue(text, "home");
  REQUIRE(loaded.problem == "");
  REQUIRE(loaded.value);
  CHECK(loaded.value->size() == 16384);
  CHECK(text.size() < chorus::node::kMaxSavedQueueBytes);
}

TEST_CASE("a saved queue that is not right is refused with a reason, never half-read") {
  const auto good = encode_saved_queue("home", kHeader, items(300));
  const std::vector<std::pair<std::string, std::string>> bad{
      {"", "not JSON"},
      {"{", "not JSON"},
      {"[1,2]", "not a JSON object"},
      {R"({"format":2,"cluster":"home","pages":[]})", "format"},
      {R"({"cluster":"home","pages":[]})", "format"},
      {R"({"format":1,"pages":[]})", "cluster"},
      {R"({"format":1,"cluster":"home"})", "no queue pages"},
      {R"({"format":1,"cluster":"home","pages":[]})", "no queue pages"},
      {R"({"format":1,"cluster":"home","pages":[{"type":"HEARTBEAT"}]})", "refused"},
      {R"({"format":1,"cluster":"home","pages":[{"type":"QUEUE_OFFER","from":"a","version":3}]})", "another message"},
      {good.substr(0, good.size() / 2), "not JSON"},
  };
  for (const auto& [text, reason] : bad) {
    CAPTURE(text.substr(0, 80));
    auto loaded = decode_saved_queue(text, "home");
    CHECK_FALSE(loaded.value);
    CHECK_THAT(loaded.problem, Catch::Contains(reason));
  }
}

TEST_CASE("a saved queue whose pages do not make one queue is refused") {
  const auto two_pages = encode_saved_queue("home", kHeader, items(300));
  const auto page_start = two_pages.find(R"({"type")");
  const auto second = two_pages.find(R"(,{"type")", page_start);
  REQUIRE(second != std::string::npos);
  SECTION("a page missing") {
    const auto one_page = two_pages.substr(0, second) + "]}";
    CHECK_THAT(decode_saved_queue(one_page, "home").problem, Catch::Contains("do not make one valid queue"));
  }
  SECTION("a page too many") {
    const auto first_page = two_pages.substr(page_start, second - page_start);
    auto extra = two_pages.substr(0, two_pages.size() - 3) + "," + first_page + "]}";
    CHECK_FALSE(decode_saved_queue(extra, "home").value);
  }
  SECTION("an id twice") {
    auto twice = items(2);
    twice[1].id = twice[0].id;
    CHECK_THAT(decode_saved_queue(encode_saved_queue("home", kHeader, twice), "home").problem,
               Catch::Contains("do not make one valid queue"));
  }
  SECTION("a bad hash") {
    auto broken = items(2);
    broken[1].track.hash = std::string(65, 'a');
    CHECK_THAT(decode_saved_queue(encode_saved_queue("home", kHeader, broken), "home").problem,
               Catch::Contains("refused"));
  }
}

TEST_CASE("another cluster's saved state is ignored") {
  auto queue = decode_saved_queue(encode_saved_queue("office", kHeader, items(2)), "home");
  CHECK_FALSE(queue.value);
  CHECK_THAT(queue.problem, Catch::Contains("another cluster") && Catch::Contains("office"));
  auto state = decode_saved_playback(encode_saved_playback("office", SavedPlayback{9, playing_state()}), "home");
  CHECK_FALSE(state.value);
  CHECK_THAT(state.problem, Catch::Contains("another cluster"));
}

TEST_CASE("a saved playback state comes back as it was") {
  for (const auto status : {PlayStatus::playing, PlayStatus::paused}) {
    auto state = playing_state();
    state.status = status;
    const SavedPlayback saved{9, state};
    auto loaded = decode_saved_playback(encode_saved_playback("home", saved), "home");
    REQUIRE(loaded.problem == "");
    REQUIRE(loaded.value);
    CHECK(*loaded.value == saved);
  }
  const SavedPlayback stopped{3, PlaybackState{.epoch = 3, .seq = 1, .status = PlayStatus::stopped, .track = std::nullopt,
                                               .anchor_us = 0, .anchor_frame = 0}};
  auto loaded = decode_saved_playback(encode_saved_playback("home", stopped), "home");
  REQUIRE(loaded.value);
  CHECK(*loaded.value == stopped);
}

TEST_CASE("a saved playback state that is not right is refused with a reason") {
  const std::string state = R"({"type":"STATE_SYNC_RESPONSE","from":"saved","epoch":7,"seq":1,"status":"stopped","anchor_us":0,"anchor_frame":0})";
  const std::vector<std::pair<std::string, std::string>> bad{
      {"", "not JSON"},
      {"null", "not a JSON object"},
      {R"({"format":1,"cluster":"home","state":)" + state + "}", "epoch"},
      {R"({"format":1,"cluster":"home","epoch":-1,"state":)" + state + "}", "epoch"},
      {R"({"format":1,"cluster":"home","epoch":"7","state":)" + state + "}", "epoch"},
      {R"({"format":1,"cluster":"home","epoch":7})", "no state"},
      {R"({"format":1,"cluster":"home","epoch":7,"state":{"type":"STATE_SYNC_RESPONSE"}})", "refused"},
      {R"({"format":1,"cluster":"home","epoch":6,"state":)" + state + "}", "above the highest"},
      {R"({"format":0,"cluster":"home","epoch":7,"state":)" + state + "}", "format"},
      {std::string(70'000, ' '), "larger"},
  };
  for (const auto& [text, reason] : bad) {
    CAPTURE(text.substr(0, 120));
    auto loaded = decode_saved_playback(text, "home");
    CHECK_FALSE(loaded.value);
    CHECK_THAT(loaded.problem, Catch::Contains(reason));
  }
  auto fine = decode_saved_playback(R"({"format":1,"cluster":"home","epoch":7,"state":)" + state + "}", "home");
  CHECK(fine.value);
}

TEST_CASE("the state to save holds its position, within its track, and no instant") {
  auto state = playing_state();
  state.anchor_us = 123'456'789;
  const auto saved = chorus::node::state_to_save(state, 1'000);
  CHECK(saved.anchor_us == 0);
  CHECK(saved.anchor_frame == 1'000);
  CHECK(saved.epoch == 7);
  CHECK(saved.seq == 12);
  CHECK(chorus::node::state_to_save(state, -5).anchor_frame == 0);
  CHECK(chorus::node::state_to_save(state, 48'000 * 90).anchor_frame == 48'000 * 60 - 1);
}

TEST_CASE("saves are coalesced: the first at once, then at most every two seconds") {
  SaveSchedule schedule;
  CHECK_FALSE(schedule.due());
  CHECK(schedule.take(0) == SaveParts{});
  schedule.queue_changed(1'000'000);
  CHECK(schedule.due() == 1'000'000);
  CHECK(schedule.take(999'999) == SaveParts{});
  CHECK(schedule.take(1'000'000) == SaveParts{.queue = true, .playback = false});
  CHECK_FALSE(schedule.due());
  // A burst right after: one write, two seconds after the last.
  schedule.queue_changed(1'100'000);
  schedule.state_changed(1'200'000, false);
  schedule.queue_changed(1'300'000);
  CHECK(schedule.due() == 3'000'000);
  CHECK(schedule.take(2'999'999) == SaveParts{});
  CHECK(schedule.take(3'000'000) == SaveParts{.queue = true, .playback = true});
  // After a quiet spell the next change is written at once again.
  schedule.state_changed(9'000'000, false);
  CHECK(schedule.due() == 9'000'000);
  CHECK(schedule.take(9'000'000) == SaveParts{.queue = false, .playback = true});
  CHECK_FALSE(schedule.due());
}

TEST_CASE("while playing the position is saved every five seconds, and no longer once paused") {
  SaveSchedule schedule;
  schedule.state_changed(0, true);
  CHECK(schedule.take(0) == SaveParts{.queue = false, .playback = true});
  CHECK(schedule.due() == 5'000'000);
  CHECK(schedule.take(5'000'000) == SaveParts{.queue = false, .playback = true});
  CHECK(schedule.due() == 10'000'000);
  schedule.queue_changed(6'000'000);  // a queue change while playing: the position goes with it
  CHECK(schedule.due() == 7'000'000);
  CHECK(schedule.take(7'000'000) == SaveParts{.queue = true, .playback = true});
  schedule.state_changed(8'000'000, false);
  CHECK(schedule.due() == 9'000'000);
  CHECK(schedule.take(9'000'000) == SaveParts{.queue = false, .playback = true});
  CHECK_FALSE(schedule.due());
}
