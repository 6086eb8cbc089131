// PlayQueue: edits, replication records, snapshots and the playback rules (docs/queue.md).

#include <catch2/catch.hpp>

#include <set>
#include <string>
#include <vector>

#include "chorus/node/play_queue.hpp"

using chorus::control::Refusal;
using chorus::node::Advance;
using chorus::node::PlayQueue;
using chorus::node::QueueAssembly;
using chorus::protocol::CatalogEntry;
using chorus::protocol::ModeSwitch;
using chorus::protocol::QueueEditKind;
using chorus::protocol::QueueModes;

namespace {

CatalogEntry entry(const std::string& name) {
  return CatalogEntry{.hash = std::string(60, '0') + name.substr(0, 4), .root = std::string(64, 'r'),
                      .name = name, .title = "", .artist = "", .album = "", .format = "wav",
                      .frames = 48'000, .size = 1000};
}

std::vector<CatalogEntry> entries(int count, const std::string& prefix = "t") {
  std::vector<CatalogEntry> out;
  for (int i = 1; i <= count; ++i) out.push_back(entry(prefix + std::to_string(1000 + i)));
  return out;
}

std::vector<std::string> names(const PlayQueue& queue) {
  std::vector<std::string> out;
  for (const auto& item : queue.items()) out.push_back(item.track.name);
  return out;
}

std::vector<std::uint64_t> ids(const PlayQueue& queue) {
  std::vector<std::uint64_t> out;
  for (const auto& item : queue.items()) out.push_back(item.id);
  return out;
}

/// A queue of `count` tracks t1001.. added by an edit (ids 1..count), version 1.
PlayQueue queue_of(int count) {
  PlayQueue queue;
  auto edits = queue.add(entries(count), std::nullopt);
  REQUIRE_FALSE(edits.refused);
  return queue;
}

/// A replica that applies every change of `edits`.
void replay(PlayQueue& replica, const chorus::node::QueueEdits& edits) {
  for (const auto& change : edits.changes) REQUIRE(replica.apply(change) == PlayQueue::Applied::applied);
}

}  // namespace

TEST_CASE("a new queue is empty, mirrors the library and has version 0") {
  PlayQueue queue;
  CHECK(queue.empty());
  CHECK(queue.version() == 0);
  CHECK(queue.mirrors_library());
  CHECK(queue.modes() == QueueModes{});
}

TEST_CASE("add appends with fresh ids, or inserts at a position, and raises the version") {
  PlayQueue queue;
  auto first = queue.add(entries(3), std::nullopt);
  REQUIRE_FALSE(first.refused);
  CHECK(first.first_id == 1u);
  CHECK(ids(queue) == std::vector<std::uint64_t>{1, 2, 3});
  CHECK(queue.version() == 1);
  CHECK_FALSE(queue.mirrors_library());
  auto second = queue.add({entry("x1")}, 1);
  CHECK(second.first_id == 4u);
  CHECK(names(queue) == std::vector<std::string>{"t1001", "x1", "t1002", "t1003"});
  CHECK(queue.version() == 2);
  CHECK(queue.add({entry("end")}, 4).changes.size() == 1);
  CHECK(names(queue).back() == "end");
}

TEST_CASE("add refuses a position past the end, nothing to add and a full queue") {
  auto queue = queue_of(2);
  auto past = queue.add({entry("x")}, 3);
  REQUIRE(past.refused);
  CHECK(past.refused->refusal == Refusal::bad_argument);
  CHECK(past.refused->text == "no position 4 (the queue has 2)");
  auto none = queue.add({}, std::nullopt);
  REQUIRE(none.refused);
  CHECK(none.refused->refusal == Refusal::no_such);
  auto full = queue.add(entries(static_cast<int>(chorus::protocol::kMaxQueueLength) - 1), std::nullopt);
  CHECK(full.refused);
  CHECK(full.refused->text.find("the queue is full") == 0);
  CHECK(queue.size() == 2);
  CHECK(queue.version() == 1);
  CHECK_FALSE(queue.add(entries(static_cast<int>(chorus::protocol::kMaxQueueLength) - 2), std::nullopt).refused);
  CHECK(queue.size() == chorus::protocol::kMaxQueueLength);
}

TEST_CASE("a big add is split into pages, each a change of its own") {
  PlayQueue queue;
  auto edits = queue.add(entries(10'000), std::nullopt);
  REQUIRE_FALSE(edits.refused);
  CHECK(edits.changes.size() >= 10'000 / chorus::protocol::kMaxQueuePageItems);
  std::size_t total = 0;
  for (const auto& change : edits.changes) {
    CHECK(change.items.size() <= chorus::protocol::kMaxQueuePageItems);
    CHECK(change.position == total);
    total += change.items.size();
  }
  CHECK(total == 10'000);
  PlayQueue replica;
  replay(replica, edits);
  CHECK(replica.items() == queue.items());
  CHECK(replica.version() == queue.version());
}

TEST_CASE("pages are also cut by size: long names make smaller pages") {
  std::vector<chorus::protocol::QueueEntry> items;
  for (std::uint64_t i = 1; i <= 100; ++i) {
    auto track = entry("t");
    track.name = std::string(4000, 'n');
    track.title = std::string(4000, 't');
    items.push_back({i, track});
  }
  const auto pages = chorus::node::queue_pages(items);
  // About 49 kB each at worst: five to a page.
  CHECK(pages.size() == 20);
  for (const auto& page : pages) CHECK(page.size() == 5);
}

TEST_CASE("remove by range and by id, refusals name the problem") {
  auto queue = queue_of(5);
  CHECK_FALSE(queue.remove(1, 2).refused);
  CHECK(ids(queue) == std::vector<std::uint64_t>{1, 4, 5});
  CHECK_FALSE(queue.remove_id(5).refused);
  CHECK(ids(queue) == std::vector<std::uint64_t>{1, 4});
  auto unknown = queue.remove_id(5);
  REQUIRE(unknown.refused);
  CHECK(unknown.refused->refusal == Refusal::no_such);
  auto past = queue.remove(1, 2);
  REQUIRE(past.refused);
  CHECK(past.refused->text == "no positions 2-3 (the queue has 2)");
  CHECK(queue.remove(2, 1).refused->text == "no position 3 (the queue has 2)");
  CHECK(queue.remove(0, 0).refused);
  CHECK(queue.version() == 3);
}

TEST_CASE("move a range or an id so that its first item ends at the position") {
  auto queue = queue_of(5);
  CHECK_FALSE(queue.move(0, 2, 3).refused);
  CHECK(ids(queue) == std::vector<std::uint64_t>{3, 4, 5, 1, 2});
  CHECK_FALSE(queue.move_id(2, 0).refused);
  CHECK(ids(queue) == std::vector<std::uint64_t>{2, 3, 4, 5, 1});
  CHECK(queue.move(0, 2, 4).refused);  // would end past the end
  CHECK(queue.move(4, 2, 0).refused);
  CHECK(queue.move_id(99, 0).refused->refusal == Refusal::no_such);
  CHECK(ids(queue) == std::vector<std::uint64_t>{2, 3, 4, 5, 1});
}

TEST_CASE("clear empties the queue and ids are not reused afterwards") {
  auto queue = queue_of(3);
  CHECK_FALSE(queue.clear().refused);
  CHECK(queue.empty());
  CHECK(queue.add({entry("x")}, std::nullopt).first_id == 4u);
}

TEST_CASE("setting the same modes changes nothing, other modes are one change") {
  auto queue = queue_of(2);
  CHECK(queue.set_modes({}).changes.empty());
  QueueModes modes{.random = true, .repeat = false, .single = ModeSwitch::oneshot, .consume = ModeSwitch::on};
  auto edits = queue.set_modes(modes);
  REQUIRE(edits.changes.size() == 1);
  CHECK(edits.changes[0].kind == QueueEditKind::modes);
  CHECK(queue.modes() == modes);
  CHECK(queue.version() == 2);
}

TEST_CASE("the library mirror keeps ids, inserts new tracks in catalog order and ends with any edit") {
  PlayQueue queue;
  auto first = queue.mirror_library({entry("b"), entry("d")});
  CHECK(names(queue) == std::vector<std::string>{"b", "d"});
  CHECK(queue.mirrors_library());
  for (const auto& change : first.changes) CHECK(change.library);
  const auto before = ids(queue);
  queue.mirror_library({entry("a"), entry("b"), entry("c"), entry("d"), entry("e")});
  CHECK(names(queue) == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(queue.find(before[0])->track.name == "b");
  CHECK(queue.find(before[1])->track.name == "d");
  // A track gone from the library leaves.
  queue.mirror_library({entry("a"), entry("c"), entry("d"), entry("e")});
  CHECK(names(queue) == std::vector<std::string>{"a", "c", "d", "e"});
  CHECK(queue.find(before[1])->track.name == "d");
  // The same library: no change.
  const auto version = queue.version();
  CHECK(queue.mirror_library({entry("a"), entry("c"), entry("d"), entry("e")}).changes.empty());
  CHECK(queue.version() == version);
  // Modes do not end it; an edit does.
  queue.set_modes({.random = true, .repeat = false, .single = ModeSwitch::off, .consume = ModeSwitch::off});
  CHECK(queue.mirrors_library());
  queue.remove(0, 1);
  CHECK_FALSE(queue.mirrors_library());
  CHECK(queue.mirror_library(entries(3)).changes.empty());
  CHECK(names(queue) == std::vector<std::string>{"c", "d", "e"});
}

TEST_CASE("a replica applies the leader's changes in order, and reports stale, gaps and invalid ones") {
  PlayQueue leader;
  PlayQueue replica;
  auto add = leader.add(entries(4), std::nullopt);
  auto move = leader.move(0, 1, 3);
  auto remove = leader.remove(1, 1);
  replay(replica, add);
  CHECK(replica.apply(remove.changes[0]) == PlayQueue::Applied::gap);
  replay(replica, move);
  CHECK(replica.apply(move.changes[0]) == PlayQueue::Applied::stale);
  replay(replica, remove);
  CHECK(replica.items() == leader.items());
  auto bad = leader.remove(0, 1).changes[0];
  bad.count = 99;
  CHECK(replica.apply(bad) == PlayQueue::Applied::invalid);
  CHECK(replica.version() == leader.version() - 1);
  auto duplicate = leader.add({entry("x")}, std::nullopt).changes[0];
  duplicate.version = replica.version() + 1;
  duplicate.items[0].id = replica.items()[0].id;
  CHECK(replica.apply(duplicate) == PlayQueue::Applied::invalid);
}

TEST_CASE("a snapshot rebuilds the same queue page by page, and a broken sequence is noticed") {
  PlayQueue leader;
  leader.add(entries(1000), std::nullopt);
  leader.set_modes({.random = false, .repeat = true, .single = ModeSwitch::off, .consume = ModeSwitch::oneshot});
  const auto pages = leader.snapshot("a", 7);
  REQUIRE(pages.size() > 1);
  QueueAssembly assembly;
  std::optional<PlayQueue> rebuilt;
  for (const auto& page : pages) {
    CHECK_FALSE(rebuilt);
    rebuilt = assembly.take(page);
  }
  REQUIRE(rebuilt);
  CHECK(rebuilt->items() == leader.items());
  CHECK(rebuilt->version() == leader.version());
  CHECK(rebuilt->modes() == leader.modes());
  CHECK(rebuilt->next_id() == leader.next_id());
  CHECK_FALSE(rebuilt->mirrors_library());
  // A page missing in the middle.
  QueueAssembly gap;
  CHECK_FALSE(gap.take(pages[0]));
  CHECK_FALSE(gap.take(pages[2]));
  CHECK(gap.broken());
  // An empty queue is one page.
  PlayQueue empty;
  const auto one = empty.snapshot("a", 1);
  REQUIRE(one.size() == 1);
  QueueAssembly single;
  CHECK(single.take(one[0]));
}

TEST_CASE("a snapshot with duplicate ids is refused") {
  auto pages = queue_of(3).snapshot("a", 1);
  pages[0].items[1].id = pages[0].items[0].id;
  QueueAssembly assembly;
  CHECK_FALSE(assembly.take(pages[0]));
  CHECK(assembly.broken());
}

TEST_CASE("in order: next follows the queue, stops at the end, wraps with repeat") {
  auto queue = queue_of(3);
  CHECK(queue.following(std::nullopt, Advance::next_command, 0) == 1u);
  CHECK(queue.following(1, Advance::end_of_track, 0) == 2u);
  CHECK(queue.following(3, Advance::end_of_track, 0) == std::nullopt);
  CHECK(queue.following(3, Advance::next_command, 0) == std::nullopt);
  queue.set_modes({.random = false, .repeat = true, .single = ModeSwitch::off, .consume = ModeSwitch::off});
  CHECK(queue.following(3, Advance::end_of_track, 0) == 1u);
  // An item no longer queued: the first.
  CHECK(queue.following(42, Advance::end_of_track, 0) == 1u);
  CHECK(PlayQueue().following(std::nullopt, Advance::next_command, 0) == std::nullopt);
}

TEST_CASE("prev goes back one, stays at the first, wraps with repeat") {
  auto queue = queue_of(3);
  CHECK(queue.preceding(2) == 1u);
  CHECK(queue.preceding(1) == 1u);
  CHECK(queue.preceding(std::nullopt) == 1u);
  queue.set_modes({.random = false, .repeat = true, .single = ModeSwitch::off, .consume = ModeSwitch::off});
  CHECK(queue.preceding(1) == 3u);
}

TEST_CASE("single stops after the current item at its end, or replays it with repeat, next ignores it") {
  auto queue = queue_of(3);
  queue.set_modes({.random = false, .repeat = false, .single = ModeSwitch::on, .consume = ModeSwitch::off});
  CHECK(queue.following(2, Advance::end_of_track, 0) == std::nullopt);
  CHECK(queue.following(2, Advance::next_command, 0) == 3u);
  queue.set_modes({.random = false, .repeat = true, .single = ModeSwitch::on, .consume = ModeSwitch::off});
  CHECK(queue.following(2, Advance::end_of_track, 0) == 2u);
}

TEST_CASE("single oneshot turns itself off once used at the end of a track") {
  auto queue = queue_of(3);
  queue.set_modes({.random = false, .repeat = false, .single = ModeSwitch::oneshot, .consume = ModeSwitch::off});
  CHECK(queue.following(1, Advance::end_of_track, 0) == std::nullopt);
  auto next = queue.finished(1, Advance::next_command);
  CHECK(next.changes.empty());
  CHECK(queue.modes().single == ModeSwitch::oneshot);
  auto end = queue.finished(1, Advance::end_of_track);
  REQUIRE(end.changes.size() == 1);
  CHECK(queue.modes().single == ModeSwitch::off);
  CHECK(queue.size() == 3);
}

TEST_CASE("consume removes the item that finished, oneshot turns off after one") {
  auto queue = queue_of(3);
  queue.set_modes({.random = false, .repeat = false, .single = ModeSwitch::off, .consume = ModeSwitch::on});
  CHECK(queue.following(1, Advance::end_of_track, 0) == 2u);
  auto edits = queue.finished(1, Advance::end_of_track);
  REQUIRE(edits.changes.size() == 1);
  CHECK(edits.changes[0].kind == QueueEditKind::remove);
  CHECK(ids(queue) == std::vector<std::uint64_t>{2, 3});
  queue.set_modes({.random = false, .repeat = false, .single = ModeSwitch::off, .consume = ModeSwitch::oneshot});
  auto once = queue.finished(2, Advance::next_command);
  CHECK(once.changes.size() == 2);  // the removal, then consume off
  CHECK(ids(queue) == std::vector<std::uint64_t>{3});
  CHECK(queue.modes().consume == ModeSwitch::off);
  CHECK(queue.finished(3, Advance::end_of_track).changes.empty());
  CHECK(ids(queue) == std::vector<std::uint64_t>{3});
}

TEST_CASE("random: deterministic by seed, no item twice in a round, the round ends or repeat starts another") {
  auto queue = queue_of(6);
  queue.set_modes({.random = true, .repeat = false, .single = ModeSwitch::off, .consume = ModeSwitch::off});
  auto copy = queue;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    CHECK(queue.following(std::nullopt, Advance::next_command, seed) ==
          copy.following(std::nullopt, Advance::next_command, seed));
  }
  std::set<std::uint64_t> picks;
  for (std::uint64_t seed = 0; seed < 50; ++seed) picks.insert(*queue.following(1, Advance::next_command, seed));
  CHECK(picks.size() > 2);  // the seed matters
  CHECK_FALSE(picks.count(1));
  std::set<std::uint64_t> played;
  std::optional<std::uint64_t> current;
  for (std::uint64_t seed = 1; seed <= 6; ++seed) {
    current = queue.following(current, Advance::end_of_track, seed * 7919);
    REQUIRE(current);
    CHECK(played.insert(*current).second);
    queue.started(*current);
  }
  CHECK(played.size() == 6);
  CHECK(queue.following(current, Advance::end_of_track, 99) == std::nullopt);
  queue.set_modes({.random = true, .repeat = true, .single = ModeSwitch::off, .consume = ModeSwitch::off});
  auto again = queue.following(current, Advance::end_of_track, 99);
  REQUIRE(again);
  CHECK(again != current);
}

TEST_CASE("random prev walks back along the round") {
  auto queue = queue_of(4);
  queue.set_modes({.random = true, .repeat = false, .single = ModeSwitch::off, .consume = ModeSwitch::off});
  queue.started(3);
  queue.started(1);
  queue.started(4);
  CHECK(queue.preceding(4) == 1u);
  CHECK(queue.preceding(1) == 3u);
  CHECK(queue.preceding(3) == 3u);
  queue.remove_id(1);
  CHECK(queue.preceding(4) == 3u);
}
