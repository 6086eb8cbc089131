#!/usr/bin/env python3
"""System test of a cluster on an overloaded machine: real `node` processes play while CPU hogs
(two busy processes per core, at normal priority) compete for every core.

    python3 tests/system/test_overload.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Needs BUILD/tools/skew_probe. Exit 0 = passed, 1 = failed.

Scenario:
  1 hogs: A (leader), B and C play the counting track into FIFOs read by skew_probe; once all
    play, A's threads must carry their names (PLAYING_THREADS: what `top -H` shows an operator
    looking for the busy one); then 2 x cores busy processes start and run for HOG_S seconds.
    Throughout, sampled every SAMPLE_S: every node names A as leader at the same epoch (no
    election, no flapping); no node records a heartbeat time-out; afterwards, in the probe's
    record of the hog window: no node fell silent, none jumped, and the skew stays within
    test_sync's limits.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HarnessError, agreement, now, run_main, statuses, thread_names,  # noqa: E402
                     wait_until)
from sync_rig import SyncRig, mono_to_us  # noqa: E402
from test_sync import (SETTLE_S, all_playing, check_no_jumps,  # noqa: E402
                       check_skew, require_ok, setup_budget_s, synced)

HOGS_PER_CORE = 2
HOG_S = 10.0
SAMPLE_S = 0.25
TRACK_S = 40.0
MIN_HOG_BUCKETS = 80  # of the 100 buckets in the hog window
PLAYING_THREADS = {"chorus-output", "chorus-decoder", "chorus-content", "chorus-hasher"}


class Hogs:
    """Busy processes at normal priority; always killed on exit."""

    def __init__(self, count: int):
        self.count = count
        self.procs: "list[subprocess.Popen]" = []

    def __enter__(self) -> "Hogs":
        for _ in range(self.count):
            self.procs.append(subprocess.Popen([sys.executable, "-c", "while True: pass"]))
        return self

    def __exit__(self, *exc: object) -> bool:
        for proc in self.procs:
            proc.kill()
        for proc in self.procs:
            proc.wait(timeout=5)
        return False


def heartbeat_timeouts(node) -> int:
    return int(node.command_json("debug --json").get("heartbeat_timeouts", 0))


def check_thread_names(node) -> None:
    """An operator with `top -H` can tell a playing node's busy threads apart. The decoder thread
    starts when the first track has been opened (on the opener thread), which may come after
    `status` says playing."""
    def named() -> object:
        names = thread_names(node.pid)
        missing = sorted(PLAYING_THREADS - names)
        return not missing or f"{node.name}'s threads {sorted(names)} lack {missing}"
    wait_until(named, 3.0, what=f"{node.name}'s threads to carry their names")


def scenario_hogs(cluster) -> None:
    """1. Two busy processes per core while three nodes play."""
    with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
        rig.make_track()
        names = ["A", "B", "C"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, setup_budget_s(cluster) + SETTLE_S + HOG_S + 2.0)
        a = rig.add_node("A", leader=True)
        b = rig.add_node("B", bootstrap=a)
        c = rig.add_node("C", bootstrap=a)
        everyone = [a, b, c]
        cluster.wait_mesh(everyone, timeout=5.0)
        wait_until(synced([b, c]), 5.0, what="B and C synced", describe=cluster.describe)
        require_ok(a, "play 1")
        wait_until(all_playing(everyone), 3.0, what="all three playing", describe=cluster.describe)
        epoch = a.status(timeout=2.0).get("epoch")
        check_thread_names(a)
        timeouts_before = {n.name: heartbeat_timeouts(n) for n in everyone}

        hogs = HOGS_PER_CORE * (os.cpu_count() or 1)
        t_hogs = now()
        samples = 0
        with Hogs(hogs):
            print(f"  {hogs} busy processes for {HOG_S:g} s", flush=True)
            while now() < t_hogs + HOG_S:
                views = statuses(everyone)
                leader, why = agreement(views, everyone)
                if leader is not a:
                    raise HarnessError(f"under load, after {now() - t_hogs:.2f} s, the nodes no "
                                       f"longer agree that A leads: {why or leader}")
                epochs = {n.name: views[n.name].get("epoch") for n in everyone}
                if set(epochs.values()) != {epoch}:
                    raise HarnessError(f"an election ran under load: epochs {epochs} "
                                       f"(was {epoch})")
                samples += 1
                time.sleep(SAMPLE_S)  # the sampling period, not synchronisation
        t_end = now()
        cluster.figure("status samples under load, all agreeing on A", samples, "samples")

        timeouts = {n.name: heartbeat_timeouts(n) - timeouts_before[n.name] for n in everyone}
        if any(timeouts.values()):
            raise HarnessError(f"heartbeat time-outs under load: {timeouts}")

        run = rig.finish_probe()
        for name in names:
            gaps = [g for g in run.gaps(name) if mono_to_us(t_hogs) <= g.start_us <= mono_to_us(t_end)]
            if gaps:
                raise HarnessError(f"{name} fell silent under load: {gaps[:3]}")
        check_no_jumps(cluster, run, names)
        check_skew(cluster, "under load A,B,C", run, names, mono_to_us(t_hogs),
                   mono_to_us(t_end), MIN_HOG_BUCKETS)


SCENARIOS = [
    ("1 hogs: two busy processes per core while three nodes play", scenario_hogs),
]

if __name__ == "__main__":
    sys.exit(run_main("overload", SCENARIOS))
