#!/usr/bin/env python3
"""System test of synchronized playback: real `node` processes, skewed clocks, a jittery path,
and the audio itself measured on this machine's real clock.

    python3 tests/system/test_sync.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Needs libfaketime (exit 77 = skipped without it) and BUILD/tools/skew_probe (or
$CHORUS_SKEW_PROBE). Exit 0 = passed, 1 = failed.

Every node plays the counting track (skew_probe make-track: each frame holds its own number)
into a FIFO (--output file:FIFO, each block written at the instant it is audible); skew_probe,
NOT under libfaketime, reads all FIFOs and stamps every block on the real steady clock. So what
is checked is when each frame really came out, not what the nodes believe about their clocks
(see sync_rig.py). Clocks: A plain, B `FAKETIME='+0.7s'`, C `FAKETIME='-1.3s x1.0001'`
(100 ppm fast), D `FAKETIME='+2.2s'`. Path: each node sits behind its own delay proxy
(tools/delay_proxy.py, 2 ms +- 1 ms uniform each way; peers dial the proxy via
--advertise-port), so every link crosses one proxy.

Scenarios:
  1 play at once: `play 1` typed on A as soon as A sees B and C up (before their clocks are
    synced): within 2 s every node plays.
  2 sync: B and C synced (clock.synced and state_synced; `play 1` is typed only then, since a
    play typed earlier can be lost, see scenario 1) -> `play 1` on A -> 6 s to settle, then 12 s
    measured: skew across A, B, C p95 <= 1 ms and max <= 2 ms; no jump on any node over the
    whole run, and no dropout. (On this path C's 100 ppm drift is fitted 7-8 s after it synced;
    until then its error grows by about 50 µs/s, and the window includes that.)
    Late join: D starts 5 s after play; within 0.5 s of its launch it is audible, and from its
    first audible block on its offset from A stays < 1 ms.
    Pause typed on follower B, resume typed on follower C (both forwarded to the leader): on
    every node the last frame before the silence is the same (+-1) and the first frame after it
    is that frame + 1 (+-1); after the resume the four nodes agree as before.
  3 reference: scenario 2's steady measurement of A, B, C without the proxies (loopback
    directly), for comparison with the jittery path.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (Cluster, HarnessError, now, run_main, sanitized, sanitized_binary,  # noqa: E402
                     wait_until)
from sync_rig import (BLOCK_FRAMES, RATE, ProbeRun, SyncNode, SyncRig, all_playing,  # noqa: E402
                      fmt_us, judge_outside_stalls, mono_to_us, pace_until, percentile,
                      require_faketime, require_ok, synced)

SKEW_P95_LIMIT_US = 1000.0
SKEW_MAX_LIMIT_US = 2000.0
SETTLE_S = 6.0             # after B and C report clock.synced + state_synced (drift fit etc.)
STEADY_S = 12.0            # measured window (>= 10 s)
MIN_STEADY_BUCKETS = 100   # 100 ms buckets with all nodes audible in the window (10 s)
LATE_JOIN_AT_S = 5.0       # D's launch, after `play 1`
JOIN_AUDIBLE_LIMIT_S = 0.5
JOIN_OFFSET_LIMIT_US = 1000.0
PAUSE_HOLD_S = 1.5
AFTER_RESUME_S = 4.0
RESUME_SETTLE_S = 0.5      # skew after resume is measured from resume + this
PLAY_AT_ONCE_LIMIT_S = 2.0
SETUP_BUDGET_S = 4.0       # probe start -> `play 1` (twice that for a sanitized build: setup_budget_s)
TRACK_S = 40.0

FAKETIME = {"B": "+0.7s", "C": "-1.3s x1.0001", "D": "+2.2s"}


def setup_budget_s(cluster: Cluster) -> float:
    """How long the probe records before `play 1` is due. A node built with AddressSanitizer (a
    debug build) starts several times slower: four of them with their proxies once took 4.3 s.
    How fast a sanitized build starts is not judged, so its budget is twice as long."""
    return SETUP_BUDGET_S * (2 if sanitized_binary(cluster.binary) else 1)


def check_setup_budget(rig: SyncRig, budget_s: float, t_play: float) -> None:
    if t_play - rig.probe_started_at > budget_s:
        raise HarnessError(f"set-up took {t_play - rig.probe_started_at:.1f} s, more than "
                           f"the probe's budget of {budget_s} s")


def start_trio(cluster: Cluster, rig: SyncRig) -> "list[SyncNode]":
    a = rig.add_node("A", leader=True, proxy_seed=1)
    b = rig.add_node("B", bootstrap=a, faketime=FAKETIME["B"], proxy_seed=2)
    c = rig.add_node("C", bootstrap=a, faketime=FAKETIME["C"], proxy_seed=3)
    return [a, b, c]


def check_skew(cluster: Cluster, label: str, run: ProbeRun, names: "list[str]",
               t0_us: float, t1_us: float, min_buckets: int) -> None:
    """Prints p50/p95/max of the per-bucket skews in [t0, t1) outside platform stalls and
    asserts the limits, when the window can be judged (judge_outside_stalls)."""
    if not judge_outside_stalls(cluster, label, run, names, t0_us, t1_us, min_buckets):
        return
    skews = run.skews(names, t0_us, t1_us)
    p50, p95, top = percentile(skews, 0.5), percentile(skews, 0.95), max(skews)
    print(f"  {label}: skew {fmt_us(skews)}", flush=True)
    cluster.figure(f"{label}: skew p50", p50, "µs")
    cluster.figure(f"{label}: skew p95", p95, "µs", SKEW_P95_LIMIT_US)
    cluster.figure(f"{label}: skew max", top, "µs", SKEW_MAX_LIMIT_US)
    if p95 > SKEW_P95_LIMIT_US or top > SKEW_MAX_LIMIT_US:
        raise HarnessError(f"{label}: skew p95 {p95:.0f} µs / max {top:.0f} µs exceeds "
                           f"{SKEW_P95_LIMIT_US:.0f} / {SKEW_MAX_LIMIT_US:.0f} µs")


def report_output_timing(cluster: Cluster, nodes: "list[SyncNode]") -> None:
    """Each node's own count of blocks written more than 1 ms late (status: output_timing)."""
    for node in nodes:
        timing = node.status(timeout=2.0).get("output_timing") or {}
        print(f"  {node.name}: {timing.get('late_writes')} of {timing.get('blocks')} blocks written "
              f"more than 1 ms late (worst {timing.get('worst_late_us')} µs)", flush=True)
        cluster.figure(f"{node.name}: blocks written more than 1 ms late",
                       timing.get("late_writes", 0), "blocks")


def check_probe_agrees(run: ProbeRun, names: "list[str]") -> None:
    """Self-check of the test's analysis: over the whole run it must reproduce skew_probe's own
    summary (same buckets, same percentiles)."""
    mine = run.skews(names, skip_stalls=False)
    if not mine:
        raise HarnessError(f"no 100 ms bucket in which all of {names} were audible")
    theirs = run.summary["skew_us"]
    ours = {"p50": percentile(mine, 0.5), "p95": percentile(mine, 0.95), "max": max(mine)}
    if len(mine) != run.summary["buckets"] or any(abs(ours[k] - theirs[k]) > 1.0 for k in ours):
        raise HarnessError(f"the test's analysis of the raw CSV ({len(mine)} buckets, {ours}) "
                           f"disagrees with skew_probe's summary ({run.summary['buckets']} "
                           f"buckets, {theirs})")


def jumps_after_stalls(run: ProbeRun, name: str) -> bool:
    """Whether every jump the probe counted in `name`'s output came right after a platform stall
    that restarted its output's pace (sync_rig.PACE_RESTART_US), each said so."""
    # Between two blocks a slewing engine moves a few frames; a jump moves 10 ms or more.
    big = [j for j in run.jumps_at(name) if abs(j[2] - j[1] - BLOCK_FRAMES) >= BLOCK_FRAMES]
    after_stalls = [(j, s) for j in big if (s := run.stall_before(j[0])) is not None]
    if len(after_stalls) != len(big) or len(big) < run.node(name)["jumps"]:
        return False
    for (arrival, before, after), stall in after_stalls:
        print(f"  {name}: jumped {(after - before - BLOCK_FRAMES) * 1000 / RATE:+.1f} ms at "
              f"{arrival}, right after the platform held CPU {stall.cpu} for "
              f"{stall.late_us / 1000:.1f} ms (its output restarted its pace): not a fault",
              flush=True)
    return True


def check_no_jumps(cluster: Cluster, run: ProbeRun, names: "list[str]") -> None:
    counts = []
    for name in names:
        node = run.node(name)
        counts.append(f"{name}: jumps {node['jumps']}, repeated {node['repeated']}, skipped "
                      f"{node['skipped']}")
    print(f"  continuity (whole run): {'; '.join(counts)}", flush=True)
    jumped = [n for n in names if run.node(n)["jumps"] != 0 and not jumps_after_stalls(run, n)]
    if jumped:
        details = []
        for name in jumped:
            details.append(f"{name}: {run.node(name)}; first jumps at: {run.jumps_at(name)[:5]}")
        raise HarnessError("jump(s) in the output: " + "; ".join(details) + "\n"
                           + cluster.describe())


# ---- scenarios ----------------------------------------------------------------------------


def scenario_play_at_once(cluster: Cluster) -> None:
    """1. `play 1` typed on A the moment A sees B and C up: all three play within 2 s."""
    require_faketime()
    with SyncRig(cluster, track_seconds=10.0, log_level="debug") as rig:
        rig.make_track()
        a = rig.add_node("A", leader=True, proxy_seed=1)
        b = rig.add_node("B", bootstrap=a, faketime=FAKETIME["B"], proxy_seed=2)
        c = rig.add_node("C", bootstrap=a, faketime=FAKETIME["C"], proxy_seed=3)
        wait_until(cluster.states_are([a], [b, c], "up"), 5.0, poll=0.005,
                   what="A to list B and C up")
        views = {n.name: n.status() for n in (b, c)}
        print("  at `play 1`: " + "; ".join(
            f"{k} clock.synced={v['clock']['synced']} state_synced={v['state_synced']}"
            for k, v in views.items()), flush=True)
        t0 = now()
        require_ok(a, "play 1")
        try:
            elapsed = wait_until(all_playing([a, b, c]), PLAY_AT_ONCE_LIMIT_S + 1.0, since=t0,
                                 what="A, B and C to play")
        except HarnessError as error:
            lines = [line for n in (b, c) for line in n.stderr_text().splitlines()
                     if "synced with the leader" in line or "ignoring" in line]
            raise HarnessError(f"{error}\n  follower log lines:\n    " + "\n    ".join(lines))
        cluster.check_limit("play typed right after the mesh formed -> all playing", elapsed,
                            PLAY_AT_ONCE_LIMIT_S)


def scenario_sync(cluster: Cluster) -> None:
    """2. Steady skew of A, B, C; late joiner D; pause/resume typed on followers."""
    require_faketime()
    with SyncRig(cluster, track_seconds=TRACK_S) as rig:
        rig.make_track()
        names = ["A", "B", "C", "D"]
        for name in names:
            rig.fifo(name)
        timeline_s = SETTLE_S + STEADY_S + PAUSE_HOLD_S + AFTER_RESUME_S
        budget = setup_budget_s(cluster)
        rig.start_probe(names, budget + timeline_s + 1.0)
        a, b, c = start_trio(cluster, rig)
        cluster.wait_mesh([a, b, c], timeout=5.0)
        wait_until(synced([b, c]), 5.0, what="B and C synced", describe=cluster.describe)
        t_play = now()
        check_setup_budget(rig, budget, t_play)
        require_ok(a, "play 1")
        wait_until(all_playing([a, b, c]), 3.0, what="A, B and C playing",
                   describe=cluster.describe)

        pace_until(t_play + LATE_JOIN_AT_S)
        d = rig.add_node("D", bootstrap=a, faketime=FAKETIME["D"], proxy_seed=4)

        t_steady = t_play + SETTLE_S
        t_pause = t_steady + STEADY_S
        pace_until(t_pause)
        t_pause = now()
        require_ok(b, "pause")
        pace_until(t_pause + PAUSE_HOLD_S)
        t_resume = now()
        require_ok(c, "resume")
        views = {n.name: n.status() for n in (a, b, c, d)}
        for name, view in views.items():
            print(f"  {name}: {view.get('role')} state {view.get('state')}, clock offset "
                  f"{view['clock'].get('offset_us')} µs, error {view['clock'].get('error_us')} "
                  f"µs, drift {view['clock'].get('drift_ppm')} ppm, engine {view.get('engine')}",
                  flush=True)
        run = rig.finish_probe()
        end_us = max(blk.arrival_us for blocks in run.blocks.values() for blk in blocks)
        if end_us < mono_to_us(t_resume + AFTER_RESUME_S - 0.5):
            raise HarnessError("the probe stopped before the end of the timeline")

        check_probe_agrees(run, names)

        # Steady state: A, B, C after the settling time.
        print(f"  measured window: {SETTLE_S:g} s after play (B, C synced before play), "
              f"{STEADY_S:g} s long", flush=True)
        check_skew(cluster, "steady A,B,C (proxy 2±1 ms)", run, ["A", "B", "C"],
                   mono_to_us(t_steady), mono_to_us(t_steady + STEADY_S), MIN_STEADY_BUCKETS)
        check_no_jumps(cluster, run, names)

        # Dropouts: no silence inside playback other than the pause.
        for name in names:
            early = [g for g in run.gaps(name) if g.start_us < mono_to_us(t_pause)]
            if early:
                raise HarnessError(f"{name} fell silent while playing: {early[:3]}")

        # Late join.
        first = run.first_audible_us(d.name)
        if first is None:
            raise HarnessError(f"D was never audible\n{cluster.describe()}")
        join_s = (first - mono_to_us(d.launched_at)) / 1e6
        if sanitized(d.pid):
            cluster.figure("late join: D's launch -> first audible block (sanitized build: not "
                           "judged)", join_s)
        else:
            cluster.check_limit("late join: D's launch -> first audible block", join_s,
                                JOIN_AUDIBLE_LIMIT_S)
        if judge_outside_stalls(cluster, "late join: D - A", run, ["D", "A"], first, math.inf,
                                50):
            offsets = run.offsets("D", "A", t0_us=first)
            worst = max(abs(o) for _, o in offsets)
            print(f"  D - A after joining: {fmt_us([abs(o) for _, o in offsets])} (|offset|); "
                  f"first buckets: {', '.join(f'{o:.0f}' for _, o in offsets[:5])} µs",
                  flush=True)
            cluster.check_limit("late join: D's worst |offset from A| after its first block",
                                worst, JOIN_OFFSET_LIMIT_US, "µs")

        # Pause and resume.
        edges = {}
        for name in names:
            gaps = [g for g in run.gaps(name) if g.start_us >= mono_to_us(t_pause)]
            if len(gaps) != 1:
                raise HarnessError(f"{name}: expected one silence after `pause`, found "
                                   f"{len(gaps)}: {gaps}")
            edges[name] = gaps[0]
        for name, gap in edges.items():
            print(f"  {name}: last frame before the pause {gap.last_before}, first after the "
                  f"resume {gap.first_after}, silent {gap.blocks} blocks "
                  f"({(gap.end_us - gap.start_us) / 1e6:.3f} s)", flush=True)
        lasts = [g.last_before for g in edges.values()]
        spread = max(lasts) - min(lasts)
        cluster.check_limit("pause: spread of the last frame before the silence", spread, 1,
                            "frames")
        steps = {name: g.first_after - g.last_before for name, g in edges.items()}
        bad = {name: step for name, step in steps.items() if not 0 <= step <= 2}
        cluster.figure("resume: worst |first frame after - (last before + 1)|",
                       max(abs(s - 1) for s in steps.values()), "frames", 1)
        if bad:
            raise HarnessError(f"resume did not continue on the next frame: first-after minus "
                               f"last-before = {bad} (want 1 +- 1)")
        check_skew(cluster, "after resume A,B,C,D", run, names,
                   mono_to_us(t_resume + RESUME_SETTLE_S), math.inf, 20)


def scenario_reference(cluster: Cluster) -> None:
    """3. The steady measurement without the proxies: the clocks' own limit on loopback."""
    require_faketime()
    with SyncRig(cluster, track_seconds=30.0, use_proxies=False) as rig:
        rig.make_track()
        names = ["A", "B", "C"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, setup_budget_s(cluster) + SETTLE_S + STEADY_S + 0.5)
        a, b, c = start_trio(cluster, rig)
        cluster.wait_mesh([a, b, c], timeout=5.0)
        wait_until(synced([b, c]), 5.0, what="B and C synced", describe=cluster.describe)
        t_play = now()
        require_ok(a, "play 1")
        run = rig.finish_probe()
        report_output_timing(cluster, [a, b, c])
        check_skew(cluster, "steady A,B,C (no proxy)", run, names, mono_to_us(t_play + SETTLE_S),
                   mono_to_us(t_play + SETTLE_S + STEADY_S), MIN_STEADY_BUCKETS)
        check_no_jumps(cluster, run, names)


SCENARIOS = [
    ("1 play at once: play typed right after the mesh forms is heard everywhere",
     scenario_play_at_once),
    ("2 sync: skew, late join, pause/resume through a 2±1 ms path", scenario_sync),
    ("3 reference: steady skew without the proxies", scenario_reference),
]

if __name__ == "__main__":
    sys.exit(run_main("sync", SCENARIOS))
