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

Platform floor (no target: information). N metronomes (tools/metronome.cpp: the counting track
from one steady-clock instant T0, through the product's own paced file output) are in sync by
construction, on one kernel clock with no network and no clock estimate; the same probe, with
the same settle / measure lengths and the same stall accounting, reports their skew. That is
what no synchronisation can go under on this machine; a node scenario's skew minus its floor is
what the product adds.

  i3, i8, i12  N metronomes while N nodes play the same track on `--output null` (the cluster's
               load: io threads, decoders, output pacers): the floor of (a), (b) and (g), (h)
  j3, j8, j12  N metronomes alone: the writers' share of that floor, without the cluster

Each floor runs right after its node scenario, and its metronomes write at the phases of the
10 ms period at which that scenario's nodes wrote (seeded random phases when it did not run).

Platform stalls: skew_probe records every moment a real-time thread pinned to a CPU woke more
than 1 ms late (on a virtual machine the host holds a CPU for milliseconds now and then, and no
output thread on it can write on time). Each scenario reports the skew over all buckets and
outside the buckets those stalls touched, with their count; the targets are judged outside them.

Writes bench/results/skew.json (the probes' raw CSVs go to bench/results/raw/).
"""

from __future__ import annotations

import argparse
import functools
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Optional

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


def _floor(key: str, writers: int, loaded: bool, floor_of: "list[str]") -> "dict[str, Any]":
    """A platform-floor scenario measured like the first of `floor_of` (settle, measure)."""
    like = next(sc for sc in SCENARIOS if sc["key"] == floor_of[0])
    load = f", {writers} nodes playing on null outputs" if loaded else " alone"
    return {"key": key, "title": f"platform floor: {writers} metronomes{load}",
            "writers": writers, "loaded": loaded, "floor_of": floor_of,
            "settle": like["settle"], "measure": like["measure"]}


FLOORS: "list[dict[str, Any]]" = [
    _floor("i3", 3, True, ["a"]), _floor("i8", 8, True, ["b", "g"]),
    _floor("i12", 12, True, ["h"]),
    _floor("j3", 3, False, ["a"]), _floor("j8", 8, False, ["b", "g"]),
    _floor("j12", 12, False, ["h"]),
]
# The 10 ms period of a node's output (480-frame blocks).
PERIOD_US = rig.BLOCK * 1_000_000 // rig.RATE
# Metronomes write at the phases of the 10 ms period the nodes of their scenario had (how often
# writers wake together matters on 2 cores); without that scenario's figures, at random phases,
# as unrelated as those of nodes started one after the other, seeded so that runs compare.
PHASE_SEED = 11


def span_of(rows: "list[tuple[str, int, int, int]]") -> "tuple[int, int]":
    """[first, last] arrival of `rows`, as a half-open window (empty for no rows)."""
    if not rows:
        return 0, 0
    return min(a for _, a, _, _ in rows), max(a for _, a, _, _ in rows) + 1


def outside_stalls(rows: "list[tuple[str, int, int, int]]", stalls: "list[tuple[int, int, int]]",
                   names: "list[str]", buckets: int) -> "tuple[list[float], dict[str, int]]":
    """The skew of every 100 ms bucket that no platform stall touched (the figures the targets
    are judged by), and the stalls: count, worst lateness, buckets left out of the probe's
    `buckets`."""
    stalled = stalled_buckets((due, late) for due, late, _cpu in stalls)
    clean = rig.skew_from_raw(rows, names, *span_of(rows), skip=stalled)
    return clean, {"count": len(stalls),
                   "worst_us": max((late for _, late, _ in stalls), default=0),
                   "buckets_left_out": buckets - len(clean)}


def write_phase(blocks: "list[tuple[int, int, int]]") -> "Optional[int]":
    """Where in the 10 ms period a writer's blocks reach the probe (median, µs; the median taken
    around the first block's phase, so that a phase near the period's end does not split)."""
    arrivals = [b[0] for b in rig.exact(blocks)]
    if not arrivals:
        return None
    ref = arrivals[0] % PERIOD_US
    rel = [(a - ref + PERIOD_US // 2) % PERIOD_US - PERIOD_US // 2 for a in arrivals]
    return int(ref + sorted(rel)[len(rel) // 2]) % PERIOD_US


def probe_figures(result: "dict[str, Any]", rows: "list[tuple[str, int, int, int]]",
                  stalls: "list[tuple[int, int, int]]", names: "list[str]", measure: float,
                  faked_rate: bool, stamps: "rig.WriteStamps") -> "dict[str, Any]":
    """What every scenario reports of its probe run, nodes and metronomes alike: skew over all
    buckets and outside platform stalls, per-writer continuity, block jitter and (on the real
    clock rate) write lateness; the skew again at the writes' own instants when `stamps` has
    them (`judged_at`: which of the two the targets are judged by)."""
    minutes = measure / 60.0
    per_node = {}
    for name in names:
        n = result["nodes"][name]
        per_node[name] = {**n, "dropped_per_min": round(n["skipped"] / minutes, 1),
                          "duplicated_per_min": round(n["repeated"] / minutes, 1),
                          "jumps_per_min": round(n["jumps"] / minutes, 2)}
    out: "dict[str, Any]" = {
        "buckets": result["buckets"],
        "skew_us": {k: round(v, 1) for k, v in result["skew_us"].items()},
        "per_node": per_node,
        "dropped_per_min_max": max(p["dropped_per_min"] for p in per_node.values()),
        "duplicated_per_min_max": max(p["duplicated_per_min"] for p in per_node.values()),
        "jumps_total": sum(p["jumps"] for p in per_node.values()),
    }
    blocks = rig.by_node(rows)
    for name in names:
        per_node[name]["phase_us"] = write_phase(blocks.get(name, []))
    out["block_jitter_us"] = summary(rig.block_jitter(rows))
    clean, out["platform_stalls"] = outside_stalls(rows, stalls, names, result["buckets"])
    out["skew_outside_stalls_us"] = {k: v for k, v in summary(clean).items()
                                     if k in ("p50", "p95", "max")}
    if not faked_rate:
        # How late each write reached the probe, against its writer's earliest phase.
        late = [x for name in names for x in rig.write_lateness(blocks.get(name, []))]
        out["write_lateness_us"] = summary(late)
    out["judged_at"] = "probe arrival"
    if stamps.reason:
        out["write_stamps"] = f"none: {stamps.reason}"
        return out
    stamped = stamps.stamp(rows)
    timed = sum(len(rig.exact(b)) for b in blocks.values())
    out["write_stamps"] = f"{len(stamped)} of {timed} blocks"
    at_write, _ = outside_stalls(stamped, stalls, names, result["buckets"])
    out["skew_at_write_outside_stalls_us"] = {k: v for k, v in summary(at_write).items()
                                              if k in ("p50", "p95", "max")}
    out["judged_at"] = "write"
    for name, offset in offsets_from_first(stamped, names).items():
        per_node[name]["offset_from_first_at_write_us"] = offset
    if not faked_rate:
        stamped_blocks = rig.by_node(stamped)
        late = [x for name in names for x in rig.write_lateness(stamped_blocks.get(name, []))]
        out["write_lateness_at_write_us"] = summary(late)
    return out


def offsets_from_first(rows: "list[tuple[str, int, int, int]]",
                       names: "list[str]") -> "dict[str, Optional[float]]":
    """Each writer's median offset from the first one: over the 100 ms buckets where all wrote an
    audible block, its median frame-zero instant minus the first writer's."""
    per = rig.bucket_medians(rows, names, *span_of(rows))
    common = set.intersection(*(set(b) for b in per.values()))
    out: "dict[str, Optional[float]]" = {}
    for name in names:
        diffs = sorted(per[name][k] - per[names[0]][k] for k in common)
        out[name] = round(diffs[len(diffs) // 2], 1) if diffs else None
    return out


def judged_skew(out: "dict[str, Any]") -> "dict[str, Any]":
    """The skew outside stalls the targets are judged by: at the writes when stamped."""
    if out.get("judged_at") == "write":
        return out["skew_at_write_outside_stalls_us"]
    return out["skew_outside_stalls_us"]


def announce(sc: "dict[str, Any]", args: argparse.Namespace) -> "tuple[int, int]":
    """The scenario's settle and measure lengths (shortened by --quick), printed with its title."""
    settle, measure = sc["settle"], sc["measure"]
    if args.quick:
        settle, measure = min(settle, 3), min(measure, 8)
    print(f"-- skew {sc['key']}: {sc['title']} (settle {settle} s, measure {measure} s)",
          flush=True)
    return settle, measure


def keep_raw(probe: Any, key: str) -> None:
    """The probe's raw CSV, kept beside the results."""
    raw_dir = rig.RESULTS / "raw"
    raw_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(probe.raw_path, raw_dir / f"skew-{key}.csv")


def skew_line(out: "dict[str, Any]") -> str:
    line = (f"skew p50 {out['skew_us']['p50']} / p95 {out['skew_us']['p95']} / max "
            f"{out['skew_us']['max']} us over {out['buckets']} buckets; outside "
            f"{out['platform_stalls']['count']} platform stalls: p95 "
            f"{out['skew_outside_stalls_us']['p95']} / max {out['skew_outside_stalls_us']['max']} us")
    if out.get("judged_at") == "write":
        at = out["skew_at_write_outside_stalls_us"]
        line += f"; at the writes: p95 {at['p95']} / max {at['max']} us"
    else:
        line += f"; writes not stamped ({out['write_stamps']})"
    return line


def frames_line(out: "dict[str, Any]") -> str:
    return (f"dropped/min max {out['dropped_per_min_max']}, dup/min max "
            f"{out['duplicated_per_min_max']}, jumps {out['jumps_total']}")


def run_scenario(sc: "dict[str, Any]", args: argparse.Namespace, tracks: Path) -> "dict":
    names = [chr(ord("A") + i) for i in range(sc["nodes"])]
    settle, measure = announce(sc, args)
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
        stamps = rig.WriteStamps({n.name: n.proc.pid for n in nodes}, r.workdir)
        with stamps:
            probe = r.probe(sc["key"], fifos, measure)
            result = probe.finish()
        reports = {n.name: node_report(n) for n in nodes}
        keep_raw(probe, sc["key"])
        rows = probe.rows
        stalls = probe.stalls

    out: "dict[str, Any]" = {
        "title": sc["title"], "nodes": sc["nodes"], "settle_s": settle, "measure_s": measure,
        "synced_after_s": round(synced_after, 2), "target": sc["target"],
        **probe_figures(result, rows, stalls, names, measure,
                        faked_rate=any(f and "x" in f for f in sc.get("faketime", [])),
                        stamps=stamps),
    }
    per_node = out["per_node"]
    for name in names:
        per_node[name]["status"] = reports[name]
    if not sc.get("faketime"):
        # One host, one steady clock: the true offset is 0, so the estimate is its own error.
        errors = [abs(p["status"]["clock"]["offset_us"]) for p in per_node.values()
                  if p["status"]["clock"]["following"]]
        out["clock_offset_estimate_abs_us"] = summary(errors)
    if sc["target"]:
        t = sc["target"]
        judged = judged_skew(out)
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
    offsets = {n: round(p["offset_from_first_us"]) for n, p in per_node.items()}
    at_write = {n: p.get("offset_from_first_at_write_us") for n, p in per_node.items()}
    print(f"   {skew_line(out)}; offsets {offsets} (at the writes {at_write}); "
          f"{frames_line(out)}", flush=True)
    return out


class Metronomes:
    """N metronome processes on their FIFOs, all playing from one T0 (see tools/metronome.cpp).
    Leaving the block stops them with SIGTERM (SIGKILL if one hangs); stop() also says whether
    every one of them ran to the end and exited cleanly."""

    def __init__(self, binary: str, fifos: "dict[str, Path]", phases: "list[int]", logs: Path):
        self.binary = binary
        self.fifos = fifos
        self.phases = phases
        self.logs = logs
        self.procs: "dict[str, subprocess.Popen]" = {}
        self.t0_us = 0

    def __enter__(self) -> "Metronomes":
        # Frame 0 once every one of them runs (each starts within 10 ms of its start-up).
        self.t0_us = rig.mono_us() + 300_000 + 20_000 * len(self.fifos)
        try:
            for (name, fifo), phase in zip(self.fifos.items(), self.phases):
                with open(self.logs / f"metronome-{name}.log", "wb") as log:
                    self.procs[name] = rig.spawn([self.binary, "--output", f"file:{fifo}",
                                                  "--t0-us", str(self.t0_us),
                                                  "--phase-us", str(phase)],
                                                 stdout=log, stderr=subprocess.STDOUT)
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: Any) -> bool:
        self.stop()
        return False

    def gone(self) -> "list[str]":
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self) -> "list[str]":
        """Stops every metronome; returns the problems (one ended early, or not cleanly)."""
        problems = [f"{name} ended early ({self.procs[name].returncode})" for name in self.gone()]
        for proc in self.procs.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for name, proc in self.procs.items():
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                problems.append(f"{name} ignored SIGTERM")
            if proc.returncode not in (0, None) and not any(p.startswith(name + " ")
                                                            for p in problems):
                problems.append(f"{name} exited with {proc.returncode}")
            rig.reap(proc)
        self.procs = {}
        return problems


def floor_phases(fl: "dict[str, Any]", done: "dict[str, Any]") -> "tuple[list[int], str]":
    """The metronomes' phases: those of the nodes of the scenario the floor is compared with, if
    it ran, else random ones; and where they came from."""
    like = done.get(fl["floor_of"][0], {})
    phases = [p.get("phase_us") for p in like.get("per_node", {}).values()]
    if len(phases) == fl["writers"] and None not in phases:
        return phases, f"the nodes of ({fl['floor_of'][0]})"
    rng = random.Random(PHASE_SEED)
    return [rng.randrange(PERIOD_US) for _ in range(fl["writers"])], f"random (seed {PHASE_SEED})"


def run_floor(fl: "dict[str, Any]", args: argparse.Namespace, tracks: Path,
              done: "dict[str, Any]") -> "dict":
    """N metronomes measured as the nodes are, with N nodes playing on null outputs beside them
    if the floor is a loaded one. `done`: the scenarios measured so far (for their phases)."""
    if not Path(args.metronome).is_file():
        raise rig.HarnessError(f"no metronome at {args.metronome}: build it (cmake --build BUILD "
                               "--target metronome) or give --metronome")
    names = [f"M{i + 1}" for i in range(fl["writers"])]
    phases, phases_from = floor_phases(fl, done)
    settle, measure = announce(fl, args)
    with Rig(f"skew-{fl['key']}", args.node, args.probe, args.keep_logs) as r:
        nodes = []
        if fl["loaded"]:
            load = [chr(ord("A") + i) for i in range(fl["writers"])]
            nodes = r.start_cluster(load, tracks, timeout=20)
            r.play_first_track(nodes, timeout=20)
        fifos = {n: r.fifo(n) for n in names}
        with Metronomes(args.metronome, fifos, phases, r.workdir) as metronomes:
            time.sleep(max(settle, (metronomes.t0_us - rig.mono_us()) / 1e6))
            stamps = rig.WriteStamps({n: p.pid for n, p in metronomes.procs.items()}, r.workdir)
            with stamps:
                probe = r.probe(fl["key"], fifos, measure)
                result = probe.finish()
            problems = metronomes.stop()
        if problems:
            raise rig.HarnessError("metronomes: " + "; ".join(problems))
        states = [n.status().get("state") for n in nodes]
        if any(state != "playing" for state in states):
            raise rig.HarnessError(f"the load's nodes stopped playing: {states}")
        keep_raw(probe, fl["key"])
        rows, stalls, t0_us = probe.rows, probe.stalls, metronomes.t0_us

    out: "dict[str, Any]" = {
        "title": fl["title"], "writers": fl["writers"], "loaded": fl["loaded"],
        "floor_of": fl["floor_of"], "settle_s": settle, "measure_s": measure, "target": None,
        "phases_from": phases_from,
        **probe_figures(result, rows, stalls, names, measure, faked_rate=False, stamps=stamps),
    }
    # Every metronome's frame 0 is due at T0: how much later the probe saw it (the writes'
    # and the probe's wake-up latency; never negative, or a frame came out early).
    blocks = rig.by_node(rows)
    for name, asked in zip(names, phases):
        zeros = [z - t0_us for z in map(rig.zero_instant, rig.exact(blocks.get(name, [])))
                 if z is not None]
        p = out["per_node"][name]
        p["frame_zero_after_t0_us"] = summary(zeros)
        # Against the node's phase it was given (both as the probe saw them): the start-up lag.
        p["phase_asked_us"] = asked
        p["phase_error_us"] = ((p["phase_us"] - asked + PERIOD_US // 2) % PERIOD_US
                               - PERIOD_US // 2) if p["phase_us"] is not None else None
    errors = [p["phase_error_us"] for p in out["per_node"].values()]
    out["phase_error_us"] = {"min": min(errors), "max": max(errors)} if None not in errors else None
    print(f"   {skew_line(out)}; write lateness p50 {out['write_lateness_us']['p50']} / p95 "
          f"{out['write_lateness_us']['p95']} us; {frames_line(out)}; phases from {phases_from}, "
          f"off by {out['phase_error_us']} us", flush=True)
    return out


def compare_with_floors(scenarios: "dict[str, Any]") -> "dict[str, Any]":
    """For each node scenario measured beside its floors: node p95 / max outside stalls, the
    floors' and the excess (node − floor), the part of the skew the product adds."""
    out: "dict[str, Any]" = {}
    for fl in FLOORS:
        floor = scenarios.get(fl["key"])
        if not floor or "error" in floor:
            continue
        for key in fl["floor_of"]:
            node = scenarios.get(key)
            if not node or "error" in node:
                continue
            n, f = judged_skew(node), judged_skew(floor)
            entry = out.setdefault(key, {"node_p95_us": n["p95"], "node_max_us": n["max"]})
            entry[fl["key"]] = {"floor_p95_us": f["p95"], "floor_max_us": f["max"],
                                "excess_p95_us": round(n["p95"] - f["p95"], 1),
                                "excess_max_us": round(n["max"] - f["max"], 1)}
    return out


def main() -> int:
    parser = rig.bench_parser(__doc__, "skew")
    parser.add_argument("--only", default="", help="comma-separated scenario keys")
    parser.add_argument("--metronome", default=None,
                        help="tools/metronome (default: beside --probe)")
    args = rig.parse_bench_args(parser)
    if args.metronome is None:
        args.metronome = str(Path(args.probe).parent / "metronome")
    tracks = rig.track_dir(args.probe, 240)
    wanted = [k for k in args.only.split(",") if k]
    results: "dict[str, Any]" = {"machine": rig.machine_info(), "track_s": 240, "scenarios": {}}
    out = Path(args.out)
    # Each floor right after the scenario it is the floor of, so that the two share the
    # machine's load as closely as two windows can.
    runs = []
    for sc in SCENARIOS:
        runs.append((sc, run_scenario))
        runs += [(fl, functools.partial(run_floor, done=results["scenarios"]))
                 for fl in FLOORS if fl["floor_of"][0] == sc["key"]]
    for sc, run in runs:
        if wanted and sc["key"] not in wanted:
            continue
        # Floors and their node scenarios are compared across windows: note each one's load.
        load = " ".join(Path("/proc/loadavg").read_text().split()[:3])
        try:
            results["scenarios"][sc["key"]] = run(sc, args, tracks)
        except rig.HarnessError as error:
            print(f"   FAILED: {error}", flush=True)
            results["scenarios"][sc["key"]] = {"title": sc["title"], "error": str(error)[:2000]}
        results["scenarios"][sc["key"]]["loadavg_at_start"] = load
        results["floor_comparison"] = compare_with_floors(results["scenarios"])
        rig.write_json(out, results)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
