#!/usr/bin/env python3
"""System test of the metronome (tools/metronome.cpp), the writer the skew benchmark measures
its platform floor with: two metronomes given one T0, read by skew_probe.

    python3 tests/system/test_metronome.py --node BUILD/apps/node

Needs BUILD/tools/metronome and BUILD/tools/skew_probe (or $CHORUS_METRONOME,
$CHORUS_SKEW_PROBE). Exit 0 = passed, 1 = failed. About 4 s.

Checks, for each metronome: the first audible frame is frame 0 of the counting track; from
there every frame follows the one before (none repeated, skipped or jumped); at the median,
frame 0 reached the probe at or after T0 (the output wakes early by the median of its own
wake-up latency, so its writes land on their instants at the median and the probe reads after
them; a frame early at the median would be a bug of the renderer's arithmetic or of the pace)
and less than 1 ms after it (the probe's wake-up latency); no block reached it earlier than the
output's largest wake-up lead (WakeLead::kMostLead, 300 µs) before its instant; the two
metronomes' median offset is under 200 µs,
and M2 writes half a period (--phase-us) after M1, within 1 ms (the output thread's start-up);
SIGTERM stops each within 2 s with exit status 0. A bad --output spec is refused with a clear
error and exit status 2.
"""

from __future__ import annotations

import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Cluster, HarnessError, run_main  # noqa: E402
from sync_rig import BLOCK_FRAMES, RATE, SyncRig, _reap_group, _spawn, find_tool  # noqa: E402

PROBE_S = 3.0
LEAD_US = 500_000           # T0 after the probe reads the FIFOs: the lead-in is silence
MEDIAN_LATE_LIMIT_US = 1000
EARLY_TOLERANCE_US = 2      # the probe stamps whole µs; T0's grid has fractions of one
MOST_LEAD_US = 300          # playback::WakeLead::kMostLead: no write is earlier than this
OFFSET_LIMIT_US = 200
STOP_LIMIT_S = 2.0
PERIOD_US = BLOCK_FRAMES * 1_000_000 // RATE
FIRST_PHASE_US = 2_000      # away from the period's ends, so a phase's median does not wrap
PHASE_GAP_US = 5_000        # M2 starts its output half a period after M1's phase
PHASE_TOLERANCE_US = 1_000  # thread start-up and wake-up latency


def expect(ok: bool, what: str) -> None:
    if not ok:
        raise HarnessError(what)


def mono_us() -> int:
    """The probe's clock (steady_clock = CLOCK_MONOTONIC), in µs."""
    return time.monotonic_ns() // 1000


def refuses_bad_output(binary: str) -> None:
    result = subprocess.run([binary, "--output", "speaker", "--t0-us", "0"], capture_output=True,
                            timeout=10)
    expect(result.returncode == 2 and b"unknown output 'speaker'" in result.stderr,
           f"a bad --output: exit {result.returncode}, stderr {result.stderr!r}")


def stop_cleanly(name: str, proc: subprocess.Popen) -> None:
    expect(proc.poll() is None, f"{name} ended by itself ({proc.returncode})")
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=STOP_LIMIT_S)
    except subprocess.TimeoutExpired:
        raise HarnessError(f"{name} still runs {STOP_LIMIT_S} s after SIGTERM")
    expect(code == 0, f"{name} exited with {code} on SIGTERM")


def phase(run, name: str) -> int:
    """Where in the period the metronome's timed blocks reach the probe (median)."""
    arrivals = sorted(b.arrival_us % PERIOD_US for b in run.blocks.get(name, []) if b.timed)
    return arrivals[len(arrivals) // 2]


def check_frames(run, name: str, t0_us: int) -> float:
    """Checks one metronome's blocks; returns its median frame-zero instant − T0 (µs)."""
    n = run.node(name)
    expect(n["repeated"] == 0 and n["skipped"] == 0 and n["jumps"] == 0,
           f"{name}: repeated {n['repeated']}, skipped {n['skipped']}, jumps {n['jumps']}")
    audible = [b for b in run.blocks.get(name, []) if b.audible > 0]
    expect(bool(audible), f"{name}: nothing audible")
    first = audible[0]
    # `first` is the frame number of the block's first slot; the lead-in's silent slots come
    # before the first audible one.
    first_frame = first.first + (BLOCK_FRAMES - first.audible)
    expect(first_frame == 0, f"{name}: the first audible frame is {first_frame}, not 0")
    zeros = [b.arrival_us - b.first * 1e6 / RATE - t0_us for b in audible
             if b.timed and b.audible == BLOCK_FRAMES]
    expect(len(zeros) >= 100, f"{name}: only {len(zeros)} timed blocks")
    expect(min(zeros) >= -(MOST_LEAD_US + EARLY_TOLERANCE_US),
           f"{name}: a block came out {-min(zeros):.1f} µs before its frames were due, more "
           f"than the output's largest wake-up lead ({MOST_LEAD_US} µs)")
    median = statistics.median(zeros)
    expect(median >= -EARLY_TOLERANCE_US,
           f"{name}: at the median, frame 0 reached the probe {-median:.1f} µs before T0")
    expect(median < MEDIAN_LATE_LIMIT_US,
           f"{name}: frame 0 reached the probe {median:.0f} µs after T0 (median)")
    return median


def two_metronomes(cluster: Cluster) -> None:
    binary = find_tool(cluster.binary, "metronome", "CHORUS_METRONOME")
    refuses_bad_output(binary)
    with SyncRig(cluster, use_proxies=False) as rig:
        names = ["M1", "M2"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, PROBE_S)
        t0_us = mono_us() + LEAD_US
        procs = {}
        try:
            for i, name in enumerate(names):
                log = open(rig.workdir / f"metronome-{name}.log", "wb")
                procs[name] = _spawn([binary, "--output", f"file:{rig.fifos[name]}",
                                      "--t0-us", str(t0_us),
                                      "--phase-us", str(FIRST_PHASE_US + PHASE_GAP_US * i)],
                                     stdout=log, stderr=subprocess.STDOUT)
                log.close()
            run = rig.finish_probe()
            for name, proc in procs.items():
                stop_cleanly(name, proc)
        finally:
            for proc in procs.values():
                _reap_group(proc)
        late = {name: check_frames(run, name, t0_us) for name in names}
        phase_gap = (phase(run, "M2") - phase(run, "M1")) % PERIOD_US
        expect(abs(phase_gap - PHASE_GAP_US) < PHASE_TOLERANCE_US,
               f"M2 writes {phase_gap} µs after M1 in each period, not ~{PHASE_GAP_US} µs")
        offsets = [d for _, d in run.offsets("M2", "M1")]
        offset = statistics.median(offsets)
        print("  frame 0 seen after T0 (median): "
              + ", ".join(f"{n} {v:.1f} µs" for n, v in late.items())
              + f"; M2 − M1 {offset:.1f} µs over {len(offsets)} buckets; phases "
              f"{phase(run, 'M1')} / {phase(run, 'M2')} µs into the period", flush=True)
        expect(abs(offset) < OFFSET_LIMIT_US, f"M2 is {offset:.0f} µs off M1")
        cluster.figures.append(("M2 − M1 median offset", abs(offset), "µs", OFFSET_LIMIT_US))


if __name__ == "__main__":
    sys.exit(run_main("metronome (the skew benchmark's platform floor)",
                      [("two metronomes, one T0", two_metronomes)]))
