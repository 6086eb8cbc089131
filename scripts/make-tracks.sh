#!/usr/bin/env bash
# Generates the demo tracks in tracks/ (or in the directory given as $1).
#
# Everything is synthesised here with sox, flac and oggenc: no third-party material, so the
# output is public domain / CC0 (see tracks/README.md). All tracks are 48 kHz, stereo, 16-bit.
# Names sort in play order. Durations are exact frame counts (the unit tests check them):
#   01-tone-a440.wav     4 s   = 192000 frames  A4 sine, quiet, short fades
#   02-chord.flac        6 s   = 288000 frames  C major chord (C4 E4 G4)
#   03-click-track.ogg   8 s   = 384000 frames  metronome, a click every 0.5 s, accented downbeat
#   04-sweep.wav         3 s   = 144000 frames  exponential sine sweep 100 Hz -> 8 kHz
#
# Deterministic: sox runs with -R (repeatable) and -D (no dither), oggenc gets a fixed serial
# number, flac writes no time stamps; the same tool versions give the same bytes on every run.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:-"$here/../tracks"}
mkdir -p "$out"
out=$(cd "$out" && pwd)

for tool in sox flac oggenc; do
  command -v "$tool" >/dev/null || { echo "make-tracks: '$tool' is missing (scripts/setup.sh installs it)" >&2; exit 1; }
done

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Common sox options: repeatable, no dither; output 48 kHz stereo signed 16-bit.
SOX=(sox -D -R)
OUTFMT=(-r 48000 -c 2 -b 16 -e signed-integer)

# 01: 4 s A440 sine at -12 dBFS with 20 ms fades (no clicks at start and end).
"${SOX[@]}" -n "${OUTFMT[@]}" "$out/01-tone-a440.wav" synth 4 sine 440 gain -12 fade 0.02 4 0.02

# 02: 6 s C major chord (three sines mixed), soft attack and release, FLAC.
"${SOX[@]}" -r 48000 -c 3 -n "${OUTFMT[@]}" "$tmp/chord.wav" \
  synth 6 sine 261.63 sine 329.63 sine 392.00 \
  remix -m 1v0.25,2v0.25,3v0.25 1v0.25,2v0.25,3v0.25 fade 0.05 6 0.5
flac --silent --force --best --no-padding -o "$out/02-chord.flac" "$tmp/chord.wav"

# 03: 8 s click track, one click every 0.5 s (24000 frames). A 10 ms 1.5 kHz click on the
# downbeat, 1 kHz on the other three beats of each 4/4 bar; 4 bars. Sharp onsets make the
# offset between two nodes audible (and measurable). Vorbis with a fixed stream serial.
"${SOX[@]}" -n "${OUTFMT[@]}" "$tmp/hi.wav" synth 0.01 sine 1500 gain -3 fade 0 0.01 0.008 pad 0 0.49
"${SOX[@]}" -n "${OUTFMT[@]}" "$tmp/lo.wav" synth 0.01 sine 1000 gain -6 fade 0 0.01 0.008 pad 0 0.49
"${SOX[@]}" "$tmp/hi.wav" "$tmp/lo.wav" "$tmp/lo.wav" "$tmp/lo.wav" "$tmp/bar.wav"
"${SOX[@]}" "$tmp/bar.wav" "$tmp/clicks.wav" repeat 3
oggenc --quiet --serial 3 -q 4 -o "$out/03-click-track.ogg" "$tmp/clicks.wav"

# 04: 3 s exponential sweep 100 Hz -> 8 kHz at -12 dBFS.
"${SOX[@]}" -n "${OUTFMT[@]}" "$out/04-sweep.wav" synth 3 sine 100/8000 gain -12 fade 0.02 3 0.02

# Check the frame counts the tests rely on (sox reads all three formats).
expect() {
  local got
  got=$(soxi -s "$out/$1")
  [[ "$got" == "$2" ]] || { echo "make-tracks: $1 has $got frames, expected $2" >&2; exit 1; }
}
expect 01-tone-a440.wav 192000
expect 02-chord.flac 288000
expect 03-click-track.ogg 384000
expect 04-sweep.wav 144000

total=$(du -cb "$out"/0[1-4]-* | tail -n1 | cut -f1)
echo "make-tracks: wrote 4 tracks to $out ($total bytes)"
