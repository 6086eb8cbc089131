// skew_probe: measures how closely several nodes' outputs agree, against this machine's real
// clock (run it without libfaketime).
//
//   skew_probe make-track PATH SECONDS    writes a 48 kHz stereo WAV whose every frame holds its
//                                         own number + 1 (left = low 16 bits, right = high 16)
//   skew_probe measure [--seconds S] [--block-frames N] [--json PATH] [--raw PATH]
//                      [--calibrate SINK] NAME=FIFO... NAME=pulse:SOURCE...
//     --raw writes one CSV line per block received: node,arrival_us,first_frame,audible_frames
//     (first_frame −1 when the block is silent; arrival_us on this machine's steady clock, the
//     same clock as Python's time.monotonic_ns() / 1000), and at the end one line per platform
//     stall: !stall,due_us,late_us,cpu,waited_us.
//
// Platform stalls: a real-time thread pinned to each CPU wakes every millisecond and records
// every wake-up more than 1 ms late. On a virtual machine the host can hold a CPU for several
// milliseconds, and then no real-time thread on it runs on time, a node's output included (seen
// here: a node's late writes and an unrelated real-time process's late wake-ups at the same
// instants, up to 30 ms). Those windows say nothing about the nodes; the tests judge skew outside
// them and count what they leave out. waited_us says who held the CPU: how long the late thread
// waited on its run queue after the kernel had woken it (schedstat's run_delay). A thread of this
// machine holding the CPU (a node's real-time thread, say) keeps it waiting there; the host
// holding the virtual CPU delays the wake-up itself, and the thread then runs at once.
//
// A node on a sound server (--output pulse:SINK, alsa:pulse:SINK, sdl on the server) is recorded
// from the sink's monitor instead (NAME=pulse:SINK.monitor): each block is stamped with when the
// sink played it, from libpulse's record timing (tools/pulse_capture.hpp). --calibrate SINK
// measures that capture path: the probe plays its own numbered track into SINK, noting when the
// server says each block will be heard, records SINK.monitor the same way, and reports the
// difference as capture_offset_us (to subtract from the recorded nodes' offsets), with
// calibration_underruns: how often its own stream underran after settling, when that offset is
// the first thing to doubt.
//
// Each node writes its output block by block at the block's audible instant (--output
// file:FIFO). A block arrives here the moment it is written, so (arrival time, number of its
// first frame) says when that frame was audible on that node. "Frame zero instant" =
// arrival − frame / 48 kHz is the same on every node that is in sync: the spread of that
// instant across nodes, per 100 ms bucket (median per node), is the skew.

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "chorus/time_base.hpp"
#include "pulse_capture.hpp"
#include "stall_witness.hpp"

namespace {

constexpr std::int64_t kRate = 48'000;
constexpr std::int64_t kBucketUs = 100'000;
constexpr std::string_view kPulsePrefix = "pulse:";

using chorus::now_us;
using chorus::tools::StallWitness;

/// The probe must stamp a write the moment it happens: above the nodes' audio threads (real-time
/// priority 10, see src/playback/audio_thread_priority.cpp) and without timer slack. Returns
/// whether real-time priority was granted (it needs root or CAP_SYS_NICE).
bool raise_priority() {
  ::prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
  sched_param param{};
  param.sched_priority = 20;
  return ::pthread_setschedparam(::pthread_self(), SCHED_FIFO, &param) == 0;
}

void put_le(std::ofstream& out, std::uint32_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.put(static_cast<char>((value >> (8 * i)) & 0xff));
}

int make_track(const std::string& path, double seconds) {
  auto frames = static_cast<std::uint32_t>(seconds * kRate);
  std::ofstream out(path, std::ios::binary);
  out.write("RIFF", 4);
  put_le(out, 36 + frames * 4, 4);
  out.write("WAVEfmt ", 8);
  put_le(out, 16, 4);
  put_le(out, 1, 2);
  put_le(out, 2, 2);
  put_le(out, kRate, 4);
  put_le(out, kRate * 4, 4);
  put_le(out, 4, 2);
  put_le(out, 16, 2);
  out.write("data", 4);
  put_le(out, frames * 4, 4);
  for (std::uint32_t n = 0; n < frames; ++n) {
    std::uint32_t value = n + 1;  // 0 stays silence
    put_le(out, value & 0xffff, 2);
    put_le(out, value >> 16, 2);
  }
  return out ? 0 : 1;
}

/// The frame number a 4-byte frame holds, or nullopt for silence.
std::optional<std::int64_t> frame_number(const unsigned char* p) {
  std::uint32_t value = std::uint32_t(p[0]) | std::uint32_t(p[1]) << 8 | std::uint32_t(p[2]) << 16 |
                        std::uint32_t(p[3]) << 24;
  if (value == 0) return std::nullopt;
  return static_cast<std::int64_t>(value) - 1;
}

struct Node {
  std::string name;
  std::string path;
  std::string pulse_source;  ///< recorded from this monitor instead of a FIFO
  int fd = -1;
  std::vector<unsigned char> pending;
  std::optional<std::int64_t> last_frame;   // last frame number seen (continuity)
  std::int64_t last_arrival = 0;
  std::map<std::int64_t, std::vector<double>> zero_instants;  // bucket -> instants
  std::uint64_t frames = 0, silent_frames = 0, repeated = 0, skipped = 0, jumps = 0;
  std::int64_t longest_jump_frames = 0;
  std::int64_t longest_silence_frames = 0, current_silence = 0;
  bool playing_seen = false;
};

void scan_block(Node& node, const unsigned char* data, std::size_t frames, std::int64_t arrival,
                bool is_last_block, std::FILE* raw) {
  std::optional<std::int64_t> first;
  std::size_t audible = 0;
  for (std::size_t i = 0; i < frames; ++i) {
    auto n = frame_number(data + 4 * i);
    ++node.frames;
    if (!n) {
      ++node.silent_frames;
      if (node.playing_seen) node.longest_silence_frames = std::max(node.longest_silence_frames, ++node.current_silence);
      continue;
    }
    node.playing_seen = true;
    node.current_silence = 0;
    ++audible;
    if (!first) first = *n - static_cast<std::int64_t>(i);
    if (node.last_frame) {
      auto step = *n - *node.last_frame;
      if (step == 0) ++node.repeated;
      else if (step == 2) ++node.skipped;
      else if (step != 1) {
        ++node.jumps;
        node.longest_jump_frames = std::max(node.longest_jump_frames, std::abs(step - 1));
      }
    }
    node.last_frame = *n;
  }
  if (raw) {
    std::fprintf(raw, "%s,%lld,%lld,%zu\n", node.name.c_str(), static_cast<long long>(arrival),
                 static_cast<long long>(first ? *first : -1), audible);
  }
  // Only the newest block's write time is known: it was written just now.
  if (is_last_block && first) {
    double zero = static_cast<double>(arrival) - static_cast<double>(*first) * 1e6 / kRate;
    node.zero_instants[arrival / kBucketUs].push_back(zero);
  }
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

/// --calibrate SINK: how much later the monitor recording says a block was played than the
/// server said, when it was written, that it would be heard.
class Calibration {
 public:
  Calibration(const std::string& sink, std::size_t block_frames, std::int64_t end_us) {
    if (sink.empty()) return;
    writer_ = skew_probe::play_counting_track(
        sink, block_frames, end_us, [this](std::int64_t first_frame, std::int64_t audible_us) {
          written_zeros_.push_back(static_cast<double>(audible_us) - static_cast<double>(first_frame) * 1e6 / kRate);
        },
        [this] { ++underruns_; });
    recorder_ = skew_probe::record(
        sink + ".monitor", end_us, [this](const unsigned char* data, std::size_t frames, std::int64_t played) {
          for (std::size_t i = 0; i < frames; ++i) {
            if (auto n = frame_number(data + 4 * i)) {
              recorded_zeros_.push_back(static_cast<double>(played) + (static_cast<double>(i) - static_cast<double>(*n)) * 1e6 / kRate);
              return;
            }
          }
        });
  }
  /// After the end instant: the capture offset in µs, or nullopt without calibration.
  std::optional<double> finish() {
    if (!writer_) return std::nullopt;
    for (const auto& error : {writer_->join(), recorder_->join()}) {
      if (!error.empty()) std::fprintf(stderr, "skew_probe: calibration: %s\n", error.c_str());
    }
    if (written_zeros_.empty() || recorded_zeros_.empty()) return std::nullopt;
    return median(recorded_zeros_) - median(written_zeros_);
  }
  /// After finish(): how often the calibration stream underran after its settling time. Its
  /// predictions around an underrun are the least certain, so a capture offset from a stream that
  /// underran is the first thing to doubt.
  int underruns() const { return underruns_; }

 private:
  std::vector<double> written_zeros_, recorded_zeros_;  // each filled by its own thread, read after join
  int underruns_ = 0;                                   // written by the writer's thread, read after join
  std::unique_ptr<skew_probe::StreamThread> writer_, recorder_;
};

double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  auto index = static_cast<std::size_t>(std::ceil(p * static_cast<double>(v.size()))) - 1;
  return v[std::min(index, v.size() - 1)];
}

int measure(int argc, char** argv) {
  double seconds = 10;
  std::size_t block_frames = 480;
  std::string json_path;
  std::FILE* raw = nullptr;
  std::string calibration_sink;
  std::vector<Node> nodes;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--seconds" && i + 1 < argc) seconds = std::stod(argv[++i]);
    else if (arg == "--block-frames" && i + 1 < argc) block_frames = std::stoul(argv[++i]);
    else if (arg == "--json" && i + 1 < argc) json_path = argv[++i];
    else if (arg == "--raw" && i + 1 < argc) raw = std::fopen(argv[++i], "w");
    else if (arg == "--calibrate" && i + 1 < argc) calibration_sink = argv[++i];
    else if (auto eq = arg.find('='); eq != std::string::npos) {
      Node node;
      node.name = arg.substr(0, eq);
      node.path = arg.substr(eq + 1);
      if (node.path.starts_with(kPulsePrefix)) {
        node.pulse_source = node.path.substr(kPulsePrefix.size());
        nodes.push_back(std::move(node));
        continue;
      }
      node.fd = ::open(node.path.c_str(), O_RDONLY | O_NONBLOCK);
      if (node.fd < 0) {
        std::fprintf(stderr, "skew_probe: cannot open %s: %s\n", arg.c_str(), std::strerror(errno));
        return 2;
      }
      nodes.push_back(std::move(node));
    } else {
      std::fprintf(stderr, "skew_probe: unexpected argument %s\n", arg.c_str());
      return 2;
    }
  }
  const bool realtime = raise_priority();
  if (!realtime) std::fprintf(stderr, "skew_probe: real-time priority refused; stamps may be late\n");
  int epoll = ::epoll_create1(0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (nodes[i].fd < 0) continue;
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.u64 = i;
    ::epoll_ctl(epoll, EPOLL_CTL_ADD, nodes[i].fd, &event);
  }
  const std::size_t block_bytes = block_frames * 4;
  auto end = now_us() + static_cast<std::int64_t>(seconds * 1e6);
  StallWitness witness(end);
  std::vector<std::unique_ptr<skew_probe::StreamThread>> recorders;
  for (auto& node : nodes) {
    if (node.pulse_source.empty()) continue;
    recorders.push_back(skew_probe::record(
        node.pulse_source, end, [&node, raw](const unsigned char* data, std::size_t frames, std::int64_t played) {
          scan_block(node, data, frames, played, true, raw);
        }));
  }
  Calibration calibration(calibration_sink, block_frames, end);
  std::vector<unsigned char> buffer(1 << 16);
  while (now_us() < end) {
    epoll_event events[16];
    int ready = ::epoll_wait(epoll, events, 16, 50);
    auto arrival = now_us();
    for (int e = 0; e < ready; ++e) {
      auto& node = nodes[events[e].data.u64];
      ssize_t got = ::read(node.fd, buffer.data(), buffer.size());
      if (got == 0) {
        // The writer went away (a killed node). A FIFO then stays readable-at-EOF forever, so
        // reopen it: no busy loop, and a restarted node's output is read again.
        ::epoll_ctl(epoll, EPOLL_CTL_DEL, node.fd, nullptr);
        ::close(node.fd);
        node.fd = ::open(node.path.c_str(), O_RDONLY | O_NONBLOCK);
        epoll_event again{};
        again.events = EPOLLIN;
        again.data.u64 = events[e].data.u64;
        if (node.fd >= 0) ::epoll_ctl(epoll, EPOLL_CTL_ADD, node.fd, &again);
        node.pending.clear();
        continue;
      }
      if (got < 0) continue;
      node.pending.insert(node.pending.end(), buffer.begin(), buffer.begin() + got);
      std::size_t blocks = node.pending.size() / block_bytes;
      for (std::size_t b = 0; b < blocks; ++b) {
        scan_block(node, node.pending.data() + b * block_bytes, block_frames, arrival, b + 1 == blocks, raw);
      }
      node.pending.erase(node.pending.begin(), node.pending.begin() + static_cast<long>(blocks * block_bytes));
    }
  }
  for (std::size_t r = 0; r < recorders.size(); ++r) {
    if (auto error = recorders[r]->join(); !error.empty()) std::fprintf(stderr, "skew_probe: %s\n", error.c_str());
  }
  const auto capture_offset = calibration.finish();
  const auto stalls = witness.join();
  std::int64_t worst_stall = 0;
  for (const auto& stall : stalls) {
    worst_stall = std::max(worst_stall, stall.late_us);
    if (raw) {
      std::fprintf(raw, "!stall,%lld,%lld,%d,%lld\n", static_cast<long long>(stall.due_us),
                   static_cast<long long>(stall.late_us), stall.cpu,
                   static_cast<long long>(stall.waited_us));
    }
  }
  if (raw) std::fclose(raw);
  // Skew per bucket: spread of the nodes' median frame-zero instants.
  std::map<std::int64_t, std::vector<double>> by_bucket;
  for (auto& node : nodes) {
    for (auto& [bucket, zeros] : node.zero_instants) by_bucket[bucket].push_back(median(zeros));
  }
  std::vector<double> skews;
  for (auto& [bucket, medians] : by_bucket) {
    if (medians.size() != nodes.size()) continue;
    auto [lo, hi] = std::minmax_element(medians.begin(), medians.end());
    skews.push_back(*hi - *lo);
  }
  // Each node's mean offset from the first node, over the whole run.
  std::vector<double> offsets(nodes.size(), 0);
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    std::vector<double> diffs;
    for (auto& [bucket, zeros] : nodes[i].zero_instants) {
      auto ref = nodes[0].zero_instants.find(bucket);
      if (ref != nodes[0].zero_instants.end()) diffs.push_back(median(zeros) - median(ref->second));
    }
    offsets[i] = diffs.empty() ? 0 : median(diffs);
  }
  std::string json = "{\"realtime\":" + std::string(realtime ? "true" : "false") +
                     ",\"platform_stalls\":" + std::to_string(stalls.size()) +
                     ",\"worst_stall_us\":" + std::to_string(worst_stall) +
                     ",\"buckets\":" + std::to_string(skews.size()) +
                     ",\"capture_offset_us\":" + (capture_offset ? std::to_string(*capture_offset) : "null") +
                     ",\"calibration_underruns\":" + std::to_string(calibration.underruns()) +
                     ",\"skew_us\":{\"p50\":" + std::to_string(percentile(skews, 0.5)) +
                     ",\"p95\":" + std::to_string(percentile(skews, 0.95)) +
                     ",\"max\":" + std::to_string(percentile(skews, 1.0)) + "},\"nodes\":{";
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    const auto& n = nodes[i];
    json += (i ? "," : "") + std::string("\"") + n.name + "\":{\"frames\":" + std::to_string(n.frames) +
            ",\"silent_frames\":" + std::to_string(n.silent_frames) +
            ",\"repeated\":" + std::to_string(n.repeated) + ",\"skipped\":" + std::to_string(n.skipped) +
            ",\"jumps\":" + std::to_string(n.jumps) +
            ",\"longest_jump_frames\":" + std::to_string(n.longest_jump_frames) +
            ",\"longest_silence_frames\":" + std::to_string(n.longest_silence_frames) +
            ",\"offset_from_first_us\":" + std::to_string(offsets[i]) +
            ",\"last_frame\":" + (n.last_frame ? std::to_string(*n.last_frame) : "null") + "}";
  }
  json += "}}";
  std::printf("%s\n", json.c_str());
  if (!json_path.empty()) std::ofstream(json_path) << json << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = argc > 1 ? argv[1] : "";
  if (command == "make-track" && argc == 4) return make_track(argv[2], std::stod(argv[3]));
  if (command == "measure") return measure(argc - 2, argv + 2);
  std::fprintf(stderr,
               "usage: skew_probe make-track PATH SECONDS\n"
               "       skew_probe measure [--seconds S] [--block-frames N] [--json PATH] [--raw PATH] "
               "[--calibrate SINK] NAME=FIFO... NAME=pulse:SOURCE...\n");
  return 2;
}
