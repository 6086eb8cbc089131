#!/usr/bin/env bash
# Checks that the generated man page renders with man(1) without a single warning.
# Usage: tests/man_page_renders.sh build/chorus-node.1
set -euo pipefail
page=$1
[[ -s "$page" ]] || { echo "no man page at $page (target man_page)" >&2; exit 1; }
warnings=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
if [[ -n "$warnings" ]]; then
  echo "man warns about $page:" >&2
  echo "$warnings" >&2
  exit 1
fi
MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q "chorus-node - synchronized audio playback" || {
  echo "$page does not render its NAME section" >&2
  exit 1
}
