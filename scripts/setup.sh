#!/usr/bin/env bash
# Installs the Debian packages chorus needs to build, run and test.
# Idempotent: when everything is present it only runs dpkg-query and returns in well under a second.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config ccache
  libboost1.81-dev libboost-json1.81-dev
  libsdl2-dev libsdl2-mixer-dev libsndfile1-dev libfmt-dev libspdlog-dev libcli11-dev catch2 libssl-dev
  libsodium-dev libsqlite3-dev libtag1-dev
  # the configuration file's TOML (docs/configuration.md); man-db to check the generated man page
  libtomlplusplus-dev man-db
  libasound2-dev libpulse-dev
  # the systemd service (docs/service.md): sd_notify; systemd-analyze to check the unit and
  # systemd-nspawn to run it under a real systemd; the package's tools (dpkg-shlibdeps) and its
  # maintainer scripts' (adduser, deb-systemd-helper)
  libsystemd-dev systemd systemd-container adduser init-system-helpers dpkg-dev
  # LAN discovery (docs/discovery.md): the Avahi client library, and for its tests the daemon,
  # avahi-browse and a D-Bus daemon of their own
  libavahi-client-dev avahi-daemon avahi-utils dbus
  # the libFuzzer targets (fuzz/): clang; its libFuzzer, ASan and UBSan runtimes and
  # FuzzedDataProvider.h (a recommendation of clang-14's, which --no-install-recommends leaves out);
  # llvm-symbolizer for readable stack traces in the reports
  clang-14 libclang-rt-14-dev libfuzzer-14-dev llvm-14
  # test and benchmark tools
  libfaketime sox libsox-fmt-all vorbis-tools flac python3
  # the benchmarks' kernel stamps of the outputs' writes (bench/rig.py, WriteStamps)
  linux-perf
  # the web page's browser tests (docs/web.md): headless Chromium, driven through the DevTools
  # protocol over a WebSocket (websocket-client)
  chromium python3-websocket fonts-liberation
  # real MPD clients for the MPD protocol server's tests (docs/mpd.md)
  mpc python3-mpd
  iproute2 nftables procps
  # a sound server and ALSA's pulse plugin for the real-output tests (null sinks, no sound card)
  pulseaudio pulseaudio-utils libasound2-plugins alsa-utils
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [[ "$status" == "install ok installed" ]] || missing+=("$p")
done

if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}" >&2
  if [[ $(id -u) -ne 0 ]]; then
    echo "setup: missing packages and not root; run as root or install them: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
