// Audio outputs: factory, null/file pacing and content, FIFOs, and the sdl output (SDL2_mixer) on
// SDL's dummy and disk drivers (set through SDL_AUDIODRIVER in this process, restored afterwards).
//
// Synchronisation with the output threads goes through a condition variable the renderer
// notifies; timeouts only turn a hang into a failure. Recorded calls are read after stop().

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdlib>
#include <filesystem>
#include <limits>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include "chorus/playback/audio_output.hpp"
#include "chorus/playback/wake_lead.hpp"
#include "chorus/time_base.hpp"
#include "playback/audio_thread_priority.hpp"
#include "playback/env_guard.hpp"
#include "playback/eventually.hpp"
#include "playback/temp_dir.hpp"
#include "playback/wav_file.hpp"

namespace fs = std::filesystem;
using namespace std::chrono_literals;
using chorus::now_us;
using chorus::playback::AudioOutput;
using chorus::playback::make_output;
using chorus::playback::Renderer;
using chorus::playback::WakeLead;

using chorus::test::EnvGuard;
using chorus::test::eventually;
using chorus::test::read_samples;
using chorus::test::TempDir;

namespace {

struct Call {
  std::int64_t audible_at_us = 0;
  std::int64_t called_at_us = 0;
  std::size_t samples = 0;
};

/// The right channel of frame f of block k: spread over the whole 16-bit range, sign bit
/// included, so that any scaling, conversion or byte swap on the way to the sink shows.
std::int16_t right_sample(std::size_t k, std::size_t f) {
  return static_cast<std::int16_t>(static_cast<std::uint16_t>(f * 40503u + k * 2654u));
}

/// Fills block k with L = k (the block's index), R = right_sample(k, frame), and records each
/// call. Optionally stalls once, on call `stall_at`, to simulate a renderer that hangs.
class RecordingRenderer final : public Renderer {
 public:
  explicit RecordingRenderer(std::size_t capacity = 8192) : calls_(capacity) {}

  void render(std::span<std::int16_t> out, std::int64_t audible_at_us) override {
    if (forbidden_.load(std::memory_order_relaxed)) forbidden_calls_.fetch_add(1, std::memory_order_relaxed);
    const std::size_t k = count_.load(std::memory_order_relaxed);
    for (std::size_t f = 0; f < out.size() / 2; ++f) {
      out[2 * f] = static_cast<std::int16_t>(k);
      out[2 * f + 1] = right_sample(k, f);
    }
    if (k < calls_.size()) calls_[k] = {audible_at_us, now_us(), out.size()};
    if (stall_at_ && *stall_at_ == k) std::this_thread::sleep_for(stall_);  // the simulated fault
    {
      std::lock_guard lock(mutex_);
      count_.store(k + 1, std::memory_order_relaxed);
    }
    cv_.notify_all();
  }

  /// Waits until render() has been called at least n times in total.
  bool wait_for_calls(std::size_t n, std::chrono::milliseconds timeout = 10s) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, timeout, [&] { return count_.load(std::memory_order_relaxed) >= n; });
  }

  std::size_t count() const {
    std::lock_guard lock(mutex_);
    return count_.load(std::memory_order_relaxed);
  }
  /// Only after the output stopped.
  const std::vector<Call>& calls() const { return calls_; }

  double timing_error_us() const override { return timing_error_us_; }
  /// What timing_error_us() answers after every block (before start()).
  void report_timing_error(double us) { timing_error_us_ = us; }

  void stall_once(std::size_t at, std::chrono::milliseconds how_long) {
    stall_at_ = at;
    stall_ = how_long;
  }

  /// Until allow_calls(), every render() call is counted as one that should not have happened.
  void forbid_calls() { forbidden_.store(true, std::memory_order_relaxed); }
  void allow_calls() { forbidden_.store(false, std::memory_order_relaxed); }
  std::size_t forbidden_calls() const { return forbidden_calls_.load(std::memory_order_relaxed); }

 private:
  mutable std::mutex mutex_;
  std::condition_variable cv_;
  std::atomic<std::size_t> count_{0};
  std::atomic<bool> forbidden_{false};
  std::atomic<std::size_t> forbidden_calls_{0};
  std::vector<Call> calls_;
  std::optional<std::size_t> stall_at_;
  std::chrono::milliseconds stall_{0};
  double timing_error_us_ = 0;
};


/// True if `block` (interleaved) is the renderer's block number `k`.
bool is_block(std::span<const std::int16_t> block, std::size_t k) {
  for (std::size_t f = 0; f < block.size() / 2; ++f) {
    if (block[2 * f] != static_cast<std::int16_t>(k) || block[2 * f + 1] != right_sample(k, f)) return false;
  }
  return true;
}

constexpr int kBlock = 480;  // 10 ms
constexpr std::int64_t kBlockUs = 10'000;

}  // namespace

TEST_CASE("the output factory builds null and file outputs without opening anything") {
  TempDir dir;
  const auto path = dir.path / "out.raw";

  auto null = make_output("null", kBlock, 0us);
  REQUIRE(null.output != nullptr);
  CHECK(null.error.empty());
  CHECK(null.output->describe().rfind("null", 0) == 0);
  CHECK(null.output->block_frames() == kBlock);
  CHECK(null.output->fill_ahead_us() == kBlockUs);

  auto file = make_output("file:" + path.string(), 960, 25ms);
  REQUIRE(file.output != nullptr);
  CHECK(file.error.empty());
  CHECK(file.output->describe().find("file:" + path.string()) != std::string::npos);
  CHECK(file.output->block_frames() == 960);
  CHECK(file.output->fill_ahead_us() == 20'000 + 25'000);
  CHECK_FALSE(fs::exists(path));  // opened on the output's thread, at start()
}

TEST_CASE("the output factory rejects unknown specs, empty paths and bad block sizes") {
  for (const char* spec : {"", "nul", "NULL", "file:", "FILE:/tmp/x", "sdl:hw0", "null ", "pulses", "alsa ", "Alsa:hw:0",
                           "auto:x", "file"}) {
    INFO("spec '" << spec << "'");
    auto r = make_output(spec, kBlock, 0us);
    CHECK(r.output == nullptr);
    CHECK_FALSE(r.error.empty());
  }
  for (int frames : {0, -480, 15, 48001}) {
    INFO("block " << frames);
    auto r = make_output("null", frames, 0us);
    CHECK(r.output == nullptr);
    CHECK(r.error.find("block") != std::string::npos);
  }
}

TEST_CASE("the file output writes exactly the rendered blocks, in order, and nothing else") {
  TempDir dir;
  const auto path = dir.path / "out.raw";
  auto made = make_output("file:" + path.string(), kBlock, 5ms);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(25));
  made.output->stop();

  const auto stats = made.output->stats();
  const std::size_t rendered = renderer.count();
  CHECK(stats.dropped == 0);
  CHECK(stats.frames == stats.blocks * kBlock);
  // stop() drops at most the one block rendered but not yet due
  CHECK(stats.blocks + 1 >= rendered);
  CHECK(stats.blocks <= rendered);
  CHECK(stats.blocks >= 24);

  const auto samples = read_samples(path);
  REQUIRE(samples.size() == stats.blocks * kBlock * 2);
  bool all_match = true;
  for (std::size_t k = 0; k < stats.blocks; ++k) {
    all_match = all_match && is_block(std::span(samples).subspan(k * kBlock * 2, kBlock * 2), k);
  }
  CHECK(all_match);

  // Audible times: each block exactly one block after the previous one (no resync here).
  const auto& calls = renderer.calls();
  if (stats.resyncs == 0) {
    for (std::size_t k = 1; k < rendered; ++k) {
      INFO("block " << k);
      CHECK(calls[k].audible_at_us - calls[k - 1].audible_at_us == kBlockUs);
    }
  }
  // When each block is rendered: right after the previous block's deadline, so one block plus
  // the extra latency (5 ms) before it is heard. Deadlines are absolute, so no block is ever
  // rendered earlier than that (by more than the wake-up lead); a stalled machine can only make
  // one later, and at most by the four blocks after which the output resyncs. How late is the
  // platform's doing, so it is judged over the blocks (the median), not per block.
  constexpr std::int64_t kExtraUs = 5'000;
  const std::int64_t most_lead_us = std::chrono::duration_cast<std::chrono::microseconds>(WakeLead::kMostLead).count();
  std::vector<std::int64_t> ahead;  // per block: its audible instant − when it was rendered
  for (std::size_t k = 0; k < rendered; ++k) {
    INFO("block " << k);
    CHECK(calls[k].samples == kBlock * 2);
    ahead.push_back(calls[k].audible_at_us - calls[k].called_at_us);
    CHECK(ahead.back() <= kExtraUs + kBlockUs + most_lead_us);
    CHECK(ahead.back() >= kExtraUs - 4 * kBlockUs);
  }
  std::nth_element(ahead.begin(), ahead.begin() + static_cast<std::ptrdiff_t>(ahead.size() / 2), ahead.end());
  CHECK(ahead[ahead.size() / 2] > kExtraUs + kBlockUs - 1'000);
}

TEST_CASE("the null and file outputs consume blocks at real time") {
  TempDir dir;
  const std::string spec = GENERATE(as<std::string>{}, "null", "file");
  const std::string full = spec == "file" ? "file:" + (dir.path / "paced.raw").string() : spec;
  auto made = make_output(full, kBlock, 0us);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));

  REQUIRE(renderer.wait_for_calls(10));
  const auto t1 = std::chrono::steady_clock::now();
  const auto blocks1 = made.output->stats().blocks;
  REQUIRE(renderer.wait_for_calls(110));
  const auto t2 = std::chrono::steady_clock::now();
  const auto blocks2 = made.output->stats().blocks;
  made.output->stop();

  INFO(spec << ": resyncs " << made.output->stats().resyncs);
  // Blocks consumed over a measured interval match the elapsed time. The bounds are generous on
  // purpose: a free-running output would be hundreds of times too fast, and a loaded CI machine
  // may stall this thread for a while; accuracy is the benchmarks' business, not this test's.
  const double elapsed_blocks = std::chrono::duration<double>(t2 - t1).count() * 100.0;
  const auto consumed = static_cast<double>(blocks2 - blocks1);
  CHECK(consumed >= elapsed_blocks * 0.75 - 2);
  CHECK(consumed <= elapsed_blocks * 1.25 + 2);

  // And the render calls themselves, timed on the output thread: 100 blocks take 1 s.
  const auto& calls = renderer.calls();
  const double span_s = static_cast<double>(calls[109].called_at_us - calls[9].called_at_us) / 1e6;
  CHECK(span_s >= 0.99);  // never early: deadlines are absolute
  CHECK(span_s <= 1.40);
}

TEST_CASE("a stalled renderer makes a paced output resync instead of rendering a burst of late blocks") {
  auto made = make_output("null", kBlock, 0us);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  renderer.stall_once(5, 120ms);  // 12 blocks: more than the 4 the output tolerates
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(20));
  made.output->stop();

  CHECK(made.output->stats().resyncs == 1);
  const auto& calls = renderer.calls();
  const std::size_t n = std::min<std::size_t>(renderer.count(), calls.size());
  // Every block is rendered before its audible time: none is asked for after it is already due.
  for (std::size_t k = 0; k < n; ++k) {
    INFO("block " << k);
    CHECK(calls[k].audible_at_us >= calls[k].called_at_us);
  }
  // The block after the stall is rendered for "now + one block", not for the missed deadline
  // (that would lie ~110 ms in the past). Half a block of margin: on a loaded machine (the
  // sanitized suite, two tests at once) the thread can be held between taking "now" and the
  // render call (seen: 1.2 ms).
  CHECK(calls[6].audible_at_us - calls[6].called_at_us >= kBlockUs / 2);
  CHECK(calls[6].audible_at_us - calls[5].audible_at_us >= 100'000);
}

TEST_CASE("a block consumed more than 1 ms after its instant is counted as a late write") {
  auto made = make_output("null", kBlock, 0us);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  renderer.stall_once(5, 15ms);  // rendered one block ahead: consumed about 5 ms late, no resync
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(12));
  made.output->stop();

  const auto stats = made.output->stats();
  CHECK(stats.resyncs == 0);
  CHECK(stats.late_writes >= 1);
  CHECK(stats.worst_late_us >= 3'000);
}

TEST_CASE("a paced output learns its wake-up latency and asks to be woken that much early") {
  auto made = make_output("null", kBlock, 0us);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  // A timed sleep never ends on the nanosecond it was asked for: every wake-up is at least the
  // kernel's own path late, so the lead has grown by the 30th block.
  REQUIRE(renderer.wait_for_calls(30));
  const auto stats = made.output->stats();
  made.output->stop();
  CHECK(stats.wake_lead_us > 0);
  CHECK(stats.wake_lead_us < 1'000);
}

namespace {

bool realtime_allowed() {
  bool allowed = false;
  std::thread([&] {
    sched_param param{};
    param.sched_priority = 1;
    allowed = ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param) == 0;
  }).join();
  return allowed;
}

/// Busy for most of every block: what rendering looks like on a machine far too slow for it.
class BusyRenderer final : public Renderer {
 public:
  void render(std::span<std::int16_t> out, std::int64_t) override {
    std::fill(out.begin(), out.end(), std::int16_t{0});
    const auto until = now_us() + 8'000;
    while (now_us() < until) {
    }
    calls.fetch_add(1, std::memory_order_relaxed);
  }
  std::atomic<int> calls{0};
};

}  // namespace

TEST_CASE("an output thread that uses most of a core leaves real-time priority") {
  if (!realtime_allowed()) {
    WARN("real-time priority is not allowed here: nothing to leave");
    return;
  }
  auto made = make_output("null", kBlock, 0us);
  REQUIRE(made.output);
  BusyRenderer renderer;
  REQUIRE(made.output->start(renderer));
  // The budget is judged once a second.
  eventually([&] { return made.output->stats().realtime_given_up; });
  made.output->stop();
  CHECK(made.output->stats().realtime_given_up);
  CHECK(made.output->stats().realtime_long_blocks > 0);
  CHECK(renderer.calls.load() > 50);
}

namespace {

void burn_thread_cpu(std::chrono::nanoseconds amount) {
  using chorus::playback::detail::thread_cpu_time;
  const auto until = thread_cpu_time() + amount;
  while (thread_cpu_time() < until) {
  }
}

/// Burns `amount` of the thread's CPU; false when the wall clock took a millisecond more: the CPU
/// was taken away meanwhile, and on a virtual machine the thread's CPU clock can then count time
/// the host held the CPU (seen: 200 µs of burning counted as a millisecond or more, about once in
/// 600 runs, with two busy processes on the 2 CPUs).
bool burn_thread_cpu_undisturbed(std::chrono::nanoseconds amount) {
  const auto start = std::chrono::steady_clock::now();
  burn_thread_cpu(amount);
  return std::chrono::steady_clock::now() - start < amount + 1ms;
}

}  // namespace

TEST_CASE("a real-time budget counts the blocks that ran a millisecond of CPU or more") {
  using chorus::playback::detail::RealtimeBudget;
  RealtimeBudget budget(true);  // the flag alone: what is counted needs no real-time privilege
  budget.over_budget(std::chrono::steady_clock::now());
  const std::uint64_t before = budget.long_blocks();
  burn_thread_cpu(2ms);
  budget.over_budget(std::chrono::steady_clock::now());
  CHECK(budget.long_blocks() == before + 1);

  // A short block is not counted. An attempt the platform disturbed proves nothing either way.
  int judged = 0;
  for (int attempt = 0; attempt < 20 && judged == 0; ++attempt) {
    budget.over_budget(std::chrono::steady_clock::now());
    const std::uint64_t counted = budget.long_blocks();
    if (!burn_thread_cpu_undisturbed(200us)) continue;
    budget.over_budget(std::chrono::steady_clock::now());
    CHECK(budget.long_blocks() == counted);
    ++judged;
  }
  REQUIRE(judged == 1);

  RealtimeBudget normal(false);  // a thread at normal priority holds nobody back
  burn_thread_cpu(2ms);
  normal.over_budget(std::chrono::steady_clock::now());
  CHECK(normal.long_blocks() == 0);
}

TEST_CASE("the file output to a FIFO starts without a reader and writes once one opens it") {
  TempDir dir;
  const auto fifo = dir.path / "audio.fifo";
  REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto made = make_output("file:" + fifo.string(), kBlock, 0us);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));  // returns: the FIFO is not opened here
  REQUIRE(renderer.wait_for_calls(15));   // and pacing runs without a reader
  CHECK(made.output->stats().dropped > 0);
  CHECK(made.output->describe().find("waiting for a reader") != std::string::npos);

  const int reader = ::open(fifo.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  REQUIRE(reader >= 0);
  // Read 8 blocks (the output retries the open about every 100 ms).
  std::vector<std::int16_t> got;
  const std::size_t want = 8 * kBlock * 2;
  std::vector<std::int16_t> buffer(want);
  const auto give_up = std::chrono::steady_clock::now() + 10s;
  while (got.size() < want && std::chrono::steady_clock::now() < give_up) {
    pollfd pfd{reader, POLLIN, 0};
    ::poll(&pfd, 1, 100);
    const ssize_t n = ::read(reader, buffer.data(), (want - got.size()) * 2);
    if (n > 0) got.insert(got.end(), buffer.begin(), buffer.begin() + n / 2);
  }
  REQUIRE(got.size() == want);
  // Whole blocks, consecutive.
  const auto first = static_cast<std::size_t>(static_cast<std::uint16_t>(got[0]));
  bool consecutive = true;
  for (std::size_t b = 0; b < 8; ++b) {
    consecutive = consecutive && is_block(std::span(got).subspan(b * kBlock * 2, kBlock * 2), first + b);
  }
  CHECK(consecutive);

  // The reader goes away: EPIPE, no SIGPIPE death; pacing goes on.
  ::close(reader);
  const auto dropped_before = made.output->stats().dropped;
  const std::size_t calls_now = renderer.count();
  REQUIRE(renderer.wait_for_calls(calls_now + 20));
  made.output->stop();
  CHECK(made.output->stats().dropped > dropped_before);
}

TEST_CASE("stop is idempotent and a paced output can be started again") {
  auto made = make_output("null", kBlock, 0us);
  REQUIRE(made.output);
  made.output->stop();  // before start: nothing to do
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  CHECK_FALSE(made.output->start(renderer));  // already running
  REQUIRE(renderer.wait_for_calls(3));
  made.output->stop();
  made.output->stop();
  const std::size_t after_first = renderer.count();
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(after_first + 3));
  made.output->stop();
  CHECK(made.output->stats().blocks >= 4);
}

namespace {

/// What a stretch of a raw S16LE capture holds, block by block.
struct Run {
  enum Kind { silence, blocks, other } kind;
  std::size_t first = 0;  ///< blocks: the renderer's index of the first block
  std::size_t count = 0;  ///< how many block-sized slices
};

/// Splits `samples` into slices of one device buffer and groups them into runs of silence, runs
/// of consecutive rendered blocks (k, k+1, ...), and anything else.
std::vector<Run> runs_of(std::span<const std::int16_t> samples, std::size_t block_frames) {
  const std::size_t block = block_frames * 2;
  std::vector<Run> runs;
  for (std::size_t at = 0; at + block <= samples.size(); at += block) {
    const auto slice = samples.subspan(at, block);
    Run one{Run::other, 0, 1};
    const auto index = static_cast<std::size_t>(static_cast<std::uint16_t>(slice[0]));
    if (std::all_of(slice.begin(), slice.end(), [](std::int16_t v) { return v == 0; })) {
      one.kind = Run::silence;
    } else if (is_block(slice, index)) {
      one = {Run::blocks, index, 1};
    }
    Run* last = runs.empty() ? nullptr : &runs.back();
    const bool continues = last != nullptr && last->kind == one.kind &&
                           (one.kind != Run::blocks || last->first + last->count == one.first);
    if (continues) {
      ++last->count;
    } else {
      runs.push_back(one);
    }
  }
  return runs;
}

std::string to_string(const std::vector<Run>& runs) {
  std::string text;
  for (const Run& r : runs) {
    if (r.kind == Run::blocks) {
      text += "[blocks " + std::to_string(r.first) + ".." + std::to_string(r.first + r.count - 1) + "] ";
    } else {
      text += std::string(r.kind == Run::silence ? "[silence" : "[other") + " x" + std::to_string(r.count) + "] ";
    }
  }
  return text;
}

/// Drops leading and trailing silence: before start() and after stop() the device plays
/// SDL2_mixer's silence for however long the test took.
std::vector<Run> trim_silence(std::vector<Run> runs) {
  if (!runs.empty() && runs.back().kind == Run::silence) runs.pop_back();
  if (!runs.empty() && runs.front().kind == Run::silence) runs.erase(runs.begin());
  return runs;
}

/// Whether the file at `path` holds at least `bytes`.
bool holds_bytes(const fs::path& path, std::uintmax_t bytes) {
  std::error_code ec;
  const auto size = fs::file_size(path, ec);
  return !ec && size >= bytes;
}

std::int64_t buffer_us(int frames) { return frames * 1'000'000LL / 48'000; }

}  // namespace

TEST_CASE("the sdl output on SDL's dummy driver renders whole buffers, each for one buffer after its call") {
  EnvGuard driver("SDL_AUDIODRIVER", "dummy");
  constexpr int kRequested = 1024;  // 21.3 ms
  constexpr std::int64_t kExtraUs = 10'000;
  auto made = make_output("sdl", kRequested, std::chrono::microseconds(kExtraUs));
  REQUIRE(made.output);
  CHECK(made.error.empty());
  INFO(made.output->describe());
  REQUIRE(made.output->describe().rfind("sdl", 0) == 0);
  CHECK(made.output->describe().find("SDL2_mixer") != std::string::npos);
  CHECK(made.output->describe().find("dummy") != std::string::npos);
  const int frames = made.output->block_frames();
  CHECK(frames == kRequested);  // the dummy driver keeps the requested buffer size
  const std::int64_t ahead_us = buffer_us(frames) + kExtraUs;
  CHECK(made.output->fill_ahead_us() == ahead_us);

  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(21));
  made.output->stop();
  const std::size_t n = std::min<std::size_t>(renderer.count(), renderer.calls().size());
  CHECK(made.output->stats().blocks == n);
  CHECK(made.output->stats().frames == n * static_cast<std::size_t>(frames));

  const auto& calls = renderer.calls();
  std::int64_t closest_to_formula_us = std::numeric_limits<std::int64_t>::min();
  std::vector<std::int64_t> advances;
  for (std::size_t k = 0; k < n; ++k) {
    INFO("call " << k);
    const auto& c = calls[k];
    CHECK(c.samples == static_cast<std::size_t>(frames) * 2);  // one whole device buffer
    // audible = (clock read in the hook) + one buffer + extra, and the renderer reads the clock
    // after the hook did: never more than that ahead, and never in the past.
    CHECK(c.audible_at_us - c.called_at_us <= ahead_us);
    CHECK(c.audible_at_us >= c.called_at_us);
    closest_to_formula_us = std::max(closest_to_formula_us, c.audible_at_us - c.called_at_us);
    if (k > 0) {
      CHECK(c.audible_at_us > calls[k - 1].audible_at_us);
      advances.push_back(c.audible_at_us - calls[k - 1].audible_at_us);
    }
  }
  // At least one call ran without being preempted between the two clock reads: its audible time
  // is the formula's, to within 2 ms (a missing buffer or extra term is 10 ms or more).
  CHECK(closest_to_formula_us >= ahead_us - 2'000);
  // Consecutive blocks are asked for about one buffer apart. The dummy driver sleeps a whole
  // number of ms per buffer and the host may preempt the thread, so the median is judged, loosely.
  REQUIRE(advances.size() >= 20);
  std::nth_element(advances.begin(), advances.begin() + advances.size() / 2, advances.end());
  const std::int64_t median = advances[advances.size() / 2];
  CHECK(median >= buffer_us(frames) / 2);
  CHECK(median <= buffer_us(frames) * 3 / 2);
}

namespace {

/// An sdl output on SDL's disk driver, which writes what the device plays to `path`.
struct SdlOnDisk {
  TempDir dir;
  fs::path path = dir.path / "disk.raw";
  EnvGuard driver{"SDL_AUDIODRIVER", "disk"};
  EnvGuard file{"SDL_DISKAUDIOFILE", path.string()};
  chorus::playback::MakeOutputResult made = make_output("sdl", 512, 0us);
};

}  // namespace

TEST_CASE("the sdl output through SDL's disk driver writes exactly the rendered samples") {
  SdlOnDisk disk;
  auto& [dir, path, driver, file, made] = disk;
  REQUIRE(made.output);
  INFO(made.output->describe());
  REQUIRE(made.output->describe().find("disk") != std::string::npos);
  const auto frames = static_cast<std::size_t>(made.output->block_frames());
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(6));
  made.output->stop();
  const std::size_t rendered = renderer.count();
  made.output.reset();  // closes the device: SDL's thread finishes its last write

  const auto samples = read_samples(path);
  REQUIRE(samples.size() % (frames * 2) == 0);
  // Silence while no renderer was attached (before start, after stop), and in between exactly the
  // rendered blocks, in order, sample for sample.
  const auto runs = trim_silence(runs_of(samples, frames));
  INFO(to_string(runs_of(samples, frames)));
  REQUIRE(runs.size() == 1);
  CHECK(runs[0].kind == Run::blocks);
  CHECK(runs[0].first == 0);
  CHECK(runs[0].count == rendered);
}

TEST_CASE("the sdl output starts again after stop: silence in between, then the blocks resume in order") {
  SdlOnDisk disk;
  auto& [dir, path, driver, file, made] = disk;
  REQUIRE(made.output);
  INFO(made.output->describe());
  REQUIRE(made.output->describe().rfind("sdl", 0) == 0);
  const auto frames = static_cast<std::size_t>(made.output->block_frames());
  const std::size_t buffer_bytes = frames * 4;

  made.output->stop();  // before start: nothing to do
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  CHECK_FALSE(made.output->start(renderer));  // already running
  REQUIRE(renderer.wait_for_calls(5));
  made.output->stop();
  made.output->stop();
  const std::size_t first_run = renderer.count();
  CHECK(made.output->stats().blocks == first_run);

  // Stopped, the device goes on playing silence: wait until it has written at least eight more
  // buffers beyond what SDL's stdio buffer may still have held. No render() may happen meanwhile.
  renderer.forbid_calls();
  std::error_code ec;
  const auto size_at_stop = fs::file_size(path, ec);
  REQUIRE_FALSE(ec);
  REQUIRE(eventually([&] { return holds_bytes(path, size_at_stop + 64 * 1024 + 8 * buffer_bytes); }));
  renderer.allow_calls();
  CHECK(renderer.forbidden_calls() == 0);
  CHECK(renderer.count() == first_run);

  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(first_run + 5));
  made.output->stop();
  const std::size_t total = renderer.count();
  CHECK(made.output->stats().blocks == total);
  made.output.reset();

  const auto& calls = renderer.calls();
  for (std::size_t k = 1; k < total; ++k) {
    INFO("call " << k);
    CHECK(calls[k].audible_at_us > calls[k - 1].audible_at_us);
  }
  const auto samples = read_samples(path);
  const auto runs = trim_silence(runs_of(samples, frames));
  INFO(to_string(runs_of(samples, frames)));
  REQUIRE(runs.size() == 3);
  CHECK(runs[0].kind == Run::blocks);
  CHECK(runs[0].first == 0);
  CHECK(runs[0].count == first_run);
  CHECK(runs[1].kind == Run::silence);
  CHECK(runs[2].kind == Run::blocks);
  CHECK(runs[2].first == first_run);
  CHECK(runs[2].count == total - first_run);
}

TEST_CASE("a second sdl output in the same process is refused and falls back to null while the first plays on") {
  EnvGuard driver("SDL_AUDIODRIVER", "dummy");
  auto first = make_output("sdl", 512, 0us);
  REQUIRE(first.output);
  INFO(first.output->describe());
  REQUIRE(first.output->describe().rfind("sdl", 0) == 0);
  RecordingRenderer first_renderer;
  REQUIRE(first.output->start(first_renderer));
  REQUIRE(first_renderer.wait_for_calls(3));

  auto second = make_output("sdl", 512, 0us);
  REQUIRE(second.output);
  CHECK(second.error.empty());
  INFO(second.output->describe());
  CHECK(second.output->describe().rfind("null", 0) == 0);
  CHECK(second.output->describe().find("sdl output is already open") != std::string::npos);
  RecordingRenderer second_renderer;
  REQUIRE(second.output->start(second_renderer));
  REQUIRE(second_renderer.wait_for_calls(3));

  // The second did not take SDL2_mixer's hook from the first.
  const std::size_t before = first_renderer.count();
  REQUIRE(first_renderer.wait_for_calls(before + 3));
  second.output->stop();
  first.output->stop();
  const std::size_t n = std::min<std::size_t>(first_renderer.count(), first_renderer.calls().size());
  for (std::size_t k = 0; k < n; ++k) {
    INFO("call " << k);
    CHECK(first_renderer.calls()[k].samples == static_cast<std::size_t>(first.output->block_frames()) * 2);
  }

  // Once the first is gone, the device can be opened again.
  first.output.reset();
  auto third = make_output("sdl", 512, 0us);
  REQUIRE(third.output);
  INFO(third.output->describe());
  CHECK(third.output->describe().rfind("sdl", 0) == 0);
  RecordingRenderer third_renderer;
  REQUIRE(third.output->start(third_renderer));
  REQUIRE(third_renderer.wait_for_calls(3));
  third.output->stop();
}

TEST_CASE("the sdl output falls back to the null output when no audio driver works") {
  EnvGuard driver("SDL_AUDIODRIVER", "chorus-no-such-driver");
  auto made = make_output("sdl", kBlock, 0us);
  REQUIRE(made.output);
  CHECK(made.error.empty());
  INFO(made.output->describe());
  CHECK(made.output->describe().rfind("null", 0) == 0);
  CHECK(made.output->describe().find("no SDL audio device") != std::string::npos);
  RecordingRenderer renderer;
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(3));
  made.output->stop();
}

TEST_CASE("a paced output moves every block by the renderer's timing error, at most a frame") {
  const double error_us = GENERATE(5.0, -7.5, 100.0, -100.0);
  const double one_frame_us = 1e6 / 48'000;
  const double applied_us = std::clamp(error_us, -one_frame_us, one_frame_us);
  auto made = make_output("null", kBlock, 0us);
  REQUIRE(made.output);
  RecordingRenderer renderer;
  renderer.report_timing_error(error_us);
  REQUIRE(made.output->start(renderer));
  REQUIRE(renderer.wait_for_calls(20));
  made.output->stop();
  REQUIRE(made.output->stats().resyncs == 0);
  const auto& calls = renderer.calls();
  const auto rendered = renderer.count();
  for (std::size_t k = 1; k < rendered; ++k) {
    INFO("block " << k << ", timing error " << error_us << " us");
    // Audible instants are whole µs: the move accumulates in ns, so a step is off by under 1 µs.
    const auto step = static_cast<double>(calls[k].audible_at_us - calls[k - 1].audible_at_us);
    CHECK(step == Approx(static_cast<double>(kBlockUs) + applied_us).margin(1.0));
  }
  const auto total = static_cast<double>(calls[rendered - 1].audible_at_us - calls[0].audible_at_us);
  CHECK(total == Approx(static_cast<double>(rendered - 1) * (static_cast<double>(kBlockUs) + applied_us)).margin(1.0));
}
