#!/usr/bin/env python3
"""Join benchmark: process start of a new node -> audible, and within 1 ms of the others.

    python3 bench/join.py [--node PATH] [--probe PATH] [--trials 10] [--quick]

A, B, C play a self-numbering 4-minute track (46 MB of PCM, the size of a real song) on
loopback, writing their output to FIFOs. Each trial starts skew_probe over A, B, C and a FIFO
for the joiner, then starts a new node J (`--bootstrap` A, same track directory) and records:

  audible   the audible instant of J's first audible frame, minus the instant just before its
            process was spawned (monotonic clock, the probe's clock);
  in sync   the first of J's blocks whose frame-zero instant (arrival - frame / 48 kHz) is within
            1 ms of A's (median over the window), same origin;
  after     the largest |offset| from A's of J's later output, median per 100 ms bucket (it
            must stay in sync);
and, from J's log (wall clock, ms resolution), when it was listening, had scanned its tracks
(the scan hashes every file), followed the leader and applied the leader's state.
J then types `exit` and the next trial starts a new one. Target: <= 500 ms.

Writes bench/results/join.json.
"""

from __future__ import annotations

import datetime
import re
import sys
import time
from pathlib import Path
from typing import Any, Optional

import rig
from rig import Rig, mono_us, summary

TARGET_MS = 500.0
WINDOW_S = 2.5
LOG_EVENTS = {"listening": "listening on", "tracks_scanned": "tracks in",
              "following": "following ", "state_applied": "synced with the leader"}


def log_times(text: str, t0_wall: float,
              events: "dict[str, str] | None" = None) -> "dict[str, float]":
    """ms after t0_wall of the first log line of each event (log stamps: local HH:MM:SS.mmm);
    events: name -> text the line holds (default LOG_EVENTS)."""
    events = LOG_EVENTS if events is None else events
    out: "dict[str, float]" = {}
    day = datetime.datetime.fromtimestamp(t0_wall)
    for line in text.splitlines():
        m = re.match(r"(\d\d):(\d\d):(\d\d)\.(\d\d\d) ", line)
        if not m:
            continue
        stamp = day.replace(hour=int(m[1]), minute=int(m[2]), second=int(m[3]),
                            microsecond=int(m[4]) * 1000).timestamp()
        for key, needle in events.items():
            if key not in out and needle in line:
                out[key] = round((stamp - t0_wall) * 1000, 1)
    return out


def main() -> int:
    parser = rig.bench_parser(__doc__, "join")
    parser.add_argument("--trials", type=int, default=10)
    args = rig.parse_bench_args(parser)
    trials = 3 if args.quick else args.trials
    tracks = rig.track_dir(args.probe, 240)
    names = ["A", "B", "C"]
    records = []

    with Rig("join", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names + ["J"]}
        nodes = r.start_cluster(names, tracks, fifos)
        a = nodes[0]
        r.play_first_track(nodes)
        time.sleep(1.0)
        print(f"-- join: {trials} trials", flush=True)
        for trial in range(trials):
            probe = r.probe(f"join{trial}", fifos, WINDOW_S)
            time.sleep(0.3)  # the running nodes reopen their FIFOs (they retry every 100 ms)
            joiner = r.node(f"J{trial + 1}", bootstrap=a, tracks=tracks,
                            output=f"file:{fifos['J']}", start=False)
            t0_wall = time.time()
            t0 = mono_us()
            joiner.launch()
            probe.finish()
            status = joiner.status()
            joiner.exit(timeout=5)
            blocks = rig.by_node(probe.rows)
            ref_zeros = sorted(z for b in rig.exact(blocks.get("A", []))
                               if (z := rig.zero_instant(b)) is not None)
            ref = ref_zeros[len(ref_zeros) // 2] if ref_zeros else None
            j_blocks = [b for b in blocks.get("J", []) if b[0] >= t0]
            audible = rig.first_change(j_blocks, t0, to_silence=False)
            in_sync: Optional[float] = None
            first_offset = None
            after: "dict[int, list[float]]" = {}  # 100 ms bucket -> J's offsets from A
            for b in rig.exact(j_blocks):
                z = rig.zero_instant(b)
                if z is None or ref is None:
                    continue
                if first_offset is None:
                    first_offset = z - ref
                if in_sync is None:
                    if abs(z - ref) <= 1000:
                        in_sync = b[0] + (rig.BLOCK - b[2]) * 1e6 / rig.RATE
                else:
                    after.setdefault(b[0] // 100_000, []).append(z - ref)
            # As for skew: the median per 100 ms bucket, so one late wake-up is not taken for
            # a node out of sync.
            worst_after = max((abs(sorted(v)[len(v) // 2]) for v in after.values()), default=0.0)
            rec: "dict[str, Any]" = {
                "trial": trial + 1,
                "audible_ms": None if audible is None else round((audible - t0) / 1000, 1),
                "in_sync_ms": None if in_sync is None else round((in_sync - t0) / 1000, 1),
                "first_offset_us": None if first_offset is None else round(first_offset, 1),
                "max_offset_after_sync_us": round(worst_after, 1),
                "log_ms": log_times(joiner.stderr_text(), t0_wall),
                "clock_samples": status["clock"]["samples"], "state": status["state"]}
            records.append(rec)
            print(f"   #{trial + 1}: audible {rec['audible_ms']} ms, within 1 ms "
                  f"{rec['in_sync_ms']} ms (first offset {rec['first_offset_us']} us, then "
                  f"<= {rec['max_offset_after_sync_us']} us); log {rec['log_ms']}", flush=True)

    audible = [x["audible_ms"] for x in records]
    in_sync = [x["in_sync_ms"] for x in records]
    missing = sum(1 for v in in_sync if v is None)
    s = summary(in_sync)
    results = {"machine": rig.machine_info(), "trials": trials, "window_s": WINDOW_S,
               "track_s": 240, "target_ms": TARGET_MS,
               "audible_ms": summary(audible), "in_sync_ms": s, "missing": missing,
               "max_offset_after_sync_us": summary([x["max_offset_after_sync_us"]
                                                    for x in records]),
               "log_ms": {k: summary([x["log_ms"].get(k) for x in records])
                          for k in LOG_EVENTS},
               "met": missing == 0 and s["n"] > 0 and s["p95"] <= TARGET_MS,
               "records": records}
    rig.write_json(Path(args.out), results)
    print(f"   in sync: p50 {s['p50']} / p95 {s['p95']} / max {s['max']} ms ({missing} missing)")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
