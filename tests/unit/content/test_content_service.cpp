// Two content services on loopback: catalogs, a fetch, refusals. Real sockets and threads; the
// library below them is a fake (a file in a temp dir and its digests).

#include <catch2/catch.hpp>

#include <atomic>
#include <map>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "chorus/content/content_service.hpp"
#include "../playback/eventually.hpp"
#include "../playback/temp_dir.hpp"

using namespace chorus;
using namespace chorus::content;
using chorus::test::eventually;

namespace {

std::vector<std::uint8_t> file_bytes(std::size_t n, std::uint8_t salt) {
  std::vector<std::uint8_t> out(n);
  for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint8_t>(i * 7 + i / 1000 + salt);
  return out;
}

void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
}

std::vector<std::uint8_t> read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

/// One file, described as the library would (digests taken when it was "indexed").
class FakeLibrary final : public LocalTracks {
 public:
  void add(const std::filesystem::path& path, const std::string& name) {
    FileHasher hasher;
    const auto bytes = read_file(path);
    hasher.update(bytes);
    auto digests = hasher.finish();
    entry_ = protocol::CatalogEntry{digests.content_hash, to_hex(digests.root), name, "", "", "", "wav",
                                    48'000, bytes.size()};
    path_ = path;
    digests_ = digests.chunks;
  }
  std::optional<File> file(const std::string& hash) const override {
    if (!entry_ || hash != entry_->hash) return std::nullopt;
    return File{path_, entry_->size};
  }
  std::optional<std::vector<Digest>> manifest(const std::string& hash) const override {
    if (!entry_ || hash != entry_->hash) return std::nullopt;
    return digests_;
  }
  std::vector<protocol::CatalogEntry> catalog() const override {
    if (!entry_) return {};
    return {*entry_};
  }
  const protocol::CatalogEntry& entry() const { return *entry_; }

 private:
  std::optional<protocol::CatalogEntry> entry_;
  std::filesystem::path path_;
  std::vector<Digest> digests_;
};

/// A service with what its callbacks told, safe to read from the test thread.
struct Node {
  Node(const std::string& id, const std::filesystem::path& cache_dir, const LocalTracks& library,
       std::uint64_t upload_bytes_per_second = 0, std::uint64_t cache_bytes = CacheConfig{}.max_bytes) {
    ContentConfig config;
    config.id = id;
    config.listen = {"127.0.0.1", 0};
    config.cache.directory = cache_dir;
    config.cache.max_bytes = cache_bytes;
    config.upload_bytes_per_second = upload_bytes_per_second;
    ContentService::Callbacks callbacks{
        [](std::function<void()> work) { work(); },  // straight on the service's thread
        [this](std::shared_ptr<const Catalog> merged) {
          std::lock_guard lock(mutex);
          catalog = std::move(merged);
        },
        [this](const std::string& hash) {
          std::lock_guard lock(mutex);
          progressed.insert(hash);
        }};
    service = std::make_unique<ContentService>(config, library, std::move(callbacks));
    service->start();
  }

  std::size_t catalog_size() {
    std::lock_guard lock(mutex);
    return catalog ? catalog->entries.size() : 0;
  }
  bool progress_for(const std::string& hash) {
    std::lock_guard lock(mutex);
    return progressed.contains(hash);
  }
  std::string problem() {
    auto view = service->view();
    return view.fetches.empty() ? std::string() : view.fetches.front().problem;
  }

  std::mutex mutex;
  std::shared_ptr<const Catalog> catalog;
  std::set<std::string> progressed;
  std::unique_ptr<ContentService> service;
};

void link(Node& a, const std::string& a_id, Node& b, const std::string& b_id) {
  a.service->peer_up(b_id, "127.0.0.1", b.service->port());
  b.service->peer_up(a_id, "127.0.0.1", a.service->port());
}

/// Counts the log's lines about a fetch that cannot be cached, while it is the default logger.
class CannotCacheLines final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  std::atomic<int> attempts{0};  ///< every level: each time the cache refused the fetch
  std::atomic<int> warnings{0};

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (std::string_view(msg.payload.data(), msg.payload.size()).find("cannot cache") == std::string_view::npos) return;
    ++attempts;
    if (msg.level == spdlog::level::warn) ++warnings;
  }
  void flush_() override {}
};

/// Makes a logger writing to `sink` the default one (debug and up) for its lifetime.
class LogCapture {
 public:
  explicit LogCapture(std::shared_ptr<spdlog::sinks::sink> sink) : previous_(spdlog::default_logger()) {
    auto logger = std::make_shared<spdlog::logger>("capture", std::move(sink));
    logger->set_level(spdlog::level::debug);
    spdlog::set_default_logger(std::move(logger));
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

 private:
  std::shared_ptr<spdlog::logger> previous_;
};

/// `bytes` written to DIR/song.wav and listed in `library` as "song.wav".
void add_song(FakeLibrary& library, const std::filesystem::path& dir, const std::vector<std::uint8_t>& bytes) {
  write_file(dir / "song.wav", bytes);
  library.add(dir / "song.wav", "song.wav");
}

WantedTrack wanted(const protocol::CatalogEntry& e) {
  return WantedTrack{e.hash, e.root, e.size, e.name, e.frames, 0};
}

}  // namespace

TEST_CASE("an empty node lists its peer's tracks and fetches one, byte for byte") {
  chorus::test::TempDir dir;
  const auto bytes = file_bytes(3 * kChunkBytes + 4321, 1);
  write_file(dir.path / "song.wav", bytes);
  FakeLibrary library;
  library.add(dir.path / "song.wav", "album/song.wav");
  FakeLibrary nothing;
  Node source("a", dir.path / "cache-a", library);
  Node player("b", dir.path / "cache-b", nothing);
  link(source, "a", player, "b");

  REQUIRE(eventually([&] { return player.catalog_size() == 1; }));
  CHECK(player.catalog->entries.front() == library.entry());

  player.service->want({wanted(library.entry())});
  REQUIRE(eventually([&] { return player.service->cache().state(library.entry().hash) == CacheState::complete; }));
  CHECK(read_file(*player.service->cache().complete_path(library.entry().hash)) == bytes);
  CHECK(player.progress_for(library.entry().hash));
  // The view is published each tick: wait for the one after the last chunk.
  CHECK(eventually([&] { return source.service->view().chunks_served == 4; }));
  CHECK(eventually([&] { return player.service->view().bytes_fetched == bytes.size(); }));
  CHECK(player.service->view().corrupt_chunks == 0);
}

TEST_CASE("a track nobody holds is reported, and nothing is fetched") {
  chorus::test::TempDir dir;
  FakeLibrary nothing;
  Node a("a", dir.path / "cache-a", nothing);
  Node b("b", dir.path / "cache-b", nothing);
  link(a, "a", b, "b");
  REQUIRE(eventually([&] { return b.service->view().links == 1; }));
  const std::string hash(64, 'e');
  b.service->want({WantedTrack{hash, std::string(64, 'f'), 1000, "ghost.flac", 48'000, 0}});
  REQUIRE(eventually([&] { return b.problem() == "no peer holds this track"; }));
  CHECK(b.service->cache().state(hash) == CacheState::absent);
}

TEST_CASE("a track the cache has no room for is retried every 2 s and warned about once, however often it is wanted") {
  chorus::test::TempDir dir;
  const auto bytes = file_bytes(3 * kChunkBytes, 3);
  FakeLibrary library;
  add_song(library, dir.path, bytes);
  FakeLibrary nothing;
  auto lines = std::make_shared<CannotCacheLines>();
  LogCapture capture(lines);  // before the services, which log from their threads until they stop
  Node source("a", dir.path / "cache-a", library);
  Node player("b", dir.path / "cache-b", nothing, 0, 2 * kChunkBytes);
  link(source, "a", player, "b");
  REQUIRE(eventually([&] { return player.service->view().links == 1; }));

  // A node wants the same tracks again with each publication of its playback state, several
  // times a second; none of them frees room in the cache.
  const auto start = std::chrono::steady_clock::now();
  player.service->want({wanted(library.entry())});
  REQUIRE(eventually([&] { return lines->attempts > 0; }));
  for (int i = 0; i < 10; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    player.service->want({wanted(library.entry())});
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;

  CHECK(player.problem().starts_with("cannot cache: "));
  CHECK(lines->attempts <= 1 + elapsed / std::chrono::seconds(2));
  CHECK(lines->warnings == 1);
  CHECK(player.service->cache().state(library.entry().hash) == CacheState::absent);
}

TEST_CASE("a library file changed on disk since it was indexed is refused, not served") {
  chorus::test::TempDir dir;
  auto bytes = file_bytes(2 * kChunkBytes, 2);
  FakeLibrary library;
  add_song(library, dir.path, bytes);
  bytes[10] ^= 0xff;  // same size, other content: the index's digests no longer hold
  write_file(dir.path / "song.wav", bytes);
  FakeLibrary nothing;
  Node source("a", dir.path / "cache-a", library);
  Node player("b", dir.path / "cache-b", nothing);
  link(source, "a", player, "b");
  REQUIRE(eventually([&] { return player.service->view().links == 1; }));

  player.service->want({wanted(library.entry())});
  REQUIRE(eventually([&] { return source.service->view().refused_requests > 0; }));
  CHECK(player.service->cache().state(library.entry().hash) != CacheState::complete);
  CHECK(player.service->view().corrupt_chunks == 0);  // refused at the source: nothing bad was sent
}

TEST_CASE("a wanted track whose hash or root is not a content hash is not fetched") {
  chorus::test::TempDir dir;
  FakeLibrary nothing;
  Node a("a", dir.path / "cache-a", nothing);
  const std::string ghost(64, 'e');
  a.service->want({WantedTrack{"../../etc/passwd", std::string(64, 'f'), 1000, "x", 48'000, 0},
                   WantedTrack{std::string(64, 'a'), "not-a-root", 1000, "y", 48'000, 0},
                   WantedTrack{ghost, std::string(64, 'f'), 1000, "ghost", 48'000, 0}});
  // The valid one is fetched (and finds nobody); the two others are dropped before anything.
  REQUIRE(eventually([&] { return !a.problem().empty(); }));
  const auto fetches = a.service->view().fetches;
  REQUIRE(fetches.size() == 1);
  CHECK(fetches.front().hash == ghost);
  CHECK(fetches.front().problem == "no peer to fetch from");
}

TEST_CASE("a capped uploader serves the peers that fetch from it in turn") {
  // The source's upload lets one chunk go at a time; two players fetch the same 16 chunks from
  // it at once. Each must get its share of the source's chunks: when the source served whichever
  // link came first while it had a request queued, the other's requests (its player waiting for
  // the track's first chunks) waited until the first had nearly everything.
  chorus::test::TempDir dir;
  const auto bytes = file_bytes(16 * kChunkBytes, 3);
  FakeLibrary library;
  add_song(library, dir.path, bytes);
  FakeLibrary nothing;
  Node source("a", dir.path / "cache-a", library, 4 * kChunkBytes);  // 4 chunks a second
  Node b("b", dir.path / "cache-b", nothing);
  Node c("c", dir.path / "cache-c", nothing);
  link(source, "a", b, "b");
  link(source, "a", c, "c");
  link(b, "b", c, "c");
  REQUIRE(eventually([&] { return b.catalog_size() == 1 && c.catalog_size() == 1; }));
  REQUIRE(eventually([&] { return b.service->view().links == 2 && c.service->view().links == 2; }));

  const auto hash = library.entry().hash;
  b.service->want({wanted(library.entry())});
  c.service->want({wanted(library.entry())});
  // A fetch leaves the view once complete: keep the last count of chunks from the source.
  std::map<std::string, std::uint64_t> from_source;
  const auto note = [&](Node& node, const std::string& name) {
    const auto view = node.service->view();
    if (!view.fetches.empty() && view.fetches.front().received_from.contains("a")) {
      from_source[name] = view.fetches.front().received_from.at("a");
    }
    return node.service->cache().state(hash) == CacheState::complete;
  };
  REQUIRE(eventually([&] {
    const bool b_done = note(b, "b");
    const bool c_done = note(c, "c");
    return b_done && c_done;
  }));
  INFO("chunks from the source: b " << from_source["b"] << ", c " << from_source["c"]);
  CHECK(from_source["b"] >= 4);
  CHECK(from_source["c"] >= 4);
  CHECK(read_file(*b.service->cache().complete_path(hash)) == bytes);
  CHECK(read_file(*c.service->cache().complete_path(hash)) == bytes);
}
