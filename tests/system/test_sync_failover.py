#!/usr/bin/env python3
"""System test of playback across a leader crash: kill -9 the leader mid-track; the others must
play on without a gap or a jump, agree on a new leader, and stay in sync with each other.

    python3 tests/system/test_sync_failover.py --node BUILD/apps/node [--keep-logs]

Needs libfaketime (exit 77 = skipped without it) and BUILD/tools/skew_probe (or
$CHORUS_SKEW_PROBE). Exit 0 = passed, 1 = failed.

Set-up as in test_sync.py (see sync_rig.py for the measurement): A (--leader, plain clock),
B `FAKETIME='+0.7s'`, C `FAKETIME='-1.3s x1.0001'`, D `FAKETIME='+2.2s'`, each behind
its own delay proxy (2 ms +- 1 ms each way); every node plays the counting track into a FIFO
read by skew_probe on the real clock.

Scenario: B, C, D synced -> `play 1` on A -> 6 s to settle -> 4 s measured with A (reference)
-> kill -9 A -> B, C and D must agree on one new leader (one of them, same epoch) within 5 s, and
over the 10 s after the kill:
  - no gap: each survivor's longest silence after playback started <= 480 frames (one block);
  - no jump in any survivor's frame sequence (skew_probe's continuity count);
  - skew across the survivors from the moment they agree p95 <= 1 ms, max <= 2 ms;
  - they still play the same track and still agree on the same leader at the end;
  - the new leader's followers carried on with the estimate of its clock they kept while it was
    the heir (their logs say so), instead of starting from nothing.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HarnessError, agreement, now, one_agreed_leader, run_main,  # noqa: E402
                     statuses, wait_until)
from sync_rig import (SyncRig, all_playing, fmt_us, mono_to_us, pace_until,  # noqa: E402
                      percentile, require_faketime, require_ok, synced)
from test_sync import (FAKETIME, SETTLE_S, check_no_jumps, check_setup_budget,  # noqa: E402
                       check_skew, setup_budget_s)

BEFORE_KILL_S = 4.0
AFTER_KILL_S = 10.0
AGREE_LIMIT_S = 5.0
SILENCE_LIMIT_FRAMES = 480
TRACK_S = 40.0


def scenario_failover(cluster) -> None:
    """1. kill -9 the leader mid-track."""
    require_faketime()
    with SyncRig(cluster, track_seconds=TRACK_S) as rig:
        rig.make_track()
        names = ["A", "B", "C", "D"]
        for name in names:
            rig.fifo(name)
        budget = setup_budget_s(cluster)
        rig.start_probe(names, budget + SETTLE_S + BEFORE_KILL_S + AFTER_KILL_S + 1.0)
        a = rig.add_node("A", leader=True, proxy_seed=1)
        b = rig.add_node("B", bootstrap=a, faketime=FAKETIME["B"], proxy_seed=2)
        c = rig.add_node("C", bootstrap=a, faketime=FAKETIME["C"], proxy_seed=3)
        d = rig.add_node("D", bootstrap=a, faketime=FAKETIME["D"], proxy_seed=4)
        everyone = [a, b, c, d]
        survivors = [b, c, d]
        cluster.wait_mesh(everyone, timeout=5.0)
        wait_until(synced(survivors), 5.0, what="B, C and D synced", describe=cluster.describe)
        t_play = now()
        check_setup_budget(rig, budget, t_play)
        require_ok(a, "play 1")
        wait_until(all_playing(everyone), 3.0, what="all four playing", describe=cluster.describe)

        t_steady = t_play + SETTLE_S
        pace_until(t_steady + BEFORE_KILL_S)  # timeline pacing, not synchronisation
        leader, why = agreement(statuses(everyone), everyone)
        if leader is not a:
            raise HarnessError(f"A should lead before the kill: {why or leader}")
        t_kill = now()
        a.kill9()
        print(f"  kill -9 A (the leader) {t_kill - t_play:.1f} s into the track", flush=True)

        agreed: "list[object]" = []
        elapsed = wait_until(one_agreed_leader(survivors, agreed), AGREE_LIMIT_S + 2.0, poll=0.01, since=t_kill,
                             what="B, C and D to agree on a new leader",
                             describe=cluster.describe)
        t_agree = now()
        new_leader = agreed[-1]
        cluster.check_limit(f"kill -9 leader -> survivors agree on {new_leader.name}", elapsed,
                            AGREE_LIMIT_S)

        pace_until(t_kill + AFTER_KILL_S)
        final, why = agreement(statuses(survivors), survivors)
        if final is not new_leader:
            raise HarnessError(f"the survivors no longer agree on {new_leader.name} at the end: "
                               f"{why or final.name}")
        views = {n.name: n.status() for n in survivors}
        tracks = {v.get("track", {}).get("hash") if v.get("track") else None
                  for v in views.values()}
        for name, view in views.items():
            print(f"  {name}: {view.get('role')} (epoch {view.get('epoch')}) state "
                  f"{view.get('state')}, clock offset {view['clock'].get('offset_us')} µs, "
                  f"error {view['clock'].get('error_us')} µs, drift "
                  f"{view['clock'].get('drift_ppm')} ppm, engine {view.get('engine')}",
                  flush=True)
        # Each follower of the new leader sampled it as the heir all along, and carries that
        # window on instead of starting the new leader's clock from nothing.
        kept = f"clock: following {new_leader.id} from the estimate kept while it was the heir"
        for node in survivors:
            if node is not new_leader and kept not in node.stderr_text():
                raise HarnessError(f"{node.name} did not follow {new_leader.name} from its heir "
                                   f"estimate (no '{kept}' in its log)")
        if any(v.get("state") != "playing" for v in views.values()) or len(tracks) != 1:
            raise HarnessError(f"the survivors do not all play the same track after the kill: "
                               f"{ {n: (v.get('state'), v.get('track')) for n, v in views.items()} }")

        run = rig.finish_probe()
        before = run.skews(names, mono_to_us(t_steady), mono_to_us(t_kill))
        print(f"  before the kill, A,B,C,D: skew {fmt_us(before)}", flush=True)
        if before:
            cluster.figure("before the kill A,B,C,D: skew p95", percentile(before, 0.95), "µs")

        survivor_names = [n.name for n in survivors]
        # No gap and no jump in the survivors' output, across the kill.
        silences = {n: run.node(n)["longest_silence_frames"] for n in survivor_names}
        print(f"  longest silence after playback started: {silences} frames", flush=True)
        cluster.check_limit("failover: survivors' longest silence", max(silences.values()),
                            SILENCE_LIMIT_FRAMES, "frames")
        for name in survivor_names:
            gaps = run.gaps(name)
            if gaps:
                raise HarnessError(f"{name} fell silent: {gaps[:3]}")
        check_no_jumps(cluster, run, survivor_names)

        transition = run.skews(survivor_names, mono_to_us(t_kill), mono_to_us(t_agree) + 1e6)
        print(f"  survivors, kill -> 1 s after agreement: skew {fmt_us(transition)}", flush=True)
        if transition:
            cluster.figure("failover transition: survivors' skew max", max(transition), "µs")
        check_skew(cluster, f"after the new leader {new_leader.name}: B,C,D", run, survivor_names,
                   mono_to_us(t_agree), math.inf, 50)


SCENARIOS = [
    ("1 failover: kill -9 the leader mid-track", scenario_failover),
]

if __name__ == "__main__":
    sys.exit(run_main("sync failover", SCENARIOS))
