#!/usr/bin/env python3
"""Cluster key benchmark: the same measurements with a cluster key and without, in one run.

    python3 bench/security.py [--node PATH] [--probe PATH] [--rounds 3] [--quick]

Rounds alternate open and keyed (open, keyed, open, keyed, ...), so that whatever else the
machine does hits both alike. Each round is a fresh cluster of 3 nodes on loopback (A leads, B
and C bootstrap from it) playing the 4-minute self-numbering track into FIFOs; in a keyed round
every node, and every node started later in the round, holds the same cluster key (made for the
round by `node --gen-key`, passed with --key-file), so every link runs the keyed handshake and
seals every frame. Each round measures, in this order, with the other benchmarks' code:

  skew        after --settle s of playing, skew_probe reads the 3 FIFOs for --window s: skew per
              100 ms bucket, inside and outside platform stalls (bench/skew.py), at the writes'
              kernel-stamped instants (rig.WriteStamps) as section 1 judges it
  cost        then, over a window of its own (perf's recording of the writes costs the nodes
              CPU), cost.py's measure() reads each node's CPU (% of one core) and RSS from /proc
              (file outputs here, not cost.py's null outputs)
  reaction    reaction.py's plan: --cycles pause/resume and stop/`play 1` typed on A, then on B,
              0.25 s apart; per command and node, typed -> first changed frame
  handshake   tools/handshake_probe opens --connections connections to B one after another: TCP
              connect, then in a keyed round the handshake until the dialer holds B's proof and
              has sent its own, then close. Per connection: those times (steady clock, µs) and the CPU it costs: B's
              (schedstat delta over the loop less B's CPU rate while playing, per connection)
              and the dialer's own
  join        --joins times, a new node J (`--bootstrap` A, null output, no tracks) starts and
              exits; from the logs (ms stamps): J's process start -> A logs "peer J up", and
              J's "listening" -> J logs "peer A up" (dial, handshake, HELLO and its answer)
  failover    failover.py's trials on the 3 nodes: kill -9 of the leader (restarted, it must
              rejoin), then SIGSTOP of the leader (frozen 1 s); time until both survivors agree
              on a new leader, and skew_probe's view of the survivors' output around the fault

Writes bench/results/security.json; the judgement rules are in RULES and in the report.
"""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import HOST, Rig, summary

import cost
import failover
import join
import reaction
import skew

SKEW_P95_MARGIN_US = 10.0    # half a frame at 48 kHz
REACTION_P50_MARGIN_MS = 1.0  # the leader schedules a command a whole number of ms ahead
RULES = {
    "skew_p95": f"keyed ≤ open + max({SKEW_P95_MARGIN_US:g} µs, open's spread between rounds)",
    "skew_max": "keyed ≤ max(200 µs, open)",
    "reaction_p50": f"keyed ≤ open + {REACTION_P50_MARGIN_MS:g} ms, no change missed",
    "cpu": f"keyed ≤ {cost.TARGET_CPU_PCT:g} % per playing node",
    "failover": f"keyed p95 ≤ {failover.TARGET_P95_S * 1000:.0f} ms, no gap, no jump",
}


def handshake_probe_binary(node_binary: str) -> str:
    return str(Path(node_binary).resolve().parent.parent / "tools" / "handshake_probe")


def connections(r: Rig, target: rig.Node, count: int, baseline_pct: float) -> "dict[str, Any]":
    """tools/handshake_probe against `target`: per-connection set-up times and CPU."""
    argv = [handshake_probe_binary(r.node_binary), HOST, str(target.port), str(count)]
    if r.key_file is not None:
        argv += ["--key-file", str(r.key_file)]
    before = cost.run_ns(target.pid)
    done = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=60)
    node_ns = cost.run_ns(target.pid) - before
    if done.returncode != 0:
        raise rig.HarnessError(f"handshake_probe: {done.stderr.strip()}")
    out = json.loads(done.stdout)
    node_us = node_ns / 1000 - baseline_pct / 100 * out["wall_us"]
    total = [c + h for c, h in zip(out["connect_us"], out["handshake_us"])]
    return {"connections": count, "connect_us": summary(out["connect_us"]),
            "handshake_us": summary(out["handshake_us"]), "total_us": summary(total),
            "node_cpu_us_per_connection": round(node_us / count, 1),
            "dialer_cpu_us_per_connection": round(out["cpu_us"] / count, 1),
            "loop_s": round(out["wall_us"] / 1e6, 3), "connect_samples_us": out["connect_us"],
            "handshake_samples_us": out["handshake_us"], "total_samples_us": total}


def joins(r: Rig, a: rig.Node, count: int, tag: str) -> "list[dict[str, Any]]":
    """`count` times: a new node bootstraps from A, is seen up both ways, and exits."""
    empty = r.workdir / "no-tracks"
    empty.mkdir(exist_ok=True)
    out = []
    for k in range(count):
        jid = f"join-{tag}-{k + 1}"
        j = r.node(f"J{k + 1}", bootstrap=a, tracks=empty, node_id=jid, start=False)
        t0_wall = time.time()
        j.launch()
        events = {"a_sees_j": f"peer {jid} up"}
        mine = {"listening": "listening on", "j_sees_a": f"peer {a.id} up"}
        seen: "dict[str, float]" = {}
        deadline = time.monotonic() + 10
        while len(seen) < 3 and time.monotonic() < deadline:
            time.sleep(0.02)
            seen = {**join.log_times(a.stderr_text(), t0_wall, events),
                    **join.log_times(j.stderr_text(), t0_wall, mine)}
        j.exit(timeout=5)
        if len(seen) < 3:
            raise rig.HarnessError(f"{jid}: not seen up both ways within 10 s: {seen}")
        out.append({"start_to_member_sees_it_ms": seen["a_sees_j"],
                    "listening_to_link_up_ms": round(seen["j_sees_a"] - seen["listening"], 1)})
    return out


def one_round(args: Any, tracks: Path, keyed: bool, index: int,
              rng: random.Random) -> "dict[str, Any]":
    mode = "keyed" if keyed else "open"
    tag = f"{mode}{index + 1}"
    names = ["A", "B", "C"]
    print(f"-- security round {index + 1}, {mode}", flush=True)
    with Rig(f"security-{tag}", args.node, args.probe, args.keep_logs, keyed=keyed) as r:
        fifos = {n: r.fifo(n) for n in names}
        nodes = r.start_cluster(names, tracks, fifos)
        r.play_first_track(nodes)
        time.sleep(args.settle)

        # Skew at the writes' kernel-stamped instants, as sections 1 and 9 judge it; then cost in
        # a window of its own: recording the writes costs the nodes 0.2-0.3 % of a core.
        stamps = rig.WriteStamps({n.name: n.pid for n in nodes}, r.workdir)
        with stamps:
            probe = r.probe(f"skew-{tag}", fifos, args.window)
            result = probe.finish()
        playing = cost.measure({n.name: n.pid for n in nodes}, args.window - 1.0)
        at_reads, stalls = skew.outside_stalls(probe.rows, probe.stalls, names, result["buckets"])
        clean, judged_at = at_reads, "probe's reads"
        if not stamps.reason:
            clean, _ = skew.outside_stalls(stamps.stamp(probe.rows), probe.stalls, names,
                                           result["buckets"])
            judged_at = "writes"
        lo = min(a for _, a, _, _ in probe.rows)
        everything = rig.skew_from_raw(probe.rows, names, lo, 10**18)

        sent, rprobe = reaction.type_commands(r, nodes, fifos, args.cycles, f"reaction-{tag}")
        records = reaction.reactions(sent, rprobe.rows, names)
        values = [v for x in records for v in x["reaction_ms"].values() if v is not None]
        missing = sum(1 for x in records for v in x["reaction_ms"].values() if v is None)

        b = nodes[1]
        hs = connections(r, b, args.connections, playing["B"]["cpu_pct_schedstat"])
        joined = joins(r, nodes[0], args.joins, tag)

        by_id = {n.id: n for n in nodes}
        trials = []
        anomalies: "list[str]" = []
        for i, kind in enumerate(args.faults):
            record, _, _, _ = failover.run_trial(
                r.cluster, nodes, by_id, kind, i, period=0.005, freeze_s=1.0, rng=rng,
                anomalies=anomalies, probe_binary=args.probe, fifos=fifos,
                raw_name=f"security-{tag}")
            trials.append(record)

    out = {
        "mode": mode, "round": index + 1,
        "skew": {"buckets": result["buckets"], "skew_us": summary(everything),
                 "outside_stalls_us": summary(clean), "judged_at": judged_at,
                 "at_reads_outside_stalls_us": summary(at_reads), "platform_stalls": stalls,
                 "samples_outside_stalls_us": [round(v, 1) for v in clean],
                 "samples_us": [round(v, 1) for v in everything]},
        "cost": {**cost.digest(playing), "per_node": playing},
        "reaction": {"commands": len(records), "reaction_ms": summary(values),
                     "missing": missing,
                     "lead_ms": summary([x["lead_ms"] for x in records
                                         if x["lead_ms"] is not None]),
                     "samples_ms": values},
        "handshake": hs, "joins": joined,
        "failover": {"trials": trials, "anomalies": anomalies},
    }
    s, c = out["skew"]["outside_stalls_us"], out["cost"]
    print(f"   {mode}: skew p95 {s['p95']} / max {s['max']} us (outside "
          f"{stalls['count']} stalls); reaction p50 {out['reaction']['reaction_ms']['p50']} / p95 "
          f"{out['reaction']['reaction_ms']['p95']} ms; "
          f"CPU max {c['cpu_pct']['max']} %, RSS max {c['rss_mib']['max']} MiB; connection "
          f"set-up p50 {hs['total_us']['p50']} us, node CPU {hs['node_cpu_us_per_connection']} "
          f"us/connection; joins {[x['listening_to_link_up_ms'] for x in joined]} ms; "
          f"failover {[t['seconds'] for t in trials]} s", flush=True)
    return out


def pooled(rounds: "list[dict[str, Any]]") -> "dict[str, Any]":
    """One mode's figures over all its rounds."""
    def cat(path: "tuple[str, str]") -> "list[float]":
        return [v for x in rounds for v in x[path[0]][path[1]]]
    trials = [t for x in rounds for t in x["failover"]["trials"]]
    out: "dict[str, Any]" = {
        "rounds": len(rounds),
        "skew_outside_stalls_us": summary(cat(("skew", "samples_outside_stalls_us"))),
        "skew_us": summary(cat(("skew", "samples_us"))),
        "skew_p95_per_round_us": [x["skew"]["outside_stalls_us"]["p95"] for x in rounds],
        "skew_judged_at": sorted({x["skew"].get("judged_at", "probe's reads") for x in rounds}),
        "skew_at_reads_p95_per_round_us": [x["skew"]["at_reads_outside_stalls_us"]["p95"]
                                           for x in rounds],
        "platform_stalls": sum(x["skew"]["platform_stalls"]["count"] for x in rounds),
        "reaction_ms": summary(cat(("reaction", "samples_ms"))),
        "reaction_p50_per_round_ms": [x["reaction"]["reaction_ms"]["p50"] for x in rounds],
        "reaction_missing": sum(x["reaction"]["missing"] for x in rounds),
        "lead_ms": summary([x["reaction"]["lead_ms"]["p50"] for x in rounds]),
        "cpu_pct_max": max(x["cost"]["cpu_pct"]["max"] for x in rounds),
        "cpu_pct_mean": round(sum(x["cost"]["cpu_pct"]["mean"] for x in rounds) / len(rounds), 2),
        "cpu_pct_schedstat_mean": round(sum(x["cost"]["cpu_pct_schedstat"]["mean"]
                                            for x in rounds) / len(rounds), 3),
        "rss_mib_max": max(x["cost"]["rss_mib"]["max"] for x in rounds),
        "rss_mib_mean": round(sum(x["cost"]["rss_mib"]["mean"] for x in rounds) / len(rounds), 1),
        "connect_us": summary(cat(("handshake", "connect_samples_us"))),
        "handshake_us": summary(cat(("handshake", "handshake_samples_us"))),
        "setup_us": summary(cat(("handshake", "total_samples_us"))),
        "node_cpu_us_per_connection": summary([x["handshake"]["node_cpu_us_per_connection"]
                                               for x in rounds]),
        "dialer_cpu_us_per_connection": summary([x["handshake"]["dialer_cpu_us_per_connection"]
                                                 for x in rounds]),
        "join_start_to_member_sees_it_ms": summary([j["start_to_member_sees_it_ms"]
                                                    for x in rounds for j in x["joins"]]),
        "join_listening_to_link_up_ms": summary([j["listening_to_link_up_ms"]
                                                 for x in rounds for j in x["joins"]]),
    }
    for kind in ("kill", "stop"):
        mine = [t for t in trials if t["kind"] == kind]
        if not mine:
            continue
        audio = [t["audio"] for t in mine if "audio" in t]
        out[f"failover_{kind}_ms"] = summary([t["seconds"] * 1000 for t in mine])
        out[f"failover_{kind}_longest_silence_ms"] = max(
            (a["longest_silence_ms"] for a in audio), default=None)
        out[f"failover_{kind}_trials_with_jump"] = sum(1 for a in audio if a["jumps"] > 0)
    return out


def judge(open_: "dict[str, Any]", keyed: "dict[str, Any]") -> "dict[str, Any]":
    o, k = open_, keyed
    met: "dict[str, Any]" = {}
    if o["skew_outside_stalls_us"]["n"] and k["skew_outside_stalls_us"]["n"]:
        spread = max(o["skew_p95_per_round_us"]) - min(o["skew_p95_per_round_us"])
        met["skew_p95"] = (k["skew_outside_stalls_us"]["p95"] <=
                           o["skew_outside_stalls_us"]["p95"] + max(SKEW_P95_MARGIN_US, spread))
        met["skew_max"] = (k["skew_outside_stalls_us"]["max"] <=
                           max(200.0, o["skew_outside_stalls_us"]["max"]))
    if o["reaction_ms"]["n"] and k["reaction_ms"]["n"]:
        met["reaction_p50"] = (k["reaction_ms"]["p50"] <=
                               o["reaction_ms"]["p50"] + REACTION_P50_MARGIN_MS
                               and k["reaction_missing"] == 0)
    met["cpu"] = (k["cpu_pct_max"] <= cost.TARGET_CPU_PCT)
    for kind in ("kill", "stop"):
        if f"failover_{kind}_ms" in k:
            met[f"failover_{kind}"] = (k[f"failover_{kind}_ms"]["p95"] <=
                                       failover.TARGET_P95_S * 1000
                                       and not k[f"failover_{kind}_longest_silence_ms"]
                                       and k[f"failover_{kind}_trials_with_jump"] == 0)
    return met


def main() -> int:
    parser = rig.bench_parser(__doc__, "security")
    # Three rounds a mode: a round's skew p95 moves by ±10 µs with the host's wake-ups alone,
    # and two rounds that happen to agree leave the comparison at the mercy of one round.
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each mode")
    parser.add_argument("--settle", type=float, default=3.0)
    parser.add_argument("--window", type=float, default=20.0, help="skew and cost window (s)")
    parser.add_argument("--cycles", type=int, default=2, help="reaction cycles per round")
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--joins", type=int, default=5)
    parser.add_argument("--seed", type=int, default=1, help="seed of the fault-time jitter")
    args = rig.parse_bench_args(parser)
    args.faults = ["kill", "stop"]
    if args.quick:
        args.rounds, args.settle, args.window, args.cycles = 1, 2.0, 5.0, 1
        args.connections, args.joins, args.faults = 50, 2, ["kill"]
    tracks = rig.track_dir(args.probe, 240)
    rng = random.Random(args.seed)
    started = time.monotonic()
    rounds: "list[dict[str, Any]]" = []
    errors: "list[str]" = []
    for i in range(args.rounds):
        for keyed in (False, True):
            try:
                rounds.append(one_round(args, tracks, keyed, i, rng))
            except rig.HarnessError as error:
                print(f"   FAILED: {error}", flush=True)
                errors.append(f"round {i + 1} {'keyed' if keyed else 'open'}: {str(error)[:1000]}")
    modes = {m: [x for x in rounds if x["mode"] == m] for m in ("open", "keyed")}
    figures = {m: pooled(x) for m, x in modes.items() if x}
    results: "dict[str, Any]" = {
        "machine": rig.machine_info(),
        "parameters": {k: getattr(args, k) for k in ("rounds", "settle", "window", "cycles",
                                                     "connections", "joins", "faults")},
        "rules": RULES, "margins": {"skew_p95_us": SKEW_P95_MARGIN_US,
                                    "reaction_p50_ms": REACTION_P50_MARGIN_MS},
        "target_cpu_pct": cost.TARGET_CPU_PCT, "figures": figures,
        "met": judge(figures["open"], figures["keyed"]) if len(figures) == 2 else {},
        "errors": errors, "duration_s": round(time.monotonic() - started, 1), "rounds": rounds}
    rig.write_json(Path(args.out), results)
    print(f"   {json.dumps(results['met'])} in {results['duration_s']} s")
    print(f"written: {args.out}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
