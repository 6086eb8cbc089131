#pragma once
// ClockSampler: samples the leader's clock and keeps a follower's estimate of it (the Asio
// shell around clock::ClockSync, the pure estimator).
//
//   follower: timer (burst on a new leader, then steady; clock::SamplingPolicy)
//               -> TIME_REQUEST to the leader, t0 stamped when its write starts
//             TIME_RESPONSE -> ClockSync::add_sample(t0, t1, t2, t3 = its receive stamp)
//   leader:   TIME_REQUEST  -> TIME_RESPONSE with t1 = receive stamp, t2 = write-start stamp,
//             and its rate against the leader it followed before (rate_before)
//
// A follower samples the heir too (the peer the election would make leader if the leader went
// away), on a timer and window of its own: when the heir does take over, its window is already
// seconds or minutes old, and following it starts from that estimate instead of from nothing.
// For any other new leader the rate is derived, not waited for: a follower that followed the same
// leader before knows its own rate against it, the new leader announces its own against it, and
// the difference is the new leader's rate against the follower (ClockSync::set_prior_drift;
// docs/clock.md).

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include <boost/asio/steady_timer.hpp>

#include "chorus/clock/clock_sync.hpp"
#include "chorus/net/connection.hpp"
#include "chorus/net/transport.hpp"
#include "chorus/node/message_handler.hpp"

namespace chorus::node {

class ClockSampler final : public ClockInbox {
 public:
  /// `on_sample` runs after every sample that changed the mapping: accepted, or confirming a step
  /// of the leader's clock. A held-back sample does not change it; the next request then goes out
  /// at the burst rate, to re-measure.
  /// `policy` paces the requests (the node's: clock::SamplingPolicy within its heartbeat interval).
  ClockSampler(boost::asio::io_context& io, net::Transport& network,
               std::function<void()> on_sample, clock::SamplingPolicy policy = {});

  /// Start sampling `leader`: from the heir's window if `leader` is the heir watched and it
  /// answered, else from scratch (another leader, another clock).
  void follow(const std::string& leader);
  /// Stop sampling the leader (this node leads, no leader is known, or the node shuts down); the
  /// estimate is kept, and its rate is what this node announces as its rate_before.
  void pause();
  /// Sample `heir` beside the leader (none: stop). A new heir starts a new window.
  void watch_heir(const std::optional<std::string>& heir);

  /// Answers a peer's TIME_REQUEST, stamped where the bytes meet the socket.
  void on_request(const std::string& from, const protocol::TimeRequest& request,
                  net::Clock::time_point received) override;
  /// A sample, if it answers a request to the leader followed (or the heir watched) that was
  /// sent after the last one it answered (replies come in order on one connection; each is used
  /// once). Requests go out on schedule whether or not the previous one was answered, so on a
  /// path whose round trip is longer than the interval several are in flight, and each answer
  /// still counts. The first answer of a new leader whose rate_before names the leader this node
  /// followed before, or this node itself, gives the leader's window its prior rate.
  void on_response(const std::string& from, const protocol::TimeResponse& response,
                   net::Clock::time_point received) override;

  /// The estimate of the leader's clock.
  const clock::ClockSync& clock() const { return leader_.clock; }
  /// The estimate of the heir's clock, and whose it is.
  const clock::ClockSync& heir_clock() const { return heir_.clock; }
  const std::optional<std::string>& heir() const { return heir_.peer; }

 private:
  /// One peer's clock, sampled on a timer of its own.
  struct Window {
    explicit Window(boost::asio::io_context& io) : timer(io) {}
    boost::asio::steady_timer timer;
    clock::ClockSync clock;
    std::optional<std::string> peer;
    /// Requests up to this id were answered, or sent before this window's peer was chosen:
    /// their answers are not samples.
    std::uint64_t answered_id = 0;
  };

  /// Points `window` at `peer` with an empty estimate, and sends the first request.
  void restart(Window& window, const std::string& peer);
  void stop(Window& window);
  /// Whether `response` from `from` is a sample for `window` (and marks it answered if so).
  bool takes(Window& window, const std::string& from, const protocol::TimeResponse& response);
  /// Arms the next request: on the window's schedule (SamplingPolicy::next_request_at_us) after
  /// the one that was due at `last_due`; without it (a new window, a held-back sample to
  /// re-measure) from now.
  void schedule_request(Window& window, std::optional<net::Clock::time_point> last_due = std::nullopt);
  void send_request(Window& window);
  /// Adds the sample to `window`; the verdict, with the held-back case re-measured at once.
  clock::SampleVerdict add_sample(Window& window, const clock::Sample& sample);
  void on_leader_sample(const std::string& from, const clock::Sample& sample);
  /// Makes the heir's window the leader's; false if `leader` is not the heir or it never answered.
  bool adopt_heir(const std::string& leader);
  /// Remembers the leader followed now, if its estimate is worth remembering, as the one before.
  void remember_leader_followed();
  void take_prior_rate(const std::string& from, const protocol::RateBefore& announced);

  boost::asio::io_context& io_;
  net::Transport& network_;
  std::function<void()> on_sample_;
  clock::SamplingPolicy policy_;
  Window leader_;
  Window heir_;
  /// The leader followed before leader_ (or before pausing), with a synced estimate, and this
  /// node's rate against it as last estimated: what it announces, and what it derives a prior from.
  std::optional<protocol::RateBefore> followed_before_;
  /// Whether the window of leader_ has a prior rate yet (taken once per leader followed).
  bool prior_taken_ = false;
  std::uint64_t next_id_ = 1;
};

}  // namespace chorus::node
