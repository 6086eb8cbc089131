# The Debian package `chorus` (docs/service.md), built by CPack's DEB generator:
# scripts/package.sh configures, builds what the package holds and runs cpack.
#
#   /usr/bin/chorus-node                  the build's `node` (Node.js owns /usr/bin/node)
#   /lib/systemd/system/chorus-node.service
#   /etc/chorus/chorus.toml               a conffile
#   /usr/share/man/man1/chorus-node.1.gz  from the `man_page` target
#   /usr/share/chorus/demo/               the demo tracks (linked from /var/lib/chorus/music/demo)
#   /usr/share/doc/chorus/                copyright, changelog.gz

set(CHORUS_PACKAGING_DIR ${PROJECT_SOURCE_DIR}/packaging)

# cpack installs the project; it should not build the whole tree (the tests) first, only what
# scripts/package.sh built: the `package_contents` target.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

# Debian wants man pages and changelogs compressed with gzip -9n (no name, no time stamp).
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/packaging/chorus-node.1.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  COMMAND gzip -9nc ${CMAKE_BINARY_DIR}/chorus-node.1 > ${CMAKE_BINARY_DIR}/packaging/chorus-node.1.gz
  DEPENDS man_page ${CMAKE_BINARY_DIR}/chorus-node.1)
add_custom_command(
  OUTPUT ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  COMMAND ${CMAKE_COMMAND} -E make_directory ${CMAKE_BINARY_DIR}/packaging
  COMMAND gzip -9nc ${CHORUS_PACKAGING_DIR}/debian/changelog > ${CMAKE_BINARY_DIR}/packaging/changelog.gz
  DEPENDS ${CHORUS_PACKAGING_DIR}/debian/changelog)
add_custom_target(package_contents
  DEPENDS node ${CMAKE_BINARY_DIR}/packaging/chorus-node.1.gz ${CMAKE_BINARY_DIR}/packaging/changelog.gz)

# install(TARGETS), not PROGRAMS: CPack strips what it installs (CPACK_STRIP_FILES) only for targets.
# Then renamed, since install(TARGETS) keeps the target's file name.
install(TARGETS node RUNTIME DESTINATION bin)
install(CODE [[
  file(RENAME "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/bin/node" "$ENV{DESTDIR}${CMAKE_INSTALL_PREFIX}/bin/chorus-node")
]])
install(FILES ${CHORUS_PACKAGING_DIR}/chorus-node.service DESTINATION /lib/systemd/system)
install(FILES ${CHORUS_PACKAGING_DIR}/chorus.toml DESTINATION /etc/chorus)
install(FILES ${CMAKE_BINARY_DIR}/packaging/chorus-node.1.gz DESTINATION share/man/man1)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/tracks/ DESTINATION share/chorus/demo
        FILES_MATCHING PATTERN "*.wav" PATTERN "*.flac" PATTERN "*.ogg")
install(FILES ${CHORUS_PACKAGING_DIR}/debian/copyright ${CMAKE_BINARY_DIR}/packaging/changelog.gz
        DESTINATION share/doc/chorus)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME chorus)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "synchronized audio player for every room, without a server")
set(CPACK_PACKAGE_DESCRIPTION
    "chorus plays the same music at the same instant on every host of a home.
Each host runs one node; the nodes find each other, elect a leader and keep
their clocks in step. Music clients speak MPD to any node, and each node
serves a web page.
.
This package runs a node as the systemd service chorus-node, configured in
/etc/chorus/chorus.toml.")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "chorus maintainers <maintainers@users.noreply.b-seed-4c798e56.example>")
set(CPACK_DEBIAN_PACKAGE_SECTION sound)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# Added to what dpkg-shlibdeps finds: the maintainer scripts' tools.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser, init-system-helpers (>= 1.54~)")
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "avahi-daemon")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    ${CHORUS_PACKAGING_DIR}/debian/conffiles ${CHORUS_PACKAGING_DIR}/debian/postinst
    ${CHORUS_PACKAGING_DIR}/debian/prerm ${CHORUS_PACKAGING_DIR}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
