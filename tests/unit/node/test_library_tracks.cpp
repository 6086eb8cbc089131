// LibraryTracks: the content service's view of the library, read on the content thread while
// rescans replace the library's snapshot on another.

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/node/library_tracks.hpp"
#include "chorus/playback/library.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

namespace fs = std::filesystem;
using chorus::node::LibraryTracks;
using chorus::playback::Library;
using chorus::playback::ScanOptions;
using chorus::test::write_tone;

TEST_CASE("the catalog is read whole while rescans replace the library's snapshot") {
  // A node crashed here: catalog() walked a snapshot it did not hold, which a rescan freed.
  // Before the fix this test crashed 5 of 5 runs (AddressSanitizer: heap-use-after-free, 3 of 3).
  chorus::test::TempDir dir;
  write_tone(dir.path / "one.wav", 1);
  write_tone(dir.path / "two.wav", 2);
  ScanOptions options;
  options.background = false;
  Library library = Library::scan(dir.path, options);
  const LibraryTracks tracks(library);
  REQUIRE(tracks.catalog().size() == 2);

  constexpr int kRescans = 200;
  std::atomic<bool> rescanning{true};
  std::thread rescanner([&] {
    for (int i = 0; i < kRescans; ++i) {
      // Every rescan changes the list, so every one publishes a new snapshot.
      if (i % 2 == 0) write_tone(dir.path / "three.wav", 3);
      else fs::remove(dir.path / "three.wav");
      library.rescan();
    }
    rescanning = false;
  });

  const std::set<std::string> known{"one.wav", "two.wav", "three.wav"};
  std::size_t reads = 0;
  bool all_whole = true;
  while (rescanning || reads == 0) {
    const auto catalog = tracks.catalog();
    ++reads;
    const bool whole = (catalog.size() == 2 || catalog.size() == 3) &&
                       std::all_of(catalog.begin(), catalog.end(), [&](const auto& entry) {
                         return known.count(entry.name) == 1 && entry.hash.size() == 64;
                       });
    if (!whole) all_whole = false;
  }
  rescanner.join();
  CHECK(all_whole);
  CHECK(reads > 0);
  CHECK(library.stats().rescans == kRescans);
  CHECK(tracks.catalog().size() == 2);
}
