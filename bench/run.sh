#!/usr/bin/env bash
# The benchmark suite in one command: builds a Release node, skew_probe and handshake_probe
# (scripts/build.sh into build-bench/, tests off), runs every benchmark against real node
# processes on 127.0.0.1, and writes bench/results/report.{md,json}; the Markdown is copied to
# docs/benchmarks.md.
#
#   bench/run.sh            the whole suite (about 13 minutes on 2 cores)
#   bench/run.sh --quick    short windows, few trials: a smoke test of the scripts (~3.5 minutes);
#                           its report goes to bench/results/ only, docs/ is left alone
#
# Benchmarks measure, they do not fail: a benchmark that breaks is reported as not run and the
# others still run. Exit status: 0, or 1 if any benchmark broke. Every node, proxy and probe a
# benchmark starts is killed when it ends, whatever happens (see bench/rig.py).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export BUILD_DIR=${BUILD_DIR:-$root/build-bench}
quick=()
if [[ "${1:-}" == "--quick" ]]; then
  quick=(--quick)
fi
results=$root/bench/results
mkdir -p "$results"
started=$(date +%s)

# The commit the binaries are built from (others may commit while the suite runs).
commit=$(git -C "$root" rev-parse HEAD 2>/dev/null || echo unknown)
dirty=no
if [[ -n "$(git -C "$root" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  dirty=yes
fi

echo "== build (Release, $BUILD_DIR)"
"$root/scripts/build.sh" -DCMAKE_BUILD_TYPE=Release -DCHORUS_BUILD_TESTS=OFF

node=$BUILD_DIR/apps/node
probe=$BUILD_DIR/tools/skew_probe
cd "$root"
rm -f "$results"/{skew,reaction,join,failover,cost,fanout,real_outputs,security,library,control,lan}.json "$results"/report.{md,json}

status=0
run() {
  local name=$1
  shift
  echo "== $name"
  if ! python3 "$@"; then
    echo "== $name: broke (see above); the report lists it as not run" >&2
    status=1
  fi
}

if ((${#quick[@]})); then
  failover_trials=(--trials 3 --stop-trials 2)
else
  failover_trials=(--trials 15 --stop-trials 10)
fi

run skew     bench/skew.py --node "$node" --probe "$probe" "${quick[@]}"
run reaction bench/reaction.py --node "$node" --probe "$probe" "${quick[@]}"
run join     bench/join.py --node "$node" --probe "$probe" "${quick[@]}"
run failover bench/failover.py --node "$node" --probe "$probe" --audio "${failover_trials[@]}"
run cost     bench/cost.py --node "$node" --probe "$probe" "${quick[@]}"
run fanout   bench/fanout.py --node "$node" --probe "$probe" "${quick[@]}"
run real_outputs bench/real_outputs.py --node "$node" --probe "$probe" "${quick[@]}"
run security bench/security.py --node "$node" --probe "$probe" "${quick[@]}"
run library  bench/library.py --node "$node" --probe "$probe" "${quick[@]}"
run control  bench/control.py --node "$node" --probe "$probe" "${quick[@]}"
# Network namespaces: root only (bench/lan.py says so and stops otherwise).
run lan      bench/lan.py --node "$node" --probe "$probe" "${quick[@]}"

elapsed=$(( $(date +%s) - started ))
command="bench/run.sh${quick:+ ${quick[*]}}"
docs=()
if ((${#quick[@]} == 0)); then
  docs=(--docs "$root/docs/benchmarks.md")
fi
echo "== report"
python3 bench/report.py --results "$results" --command "$command" --duration-s "$elapsed" \
  --commit "$commit" --dirty "$dirty" "${docs[@]}" >/dev/null
echo "written: $results/report.md, $results/report.json${docs:+, docs/benchmarks.md}"
echo "== done in $((elapsed / 60)) min $((elapsed % 60)) s"
exit $status
