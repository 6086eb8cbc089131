#include "chorus/node/playback_reports.hpp"

#include <boost/json.hpp>
#include <fmt/format.h>

#include "chorus/node/playback_controller.hpp"
#include "chorus/protocol/inert_text.hpp"

namespace chorus::node {

namespace json = boost::json;
using playback::PlayStatus;
using protocol::inert;

namespace {

std::string_view status_name(PlayStatus status) {
  switch (status) {
    case PlayStatus::playing: return "playing";
    case PlayStatus::paused: return "paused";
    case PlayStatus::stopped: break;
  }
  return "stopped";
}

/// The frame audible now, from the engine's last block when it is playing.
std::int64_t frame_now(const PlaybackView& view) {
  if (view.position.playing) {
    return view.position.frame - playback::frames_in(view.position.local_us - view.now_local_us);
  }
  return view.state.status == PlayStatus::paused ? view.state.anchor_frame : 0;
}

}  // namespace

std::string format_frames(std::int64_t frames) {
  auto ms = frames * 1000 / playback::kOutputRate;
  return fmt::format("{}:{:02}.{:03}", ms / 60'000, (ms / 1000) % 60, ms % 1000);
}

std::string describe_state(const playback::PlaybackState& state) {
  if (!state.track) return fmt::format("stopped (epoch {}, seq {})", state.epoch, state.seq);
  return fmt::format("{} {} from frame {} at {} us (epoch {}, seq {})", status_name(state.status),
                     inert(state.track->name), state.anchor_frame, state.anchor_us, state.epoch, state.seq);
}

namespace {

json::object library_object(const PlaybackView& view) {
  const auto& c = view.content;
  json::array fetches;
  for (const auto& f : c.fetches) {
    json::object from;
    for (const auto& [peer, count] : f.received_from) from[peer] = count;
    json::array ranges;
    for (const auto& r : f.held_ranges.ranges) ranges.push_back(json::array{r.first, r.last});
    fetches.push_back(json::object{{"hash", f.hash},          {"name", f.name},
                                   {"held", f.held},          {"chunks", f.chunks},
                                   {"held_ranges", std::move(ranges)},
                                   {"held_ranges_truncated", f.held_ranges.truncated},
                                   {"complete", f.complete},  {"received_from", std::move(from)},
                                   {"corrupt", f.corrupt},    {"unavailable", f.unavailable},
                                   {"problem", f.problem}});
  }
  return json::object{{"tracks_here", view.library_tracks},
                      {"cluster_tracks", view.cluster_tracks},
                      {"files_pending", view.scan.pending},
                      {"rescans", view.scan.rescans},
                      {"updating_job", view.scan.updating_job},
                      {"content_port", c.port},
                      {"cache_error", c.cache_error.empty() ? json::value(nullptr) : json::value(c.cache_error)},
                      {"cache_used_bytes", c.cache_used},
                      {"cache_max_bytes", c.cache_max},
                      {"evictions", c.evictions},
                      {"bytes_served", c.bytes_served},
                      {"chunks_served", c.chunks_served},
                      {"bytes_fetched", c.bytes_fetched},
                      {"corrupt_chunks", c.corrupt_chunks},
                      {"refused_requests", c.refused_requests},
                      {"content_links", c.links},
                      {"fetches", std::move(fetches)}};
}

}  // namespace

std::string playback_status_text(const PlaybackView& view) {
  const auto& state = view.state;
  std::string text;
  if (!state.track) {
    text = "playback  stopped\n";
  } else {
    text = fmt::format("playback  {} {} at {} of {}\n", status_name(state.status), inert(state.track->name),
                       format_frames(frame_now(view)), format_frames(state.track->frames));
  }
  if (view.missing_track) {
    text += fmt::format("          {} is not here yet: silent until its audio is fetched\n", inert(*view.missing_track));
  }
  if (!view.state_synced) text += "          waiting for the leader's state\n";
  if (view.following_clock) {
    text += fmt::format("clock     offset {:.1f} us, error ±{:.1f} us, drift {:.2f} ppm, min RTT {} us{}{}\n",
                        view.clock.offset_us, view.clock.error_us, view.clock.drift_ppm,
                        view.clock.min_delay_us, view.clock.synced ? "" : " (not synced yet)",
                        view.clock.held > 0 ? " (a jump is held back, re-measuring)" : "");
  } else {
    text += "clock     this node's clock is the reference\n";
  }
  text += "output    " + view.output + "\n";
  const auto& timing = view.output_stats;
  if (timing.latency_measured) {
    text += fmt::format("          latency {:.1f} ms, measured on the device (± {:.2f} ms), device clock {:+.1f} ppm\n",
                        static_cast<double>(timing.latency_us) / 1000.0, timing.latency_jitter_us / 1000.0,
                        timing.device_rate_ppm);
  }
  if (timing.late_writes > 0 || timing.realtime_given_up) {
    text += fmt::format("          {} blocks more than 1 ms late (worst {:.1f} ms){}\n", timing.late_writes,
                        static_cast<double>(timing.worst_late_us) / 1000.0,
                        timing.realtime_given_up ? "; left real-time priority (overloaded)" : "");
  }
  return text;
}

std::string output_anomalies_text(const PlaybackView& view) {
  const auto& timing = view.output_stats;
  return fmt::format(
      "output underruns   {}\noutput lost        {}\ntimeline jumps     {}\nlate writes        {} (worst {:.1f} ms)\n"
      "output resyncs     {}\ndropped blocks     {}\nengine slew        +{} / -{} frames, {} jumps, {} not decoded\n",
      timing.xruns, timing.device_lost, timing.timeline_jumps, timing.late_writes,
      static_cast<double>(timing.worst_late_us) / 1000.0, timing.resyncs, timing.dropped,
      view.engine.frames_inserted, view.engine.frames_dropped, view.engine.jumps, view.engine.not_decoded_frames);
}

std::string clock_checks_text(const PlaybackView& view) {
  const auto& clock = view.clock;
  return fmt::format(
      "clock held back    {} samples ({} now), {} dropped as outliers\n"
      "clock steps        {}{}\nclock rejected     {}\n",
      clock.jumps.held_back, clock.held, clock.jumps.outliers, clock.jumps.steps,
      clock.jumps.steps > 0 ? fmt::format(" (last {:+.1f} ms)", clock.jumps.last_step_us / 1000.0)
                            : std::string(),
      clock.rejected.total());
}

void add_playback_status(json::object& out, const PlaybackView& view) {
  const auto& state = view.state;
  out["state"] = status_name(state.status);
  if (state.track) {
    // index: the queue position as `play N` takes it (0: no longer queued); item_id: its id.
    out["track"] = json::object{{"index", view.queue_position ? *view.queue_position + 1 : 0},
                                {"item_id", state.track->index},
                                {"name", state.track->name},
                                {"hash", state.track->hash},
                                {"frames", state.track->frames}};
  } else {
    out["track"] = nullptr;
  }
  out["missing_track"] = view.missing_track.has_value();
  out["state_synced"] = view.state_synced;
  // The engine's position: `position_frames` is audible at local steady-clock `position_local_us`.
  out["position_frames"] = view.position.playing ? view.position.frame : frame_now(view);
  out["position_local_us"] = view.position.playing ? view.position.local_us : view.now_local_us;
  out["epoch_seq"] = json::array{state.epoch, state.seq};
  out["clock"] = json::object{{"following", view.following_clock},
                              {"synced", view.clock.synced},
                              {"offset_us", view.clock.offset_us},
                              {"error_us", view.clock.error_us},
                              {"drift_ppm", view.clock.drift_ppm},
                              {"min_rtt_us", view.clock.min_delay_us},
                              {"samples", view.clock.samples},
                              {"held", view.clock.held},
                              {"held_back", view.clock.jumps.held_back},
                              {"outliers", view.clock.jumps.outliers},
                              {"steps", view.clock.jumps.steps},
                              {"rejected", view.clock.rejected.total()}};
  out["engine"] = json::object{{"frames_inserted", view.engine.frames_inserted},
                               {"frames_dropped", view.engine.frames_dropped},
                               {"jumps", view.engine.jumps},
                               {"not_decoded_frames", view.engine.not_decoded_frames},
                               {"last_error_frames", view.engine.last_error_frames}};
  out["output"] = view.output;
  const auto& timing = view.output_stats;
  out["output_timing"] = json::object{{"blocks", timing.blocks},
                                      {"late_writes", timing.late_writes},
                                      {"worst_late_us", timing.worst_late_us},
                                      {"wake_lead_us", timing.wake_lead_us},
                                      {"resyncs", timing.resyncs},
                                      {"dropped", timing.dropped},
                                      {"realtime_given_up", timing.realtime_given_up},
                                      {"realtime_long_blocks", timing.realtime_long_blocks},
                                      {"latency_measured", timing.latency_measured},
                                      {"latency_us", timing.latency_us},
                                      {"latency_jitter_us", timing.latency_jitter_us},
                                      {"device_rate_ppm", timing.device_rate_ppm},
                                      {"xruns", timing.xruns},
                                      {"device_lost", timing.device_lost},
                                      {"timeline_jumps", timing.timeline_jumps}};
  out["ignored_commands"] = view.ignored_commands;
  out["library"] = library_object(view);
}

std::string library_status_text(const PlaybackView& view) {
  const auto& c = view.content;
  std::string text = fmt::format("library   {} tracks here, {} in the cluster{}\n", view.library_tracks,
                                 view.cluster_tracks,
                                 view.scan.pending > 0 ? fmt::format(" ({} files still being read)", view.scan.pending)
                                                       : "");
  if (!c.cache_error.empty()) {
    text += fmt::format("cache     UNUSABLE: {}; tracks this node lacks cannot be fetched\n", inert(c.cache_error));
  } else {
    const auto mb = [](std::uint64_t bytes) { return static_cast<double>(bytes) / (1 << 20); };
    text += fmt::format("cache     {:.1f} of {:.0f} MB used, {} evicted; served {} chunks ({:.1f} MB), fetched {:.1f} MB\n",
                        mb(c.cache_used), mb(c.cache_max), c.evictions, c.chunks_served, mb(c.bytes_served),
                        mb(c.bytes_fetched));
  }
  for (const auto& f : c.fetches) {
    text += fmt::format("fetching  {}: {} of {} chunks", inert(f.name), f.held, f.chunks);
    for (const auto& [peer, count] : f.received_from) text += fmt::format(", {} from {}", count, inert(peer));
    if (f.corrupt > 0) text += fmt::format(", {} corrupt", f.corrupt);
    if (!f.problem.empty()) text += "; " + inert(f.problem);
    text += "\n";
  }
  return text;
}

}  // namespace chorus::node
