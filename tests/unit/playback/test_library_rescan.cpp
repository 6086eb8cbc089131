// Library::rescan(): new, changed and removed files after the first scan, on the caller's thread
// and on the hasher thread; a directory that vanishes; a burst of requests.

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/library.hpp"
#include "playback/eventually.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

namespace fs = std::filesystem;
using chorus::playback::Library;
using chorus::playback::ScanOptions;
using chorus::playback::TrackInfo;
using chorus::test::eventually;
using chorus::test::TempDir;
using chorus::test::write_tone;

namespace {

std::vector<std::string> names(const Library& lib) {
  std::vector<std::string> out;
  for (const TrackInfo& t : *lib.snapshot()) out.push_back(t.file_name);
  return out;
}

struct Fixture {
  TempDir library;
  TempDir state;
  fs::path index_file = state.path / "library.sqlite";

  Fixture() {
    write_tone(library.path / "Album/01 one.wav", 1);
    write_tone(library.path / "two.wav", 2);
  }

  Library scan(bool background, std::function<void()> on_change = {}) const {
    ScanOptions options;
    options.index_file = index_file;
    options.background = background;
    options.foreground_bytes = 0;
    options.on_change = std::move(on_change);
    return Library::scan(library.path, std::move(options));
  }
};

}  // namespace

TEST_CASE("a rescan adds new files, drops removed ones and reads only what is new") {
  Fixture f;
  Library lib = f.scan(false);
  REQUIRE(names(lib) == std::vector<std::string>{"Album/01 one.wav", "two.wav"});
  const auto hashed_before = lib.stats().files_hashed;

  write_tone(f.library.path / "New/three.wav", 3);
  fs::remove(f.library.path / "two.wav");
  const auto job = lib.rescan();
  CHECK(job == 1);
  CHECK(names(lib) == std::vector<std::string>{"Album/01 one.wav", "New/three.wav"});
  CHECK(lib.stats().files_hashed == hashed_before + 1);  // only the new file was read
  CHECK(lib.stats().updating_job == 0);
  CHECK(lib.stats().rescans == 1);
  CHECK(lib.find_by_hash(lib.snapshot()->back().content_hash));
  CHECK(lib.open(lib.snapshot()->back()).ok());
  CHECK(lib.error().empty());

  const auto dirs = lib.directories();
  REQUIRE(dirs.size() == 3);
  CHECK(dirs.front() == f.library.path);
  CHECK(std::find(dirs.begin(), dirs.end(), f.library.path / "New") != dirs.end());
  CHECK(lib.rescan() == 2);
}

TEST_CASE("a rescan reads a changed file again and gives it its new hash") {
  Fixture f;
  Library lib = f.scan(false);
  const auto old_hash = lib.snapshot()->back().content_hash;
  write_tone(f.library.path / "two.wav", 22);
  // The size is the same: the modification time must tell (file systems with coarse times).
  fs::last_write_time(f.library.path / "two.wav", fs::last_write_time(f.library.path / "two.wav") + std::chrono::seconds(5));
  lib.rescan();
  REQUIRE(lib.size() == 2);
  CHECK(lib.snapshot()->back().content_hash != old_hash);
  CHECK_FALSE(lib.find_by_hash(old_hash));
}

TEST_CASE("a rescan of a directory that vanished keeps the last list and the next one recovers") {
  Fixture f;
  Library lib = f.scan(false);
  REQUIRE(lib.size() == 2);
  const fs::path moved = f.state.path / "away";
  fs::rename(f.library.path, moved);
  lib.rescan();
  CHECK(lib.size() == 2);
  CHECK(lib.stats().updating_job == 0);
  fs::rename(moved, f.library.path);
  write_tone(f.library.path / "three.wav", 3);
  lib.rescan();
  CHECK(lib.size() == 3);
}

TEST_CASE("a library whose directory was missing at start finds it by a rescan") {
  TempDir state;
  const fs::path dir = state.path / "music";
  ScanOptions options;
  options.background = true;
  Library lib = Library::scan(dir, std::move(options));
  CHECK(lib.size() == 0);
  CHECK_FALSE(lib.error().empty());
  write_tone(dir / "one.wav", 1);
  lib.rescan();
  REQUIRE(eventually([&] { return lib.size() == 1 && lib.stats().updating_job == 0; }));
  CHECK(lib.error().empty());
}

TEST_CASE("a background rescan runs on the hasher thread and tells its start and end") {
  Fixture f;
  std::atomic<int> changes{0};
  Library lib = f.scan(true, [&] { ++changes; });
  REQUIRE(eventually([&] { return lib.size() == 2 && lib.stats().pending == 0; }));
  const int before = changes;
  for (int i = 0; i < 20; ++i) write_tone(f.library.path / "New" / ("n" + std::to_string(i) + ".wav"), 100 + i);
  const auto job = lib.rescan();
  REQUIRE(eventually([&] { return lib.stats().rescans >= 1 && lib.stats().updating_job == 0; }));
  CHECK(lib.size() == 22);
  CHECK(lib.stats().pending == 0);
  CHECK(changes > before);
  CHECK(lib.rescan() > job);
}

TEST_CASE("a burst of rescan requests costs a few walks, not one each") {
  Fixture f;
  Library lib = f.scan(true);
  REQUIRE(eventually([&] { return lib.stats().pending == 0; }));
  std::uint64_t last = 0;
  for (int i = 0; i < 1000; ++i) {
    const auto job = lib.rescan();
    CHECK(job >= last);
    last = job;
  }
  REQUIRE(eventually([&] { return lib.stats().updating_job == 0; }));
  // A request joins the one that waits to start: at most one runs while the others queue as one.
  CHECK(lib.stats().rescans < 1000);
  CHECK(lib.stats().rescans == last);
  CHECK(lib.size() == 2);
}
