#pragma once
// When frames are heard, from a PulseAudio stream's raw timing update (pa_timing_info), on the
// node's steady clock: the pulse output (output_pulse.cpp) and the skew probe's capture
// (tools/pulse_capture.cpp) reckon alike. Header-only, so that the probe, which links none of
// the library, uses the same arithmetic.
//
// libpulse's interpolated latency (pa_stream_get_latency) is not used: its smoother estimates the
// server's rate on its own and, after the platform held a CPU for a few ms, carried an error of
// up to 4 ms that took ten seconds to fade. A raw update is exact at its timestamp, but for about
// 1 in 900 that is off by 0.25-15 ms: each is placed by its first byte's instant
// (first_byte_heard_at, first_byte_played_at) and vetted against the last one trusted
// (heard_anchor.hpp) before the next frame is reckoned from it (next_frame_heard_from,
// next_unread_frame_played_from).

#include <pulse/pulseaudio.h>

#include <cstdint>
#include <optional>

#include "chorus/time_base.hpp"
#include "heard_anchor.hpp"
#include "output_format.hpp"

namespace chorus::playback::detail {

/// The update's timestamp (wall clock: libpulse takes the server's for a local server) in
/// steady-clock µs.
inline std::int64_t update_instant_us(const pa_timing_info& timing) {
  return wall_to_steady_us(static_cast<std::int64_t>(timing.timestamp.tv_sec) * 1'000'000 + timing.timestamp.tv_usec);
}

inline std::int64_t stream_bytes_to_us(std::int64_t bytes) { return frames_to_us(bytes / kBytesPerFrame); }

inline bool indexes_valid(const pa_timing_info& timing) {
  return timing.write_index_corrupt == 0 && timing.read_index_corrupt == 0;
}

/// Playback: when the stream's first byte is heard, as the update places it. At the update the
/// server had read the stream up to read_index and its sink held sink_usec not yet heard. nullopt
/// when the read index is invalid (a seek or flush).
inline std::optional<std::int64_t> first_byte_heard_at(const pa_timing_info& timing) {
  if (timing.read_index_corrupt != 0) return std::nullopt;
  return update_instant_us(timing) + static_cast<std::int64_t>(timing.sink_usec) - stream_bytes_to_us(timing.read_index);
}

/// Playback: when the next frame written is heard, the stream's first byte being heard when
/// `anchor` trusts (libpulse advances write_index as we write). nullopt without timing, before an
/// update of this timeline is trusted, when the indexes are invalid or when the server has read
/// past what was written (the stream ran dry: an underrun it has not reported yet). With nothing
/// queued but the sink's own buffer, the next frame is still heard at timestamp + sink_usec if it
/// comes in time.
inline std::optional<std::int64_t> next_frame_heard_from(const HeardAnchor& anchor, const pa_timing_info* timing) {
  const auto first_byte = anchor.trusted_us();
  if (timing == nullptr || !first_byte || !indexes_valid(*timing) || timing->write_index < timing->read_index) {
    return std::nullopt;
  }
  return *first_byte + stream_bytes_to_us(timing->write_index);
}

/// Recording a sink's monitor: when the stream's first byte was played, as the update places it.
/// At the update the server had written the stream up to write_index; that audio left the source
/// source_usec earlier, and a monitor hands a sink's audio over when the sink renders it,
/// sink_usec before the sink's instant for it. So the frame at write_index was played at
/// timestamp − source_usec + sink_usec, and byte 0 that much before. nullopt when the write
/// index is invalid.
inline std::optional<std::int64_t> first_byte_played_at(const pa_timing_info& timing) {
  if (timing.write_index_corrupt != 0) return std::nullopt;
  return update_instant_us(timing) - static_cast<std::int64_t>(timing.source_usec) +
         static_cast<std::int64_t>(timing.sink_usec) - stream_bytes_to_us(timing.write_index);
}

/// Recording: when the next frame to be read (at read_index) was played, the stream's first byte
/// having been played when `anchor` trusts. nullopt without timing, before an update is trusted,
/// or when the indexes are invalid.
inline std::optional<std::int64_t> next_unread_frame_played_from(const HeardAnchor& anchor,
                                                                 const pa_timing_info* timing) {
  const auto first_byte = anchor.trusted_us();
  if (timing == nullptr || !first_byte || !indexes_valid(*timing)) return std::nullopt;
  return *first_byte + stream_bytes_to_us(timing->read_index);
}

/// Offers an update's first-byte instant to `anchor`; when the anchor holds it or wants it
/// confirmed, asks the server for another update at once (heard_anchor.hpp) and returns true.
/// Runs in libpulse's callback for a timing update.
inline bool vet_timing_update(pa_stream* stream, HeardAnchor& anchor, std::optional<std::int64_t> first_byte) {
  if (!first_byte || !anchor.offer(*first_byte)) return false;
  if (pa_operation* again = pa_stream_update_timing_info(stream, nullptr, nullptr)) pa_operation_unref(again);
  return true;
}

}  // namespace chorus::playback::detail
