# Warnings and sanitizers applied to every chorus target through chorus_options.
add_library(chorus_options INTERFACE)
target_compile_options(chorus_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(CHORUS_WERROR)
  target_compile_options(chorus_options INTERFACE -Werror)
endif()
if(CHORUS_SANITIZE)
  target_compile_options(chorus_options INTERFACE -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(chorus_options INTERFACE -fsanitize=address,undefined)
endif()
# Boost.Asio: no deprecated names, and no need for Boost.System's library.
target_compile_definitions(chorus_options INTERFACE BOOST_ASIO_NO_DEPRECATED SPDLOG_FMT_EXTERNAL)
