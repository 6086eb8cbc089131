#!/usr/bin/env bash
# Installs what is missing, then configures and builds chorus into BUILD_DIR (default: build).
# Extra arguments go to CMake's configure step, e.g. -DCHORUS_SANITIZE=ON.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}

"$root/scripts/setup.sh"
cmake -S "$root" -B "$build_dir" -G Ninja -DCHORUS_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
