#!/usr/bin/env python3
"""Skew benchmark: how far apart the nodes' actual output is, against the real clock.

    python3 bench/skew.py [--node PATH] [--probe PATH] [--only a,b,...] [--quick]

Each scenario starts a cluster whose nodes write their output to FIFOs (`--output file:FIFO`,
written at each block's audible instant), plays a self-numbering track, waits until every
follower's clock is synced, lets the clocks settle for the scenario's settle time, then runs
`skew_probe measure` over all FIFOs for the measurement time. The probe (run without
libfaketime, on the real steady clock) gives the skew p50 / p95 / max over 100 ms buckets and,
per node, repeated / skipped frames, jumps, the longest silence and the offset from the first
node. Scenarios:

  a  3 nodes, loopback                         target p95 <= 50 us, max <= 200 us
  b  8 nodes, loopback                         target p95 <= 50 us, max <= 200 us
  c  3 nodes, libfaketime: +2.5 s, -4 s, +1 s x1.0001 (100 ppm fast), loopback targets
  d  3 nodes, leader behind the delay proxy, 10 ms +- 5 ms each way; 30 s settle; p95 <= 200 us
  e  3 nodes, leader behind the delay proxy, 20 ms up (follower -> leader) / 5 ms down
     (no target: the estimate's bias is (20 - 5) / 2 = 7.5 ms by construction, docs/clock.md)
  f  method check: 3 nodes on loopback, C with --latency-ms 5 must show up 5 ms off
  g  8 nodes, libfaketime: clocks seconds apart, two of them drifting +100 / -100 ppm;
     loopback targets
  h  12 nodes, loopback                        loopback targets

Platform stalls: skew_probe records every moment a real-time thread pinned to a CPU woke more
than 1 ms late (on a virtual machine the host holds a CPU for milliseconds now and then, and no
output thread on it can write on time). Each scenario reports the skew over all buckets and
outside the buckets those stalls touched, with their count; the targets are judged outside them.

Writes bench/results/skew.json (the probes' raw CSVs go to bench/results/raw/).
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import HOST, Rig, node_report, summary
from sync_rig import free_port, stalled_buckets  # on sys.path once rig is imported

LOOPBACK = {"p95_us": 50, "max_us": 200}
JITTER = {"p95_us": 200}

SCENARIOS: "list[dict[str, Any]]" = [
    {"key": "a", "title": "3 nodes, loopback", "nodes": 3, "settle": 5, "measure": 60,
     "target": LOOPBACK},
    {"key": "b", "title": "8 nodes, loopback", "nodes": 8, "settle": 5, "measure": 30,
     "target": LOOPBACK},
    {"key": "c", "title": "3 nodes, libfaketime +2.5 s / -4 s / +1 s x1.0001", "nodes": 3,
     "faketime": ["+2.5s", "-4s", "+1s x1.0001"], "settle": 10, "measure": 40,
     "target": LOOPBACK},
    {"key": "d", "title": "3 nodes, delay proxy 10 ms +- 5 ms", "nodes": 3,
     "proxy": {"delay_ms": 10, "jitter_ms": 5}, "settle": 30, "measure": 40, "target": JITTER},
    {"key": "e", "title": "3 nodes, asymmetric path 20 ms / 5 ms", "nodes": 3,
     "proxy": {"up_ms": 20, "down_ms": 5}, "settle": 10, "measure": 20, "target": None},
    {"key": "f", "title": "method check: C with --latency-ms 5", "nodes": 3,
     "latency": {2: 5}, "settle": 3, "measure": 15, "target": None},
    {"key": "g", "title": "8 nodes, clocks seconds apart, two drifting +-100 ppm", "nodes": 8,
     "faketime": [None, "+2.5s", "-4s x1.0001", "+1.5s", "-3.2s x0.9999", "+6s", "-0.7s",
                  "+3.3s"],
     "settle": 20, "measure": 30, "target": LOOPBACK},
    {"key": "h", "title": "12 nodes, loopback", "nodes": 12, "settle": 5, "measure": 30,
     "target": LOOPBACK},
]


def outside_stalls(rows: "list[tuple[str, int, int, int]]", stalls: "list[tuple[int, int, int]]",
                   names: "list[str]", buckets: int) -> "tuple[list[float], dict[str, int]]":
    """The skew of every 100 ms bucket that no platform stall touched (the figures the targets
    are judged by), and the stalls: count, worst lateness, buckets left out of the probe's
    `buckets`."""
    stalled = stalled_buckets((due, late) for due, late, _cpu in stalls)
    everything = (min(a for _, a, _, _ in rows), max(a for _, a, _, _ in rows) + 1)
    clean = rig.skew_from_raw(rows, names, *everything, skip=stalled)
    return clean, {"count": len(stalls),
                   "worst_us": max((late for _, late, _ in stalls), default=0),
                   "buckets_left_out": buckets - len(clean)}


def run_scenario(sc: "dict[str, Any]", args: argparse.Namespace, tracks: Path) -> "dict":
    names = [chr(ord("A") + i) for i in range(sc["nodes"])]
    settle, measure = sc["settle"], sc["measure"]
    if args.quick:
        settle, measure = min(settle, 3), min(measure, 8)
    print(f"-- skew {sc['key']}: {sc['title']} (settle {settle} s, measure {measure} s)",
          flush=True)
    with Rig(f"skew-{sc['key']}", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        faketime = sc.get("faketime", [None] * len(names))
        latency = sc.get("latency", {})
        proxy = sc.get("proxy")
        nodes = []
        for i, name in enumerate(names):
            common = {"tracks": tracks, "output": f"file:{fifos[name]}",
                      "faketime": faketime[i], "latency_ms": latency.get(i)}
            if i == 0:
                if proxy:
                    # Followers get smaller ids, so of the two connections of a pair the one
                    # they dial (through this proxy) is the one kept (docs/network.md).
                    port = free_port()
                    pport = r.proxy(port, seed=7, **proxy)
                    nodes.append(r.node(name, leader=True, port=port, advertise_port=pport,
                                        node_id=f"z-{name}", **common))
                    bootstrap: Any = (HOST, pport)
                else:
                    nodes.append(r.node(name, leader=True, **common))
                    bootstrap = nodes[0]
            else:
                nodes.append(r.node(name, bootstrap=bootstrap,
                                    node_id=f"a-{name}" if proxy else None, **common))
        r.wait_mesh(nodes, timeout=20)
        r.wait_synced(nodes, timeout=20)
        synced_after = r.play_first_track(nodes, timeout=20)
        time.sleep(settle)
        probe = r.probe(sc["key"], fifos, measure)
        result = probe.finish()
        reports = {n.name: node_report(n) for n in nodes}
        raw_dir = rig.RESULTS / "raw"
        raw_dir.mkdir(parents=True, exist_ok=True)
        shutil.copy(probe.raw_path, raw_dir / f"skew-{sc['key']}.csv")
        rows = probe.rows
        stalls = probe.stalls

    minutes = measure / 60.0
    per_node = {}
    for name in names:
        n = result["nodes"][name]
        per_node[name] = {**n, "dropped_per_min": round(n["skipped"] / minutes, 1),
                          "duplicated_per_min": round(n["repeated"] / minutes, 1),
                          "jumps_per_min": round(n["jumps"] / minutes, 2),
                          "status": reports[name]}
    out: "dict[str, Any]" = {
        "title": sc["title"], "nodes": sc["nodes"], "settle_s": settle, "measure_s": measure,
        "synced_after_s": round(synced_after, 2), "buckets": result["buckets"],
        "skew_us": {k: round(v, 1) for k, v in result["skew_us"].items()},
        "target": sc["target"], "per_node": per_node,
        "dropped_per_min_max": max(p["dropped_per_min"] for p in per_node.values()),
        "duplicated_per_min_max": max(p["duplicated_per_min"] for p in per_node.values()),
        "jumps_total": sum(p["jumps"] for p in per_node.values()),
    }
    out["block_jitter_us"] = summary(rig.block_jitter(rows))
    clean, out["platform_stalls"] = outside_stalls(rows, stalls, names, result["buckets"])
    out["skew_outside_stalls_us"] = {k: v for k, v in summary(clean).items()
                                     if k in ("p50", "p95", "max")}
    if not any(f and "x" in f for f in sc.get("faketime", [])):
        # How late each write reached the probe, against its node's earliest phase.
        blocks = rig.by_node(rows)
        late = [x for name in names for x in rig.write_lateness(blocks.get(name, []))]
        out["write_lateness_us"] = summary(late)
    if not sc.get("faketime"):
        # One host, one steady clock: the true offset is 0, so the estimate is its own error.
        errors = [abs(p["status"]["clock"]["offset_us"]) for p in per_node.values()
                  if p["status"]["clock"]["following"]]
        out["clock_offset_estimate_abs_us"] = summary(errors)
    if sc["target"]:
        t = sc["target"]
        judged = out["skew_outside_stalls_us"]
        out["met"] = (judged["p95"] is not None and judged["p95"] <= t["p95_us"] and
                      ("max_us" not in t or judged["max"] <= t["max_us"]))
    if sc["key"] == "f":
        # Skew of the nodes without extra latency, and the latency node's offset.
        t0 = min(a for _, a, _, _ in rows)
        others = rig.skew_from_raw(rows, names[:2], t0, t0 + 10**12)
        out["skew_without_latency_node_us"] = summary(others)
        out["latency_node_offset_us"] = round(per_node["C"]["offset_from_first_us"], 1)
        out["expected_offset_us"] = -5000
    if sc["key"] == "e":
        out["follower_offsets_us"] = {n: round(per_node[n]["offset_from_first_us"], 1)
                                      for n in names[1:]}
        out["expected_offset_us"] = -7500
        followers = rig.skew_from_raw(rows, names[1:], 0, 10**15)
        out["skew_between_followers_us"] = summary(followers)
    print(f"   skew p50 {out['skew_us']['p50']} / p95 {out['skew_us']['p95']} / max "
          f"{out['skew_us']['max']} us over {out['buckets']} buckets; outside "
          f"{out['platform_stalls']['count']} platform stalls: p95 "
          f"{out['skew_outside_stalls_us']['p95']} / max {out['skew_outside_stalls_us']['max']} "
          f"us; offsets "
          f"{ {n: round(p['offset_from_first_us']) for n, p in per_node.items()} }; "
          f"dropped/min max {out['dropped_per_min_max']}, dup/min max "
          f"{out['duplicated_per_min_max']}, jumps {out['jumps_total']}", flush=True)
    return out


def main() -> int:
    parser = rig.bench_parser(__doc__, "skew")
    parser.add_argument("--only", default="", help="comma-separated scenario keys")
    args = rig.parse_bench_args(parser)
    tracks = rig.track_dir(args.probe, 240)
    wanted = [k for k in args.only.split(",") if k]
    results: "dict[str, Any]" = {"machine": rig.machine_info(), "track_s": 240, "scenarios": {}}
    out = Path(args.out)
    for sc in SCENARIOS:
        if wanted and sc["key"] not in wanted:
            continue
        try:
            results["scenarios"][sc["key"]] = run_scenario(sc, args, tracks)
        except rig.HarnessError as error:
            print(f"   FAILED: {error}", flush=True)
            results["scenarios"][sc["key"]] = {"title": sc["title"], "error": str(error)[:2000]}
        rig.write_json(out, results)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
