#include "sdl_audio.hpp"

#include <SDL.h>

namespace chorus::playback::detail {

std::mutex& sdl_audio_mutex() {
  static std::mutex mutex;
  return mutex;
}

void set_sdl_hints() {
  // SDL_INIT_AUDIO brings up SDL's event subsystem, which by default installs SIGINT/SIGTERM
  // handlers that turn the signals into SDL_QUIT events nobody reads: Ctrl-C would stop working.
  SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
  SDL_SetHint(SDL_HINT_AUDIO_DEVICE_APP_NAME, "chorus");
}

}  // namespace chorus::playback::detail
