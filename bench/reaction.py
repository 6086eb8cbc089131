#!/usr/bin/env python3
"""Reaction benchmark: a command typed at a prompt -> the first changed frame on every node.

    python3 bench/reaction.py [--node PATH] [--probe PATH] [--cycles 20] [--quick]

3 nodes on loopback (A leads, B and C follow) write their output to FIFOs read by skew_probe
(--raw: every block's arrival on the steady clock, first frame number, audible frame count).
While a self-numbering track plays, commands are typed on a fixed schedule, 0.25 s apart, first
on the leader A, then on the follower B (forwarded to the leader): `--cycles` times
`pause`, `resume`, then `--cycles` times `stop`, `play 1`. For each command and node the figure
is the audible instant of the first changed frame (the first silent frame after pause/stop, the
first audible frame after resume/play; a block split at the command instant counts from the
frame where it changes) minus the instant the command line was written to the prompt's stdin.
Target: <= 100 ms on loopback.

Writes bench/results/reaction.json.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import Rig, command_text, mono_us, summary

TARGET_MS = 100.0
SPACING_S = 0.25


def type_commands(r: Rig, nodes: "list[rig.Node]", fifos: "dict[str, Path]", cycles: int,
                  tag: str = "reaction") -> "tuple[list[dict], rig.Probe]":
    """Types the plan on a playing cluster (nodes[0] the leader, nodes[1] a follower) while
    skew_probe reads every FIFO; returns the commands sent and the finished probe."""
    plan = []
    for origin in (nodes[0], nodes[1]):
        plan += [(origin, k) for _ in range(cycles) for k in ("pause", "resume")]
        plan += [(origin, k) for _ in range(cycles) for k in ("stop", "play 1")]
    seconds = 0.5 + len(plan) * SPACING_S + 0.5
    print(f"-- reaction: {len(plan)} commands, {SPACING_S} s apart ({seconds:.0f} s)",
          flush=True)
    probe = r.probe(tag, fifos, seconds)
    start = time.monotonic() + 0.5
    sent = []
    for i, (origin, kind) in enumerate(plan):
        delay = start + i * SPACING_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t_cmd = mono_us()
        reply = command_text(origin, kind, timeout=2.0)
        sent.append({"origin": origin.name, "role": "leader" if origin is nodes[0] else "follower",
                     "kind": kind.split()[0], "t_us": t_cmd,
                     "reply_ms": round((mono_us() - t_cmd) / 1000, 3), "reply": reply})
    probe.finish()
    return sent, probe


def reactions(sent: "list[dict]", rows: "list[tuple[str, int, int, int]]",
              names: "list[str]") -> "list[dict]":
    """Per command: each node's first changed frame after it was typed, from the probe's rows."""
    blocks = rig.by_node(rows)
    records = []
    for i, cmd in enumerate(sent):
        t_next = sent[i + 1]["t_us"] if i + 1 < len(sent) else 10**18
        to_silence = cmd["kind"] in ("pause", "stop")
        per_node = {}
        for name in names:
            window = [b for b in blocks.get(name, []) if cmd["t_us"] <= b[0] < t_next]
            change = rig.first_change(window, cmd["t_us"], to_silence)
            per_node[name] = None if change is None else round((change - cmd["t_us"]) / 1000, 3)
        lead = re.search(r"in (\d+) ms", cmd["reply"])
        values = [v for v in per_node.values() if v is not None]
        records.append({**cmd, "lead_ms": int(lead.group(1)) if lead else None,
                        "reaction_ms": per_node,
                        "last_node_ms": max(values) if len(values) == len(names) else None,
                        "spread_us": round((max(values) - min(values)) * 1000, 1)
                        if len(values) == len(names) else None})
    return records


def main() -> int:
    parser = rig.bench_parser(__doc__, "reaction")
    parser.add_argument("--cycles", type=int, default=20)
    args = rig.parse_bench_args(parser)
    cycles = 4 if args.quick else args.cycles
    tracks = rig.track_dir(args.probe, 240)
    names = ["A", "B", "C"]

    with Rig("reaction", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        nodes = r.start_cluster(names, tracks, fifos)
        r.play_first_track(nodes)
        time.sleep(1.0)
        sent, probe = type_commands(r, nodes, fifos, cycles)
        (rig.RESULTS / "raw").mkdir(parents=True, exist_ok=True)
        shutil.copy(probe.raw_path, rig.RESULTS / "raw" / "reaction.csv")
    records = reactions(sent, probe.rows, names)

    groups: "dict[str, Any]" = {}
    for role in ("leader", "follower"):
        for kind in ("pause", "resume", "stop", "play"):
            mine = [x for x in records if x["role"] == role and x["kind"] == kind]
            all_values = [v for x in mine for v in x["reaction_ms"].values() if v is not None]
            missing = sum(1 for x in mine for v in x["reaction_ms"].values() if v is None)
            lasts = [x["last_node_ms"] for x in mine if x["last_node_ms"] is not None]
            s = summary(all_values)
            groups[f"{role}/{kind}"] = {
                "commands": len(mine), "samples": s["n"], "missing": missing,
                "reaction_ms": s, "last_node_ms": summary(lasts),
                "spread_us": summary([x["spread_us"] for x in mine if x["spread_us"] is not None]),
                "reply_ms": summary([x["reply_ms"] for x in mine], 2),
                "met": s["max"] is not None and s["p95"] <= TARGET_MS and missing == 0}
            print(f"   {role:8} {kind:6}: p50 {s['p50']} / p95 {s['p95']} / max {s['max']} ms "
                  f"({s['n']} samples, {missing} missing)", flush=True)
    leads = [x["lead_ms"] for x in records if x["lead_ms"] is not None]
    results = {"machine": rig.machine_info(), "nodes": 3, "cycles": cycles,
               "spacing_s": SPACING_S, "target_ms": TARGET_MS,
               "lead_ms": summary(leads), "groups": groups,
               "all": summary([v for x in records for v in x["reaction_ms"].values()
                               if v is not None]),
               "commands": records}
    rig.write_json(Path(args.out), results)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
