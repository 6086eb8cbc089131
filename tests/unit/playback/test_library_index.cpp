// The library's index: what a second scan reads (nothing unchanged), changed and removed files,
// tags, chunk manifests, a corrupt index file, and the background hasher.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/content/chunking.hpp"
#include "chorus/playback/library.hpp"
#include "chorus/playback/library_index.hpp"
#include "playback/eventually.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

namespace fs = std::filesystem;
using chorus::content::Digest;
using chorus::content::FileHasher;
using chorus::playback::IndexEntry;
using chorus::playback::Library;
using chorus::playback::LibraryIndex;
using chorus::playback::ScanOptions;
using chorus::playback::TrackInfo;
using chorus::test::eventually;
using chorus::test::TempDir;
using chorus::test::write_file;
using chorus::test::write_tone;

namespace {

std::vector<std::uint8_t> read_bytes(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

FileHasher::Result hash_bytes(const fs::path& path) {
  FileHasher hasher;
  hasher.update(read_bytes(path));
  return hasher.finish();
}

Library scan(const fs::path& dir, const fs::path& index_file) {
  ScanOptions options;
  options.index_file = index_file;
  return Library::scan(dir, std::move(options));
}

std::vector<std::string> names(const Library& lib) {
  std::vector<std::string> out;
  for (const auto& t : *lib.snapshot()) out.push_back(t.file_name);
  return out;
}

const TrackInfo& named(const std::vector<TrackInfo>& tracks, const std::string& name) {
  for (const auto& t : tracks) {
    if (t.file_name == name) return t;
  }
  FAIL("no track " << name);
  return tracks.front();
}

/// A library directory with four tracks in subdirectories, and a place for its index.
struct Fixture {
  TempDir library;
  TempDir state;
  fs::path index_file = state.path / "index" / "library.sqlite";

  Fixture() {
    write_tone(library.path / "Artist/Album/01 one.wav", 1);
    write_tone(library.path / "Artist/Album/02 two.wav", 2);
    write_tone(library.path / "Other/three.wav", 3);
    write_tone(library.path / "four.wav", 4);
  }
};

}  // namespace

TEST_CASE("a second scan with the index reads no file and lists the same tracks") {
  Fixture f;
  const Library first = scan(f.library.path, f.index_file);
  CHECK(first.stats().files_seen == 4);
  CHECK(first.stats().files_hashed == 4);
  CHECK(first.stats().pending == 0);
  REQUIRE(fs::exists(f.index_file));

  const Library second = scan(f.library.path, f.index_file);
  CHECK(second.stats().files_seen == 4);
  CHECK(second.stats().files_hashed == 0);
  const auto a = first.snapshot();
  const auto b = second.snapshot();
  REQUIRE(a->size() == 4);
  REQUIRE(b->size() == 4);
  for (std::size_t i = 0; i < a->size(); ++i) {
    INFO((*a)[i].file_name);
    CHECK((*b)[i].index == i);
    CHECK((*b)[i].file_name == (*a)[i].file_name);
    CHECK((*b)[i].path == (*a)[i].path);
    CHECK((*b)[i].content_hash == (*a)[i].content_hash);
    CHECK((*b)[i].chunk_root == (*a)[i].chunk_root);
    CHECK((*b)[i].frames == (*a)[i].frames);
    CHECK((*b)[i].duration_us == (*a)[i].duration_us);
    CHECK((*b)[i].file_size == (*a)[i].file_size);
    CHECK((*b)[i].format == "wav");
    CHECK((*b)[i].source_rate == 48000);
    CHECK((*b)[i].source_channels == 2);
  }
  // What the index says is what the file holds: it still opens (its hash is checked).
  CHECK(second.open(b->front()).ok());
}

TEST_CASE("a changed file is read again and listed with its new hash, the others are not read") {
  Fixture f;
  const auto old_hash = named(*scan(f.library.path, f.index_file).snapshot(), "four.wav").content_hash;

  SECTION("new size") {
    write_tone(f.library.path / "four.wav", 44, 4800);
  }
  SECTION("same size, new content and time") {
    const auto path = f.library.path / "four.wav";
    const auto time = fs::last_write_time(path);
    write_tone(path, 44);
    fs::last_write_time(path, time + std::chrono::seconds(3));
  }
  const Library lib = scan(f.library.path, f.index_file);
  CHECK(lib.stats().files_hashed == 1);
  const auto& four = named(*lib.snapshot(), "four.wav");
  CHECK(four.content_hash != old_hash);
  CHECK(four.content_hash == hash_bytes(f.library.path / "four.wav").content_hash);
  CHECK_FALSE(lib.find_by_hash(old_hash).has_value());
  CHECK(scan(f.library.path, f.index_file).stats().files_hashed == 0);
}

TEST_CASE("a removed file disappears from the list and from the index") {
  Fixture f;
  const auto hash = named(*scan(f.library.path, f.index_file).snapshot(), "Other/three.wav").content_hash;
  fs::remove_all(f.library.path / "Other");

  const Library lib = scan(f.library.path, f.index_file);
  CHECK(names(lib) == std::vector<std::string>{"Artist/Album/01 one.wav", "Artist/Album/02 two.wav", "four.wav"});
  CHECK(lib.stats().files_hashed == 0);
  CHECK_FALSE(lib.find_by_hash(hash).has_value());
  CHECK_FALSE(lib.manifest(hash).has_value());
  const LibraryIndex index(f.index_file);
  CHECK(index.entries().size() == 3);
  CHECK_FALSE(index.chunks(hash).has_value());
}

TEST_CASE("title, artist and album are read from the tags and kept in the index") {
  TempDir dir;
  TempDir state;
  write_tone(dir.path / "source.raw.wav", 9, 4800);
  const auto flac = dir.path / "tagged.flac";
  const std::string command = "flac --silent --force --tag='TITLE=Sonate für Klavier' --tag=ARTIST=Beyoncé "
                              "--tag=ALBUM=Zwölf -o '" + flac.string() + "' '" + (dir.path / "source.raw.wav").string() + "'";
  REQUIRE(std::system(command.c_str()) == 0);  // flac is installed by scripts/setup.sh
  fs::remove(dir.path / "source.raw.wav");

  for (int run = 0; run < 2; ++run) {
    INFO("scan " << run);
    const Library lib = scan(dir.path, state.path / "index.sqlite");
    CHECK(lib.stats().files_hashed == (run == 0 ? 1u : 0u));
    REQUIRE(lib.size() == 1);
    const auto t = *lib.track(0);
    CHECK(t.playable());
    CHECK(t.format == "flac");
    CHECK(t.title == "Sonate f\xc3\xbcr Klavier");
    CHECK(t.artist == "Beyonc\xc3\xa9");
    CHECK(t.album == "Zw\xc3\xb6lf");
  }
  // A file without tags has empty ones.
  write_tone(dir.path / "plain.wav", 1);
  const auto plain = named(*scan(dir.path, {}).snapshot(), "plain.wav");
  CHECK(plain.title.empty());
  CHECK(plain.artist.empty());
  CHECK(plain.album.empty());
}

TEST_CASE("the manifest is the chunk digests of the file, from the index or from the file") {
  Fixture f;
  write_tone(f.library.path / "long.wav", 5, 48000 * 3);  // 576 KiB: three chunks
  const auto expected = hash_bytes(f.library.path / "long.wav");
  REQUIRE(expected.chunks.size() == 3);

  for (const fs::path& index_file : {f.index_file, fs::path{}}) {
    INFO("index file: " << index_file);
    const Library lib = scan(f.library.path, index_file);
    const auto& t = named(*lib.snapshot(), "long.wav");
    CHECK(t.chunk_root == chorus::content::to_hex(expected.root));
    const auto manifest = lib.manifest(t.content_hash);
    REQUIRE(manifest.has_value());
    CHECK(*manifest == expected.chunks);
    CHECK(chorus::content::to_hex(chorus::content::chunk_root(*manifest)) == t.chunk_root);
    CHECK_FALSE(lib.manifest(std::string(64, '0')).has_value());
    CHECK_FALSE(lib.manifest("").has_value());
  }
  // Second start: the manifest comes from the index without reading the file.
  const Library again = scan(f.library.path, f.index_file);
  CHECK(again.stats().files_hashed == 0);
  CHECK(again.manifest(named(*again.snapshot(), "long.wav").content_hash) == expected.chunks);
}

TEST_CASE("a corrupt index file is moved aside and the library works as without one") {
  Fixture f;
  fs::create_directories(f.index_file.parent_path());
  write_file(f.index_file, std::string(5000, '\x5a') + "this is not an SQLite database");

  const Library lib = scan(f.library.path, f.index_file);
  CHECK(lib.size() == 4);
  CHECK(lib.stats().files_hashed == 4);
  CHECK(fs::exists(f.index_file.string() + ".corrupt"));
  // The new index is a working one.
  CHECK(scan(f.library.path, f.index_file).stats().files_hashed == 0);
}

TEST_CASE("an index that cannot be created is kept in memory") {
  Fixture f;
  fs::create_directories(f.index_file);  // a directory where the file should be
  const Library lib = scan(f.library.path, f.index_file);
  CHECK(lib.size() == 4);
  CHECK(lib.error().empty());
  CHECK(lib.open(lib.snapshot()->front()).ok());
  CHECK_FALSE(LibraryIndex(f.index_file).persistent());
  CHECK(fs::is_directory(f.index_file));
}

TEST_CASE("the index stores, finds and deletes rows") {
  TempDir state;
  const auto file = state.path / "index.sqlite";
  IndexEntry entry;
  entry.path = "a/b.flac";
  entry.size = 1234;
  entry.mtime_ns = 1'700'000'000'123'456'789;
  entry.chunks = {Digest{1}, Digest{2}};
  entry.chunk_root = chorus::content::to_hex(chorus::content::chunk_root(entry.chunks));
  entry.content_hash = std::string(64, 'c');
  entry.format = "flac";
  entry.rate = 44100;
  entry.channels = 1;
  entry.frames = 96000;
  entry.title = "t";
  entry.artist = "a";
  entry.album = "b";
  {
    LibraryIndex index(file);
    CHECK(index.persistent());
    index.put(std::vector<IndexEntry>{entry});
  }
  LibraryIndex index(file);
  const auto rows = index.entries();
  REQUIRE(rows.size() == 1);
  CHECK(rows[0].path == entry.path);
  CHECK(rows[0].size == entry.size);
  CHECK(rows[0].mtime_ns == entry.mtime_ns);
  CHECK(rows[0].content_hash == entry.content_hash);
  CHECK(rows[0].chunk_root == entry.chunk_root);
  CHECK(rows[0].chunks.empty());  // digests only on request
  CHECK(rows[0].format == "flac");
  CHECK(rows[0].rate == 44100);
  CHECK(rows[0].channels == 1);
  CHECK(rows[0].frames == 96000);
  CHECK(rows[0].title == "t");
  CHECK(rows[0].artist == "a");
  CHECK(rows[0].album == "b");
  CHECK(index.chunks(std::string(64, 'C')) == entry.chunks);
  index.remove(std::vector<std::string>{"a/b.flac"});
  CHECK(index.entries().empty());
  CHECK_FALSE(index.chunks(entry.content_hash).has_value());
  CHECK_FALSE(LibraryIndex().persistent());
}

TEST_CASE("a background scan reads a few new files at once and leaves the rest to its thread") {
  Fixture f;
  REQUIRE(scan(f.library.path, f.index_file).size() == 4);
  for (int i = 0; i < 3; ++i) write_tone(f.library.path / "New" / ("n" + std::to_string(100 + i) + ".wav"), 100 + i);
  ScanOptions options;
  options.index_file = f.index_file;
  options.background = true;
  options.foreground_bytes = std::filesystem::file_size(f.library.path / "New" / "n100.wav");
  const Library lib = Library::scan(f.library.path, std::move(options));
  CHECK(lib.snapshot()->size() >= 5);  // the indexed four and the first new one, from the start
  CHECK(lib.stats().files_hashed >= 1);
}

TEST_CASE("a background scan lists the indexed tracks at once and publishes the new ones as it reads them") {
  Fixture f;
  REQUIRE(scan(f.library.path, f.index_file).size() == 4);
  for (int i = 0; i < 30; ++i) write_tone(f.library.path / "New" / ("n" + std::to_string(100 + i) + ".wav"), 100 + i);

  std::atomic<int> changes{0};
  ScanOptions options;
  options.index_file = f.index_file;
  options.background = true;
  options.foreground_bytes = 0;  // every new file on the hasher thread
  options.on_change = [&] { ++changes; };
  const Library lib = Library::scan(f.library.path, std::move(options));
  const auto first = lib.snapshot();
  CHECK(first->size() >= 4);  // the indexed tracks, from the start
  CHECK(lib.stats().files_seen == 34);

  REQUIRE(eventually([&] { return lib.stats().pending == 0; }));
  CHECK(lib.stats().files_hashed == 30);
  CHECK(lib.size() == 34);
  CHECK(changes >= 1);
  const auto all = lib.snapshot();
  for (std::size_t i = 0; i < all->size(); ++i) CHECK((*all)[i].index == i);
  CHECK(named(*all, "New/n129.wav").content_hash == hash_bytes(f.library.path / "New/n129.wav").content_hash);
  CHECK(lib.open(named(*all, "New/n100.wav")).ok());
  CHECK(lib.error().empty());
  // The snapshot taken before is unchanged.
  CHECK(first->size() <= all->size());
}

TEST_CASE("a background scan lists the unchanged tracks before it reads the new ones") {
  Fixture f;
  REQUIRE(scan(f.library.path, f.index_file).size() == 4);
  write_tone(f.library.path / "new.wav", 50, 48000 * 20);  // big enough to still be reading

  ScanOptions options;
  options.index_file = f.index_file;
  options.background = true;
  options.foreground_bytes = 0;  // every new file on the hasher thread
  const Library lib = Library::scan(f.library.path, std::move(options));
  const auto stats = lib.stats();
  const auto first = lib.snapshot();
  // Either the hasher is still at it and the list is the four indexed tracks, or it is done.
  if (stats.pending == 1) CHECK(first->size() == 4);
  CHECK(stats.files_hashed + stats.pending == 1);
  REQUIRE(eventually([&] { return lib.size() == 5; }));
  CHECK(lib.stats().pending == 0);
}

TEST_CASE("a library destroyed while its hasher thread reads stops it") {
  TempDir dir;
  for (int i = 0; i < 200; ++i) write_tone(dir.path / ("d" + std::to_string(i / 50)) / ("t" + std::to_string(i) + ".wav"), i);
  ScanOptions options;
  options.background = true;
  options.foreground_bytes = 0;  // every new file on the hasher thread
  Library lib = Library::scan(dir.path, std::move(options));
  lib = Library();  // joins the hasher thread between two files
  CHECK(lib.size() == 0);
}

TEST_CASE("an unreadable or non-audio file keeps its error across scans without being read again") {
  Fixture f;
  write_file(f.library.path / "Other/junk.mp3", std::string(1000, 'x'));
  const Library first = scan(f.library.path, f.index_file);
  const auto junk = named(*first.snapshot(), "Other/junk.mp3");
  CHECK_FALSE(junk.playable());
  const Library second = scan(f.library.path, f.index_file);
  CHECK(second.stats().files_hashed == 0);
  CHECK(named(*second.snapshot(), "Other/junk.mp3").error == junk.error);
  CHECK_FALSE(second.open(named(*second.snapshot(), "Other/junk.mp3")).ok());
}
