#!/usr/bin/env bash
# Runs one libFuzzer target on a copy of its seed corpus, for a bounded time or number of runs,
# and fails on any crash, failed property, leak, timeout or out-of-memory.
#
#   scripts/fuzz.sh TARGET [--seconds N | --runs N] [--build-dir DIR] [--keep-corpus DIR] [-- FLAG...]
#
# TARGET is NAME of fuzz/fuzz_NAME.cpp; the binary comes from DIR (default: $FUZZ_BUILD_DIR or
# build-fuzz; scripts/build-fuzz.sh builds it). Default --seconds 20. The seed corpus
# fuzz/corpus/NAME/ is copied to a temporary directory, so the repository is never written;
# --keep-corpus DIR keeps the grown corpus there. fuzz/NAME.dict and fuzz/NAME.options (extra
# flags) are used when they exist; FLAGs after -- go to libFuzzer as well. A finding (crash-*,
# leak-*, timeout-*, oom-*) and the run's log are saved in DIR/artifacts/NAME/; replay it with
# `DIR/fuzz_NAME FILE`.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

targets() { (cd "$root/fuzz" && ls fuzz_*.cpp 2>/dev/null | sed 's/^fuzz_//; s/\.cpp$//' | tr '\n' ' '); }
usage() {
  echo "usage: scripts/fuzz.sh TARGET [--seconds N | --runs N] [--build-dir DIR] [--keep-corpus DIR] [-- FLAG...]" >&2
  echo "targets: $(targets)" >&2
  exit 2
}
count() { [[ "${2:-}" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: $1 needs a positive count" >&2; exit 2; }; }

[[ $# -ge 1 && "$1" != -* ]] || usage
target=$1
shift
seconds=20
runs=
build_dir=${FUZZ_BUILD_DIR:-$root/build-fuzz}
keep=
extra=()
while [[ $# -gt 0 ]]; do
  case "$1" in
    --seconds) count "$1" "${2:-}"; seconds=$2; runs=; shift 2 ;;
    --runs) count "$1" "${2:-}"; runs=$2; shift 2 ;;
    --build-dir) [[ $# -ge 2 ]] || usage; build_dir=$2; shift 2 ;;
    --keep-corpus) [[ $# -ge 2 ]] || usage; keep=$2; shift 2 ;;
    --) shift; extra=("$@"); break ;;
    *) usage ;;
  esac
done

[[ -f "$root/fuzz/fuzz_$target.cpp" ]] || { echo "fuzz.sh: no target '$target' (targets: $(targets))" >&2; exit 2; }
binary=$build_dir/fuzz_$target
if [[ ! -x "$binary" ]]; then
  echo "fuzz.sh: $binary is missing: build the fuzz targets with scripts/build-fuzz.sh" >&2
  exit 1
fi
seeds=$root/fuzz/corpus/$target
[[ -d "$seeds" ]] && [[ -n "$(ls -A "$seeds")" ]] || { echo "fuzz.sh: no seed corpus in $seeds" >&2; exit 1; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/corpus"
cp -R "$seeds/." "$tmp/corpus/"
artifacts=$build_dir/artifacts/$target
mkdir -p "$artifacts"

# -timeout: seconds one input may take (they take microseconds). -rss_limit_mb: the process's
# memory (ASan's quarantine included; libFuzzer's default, explicit), and the largest single
# allocation (-malloc_limit_mb defaults to it).
flags=(-timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "-artifact_prefix=$artifacts/")
[[ -f "$root/fuzz/$target.dict" ]] && flags+=("-dict=$root/fuzz/$target.dict")
if [[ -f "$root/fuzz/$target.options" ]]; then
  while read -r flag; do flags+=("$flag"); done < <(sed 's/#.*//; /^[[:space:]]*$/d' "$root/fuzz/$target.options")
fi
if [[ -n "$runs" ]]; then flags+=("-runs=$runs"); else flags+=("-max_total_time=$seconds"); fi
flags+=("${extra[@]}")

export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
log=$tmp/log
echo "fuzz.sh: $binary ${flags[*]} <copy of fuzz/corpus/$target>"
status=0
"$binary" "${flags[@]}" "$tmp/corpus" >"$log" 2>&1 || status=$?

# libFuzzer's last status line ("#N DONE cov: C ft: F corp: n/size ...") and final stats.
last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
final_stat() { sed -n "s/^stat::$1:[[:space:]]*//p" "$log" | tail -n 1; }
if [[ $status -ne 0 ]] || ! grep -q '^Done [0-9]* runs' "$log"; then
  cp "$log" "$artifacts/last-failure.log"
  tail -n 80 "$log" >&2
  echo "fuzz.sh: $target FAILED (exit status $status); log: $artifacts/last-failure.log; finding, if any:" \
       "$(ls -t "$artifacts" | grep -E '^(crash|leak|timeout|oom|slow-unit)-' | head -n 1 || true)" >&2
  exit 1
fi
if [[ -n "$keep" ]]; then
  mkdir -p "$keep"
  cp -R "$tmp/corpus/." "$keep/"
fi
echo "fuzz.sh: $target passed: $(final_stat number_of_executed_units) runs, $(final_stat average_exec_per_sec) exec/s," \
     "peak RSS $(final_stat peak_rss_mb) MB, 0 crashes, 0 leaks; $(sed -E 's/^#[0-9]+[[:space:]]+[A-Z]+[[:space:]]+//' <<<"$last")"
