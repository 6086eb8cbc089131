#!/usr/bin/env python3
"""Failover benchmark: how long until every survivor agrees on a new leader.

    python3 bench/failover.py --node build/apps/node [--trials 20] [--stop-trials 10]

N nodes (default 5) on loopback. Two kinds of fault, each repeated:
  kill    kill -9 of the leader; it is restarted (same port, no --leader) between trials and
          must rejoin as a follower before the next trial.
  stop    SIGSTOP of the leader; it stays frozen at least --freeze-s seconds (and until the
          others agree), then SIGCONT; it must step down and follow, and all N agree again
          before the next trial.
The figure of a trial is the time from the fault (monotonic clock, taken just before the
signal) until every survivor reports the same new leader at the same epoch, that leader saying
role "leader". One thread per survivor polls `status --json` every --poll-ms (5 ms); a
survivor's time is the reply time of the first sample of its final run of answers naming the
new leader (an upper bound; the resolution is the poll period plus one prompt round trip).

With --audio the nodes also play a self-numbering track (`--output file:FIFO`) and each trial
runs tools/skew_probe over every FIFO from 0.7 s before the fault until about 2.5 s after it
(after SIGCONT for stop trials): for every survivor the longest silence, the block-to-block frame
discontinuities (one-frame slews, larger jumps) and the skew between survivors before and after
the fault. Target: no gap and no jump in any survivor's output.

Writes bench/results/failover.md and bench/results/failover.json (git-ignored) and prints the
table. Target: p95 <= 1 s for each kind. Exit status 1 if a trial never converged.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import signal
import statistics
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "system"))

from harness import (  # noqa: E402
    Cluster, HarnessError, Node, agreement, statuses, wait_until,
)

sys.path.insert(0, str(REPO / "bench"))
import rig  # noqa: E402

TARGET_P95_S = 1.0
PROBE_PRE_S = 0.7    # probe start -> fault (0.3 s for the nodes to reopen their FIFOs)
PROBE_POST_S = 2.5   # fault (or SIGCONT) -> probe end
CONVERGE_TIMEOUT_S = 10.0
REJOIN_TIMEOUT_S = 10.0


def monotonic() -> float:
    return time.monotonic()


class Poller(threading.Thread):
    """Polls one node's `status --json` every `period` seconds until stopped."""

    def __init__(self, node: Node, period: float):
        super().__init__(name=f"poll-{node.name}", daemon=True)
        self.node = node
        self.period = period
        self.samples: "list[tuple[float, float, Optional[str], Optional[str], Any]]" = []
        self.lock = threading.Lock()
        self.halt = threading.Event()
        self.errors = 0

    def run(self) -> None:
        next_at = monotonic()
        while not self.halt.is_set():
            sent = monotonic()
            try:
                view = self.node.status(timeout=1.0)
                sample = (sent, monotonic(), view.get("leader"), view.get("role"),
                          view.get("epoch"))
            except HarnessError:
                self.errors += 1
                sample = (sent, monotonic(), None, None, None)
            with self.lock:
                self.samples.append(sample)
            next_at += self.period
            delay = next_at - monotonic()
            if delay > 0:
                self.halt.wait(delay)
            else:
                next_at = monotonic()

    def latest(self) -> Optional[tuple]:
        with self.lock:
            return self.samples[-1] if self.samples else None

    def snapshot(self) -> "list[tuple]":
        with self.lock:
            return list(self.samples)


def agreed_on(pollers: "list[Poller]", by_id: "dict[str, Node]", old: Node,
              since: float) -> Optional[Node]:
    """The new leader if every poller's latest sample (taken after `since`) names it."""
    latest = [p.latest() for p in pollers]
    if any(s is None or s[0] < since for s in latest):
        return None
    leaders = {s[2] for s in latest}
    epochs = {s[4] for s in latest}
    if len(leaders) != 1 or len(epochs) != 1:
        return None
    leader_id = leaders.pop()
    if leader_id is None or leader_id == old.id or leader_id not in by_id:
        return None
    for poller, sample in zip(pollers, latest):
        want = "leader" if poller.node.id == leader_id else "follower"
        if sample[3] != want:
            return None
    return by_id[leader_id]


def run_fault(pollers: "list[Poller]", by_id: "dict[str, Node]", old: Node,
              fault) -> "tuple[Node, float]":
    """Notes t0, applies `fault`, waits until the pollers agree; returns (new leader, t0)."""
    t0 = monotonic()
    fault()
    deadline = t0 + CONVERGE_TIMEOUT_S
    leader = None
    while monotonic() < deadline:
        leader = agreed_on(pollers, by_id, old, t0)
        if leader is not None:
            break
        time.sleep(0.001)
    if leader is None:
        raise HarnessError(f"no agreement within {CONVERGE_TIMEOUT_S} s: "
                           f"{[(p.node.name, p.latest()) for p in pollers]}")
    return leader, t0


def time_to_agree(pollers: "list[Poller]", leader: Node, t0: float) -> "tuple[float, dict]":
    """When every survivor named `leader` for good, measured from t0.

    A survivor switched after its last sample not naming the leader was taken (no earlier than
    that request was sent) and before its first sample of the final run naming the leader was
    taken (no later than that reply came back). The figure is the upper bound (reply time) of the
    last survivor to switch; the lower bound is kept too."""
    upper: "dict[str, float]" = {}
    lower: "dict[str, float]" = {}
    flaps: "dict[str, int]" = {}
    for poller in pollers:
        samples = poller.snapshot()
        start = None
        for i, s in enumerate(samples):
            if s[2] == leader.id:
                if start is None:
                    start = i
            else:
                start = None
        if start is None:
            raise HarnessError(f"{poller.node.name} never settled on {leader.name}")
        upper[poller.node.name] = samples[start][1] - t0
        lower[poller.node.name] = max(0.0, samples[start - 1][0] - t0) if start > 0 else 0.0
        named = [s[2] for s in samples if s[0] >= t0 and s[2] is not None]
        flaps[poller.node.name] = sum(1 for a, b in zip(named, named[1:]) if a != b)
    return max(upper.values()), {"per_node_s": {k: round(v, 4) for k, v in upper.items()},
                                 "lower_bound_s": round(max(lower.values()), 4),
                                 "leader_switches": flaps}


def poll_period_stats(pollers: "list[Poller]") -> float:
    """Median interval between replies over the whole trial (the sampling resolution)."""
    gaps = []
    for poller in pollers:
        times = [s[1] for s in poller.snapshot()]
        gaps += [b - a for a, b in zip(times, times[1:])]
    return statistics.median(gaps) if gaps else float("nan")


def wait_all_agree(cluster: Cluster, nodes: "list[Node]", expect: Optional[Node],
                   timeout: float, what: str) -> "tuple[Node, float]":
    found: "list[Node]" = []

    def check() -> Any:
        leader, why = agreement(statuses(nodes), nodes)
        if leader is None:
            return why
        if expect is not None and leader is not expect:
            return f"all agree on {leader.name}, expected {expect.name}"
        found.append(leader)
        return True

    elapsed = wait_until(check, timeout, poll=0.005, what=what, describe=cluster.describe)
    return found[-1], elapsed


def machine_info() -> "dict[str, Any]":
    info = rig.machine_info()
    if info.get("dirty"):
        info["git_head"] += " (with uncommitted changes)"
    return info


def summarize(values: "list[float]") -> "dict[str, Any]":
    if not values:
        return {"trials": 0, "p50_ms": None, "p95_ms": None, "max_ms": None, "samples_ms": []}
    return {"trials": len(values), "p50_ms": round(rig.percentile(values, 0.50) * 1000, 1),
            "p95_ms": round(rig.percentile(values, 0.95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1),
            "samples_ms": [round(v * 1000, 1) for v in values]}


def audio_figures(probe: "rig.Probe", survivors: "list[Node]", old: Node, t0: float,
                  t_agree: float) -> "dict[str, Any]":
    """Survivors' output around one fault, from the probe's raw blocks."""
    t0_us, agree_us = int(t0 * 1e6), int(t_agree * 1e6)
    blocks = rig.by_node(probe.rows)
    names = [n.name for n in survivors]
    per = {n: rig.continuity(blocks.get(n, []), t0_us - 400_000, 10**18) for n in names}
    stats = {n: probe.result["nodes"][n] for n in names}
    before = rig.skew_from_raw(probe.rows, names, 0, t0_us)
    after = rig.skew_from_raw(probe.rows, names, agree_us + 500_000, 10**18)
    through = rig.skew_from_raw(probe.rows, names, t0_us, 10**18)
    return {
        "fault_us": t0_us, "agreed_us": agree_us,
        "per_survivor": {n: {**per[n], "probe_repeated": stats[n]["repeated"],
                             "probe_skipped": stats[n]["skipped"],
                             "probe_jumps": stats[n]["jumps"],
                             "probe_longest_jump_frames": stats[n]["longest_jump_frames"],
                             "probe_longest_silence_ms":
                                 round(stats[n]["longest_silence_frames"] * 1000 / rig.RATE, 2)}
                         for n in names},
        "longest_silence_ms": max(p["longest_silence_ms"] for p in per.values()),
        # Block to block: one block may hold several single-frame slews (up to 5 % of it).
        "largest_block_correction_frames": max(p["largest_jump_frames"] for p in per.values()),
        # Frame to frame (the probe): a jump is any step other than +1, a repeat or a skip.
        "jumps": sum(stats[n]["jumps"] for n in names),
        "largest_jump_frames": max(stats[n]["longest_jump_frames"] for n in names),
        "slews": sum(p["slews_1_frame"] for p in per.values()),
        "skew_before_us": rig.summary(before), "skew_after_us": rig.summary(after),
        "skew_from_fault_us": rig.summary(through)}


def audio_summary(trials: "list[dict]") -> "dict[str, Any]":
    out = {}
    for kind in ("kill", "stop"):
        mine = [t["audio"] for t in trials if t["kind"] == kind and "audio" in t]
        if not mine:
            continue
        silences = [p["longest_silence_ms"] for a in mine for p in a["per_survivor"].values()]
        jumps = [a["largest_jump_frames"] for a in mine]
        corrections = [a["largest_block_correction_frames"] for a in mine]
        out[kind] = {
            "trials": len(mine), "survivor_samples": len(silences),
            "longest_silence_ms": rig.summary(silences, 2),
            "largest_jump_frames": rig.summary(jumps, 0),
            "trials_with_gap": sum(1 for a in mine if a["longest_silence_ms"] > 0),
            "largest_block_correction_frames": rig.summary(corrections, 0),
            "trials_with_jump": sum(1 for a in mine if a["jumps"] > 0),
            "slews_per_trial": rig.summary([a["slews"] for a in mine], 1),
            "skew_before_p95_us": rig.summary([a["skew_before_us"]["p95"] for a in mine
                                               if a["skew_before_us"]["n"]]),
            "skew_after_p95_us": rig.summary([a["skew_after_us"]["p95"] for a in mine
                                              if a["skew_after_us"]["n"]]),
            "skew_after_max_us": rig.summary([a["skew_after_us"]["max"] for a in mine
                                              if a["skew_after_us"]["n"]]),
            "skew_from_fault_max_us": rig.summary([a["skew_from_fault_us"]["max"] for a in mine
                                                   if a["skew_from_fault_us"]["n"]])}
    return out


def markdown(results: "dict[str, Any]") -> str:
    m = results["machine"]
    p = results["parameters"]
    lines = [
        "# Failover benchmark",
        "",
        f"{p['nodes']} nodes on loopback, heartbeat {p['heartbeat_ms'] or 'default (200)'} ms, "
        f"status polled every {p['poll_ms']} ms on every survivor "
        f"(median sample interval {results['resolution_ms']} ms).",
        "Figure: fault (kill -9 / SIGSTOP of the leader) -> every survivor reports the same new "
        "leader at the same epoch (upper bound: reply time of each survivor's first sample naming "
        "it).",
        "",
        "| fault | trials | p50 | p95 | max | target | met |",
        "|---|---:|---:|---:|---:|---|---|",
    ]
    for key, label in (("kill", "kill -9 of the leader"), ("stop", "SIGSTOP of the leader")):
        r = results["results"].get(key)
        if not r or not r["trials"]:
            continue
        met = "yes" if r["p95_ms"] <= TARGET_P95_S * 1000 else "NO"
        lines.append(f"| {label} | {r['trials']} | {r['p50_ms']:.1f} ms | {r['p95_ms']:.1f} ms "
                     f"| {r['max_ms']:.1f} ms | p95 <= {TARGET_P95_S * 1000:.0f} ms | {met} |")
    extra = results["results"]
    lower = [t["lower_bound_s"] for t in results["trials"] if t["kind"] == "kill"]
    lines += ["", "Secondary figures:", ""]
    if lower:
        lines.append(f"- kill -9, lower bound (last sample not yet naming the new leader): "
                     f"p50 {rig.percentile(lower, 0.5) * 1000:.1f} ms, "
                     f"max {max(lower) * 1000:.1f} ms")
    for key, label in (("rejoin", "restarted node rejoins, all agree"),
                       ("cont", "SIGCONT -> all agree (old leader follows)")):
        r = extra.get(key)
        if r and r["trials"]:
            lines.append(f"- {label}: p50 {r['p50_ms']:.1f} ms, p95 {r['p95_ms']:.1f} ms, "
                         f"max {r['max_ms']:.1f} ms ({r['trials']} trials)")
    audio = results.get("audio")
    if audio:
        lines += ["", "Survivors' output (skew_probe over every FIFO, from 0.4 s before the fault "
                  "to ~2.5 s after it; target: no gap, no jump):", "",
                  "| fault | trials | longest silence p50 / max | largest jump max (frames) | trials with "
                  "gap / jump | 1-frame slews per trial p50 / max | survivor skew p95 before / "
                  "after (p50 of trials) |",
                  "|---|---:|---|---:|---|---|---|"]
        for key, label in (("kill", "kill -9"), ("stop", "SIGSTOP")):
            a = audio.get(key)
            if not a:
                continue
            lines.append(
                f"| {label} | {a['trials']} | {a['longest_silence_ms']['p50']} / "
                f"{a['longest_silence_ms']['max']} ms | {a['largest_jump_frames']['max']} frames "
                f"| {a['trials_with_gap']} / {a['trials_with_jump']} | "
                f"{a['slews_per_trial']['p50']} / {a['slews_per_trial']['max']} | "
                f"{a['skew_before_p95_us']['p50']} / {a['skew_after_p95_us']['p50']} us |")
    if results["anomalies"]:
        lines += ["", "Anomalies:", ""] + [f"- {a}" for a in results["anomalies"]]
    lines += ["", f"Machine: `{m['uname']}`, {m['nproc']} CPUs, commit `{m['git_head']}`, "
              f"Python {m['python']}.", ""]
    return "\n".join(lines)


def run_trial(cluster: Cluster, nodes: "list[Node]", by_id: "dict[str, Node]", kind: str,
              index: int, *, period: float, freeze_s: float, rng: random.Random,
              anomalies: "list[str]", probe_binary: Optional[str] = None,
              fifos: "Optional[dict[str, Path]]" = None,
              raw_name: str = "failover") -> "tuple[dict, float, float, float]":
    """One fault of `kind` ("kill" or "stop") on the leader the nodes agree on, and the way back
    to all N agreeing. With probe_binary (and every node playing into its FIFO in `fifos`),
    skew_probe reads the FIFOs around the fault; its raw CSV goes to
    bench/results/raw/{raw_name}-{kind}{index + 1}.csv. Returns the trial's record, the time to
    agree (s), the time to agree again after the restart or SIGCONT (s) and the median poll
    interval (s)."""
    audio = probe_binary is not None
    old, _ = wait_all_agree(cluster, nodes, None, REJOIN_TIMEOUT_S, "agreement")
    if audio:
        not_playing = [n.name for n in nodes if n.status()["state"] != "playing"]
        if not_playing:
            anomalies.append(f"before {kind} #{index + 1}: not playing on "
                             f"{', '.join(not_playing)}; `play 1` typed again")
            rig.command_text(old, "play 1")
            rig.wait_playing(nodes, describe=cluster.describe)
            time.sleep(1.0)
    survivors = [n for n in nodes if n is not old]
    log_mark = {n.name: len(n.stderr_text()) for n in nodes}
    probe = None
    if audio:
        assert probe_binary is not None and fifos is not None and cluster.workdir is not None
        window = PROBE_PRE_S + PROBE_POST_S + (freeze_s if kind == "stop" else 0)
        probe = rig.Probe(probe_binary, cluster.workdir, f"{kind}{index}", fifos, window)
    try:
        if probe is not None:
            probe.start()
        pollers = [Poller(n, period) for n in survivors]
        for p in pollers:
            p.start()
        t_ready = monotonic()
        while any(len(p.snapshot()) < 3 for p in pollers):  # polling at its pace
            if monotonic() - t_ready > 5:
                raise HarnessError("pollers got no samples")
            time.sleep(0.001)
        if probe is not None:  # a baseline of output before the fault
            time.sleep(max(0.0, probe.started_us / 1e6 + PROBE_PRE_S - monotonic()))
        # A random phase against the poll period, so its quantisation does not bias.
        time.sleep(rng.uniform(0.0, period))
        fault = old.kill9 if kind == "kill" else old.sigstop
        try:
            leader, t0 = run_fault(pollers, by_id, old, fault)
            if kind == "stop":
                # Keep it frozen (and keep sampling, to catch flaps) until freeze_s.
                while monotonic() < t0 + freeze_s:
                    time.sleep(0.005)
        finally:
            for p in pollers:
                p.halt.set()
            for p in pollers:
                p.join(timeout=5)
        figure, detail = time_to_agree(pollers, leader, t0)
        resolution = poll_period_stats(pollers)
        errors = sum(p.errors for p in pollers)
        record = {"kind": kind, "trial": index + 1, "old": old.name,
                  "new": leader.name, "seconds": round(figure, 4), **detail,
                  "poll_errors": errors}
        if audio:
            # What the new leader took over, from its log ("taking over playback: ...").
            fresh = leader.stderr_text()[log_mark[leader.name]:]
            took = [line.split("taking over playback: ", 1)[1] for line in
                    fresh.splitlines() if "taking over playback: " in line]
            record["takeover"] = took[-1] if took else None
        if any(v > 1 for v in detail["leader_switches"].values()):
            anomalies.append(f"{kind} #{index + 1}: a survivor switched leader more than "
                             f"once: {detail['leader_switches']}")
        if kind == "kill":
            old.leader = False
            old.bootstrap = leader
            t1 = monotonic()
            old.restart()
            _, _ = wait_all_agree(cluster, nodes, leader, REJOIN_TIMEOUT_S,
                                  f"{old.name} to rejoin")
            cluster.wait_mesh(nodes, timeout=REJOIN_TIMEOUT_S, what="mesh after restart")
            after = monotonic() - t1
            record["rejoin_s"] = round(after, 4)
        else:
            frozen = monotonic() - t0
            t1 = monotonic()
            old.sigcont()
            final, _ = wait_all_agree(cluster, nodes, None, REJOIN_TIMEOUT_S,
                                      "agreement after SIGCONT")
            after = monotonic() - t1
            record["frozen_s"] = round(frozen, 3)
            record["cont_s"] = round(after, 4)
            if final is not leader:
                anomalies.append(f"stop #{index + 1}: after SIGCONT {final.name} leads, "
                                 f"not {leader.name} (the old leader {old.name} took "
                                 "over again)")
            cluster.wait_mesh(nodes, timeout=REJOIN_TIMEOUT_S, what="mesh after SIGCONT")
        if probe is not None:
            probe.finish()
            raw_dir = REPO / "bench" / "results" / "raw"
            raw_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(probe.raw_path, raw_dir / f"{raw_name}-{kind}{index + 1}.csv")
            record["audio"] = audio_figures(probe, survivors, old, t0, t0 + figure)
            if kind == "kill":  # the restarted node plays again before the next trial
                rig.wait_playing(nodes, describe=cluster.describe)
    finally:
        if probe is not None:
            probe.close()
    extra = (f", rejoin {record['rejoin_s'] * 1000:.0f} ms" if kind == "kill" else
             f", frozen {record['frozen_s']:.2f} s, SIGCONT -> all agree "
             f"{record['cont_s'] * 1000:.0f} ms")
    if "audio" in record:
        au = record["audio"]
        extra += (f"; survivors: longest silence {au['longest_silence_ms']} ms, "
                  f"jumps {au['jumps']}, largest correction in a block "
                  f"{au['largest_block_correction_frames']} frames, "
                  f"{au['slews']} slews, skew after "
                  f"{au['skew_after_us']['p95']} us p95")
    print(f"{kind} #{index + 1:2}: {old.name} -> {leader.name} in "
          f"{figure * 1000:7.1f} ms{extra}", flush=True)
    return record, figure, after, resolution


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--node", required=True, help="path to the node executable")
    parser.add_argument("--trials", type=int, default=20, help="kill -9 trials (>= 1)")
    parser.add_argument("--stop-trials", type=int, default=10, help="SIGSTOP trials (>= 0)")
    parser.add_argument("--nodes", type=int, default=5)
    parser.add_argument("--poll-ms", type=float, default=5.0)
    parser.add_argument("--freeze-s", type=float, default=1.0,
                        help="a stopped leader stays frozen at least this long")
    parser.add_argument("--heartbeat-ms", type=int, default=None)
    parser.add_argument("--out", default=str(REPO / "bench" / "results"))
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--seed", type=int, default=None, help="seed of the fault-time jitter")
    parser.add_argument("--audio", action="store_true",
                        help="play a track and measure survivors' output with skew_probe")
    parser.add_argument("--probe", default=rig.default_probe(), help="skew_probe (--audio)")
    args = parser.parse_args()
    binary = os.path.abspath(args.node)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"error: node executable not found: {binary}", file=sys.stderr)
        return 2
    if args.nodes < 3 or args.trials < 1:
        print("error: need --nodes >= 3 and --trials >= 1", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda s, f: sys.exit(128 + s))
    tracks = rig.track_dir(args.probe, 240) if args.audio else None
    period = args.poll_ms / 1000.0
    rng = random.Random(args.seed)
    kill_figures: "list[float]" = []
    stop_figures: "list[float]" = []
    rejoin_figures: "list[float]" = []
    cont_figures: "list[float]" = []
    resolutions: "list[float]" = []
    anomalies: "list[str]" = []
    trial_log: "list[dict]" = []
    failed = False

    with Cluster(binary, name="bench-failover", keep_logs=args.keep_logs) as cluster:
        try:
            names = [chr(ord("A") + i) for i in range(args.nodes)]
            fifos: "dict[str, Path]" = {}
            extra: "dict[str, list[str]]" = {n: [] for n in names}
            if args.audio:
                assert cluster.workdir is not None
                for n in names:
                    fifos[n] = cluster.workdir / f"{n}.pcm"
                    os.mkfifo(fifos[n])
                    extra[n] = ["--tracks", str(tracks), "--output", f"file:{fifos[n]}"]
            first = cluster.node(names[0], leader=True, heartbeat_ms=args.heartbeat_ms,
                                 log_level="info", extra_args=extra[names[0]])
            nodes = [first] + [cluster.node(n, bootstrap=first, heartbeat_ms=args.heartbeat_ms,
                                            log_level="info", extra_args=extra[n])
                               for n in names[1:]]
            cluster.wait_mesh(nodes, timeout=10.0, what="set-up mesh")
            wait_all_agree(cluster, nodes, None, 10.0, "initial agreement")
            by_id = {n.id: n for n in nodes}
            if args.audio:
                rig.wait_synced(nodes, describe=cluster.describe)
                answer = rig.command_text(first, "play 1")
                if not answer.startswith("ok"):
                    raise HarnessError(f"play: {answer}")
                rig.wait_playing(nodes, describe=cluster.describe)
                time.sleep(1.0)

            plan = [("kill", i) for i in range(args.trials)] + \
                   [("stop", i) for i in range(args.stop_trials)]
            for kind, index in plan:
                record, figure, after, resolution = run_trial(
                    cluster, nodes, by_id, kind, index, period=period, freeze_s=args.freeze_s,
                    rng=rng, anomalies=anomalies,
                    probe_binary=args.probe if args.audio else None, fifos=fifos)
                if resolution == resolution:  # not NaN
                    resolutions.append(resolution)
                if kind == "kill":
                    kill_figures.append(figure)
                    rejoin_figures.append(after)
                else:
                    stop_figures.append(figure)
                    cont_figures.append(after)
                trial_log.append(record)
        except HarnessError as error:
            failed = True
            print(f"FAILED: {error}", flush=True)
            print(cluster.describe(), flush=True)

    results = {
        "machine": machine_info(),
        "parameters": {"nodes": args.nodes, "kill_trials": args.trials,
                       "stop_trials": args.stop_trials, "poll_ms": args.poll_ms,
                       "freeze_s": args.freeze_s, "heartbeat_ms": args.heartbeat_ms,
                       "node": binary, "audio": args.audio},
        "resolution_ms": round(statistics.median(resolutions) * 1000, 2) if resolutions
        else None,
        "results": {"kill": summarize(kill_figures), "stop": summarize(stop_figures),
                    "rejoin": summarize(rejoin_figures), "cont": summarize(cont_figures)},
        "target": {"p95_ms_max": TARGET_P95_S * 1000},
        "anomalies": anomalies,
        "audio": audio_summary(trial_log) if args.audio else None,
        "trials": trial_log,
        "complete": not failed,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    table = markdown(results)
    (out / "failover.md").write_text(table)
    (out / "failover.json").write_text(json.dumps(results, indent=2) + "\n")
    print()
    print(table)
    print(f"written: {out / 'failover.md'}, {out / 'failover.json'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
