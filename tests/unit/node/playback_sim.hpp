#pragma once
// PlaybackSim: several PlaybackCores on a simulated network, in virtual time (test-only).
//
// Time is global µs; each node's steady clock reads global + its offset, and every input a core
// gets carries that local time. The sim plays every part of the shell:
//   - links: FIFO per direction, a one-way delay per directed link (1 ms by default); a crashed
//     node's undelivered messages are lost, and nothing reaches it any more;
//   - clock sampling: a node told to sample X's clock gets samples every 30 ms while X runs;
//     the estimate is exact and synced from the fourth sample on;
//   - the opener: a track wanted open is open 5 ms later (track_opened);
//   - timers: each core's deadlines fire at their local instant;
//   - the election: the test says who leads (elect) and when nobody does (lose_leader); the
//     news travels to followers on the leader's links, as a COORDINATOR would.
// Everything a core outputs is recorded for the test to read.

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "chorus/node/playback_core.hpp"

namespace chorus::node::test {

inline constexpr std::int64_t kStart = 1'000'000'000;  ///< global time at construction
inline constexpr std::int64_t kLinkDelay = 1'000;
inline constexpr std::int64_t kSampleInterval = 30'000;
inline constexpr std::int64_t kOpenDelay = 5'000;
inline constexpr std::int64_t kLead = 25'000;
inline constexpr std::int64_t kTrackFrames = 480'000;  ///< 10 s at 48 kHz
/// The clock offsets (from a's) the multi-node tests give b and c: far apart, so that a state
/// expressed in the wrong clock is seconds off.
inline constexpr std::int64_t kB = 3'000'000;
inline constexpr std::int64_t kC = -2'000'000;

/// `count` playable tracks "track-1.wav"... of `frames` frames each, hashes "hash-1"...
std::vector<playback::TrackInfo> make_tracks(std::size_t count, std::int64_t frames = kTrackFrames);

class PlaybackSim {
 public:
  struct Reply {
    std::int64_t at = 0;  ///< global µs
    ReplyToken token = 0;
    std::string text;  ///< outcome.text
    control::Outcome outcome;
  };
  struct Sent {
    std::int64_t at = 0;  ///< global µs
    std::string from;
    std::optional<std::string> to;  ///< empty: broadcast
    protocol::Message message;
  };

  PlaybackSim() = default;
  PlaybackSim(const PlaybackSim&) = delete;
  PlaybackSim& operator=(const PlaybackSim&) = delete;

  // ---- nodes ----------------------------------------------------------------------------------

  /// A running node whose clock reads global + `clock_offset`, with `tracks` as its library.
  void add(const std::string& id, std::int64_t clock_offset,
           std::vector<playback::TrackInfo> tracks = make_tracks(3));
  PlaybackCore& core(const std::string& id);
  /// kill -9: no more inputs; its undelivered messages are lost.
  void crash(const std::string& id);
  bool running(const std::string& id) const;

  // ---- time -----------------------------------------------------------------------------------

  std::int64_t now() const { return now_; }
  std::int64_t local(const std::string& id, std::int64_t global) const;
  std::int64_t local_now(const std::string& id) const { return local(id, now_); }
  /// Processes everything due up to `global` (in time order), then sets the time to it.
  void run_until(std::int64_t global);
  void run_for(std::int64_t span) { run_until(now_ + span); }

  // ---- network and clocks ---------------------------------------------------------------------

  void set_delay(const std::string& from, const std::string& to, std::int64_t delay);
  /// While a directed link is down, what is sent on it is lost (the connection stays "up").
  void set_lossy(const std::string& from, const std::string& to, bool lossy);
  /// Samples the node's next clock burst delivers before it stops (default: no limit).
  void limit_samples(const std::string& id, std::size_t samples);

  // ---- election and shell inputs --------------------------------------------------------------

  /// `leader` leads at `epoch` now; every other running node learns it over its link from the
  /// leader (same FIFO order as the leader's messages).
  void elect(const std::string& leader, std::uint64_t epoch);
  /// Only `to` learns now (over the link from `leader`) that `leader` leads at `epoch`.
  void announce(const std::string& leader, std::uint64_t epoch, const std::string& to);
  /// Every running node has no leader (the leader died; an election runs).
  void lose_leader();
  /// A prompt command at `id`; its reply is recorded under the returned token.
  ReplyToken command(const std::string& id, const cli::Command& command);
  void stall(const std::string& id);
  /// The cluster's track list of `id` changed.
  void set_tracks(const std::string& id, std::vector<playback::TrackInfo> tracks);
  /// Delivers `message` to `to` now, as if `from` had sent it (bypassing links).
  void inject(const std::string& from, const std::string& to, const protocol::Message& message);

  // ---- observation ----------------------------------------------------------------------------

  const std::vector<Reply>& replies(const std::string& id) const;
  /// Every message sent so far, in order.
  const std::vector<Sent>& sent() const { return sent_; }
  /// The last publication of `id`, if any.
  const std::optional<playback::Publication>& publication(const std::string& id) const;
  std::size_t publications(const std::string& id) const;
  /// What `id`'s engine plays at global instant `global`, by its last publication (silent if it
  /// published nothing).
  playback::Position audible(const std::string& id, std::int64_t global) const;
  /// The hashes of the last tracks `id`'s core said to keep open (keep_open), in its order.
  const std::vector<std::string>& kept_open(const std::string& id) const;
  /// Times the core said it holds the cluster's state.
  int state_held(const std::string& id) const;
  /// The change bits `id`'s core reported since the last call (then cleared).
  control::Subsystems take_changed(const std::string& id);
  const std::vector<LogLine>& log(const std::string& id) const;

 private:
  struct Node {
    std::int64_t offset = 0;
    std::unique_ptr<PlaybackCore> core;
    bool running = true;
    election::Status status;
    std::optional<std::string> sampling;  ///< whose clock
    std::uint64_t sampling_generation = 0;
    std::size_t samples = 0;
    std::optional<std::size_t> sample_limit;
    Deadlines deadlines;
    std::vector<Reply> replies;
    std::optional<playback::Publication> publication;
    std::size_t publications = 0;
    int state_held = 0;
    control::Subsystems changed = 0;
    std::set<std::string> open;
    std::set<std::string> opening;
    std::vector<std::string> kept_open;
    std::vector<LogLine> log;
  };

  Node& node(const std::string& id);
  const Node& node(const std::string& id) const;
  /// Runs one input on a running node's core, then collects its effects.
  void input(const std::string& id, const std::function<void(PlaybackCore&, std::int64_t)>& fn);
  void collect(const std::string& id);
  void transmit(const std::string& from, const std::string& to, std::function<void()> deliver);
  void schedule(std::int64_t at, std::function<void()> event);
  void schedule_sample(const std::string& id, std::uint64_t generation, std::int64_t at);
  void want_open(const std::string& id, const playback::TrackToOpen& track);
  /// The earliest due deadline of any running node: (global instant, node, which).
  struct DueTimer {
    std::int64_t at = 0;
    std::string id;
    int which = 0;
  };
  std::optional<DueTimer> next_timer() const;
  void fire(const DueTimer& timer);

  std::int64_t now_ = kStart;
  std::map<std::string, Node> nodes_;
  std::map<std::pair<std::string, std::string>, std::int64_t> delays_;
  std::map<std::pair<std::string, std::string>, std::int64_t> last_delivery_;
  std::set<std::pair<std::string, std::string>> lossy_;
  std::map<std::pair<std::int64_t, std::uint64_t>, std::function<void()>> queue_;
  std::uint64_t seq_ = 0;
  ReplyToken next_token_ = 1;
  std::vector<Sent> sent_;
};

/// a leads (epoch 1) and b follows, its clock kC from a's, both with `tracks` tracks of `frames`
/// frames; b is synced at kStart + 121 ms and time stands at kStart + 200 ms.
void a_leads_b(PlaybackSim& sim, std::size_t tracks = 3, std::int64_t frames = kTrackFrames);

/// The start the multi-node tests share: a leads b and c (clocks kB and kC) at `epoch`, and
/// plays track 1 from kStart + 200 ms on. Time stands at kStart + 200 ms.
void a_leads_b_and_c_playing(PlaybackSim& sim, std::uint64_t epoch);

/// The playback commands `from` broadcast, in order, with when it sent them.
std::vector<std::pair<std::int64_t, protocol::Message>> commands_from(const PlaybackSim& sim,
                                                                      const std::string& from);
/// The queue edits `from` broadcast, in order.
std::vector<protocol::QueueEdit> queue_edits_from(const PlaybackSim& sim, const std::string& from);
/// The texts of prompt replies, in order.
std::vector<std::string> texts(const std::vector<PlaybackSim::Reply>& replies);
/// Checks that `x` and `y` play the same position at every 12.345 ms over `span` µs from `from`.
void check_same_sound(const PlaybackSim& sim, const std::string& x, const std::string& y, std::int64_t from,
                      std::int64_t span);

}  // namespace chorus::node::test
