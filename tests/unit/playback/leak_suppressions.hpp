#pragma once
// See leak_suppressions.cpp.

namespace chorus::test {
/// A test that runs SDL on its pulseaudio driver calls this: SDL's own leak there is suppressed
/// in this process.
void note_sdl_pulseaudio_driver_used();
}  // namespace chorus::test
