#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test through CTest.
# The fuzz targets are built too (with clang, in build-fuzz or $FUZZ_BUILD_DIR: scripts/build-fuzz.sh)
# and each runs for 10 s as a test labelled fuzz (e.g. scripts/test.sh -L fuzz).
# --asan: build and test with AddressSanitizer + UndefinedBehaviorSanitizer (in build-asan), without
#   the fuzz tests (their own build has both sanitizers).
# --repeat N: run each selected test N times in a row, stopping at its first failure
#   (e.g. scripts/test.sh --repeat 20 -R system); ctest's summary then counts tests, not runs.
# Other arguments go to ctest.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
configure_args=()
ctest_args=()
fuzz=1
while [[ $# -gt 0 ]]; do
  case "$1" in
    --asan)
      export BUILD_DIR=${BUILD_DIR:-$root/build-asan}
      configure_args+=(-DCHORUS_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug)
      # The sync tests preload libfaketime into nodes; ASan must not insist on coming first.
      export ASAN_OPTIONS=${ASAN_OPTIONS:-verify_asan_link_order=0}
      fuzz=
      shift ;;
    --repeat)
      [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "test.sh: --repeat needs a count" >&2; exit 2; }
      ctest_args+=(--repeat "until-fail:$2")
      shift 2 ;;
    *)
      ctest_args+=("$1")
      shift ;;
  esac
done
build_dir=${BUILD_DIR:-$root/build}
fuzz_build_dir=
[[ -n "$fuzz" ]] && fuzz_build_dir=$(realpath -m "${FUZZ_BUILD_DIR:-$root/build-fuzz}")
"$root/scripts/build.sh" "${configure_args[@]}" "-DCHORUS_FUZZ_BUILD_DIR=$fuzz_build_dir"
[[ -n "$fuzz" ]] && FUZZ_BUILD_DIR=$fuzz_build_dir "$root/scripts/build-fuzz.sh"
cd "$build_dir"
# Two at a time: the unit and fuzz tests share the machine's cores; the system tests are
# RUN_SERIAL (tests/CMakeLists.txt), so each still runs alone, its timing undisturbed.
status=0
ctest --output-on-failure --parallel 2 "${ctest_args[@]}" || status=$?
if [[ $status -ne 0 ]]; then
  # A long log is often cut in its middle: end it with why each system-test scenario failed.
  echo "== failed scenarios (from Testing/Temporary/LastTest*.log)"
  awk '/^[0-9]+\/[0-9]+ Testing: / { sub(/^[^:]*: /, ""); test = $0 }
       /^  FAIL  |^        because: / { print test ":" $0 }' Testing/Temporary/LastTest*.log
fi
exit $status
