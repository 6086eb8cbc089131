#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <cstdlib>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "chorus/content/content_cache.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

using namespace chorus::content;
namespace fs = std::filesystem;
using chorus::test::TempDir;
using namespace std::chrono_literals;

namespace {

std::vector<std::uint8_t> bytes_of(std::size_t n, unsigned seed = 1) {
  std::vector<std::uint8_t> out(n);
  std::uint32_t x = 2463534242u * seed + 1;
  for (auto& b : out) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    b = static_cast<std::uint8_t>(x);
  }
  return out;
}

/// A file to fetch: its bytes, whole-file hash and chunk digests.
struct Source {
  std::vector<std::uint8_t> data;
  std::string hash;
  std::vector<Digest> digests;

  explicit Source(std::size_t size, unsigned seed = 1) : data(bytes_of(size, seed)) {
    FileHasher hasher;
    hasher.update(data);
    auto r = hasher.finish();
    hash = r.content_hash;
    digests = r.chunks;
  }
  std::span<const std::uint8_t> chunk(std::uint64_t c) const {
    return std::span(data).subspan(chunk_offset(c), chunk_length(data.size(), c));
  }
};

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Stores every chunk of `src` into `file`.
void store_all(PartialFile& file, const Source& src) {
  std::string error;
  for (std::uint64_t c = 0; c < file.chunk_count(); ++c) {
    INFO("chunk " << c << ": " << error);
    REQUIRE(file.store(c, src.chunk(c), error) == StoreResult::stored);
  }
}

/// A complete entry of `src` in `cache`.
void add_complete(ContentCache& cache, const Source& src) {
  std::string error;
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  INFO(error);
  REQUIRE(file);
  store_all(*file, src);
  REQUIRE(cache.finish(src.hash, error));
}

/// Signals, once, that a reader waits for a chunk (from the on_demand callback).
struct DemandSignal {
  std::mutex mutex;
  std::condition_variable cv;
  std::optional<std::uint64_t> chunk;

  void operator()(std::uint64_t c) {
    {
      const std::lock_guard lock(mutex);
      chunk = c;
    }
    cv.notify_all();
  }
  std::uint64_t wait() {
    std::unique_lock lock(mutex);
    cv.wait(lock, [&] { return chunk.has_value(); });
    return *chunk;
  }
};

}  // namespace

TEST_CASE("chunks are verified, stored in any order, and finish() makes a complete entry") {
  TempDir dir;
  ContentCache cache({dir.path / "cache", 64 << 20});
  REQUIRE(cache.error().empty());
  CHECK((fs::status(dir.path / "cache").permissions() & fs::perms::all) == fs::perms::owner_all);
  const Source src(2 * kChunkBytes + 12345);

  std::string error;
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  INFO(error);
  REQUIRE(file);
  CHECK(file->chunk_count() == 3);
  CHECK(fs::file_size(dir.path / "cache" / (src.hash + ".part")) == src.data.size());
  CHECK(fs::exists(dir.path / "cache" / (src.hash + ".meta")));
  CHECK(cache.state(src.hash) == CacheState::partial);
  CHECK(cache.partial(src.hash) == file);
  CHECK(cache.begin(src.hash, src.data.size(), src.digests, error) == file);  // the one under way

  CHECK(file->store(2, src.chunk(2), error) == StoreResult::stored);
  CHECK(file->store(0, src.chunk(0), error) == StoreResult::stored);
  CHECK(file->store(0, src.chunk(0), error) == StoreResult::already_held);
  CHECK(file->held() == std::vector<bool>{true, false, true});
  CHECK(file->read_chunk(2) == std::vector<std::uint8_t>(src.chunk(2).begin(), src.chunk(2).end()));
  CHECK_FALSE(file->read_chunk(1));
  CHECK_FALSE(cache.finish(src.hash, error));  // not complete yet
  CHECK(error.find("2 of 3 chunks") != std::string::npos);
  CHECK(file->store(1, src.chunk(1), error) == StoreResult::stored);
  CHECK(file->complete());

  REQUIRE(cache.finish(src.hash, error));
  CHECK(cache.state(src.hash) == CacheState::complete);
  CHECK(cache.complete_path(src.hash) == dir.path / "cache" / src.hash);
  CHECK(read_file(dir.path / "cache" / src.hash) == src.data);
  CHECK_FALSE(fs::exists(dir.path / "cache" / (src.hash + ".part")));
  CHECK_FALSE(fs::exists(dir.path / "cache" / (src.hash + ".meta")));
  CHECK(cache.read_chunk(src.hash, 1) == std::vector<std::uint8_t>(src.chunk(1).begin(), src.chunk(1).end()));
  CHECK_FALSE(cache.read_chunk(src.hash, 3));
  CHECK(cache.used_bytes() == src.data.size());
  // The reader that had the partial file still reads it (its descriptor followed the rename).
  std::vector<std::uint8_t> head(100);
  CHECK(file->read_at(0, head, 0ms) == 100);
  CHECK(std::equal(head.begin(), head.end(), src.data.begin()));

  const auto list = cache.entries();
  REQUIRE(list.size() == 1);
  CHECK(list[0].hash == src.hash);
  CHECK(list[0].state == CacheState::complete);
  CHECK(list[0].chunks_held == 3);

  cache.remove(src.hash);
  CHECK(cache.state(src.hash) == CacheState::absent);
  CHECK_FALSE(fs::exists(dir.path / "cache" / src.hash));
}

TEST_CASE("a chunk that does not match its digest is refused and nothing is written") {
  TempDir dir;
  ContentCache cache({dir.path, 64 << 20});
  const Source src(kChunkBytes + 10);
  std::string error;
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  REQUIRE(file);

  auto bad = std::vector<std::uint8_t>(src.chunk(0).begin(), src.chunk(0).end());
  bad[1000] ^= 1;
  CHECK(file->store(0, bad, error) == StoreResult::corrupt);
  CHECK(error.find("does not match its digest") != std::string::npos);
  CHECK(file->store(1, src.chunk(0).first(10), error) == StoreResult::corrupt);  // right length, wrong bytes
  CHECK(file->store(1, src.chunk(1).first(9), error) == StoreResult::corrupt);   // wrong length
  CHECK(file->store(2, src.chunk(1), error) == StoreResult::out_of_range);
  CHECK(file->held_count() == 0);
  const auto on_disk = read_file(dir.path / (src.hash + ".part"));
  CHECK(std::all_of(on_disk.begin(), on_disk.end(), [](std::uint8_t b) { return b == 0; }));
}

TEST_CASE("a fetch resumes after a restart, re-verifying the chunks it held") {
  TempDir dir;
  const Source src(4 * kChunkBytes + 1);
  std::string error;
  {
    ContentCache cache({dir.path, 64 << 20});
    auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
    REQUIRE(file);
    for (std::uint64_t c : {0, 2, 4}) REQUIRE(file->store(c, src.chunk(c), error) == StoreResult::stored);
  }
  {
    // Damage chunk 2 behind the cache's back.
    std::fstream part(dir.path / (src.hash + ".part"), std::ios::in | std::ios::out | std::ios::binary);
    part.seekp(static_cast<std::streamoff>(chunk_offset(2) + 7));
    part.put('\x55');
  }
  ContentCache cache({dir.path, 64 << 20});
  REQUIRE(cache.error().empty());
  CHECK(cache.state(src.hash) == CacheState::partial);
  CHECK_FALSE(cache.partial(src.hash));  // not begun by this process yet
  const auto list = cache.entries();
  REQUIRE(list.size() == 1);
  CHECK(list[0].chunks_held == 3);  // as recorded, not yet re-verified
  CHECK(cache.used_bytes() == src.data.size());

  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  INFO(error);
  REQUIRE(file);
  CHECK(file->held() == std::vector<bool>{true, false, false, false, true});
  for (std::uint64_t c : {1, 2, 3}) REQUIRE(file->store(c, src.chunk(c), error) == StoreResult::stored);
  REQUIRE(cache.finish(src.hash, error));
  CHECK(read_file(dir.path / src.hash) == src.data);
}

TEST_CASE("a leftover fetch of another size or chunk list under the same name starts over") {
  TempDir dir;
  const Source src(2 * kChunkBytes);
  std::string error;
  {
    ContentCache cache({dir.path, 64 << 20});
    auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
    REQUIRE(file->store(0, src.chunk(0), error) == StoreResult::stored);
  }
  ContentCache cache({dir.path, 64 << 20});
  auto other = src.digests;
  other[1][0] ^= 1;
  auto file = cache.begin(src.hash, src.data.size(), other, error);
  REQUIRE(file);
  CHECK(file->held_count() == 0);
  CHECK(cache.begin(src.hash, src.data.size(), src.digests, error) == nullptr);  // differs from the live one
  CHECK(error.find("another size or chunk list") != std::string::npos);
}

TEST_CASE("room is made least recently played first, sparing protected entries and partial files in use") {
  TempDir dir;
  ContentCache cache({dir.path, 3 * kChunkBytes});
  const Source a(kChunkBytes, 1), b(kChunkBytes, 2), c(kChunkBytes, 3), d(kChunkBytes, 4), e(kChunkBytes, 5),
      f(kChunkBytes, 6);
  add_complete(cache, a);
  add_complete(cache, b);
  add_complete(cache, c);
  cache.touch(a.hash);  // order now: b, c, a
  std::string error;

  auto fd = cache.begin(d.hash, d.data.size(), d.digests, error);
  REQUIRE(fd);
  CHECK(cache.evictions() == 1);
  CHECK(cache.state(b.hash) == CacheState::absent);
  CHECK_FALSE(fs::exists(dir.path / b.hash));
  CHECK(cache.used_bytes() == 3 * kChunkBytes);

  cache.protect({c.hash});  // order: c (protected), a, d (in use)
  auto fe = cache.begin(e.hash, e.data.size(), e.digests, error);
  REQUIRE(fe);
  CHECK(cache.evictions() == 2);
  CHECK(cache.state(a.hash) == CacheState::absent);
  CHECK(cache.state(c.hash) == CacheState::complete);
  CHECK(cache.state(d.hash) == CacheState::partial);

  // Everything left is protected or has a reader: no room, and nothing is evicted for nothing.
  CHECK_FALSE(cache.begin(f.hash, f.data.size(), f.digests, error));
  CHECK(error.find("no room") != std::string::npos);
  CHECK(cache.evictions() == 2);

  // Once d's fetch is let go, its partial file is the one to go.
  fd.reset();
  auto ff = cache.begin(f.hash, f.data.size(), f.digests, error);
  INFO(error);
  REQUIRE(ff);
  CHECK(cache.state(d.hash) == CacheState::absent);
  CHECK_FALSE(fs::exists(dir.path / (d.hash + ".part")));
  CHECK_FALSE(fs::exists(dir.path / (d.hash + ".meta")));
  CHECK(cache.evictions() == 3);
}

TEST_CASE("the eviction order survives a restart (mtime is when it was last played)") {
  TempDir dir;
  const Source a(kChunkBytes, 1), b(kChunkBytes, 2), c(kChunkBytes, 3);
  {
    ContentCache cache({dir.path, 2 * kChunkBytes});
    add_complete(cache, a);
    add_complete(cache, b);
    cache.touch(a.hash);
  }
  ContentCache cache({dir.path, 2 * kChunkBytes});
  std::string error;
  REQUIRE(cache.begin(c.hash, c.data.size(), c.digests, error));
  CHECK(cache.state(b.hash) == CacheState::absent);
  CHECK(cache.state(a.hash) == CacheState::complete);
}

TEST_CASE("a file larger than the whole cache is refused") {
  TempDir dir;
  ContentCache cache({dir.path, 2 * kChunkBytes});
  const Source big(2 * kChunkBytes + 1);
  std::string error;
  CHECK_FALSE(cache.begin(big.hash, big.data.size(), big.digests, error));
  CHECK(error.find("larger than the whole cache") != std::string::npos);
  CHECK(fs::is_empty(dir.path));
  // A digest list that does not fit the size is refused too.
  CHECK_FALSE(cache.begin(big.hash, kChunkBytes, big.digests, error));
  CHECK(error.find("chunk digests") != std::string::npos);
}

TEST_CASE("an unusable cache directory gives a cache that says why and stores nothing") {
  TempDir dir;
  chorus::test::write_file(dir.path / "plain", "not a directory");
  ContentCache cache({dir.path / "plain", 64 << 20});
  CHECK(cache.error() == "the cache directory " + (dir.path / "plain").string() + " is not a directory");
  const Source src(10);
  std::string error;
  CHECK_FALSE(cache.begin(src.hash, src.data.size(), src.digests, error));
  CHECK(error == cache.error());

  ContentCache below({dir.path / "plain" / "sub", 64 << 20});
  CHECK(below.error().starts_with("cannot create the cache directory"));

  ContentCache unset({});
  CHECK_FALSE(unset.error().empty());
}

TEST_CASE("a read-only cache directory is reported (where a read-only bind mount can be made)") {
  TempDir dir;
  fs::create_directories(dir.path / "ro");
  const std::string target = (dir.path / "ro").string();
  const std::string mount = "mount --bind '" + target + "' '" + target + "' 2>/dev/null && mount -o remount,ro,bind '" +
                            target + "' 2>/dev/null";
  if (std::system(mount.c_str()) != 0) {
    std::system(("umount '" + target + "' 2>/dev/null").c_str());
    WARN("no read-only bind mount here (needs CAP_SYS_ADMIN): skipped");
    return;
  }
  ContentCache cache({dir.path / "ro", 64 << 20});
  CHECK(cache.error().find("is not writable") != std::string::npos);
  CHECK(std::system(("umount '" + target + "'").c_str()) == 0);
}

TEST_CASE("a write that fails (file too large for the process) is reported as write_failed") {
  TempDir dir;
  ContentCache cache({dir.path, 64 << 20});
  const Source src(3 * kChunkBytes);
  std::string error;
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  REQUIRE(file);
  const Source other(2 * kChunkBytes, 9);

  // In a child: files may not grow past (or be written beyond) one chunk there, as on a full
  // quota. pwrite() and ftruncate() fail with EFBIG once SIGXFSZ is ignored.
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    ::signal(SIGXFSZ, SIG_IGN);
    const rlimit limit{kChunkBytes, kChunkBytes};
    if (::setrlimit(RLIMIT_FSIZE, &limit) != 0) ::_exit(10);
    std::string why;
    if (file->store(0, src.chunk(0), why) != StoreResult::stored) ::_exit(11);  // below the limit
    if (file->store(1, src.chunk(1), why) != StoreResult::write_failed) ::_exit(12);
    if (why.find("File too large") == std::string::npos) ::_exit(13);
    if (file->has(1)) ::_exit(14);
    if (cache.begin(other.hash, other.data.size(), other.digests, why)) ::_exit(15);
    if (why.find("File too large") == std::string::npos) ::_exit(16);
    if (fs::exists(dir.path / (other.hash + ".part"))) ::_exit(17);
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
}

TEST_CASE("finish() discards a file whose whole-file hash does not match") {
  TempDir dir;
  ContentCache cache({dir.path, 64 << 20});
  const Source src(kChunkBytes + 5);
  const std::string wrong = Source(7, 3).hash;  // a valid name, of other content
  std::string error;
  auto file = cache.begin(wrong, src.data.size(), src.digests, error);
  REQUIRE(file);
  store_all(*file, src);
  CHECK_FALSE(cache.finish(wrong, error));
  CHECK(error.find("does not match its content") != std::string::npos);
  CHECK(error.find(src.hash) != std::string::npos);
  CHECK(cache.state(wrong) == CacheState::absent);
  CHECK(fs::is_empty(dir.path));
  CHECK(file->abandoned());
}

TEST_CASE("read_at waits for a missing chunk until store() brings it") {
  TempDir dir;
  ContentCache cache({dir.path, 64 << 20});
  const Source src(3 * kChunkBytes);
  std::string error;
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  REQUIRE(file);
  REQUIRE(file->store(0, src.chunk(0), error) == StoreResult::stored);
  DemandSignal demand;
  file->on_demand(std::ref(demand));

  // A read across chunks 0 and 1, with patience far beyond what the test needs.
  std::vector<std::uint8_t> out(1000);
  std::size_t got = 0;
  std::thread reader([&] { got = file->read_at(kChunkBytes - 500, out, 600s); });
  CHECK(demand.wait() == 1);
  CHECK(file->demanded() == 1);
  REQUIRE(file->store(1, src.chunk(1), error) == StoreResult::stored);
  reader.join();
  CHECK(got == out.size());
  CHECK(std::equal(out.begin(), out.end(), src.data.begin() + kChunkBytes - 500));

  // At the end of the file a read is short without waiting; with no patience it is short at once.
  CHECK(file->read_at(2 * kChunkBytes - 10, out, 0ms) == 10);
  REQUIRE(file->store(2, src.chunk(2), error) == StoreResult::stored);
  CHECK(file->read_at(3 * kChunkBytes - 10, out, 600s) == 10);
  CHECK(file->read_at(3 * kChunkBytes, out, 600s) == 0);
}

TEST_CASE("abandon() ends a reader's wait at once") {
  TempDir dir;
  ContentCache cache({dir.path, 64 << 20});
  const Source src(2 * kChunkBytes);
  std::string error;
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  REQUIRE(file);
  REQUIRE(file->store(0, src.chunk(0), error) == StoreResult::stored);
  DemandSignal demand;
  file->on_demand(std::ref(demand));

  std::vector<std::uint8_t> out(1000);
  std::size_t got = 1234;
  std::thread reader([&] { got = file->read_at(kChunkBytes - 100, out, 600s); });
  CHECK(demand.wait() == 1);
  file->abandon();
  reader.join();
  CHECK(got == 100);  // what chunk 0 had
  CHECK(file->read_at(kChunkBytes, out, 600s) == 0);  // no waiting once abandoned
  // remove() abandons too, and the files go.
  cache.remove(src.hash);
  CHECK(fs::is_empty(dir.path));
}

TEST_CASE("hash arguments that are not 64 lower-case hex digits are refused and touch nothing") {
  TempDir dir;
  fs::create_directories(dir.path / "cache");
  const Source src(100);
  // Files that are not the cache's own: left alone by everything below.
  std::string upper = src.hash;
  for (auto& ch : upper) ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  chorus::test::write_file(dir.path / "cache" / "notes.txt", "mine");
  chorus::test::write_file(dir.path / "cache" / upper, "also mine");
  chorus::test::write_file(dir.path / "cache" / (src.hash + ".bak"), "mine too");
  chorus::test::write_file(dir.path / "victim", "keep");

  ContentCache cache({dir.path / "cache", kChunkBytes});
  CHECK(cache.entries().empty());
  for (const std::string& bad : {std::string("../victim"), upper, src.hash.substr(1), src.hash + "0",
                                std::string(64, 'g'), std::string("../") + src.hash.substr(3), std::string()}) {
    INFO(bad);
    std::string error;
    CHECK_FALSE(cache.begin(bad, src.data.size(), src.digests, error));
    CHECK(error.starts_with("refused:"));
    CHECK_FALSE(cache.finish(bad, error));
    CHECK(cache.state(bad) == CacheState::absent);
    CHECK_FALSE(cache.partial(bad));
    CHECK_FALSE(cache.complete_path(bad));
    CHECK_FALSE(cache.read_chunk(bad, 0));
    cache.touch(bad);
    cache.remove(bad);
  }
  CHECK_FALSE(is_content_hash(upper));
  CHECK(is_content_hash(src.hash));
  // A full cache makes room among its own entries only.
  std::string error;
  add_complete(cache, src);
  const Source next(kChunkBytes, 4);
  REQUIRE(cache.begin(next.hash, next.data.size(), next.digests, error));
  CHECK(cache.evictions() == 1);
  CHECK(fs::exists(dir.path / "cache" / "notes.txt"));
  CHECK(fs::exists(dir.path / "cache" / upper));
  CHECK(fs::exists(dir.path / "cache" / (src.hash + ".bak")));
  CHECK(fs::exists(dir.path / "victim"));
}

TEST_CASE("concurrent stores into the same bitmap byte are all recorded for a restart") {
  TempDir dir;
  const Source src(20 * kChunkBytes - 3);
  std::string error;
  {
    ContentCache cache({dir.path, 64 << 20});
    auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
    REQUIRE(file);
    std::vector<std::thread> threads;
    std::vector<StoreResult> results(file->chunk_count());
    for (unsigned t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        std::string why;
        for (std::uint64_t c = t; c < results.size(); c += 4) results[c] = file->store(c, src.chunk(c), why);
      });
    }
    for (auto& thread : threads) thread.join();
    CHECK(std::all_of(results.begin(), results.end(), [](StoreResult r) { return r == StoreResult::stored; }));
    CHECK(file->complete());
    // The metadata as documented: magic, version, chunk size, file size, chunk count.
    const auto meta = read_file(dir.path / (src.hash + ".meta"));
    REQUIRE(meta.size() == 32 + 20 * 32 + 3);
    CHECK(std::string(meta.begin(), meta.begin() + 8) == "CHORUSPF");
    CHECK(meta[8] == 1);
    CHECK(meta[12] == 0);
    CHECK(meta[14] == 4);  // 262144 = 0x40000
    CHECK(meta[16] == static_cast<std::uint8_t>(src.data.size()));
    CHECK(meta[24] == 20);
    CHECK(std::equal(meta.begin() + 32, meta.begin() + 64, src.digests[0].begin()));
    CHECK(meta[32 + 640] == 0xff);
    CHECK(meta[32 + 641] == 0xff);
    CHECK(meta[32 + 642] == 0x0f);
  }
  ContentCache cache({dir.path, 64 << 20});
  auto file = cache.begin(src.hash, src.data.size(), src.digests, error);
  REQUIRE(file);
  CHECK(file->complete());
  REQUIRE(cache.finish(src.hash, error));
}
