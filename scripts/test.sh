#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through CTest.
# --asan: build and test with AddressSanitizer + UndefinedBehaviorSanitizer (in build-asan).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
configure_args=()
if [[ "${1:-}" == "--asan" ]]; then
  shift
  export BUILD_DIR=${BUILD_DIR:-$root/build-asan}
  configure_args+=(-DCHORUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
fi
build_dir=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" "${configure_args[@]}"
cd "$build_dir"
ctest --output-on-failure "$@"
