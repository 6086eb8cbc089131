#!/usr/bin/env bash
# Installs what is missing, then configures and builds the libFuzzer targets (fuzz/) with clang
# into FUZZ_BUILD_DIR (default: build-fuzz). Extra arguments go to CMake's configure step.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}

"$root/scripts/setup.sh"
cmake -S "$root/fuzz" -B "$build_dir" -G Ninja -DCMAKE_CXX_COMPILER=clang++-14 -DCHORUS_WERROR=ON "$@" >/dev/null
cmake --build "$build_dir" -j"$(nproc)"
