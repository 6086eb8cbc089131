#!/usr/bin/env python3
"""Service mode system test: a node run with --no-prompt ignores its standard input (ended or
full of commands), keeps its place in the cluster, and leaves gracefully on SIGTERM or SIGINT.

Run: python3 tests/system/test_service.py --node build/apps/node [--only NAME] [--keep-logs]
"""

from __future__ import annotations

import signal
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Cluster, HarnessError, Node, hold_for, now, run_main, wait_until  # noqa: E402
from sync_rig import free_port  # noqa: E402

LEFT_LIMIT_S = 0.5   # a graceful leave is seen as "left" (as for `exit` at the prompt)
STAY_S = 2.0         # how long the service node is watched after its input ended


def start_service(cluster: Cluster) -> "tuple[Node, Node]":
    """A prompt leader A and a --no-prompt node S joining it; S's input is then closed."""
    a = cluster.node("A", leader=True)
    port = free_port()
    s = cluster.node("S", start=False, port=port, node_id="service", bootstrap=a,
                     extra_args=["--no-prompt"])
    s.launch()
    s.id = "service"
    wait_until(cluster.states_are([a], [s], "up"), 5.0, what="A to see the service node up",
               describe=cluster.describe)
    return a, s


def scenario_input_ignored(cluster: Cluster) -> None:
    """1. Commands written to a service node's input are not run, and the end of its input does
    not end it: it stays up in the leader's view."""
    a, s = start_service(cluster)
    s.send("exit")
    s.send("stop")
    s.proc.stdin.close()
    hold_for(cluster.states_are([a], [s], "up"), STAY_S,
             what="the service node staying up after its input ended", describe=cluster.describe)
    if not s.alive():
        raise HarnessError(f"the service node ended with its input\n{s.stderr_tail()}")
    if s.other_output:
        raise HarnessError(f"the service node printed on stdout: {s.other_output[:3]}")


def leave_on(cluster: Cluster, signum: int) -> None:
    a, s = start_service(cluster)
    t0 = now()
    s._signal(signum)
    elapsed = wait_until(cluster.states_are([a], [s], "left"), LEFT_LIMIT_S + 3, poll=0.01,
                         what="A to mark the service node left", since=t0,
                         describe=cluster.describe)
    cluster.check_limit(f"{signal.Signals(signum).name} -> marked left", elapsed, LEFT_LIMIT_S)
    code = s.wait_exit(timeout=5.0)
    if code != 0:
        raise HarnessError(f"the service node exited with {code}\n{s.stderr_tail()}")
    if "leaving the cluster" not in s.stderr_text():
        raise HarnessError("the service node did not log its leave")


def scenario_sigterm(cluster: Cluster) -> None:
    """2. SIGTERM: the node leaves gracefully (seen as "left", not "down") and exits 0."""
    leave_on(cluster, signal.SIGTERM)


def scenario_sigint(cluster: Cluster) -> None:
    """3. SIGINT: the same."""
    leave_on(cluster, signal.SIGINT)


SCENARIOS = [
    ("1 input: a service node ignores its input and its end", scenario_input_ignored),
    ("2 sigterm: leaves gracefully", scenario_sigterm),
    ("3 sigint: leaves gracefully", scenario_sigint),
]

if __name__ == "__main__":
    sys.exit(run_main("service mode", SCENARIOS))
