#pragma once
// The one lock that serialises chorus's use of the SDL audio subsystem (SDL_InitSubSystem /
// QuitSubSystem, opening and closing devices), and the hints set before it starts.

#include <mutex>

namespace chorus::playback::detail {

/// Held around every SDL audio subsystem init/quit and device open/close. Never taken on an
/// audio thread.
std::mutex& sdl_audio_mutex();

/// Sets the process-wide SDL hints chorus relies on (no SDL signal handlers: SIGINT/SIGTERM stay
/// the node's). Call with sdl_audio_mutex() held, before initialising SDL audio.
void set_sdl_hints();

}  // namespace chorus::playback::detail
