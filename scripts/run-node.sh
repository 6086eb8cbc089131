#!/usr/bin/env bash
# Installs what is missing, builds, and starts a node; arguments pass through (e.g. --leader).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir=${BUILD_DIR:-$root/build}
"$root/scripts/build.sh" >&2
exec "$build_dir/apps/node" "$@"
