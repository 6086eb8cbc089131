# Warnings and sanitizers applied to every chorus target through chorus_options.
add_library(chorus_options INTERFACE)
target_compile_options(chorus_options INTERFACE -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor)
if(CHORUS_WERROR)
  target_compile_options(chorus_options INTERFACE -Werror)
endif()
if(CHORUS_SANITIZE)
  # Without UBSan's vptr check: it reads an object's vtable only after probing the memory through a
  # pipe, and with the descriptor table full (what test_faults_net's connection flood does on
  # purpose) the probe fails and every type not yet in its cache is reported as an invalid vptr,
  # aborting a correct node. AddressSanitizer still checks the memory behind every virtual call.
  target_compile_options(chorus_options INTERFACE -fsanitize=address,undefined -fno-sanitize=vptr
                         -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  target_link_options(chorus_options INTERFACE -fsanitize=address,undefined)
endif()
# Boost.Asio: no deprecated names, and no need for Boost.System's library.
target_compile_definitions(chorus_options INTERFACE BOOST_ASIO_NO_DEPRECATED SPDLOG_FMT_EXTERNAL)
