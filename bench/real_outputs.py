#!/usr/bin/env python3
"""Real outputs benchmark: how exactly nodes on a sound server's sinks (pulse, ALSA through its
pulse plugin, sdl) play with a node on a file output, with no --latency-ms.

    python3 bench/real_outputs.py [--node PATH] [--probe PATH] [--trials N] [--quick]

Each trial is tests/system/unlike_outputs.py's measurement: a private PulseAudio server with one
null sink per room (no sound card), F on file:FIFO (the leader), P on pulse:, A on alsa:pulse:,
S on sdl (SDL's pulseaudio driver), L on pulse: with --latency-ms 5 (the method check), the
counting track played, 4 s to settle, then MEASURE_S measured by skew_probe: F from its FIFO,
the others from their sinks' monitors, the capture path calibrated on a sink of the probe's own.

Targets (issue "[2b/6] real speakers"): P and A each within 500 µs of F (median offset after
calibration); skew p95 <= 500 µs among the unlike outputs F, P, A.

Writes bench/results/real_outputs.json.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import rig
from harness import Cluster, Skip
from unlike_outputs import measure_unlike_outputs

SETTLE_S = 4.0
MEASURE_S = 20.0
OFFSET_TARGET_US = 500.0
SKEW_TARGET_US = 500.0
GROUPS = {"F,P": ["F", "P"], "F,A": ["F", "A"], "F,P,A": ["F", "P", "A"], "F,P,A,S": ["F", "P", "A", "S"]}


def one_trial(node: str, measure_s: float, keep_logs: bool) -> "dict[str, Any]":
    with Cluster(node, name="real_outputs", keep_logs=keep_logs) as cluster:
        m = measure_unlike_outputs(cluster, SETTLE_S, measure_s)
        offsets = {n: rig.summary(m.offsets(n)) for n in ("P", "A", "S", "L")}
        return {
            "capture_offset_us": m.capture_offset_us,
            "offset_from_file_us": offsets,
            "method_check_us": round(offsets["L"]["p50"] - offsets["P"]["p50"], 1),
            "skew_us": {label: rig.summary(m.skews(names)) for label, names in GROUPS.items()},
            "latency": {n: {k: m.timing[n].get(k) for k in ("latency_measured", "latency_us",
                                                             "latency_jitter_us", "device_rate_ppm",
                                                             "xruns", "timeline_jumps")}
                        for n in m.timing},
            "outputs": m.outputs,
            "platform_stalls": len(m.run.stalls),
        }


def median(values: "list[float]") -> float:
    return rig.percentile(values, 0.5)


def main() -> int:
    parser = rig.bench_parser(__doc__, "real_outputs")
    parser.add_argument("--trials", type=int, default=3)
    args = rig.parse_bench_args(parser)
    trials = 1 if args.quick else args.trials
    measure_s = 8.0 if args.quick else MEASURE_S
    os.environ.setdefault("CHORUS_SKEW_PROBE", args.probe)
    records = []
    try:
        for trial in range(trials):
            rec = one_trial(args.node, measure_s, args.keep_logs)
            records.append(rec)
            o, sk = rec["offset_from_file_us"], rec["skew_us"]
            print(f"   #{trial + 1}: offset from F (median): P {o['P']['p50']} / A {o['A']['p50']} / "
                  f"S {o['S']['p50']} µs; method check {rec['method_check_us']} µs; skew p95 "
                  + ", ".join(f"{k} {v['p95']}" for k, v in sk.items()) + " µs", flush=True)
    except Skip as skip:
        print(f"skipped: {skip}")
        return 1
    results: "dict[str, Any]" = {
        "machine": rig.machine_info(), "trials": trials, "settle_s": SETTLE_S, "measure_s": measure_s,
        "offset_target_us": OFFSET_TARGET_US, "skew_target_us": SKEW_TARGET_US, "records": records,
        # medians over the trials of each trial's figure
        "offset_from_file_us": {n: median([r["offset_from_file_us"][n]["p50"] for r in records])
                                for n in ("P", "A", "S", "L")},
        "worst_abs_offset_us": {n: max(abs(r["offset_from_file_us"][n]["p50"]) for r in records)
                                for n in ("P", "A", "S")},
        "skew_p95_us": {k: median([r["skew_us"][k]["p95"] for r in records]) for k in GROUPS},
        "worst_skew_p95_us": {k: max(r["skew_us"][k]["p95"] for r in records) for k in GROUPS},
        "method_check_us": median([r["method_check_us"] for r in records]),
        "capture_offset_us": median([r["capture_offset_us"] for r in records]),
    }
    results["met"] = {
        "pulse_offset": results["worst_abs_offset_us"]["P"] <= OFFSET_TARGET_US,
        "alsa_offset": results["worst_abs_offset_us"]["A"] <= OFFSET_TARGET_US,
        "skew_F,P,A": results["worst_skew_p95_us"]["F,P,A"] <= SKEW_TARGET_US,
    }
    rig.write_json(Path(args.out), results)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
