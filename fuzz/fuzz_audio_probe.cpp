// playback::detail::probe_audio on arbitrary file contents: the hand-written reader of WAV,
// FLAC, Ogg and MP3 headers that Library::scan() runs on every file of the tracks directory
// (libsndfile's own parsing, at decode time, is not fuzzed here).
//
// Checked: a probe that succeeds gives a format, a rate, channels and a positive length, which
// converts to a positive length at 48 kHz and a duration without overflow (as Library::scan()
// converts them); a failure says why; and reading the same bytes through a file descriptor
// (FdReader, with its read-ahead window, as the library does) gives exactly the same result as
// reading them from memory.

#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>

#include "check.hpp"
#include "playback/library_probe.hpp"
#include "playback/output_format.hpp"

namespace {

using namespace chorus::playback::detail;

/// One in-memory file, rewritten for every input.
int memory_file() {
  static const int fd = [] {
    const int created = ::memfd_create("fuzz_audio_probe", MFD_CLOEXEC);
    if (created < 0) std::abort();
    return created;
  }();
  return fd;
}

bool same(const ProbeResult& a, const ProbeResult& b) {
  return a.format == b.format && a.rate == b.rate && a.channels == b.channels &&
         a.source_frames == b.source_frames && a.error == b.error;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const ProbeResult probe = probe_audio(MemoryReader(std::span(data, size)));

  if (probe.error.empty()) {
    CHORUS_FUZZ_CHECK(probe.format == "wav" || probe.format == "flac" || probe.format == "vorbis" ||
                          probe.format == "opus" || probe.format == "mp3",
                      "a known format");
    CHORUS_FUZZ_CHECK(probe.rate > 0 && probe.channels > 0, "a rate and channels");
    CHORUS_FUZZ_CHECK(probe.source_frames > 0, "a positive length");
    const std::int64_t frames = frames_at_output_rate(probe.source_frames, probe.rate);
    CHORUS_FUZZ_CHECK(frames > 0, "a positive length at 48 kHz");
    CHORUS_FUZZ_CHECK(frames_to_us(frames) >= 0, "a duration");
  }

  const int fd = memory_file();
  if (::ftruncate(fd, 0) != 0) std::abort();
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::pwrite(fd, data + done, size - done, static_cast<off_t>(done));
    if (n <= 0) std::abort();
    done += static_cast<std::size_t>(n);
  }
  const ProbeResult from_fd = probe_audio(FdReader(fd, size));
  CHORUS_FUZZ_CHECK(same(from_fd, probe), "reading through a descriptor gives the same result");
  return 0;
}
