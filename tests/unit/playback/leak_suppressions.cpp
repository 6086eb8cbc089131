// LeakSanitizer suppressions of the playback tests (sanitizer build): leaks inside third-party
// libraries that chorus cannot free, each kept as narrow as the library's stacks allow. LSan
// reads them when it checks for leaks, at the end of the process, so a test can add one for its
// own process only (every test case runs in a process of its own under ctest).

#include "playback/leak_suppressions.hpp"

#include <atomic>

namespace {
std::atomic<bool> sdl_pulseaudio_driver_used{false};
}  // namespace

namespace chorus::test {
void note_sdl_pulseaudio_driver_used() { sdl_pulseaudio_driver_used.store(true); }
}  // namespace chorus::test

extern "C" const char* __lsan_default_suppressions() {
  // ALSA's a52 plugin (alsa-plugins 1.2.7.1), used as a device that refuses 48 kHz, leaks the
  // hw_params block it allocates while opening. alsa-lib has no frame pointers, so the leak's
  // stack ends in snd_pcm_hw_params_malloc; the alsa backend keeps its own parameter blocks on
  // the stack, so this hides none of its leaks.
  //
  // SDL 2.26's pulseaudio driver leaks one libpulse operation (88 bytes) per sink event on its
  // hotplug thread (pa_context_get_sink_info_by_index, never unreferenced; seen with full
  // unwinding). libpulse has no frame pointers either, so the stack ends in pa_xmalloc: the
  // suppression is given only to a process that ran SDL on that driver, whose own pulse code is
  // tested leak-free in processes of its own (test_output_pulse.cpp).
  return sdl_pulseaudio_driver_used.load() ? "leak:snd_pcm_hw_params_malloc\nleak:pa_xmalloc\n"
                                           : "leak:snd_pcm_hw_params_malloc\n";
}
