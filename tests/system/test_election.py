#!/usr/bin/env python3
"""System tests of the Bully election: real `node` processes on loopback.

    python3 tests/system/test_election.py --node build/apps/node [--only NAME] [--keep-logs]

Scenarios (each on a fresh cluster; every figure is printed, limits are asserted):
  1 five nodes, one --leader: exactly one leader, named by all (status and peers views).
  2 kill -9 of the leader, 20 times in a row (restart on the same port between kills): each time
    exactly one new leader, the highest-ranked survivor, agreed by all survivors within 1.5 s.
  3 SIGSTOP of the leader: the other four agree on a new one; on SIGCONT the old leader steps
    down and follows it; never two leaders at the highest epoch. Run twice, with the frozen
    leader's id sorting before (3a) and after (3b) the new leader's.
  4 --preempt: a higher-priority node joining takes over; default: it follows the sitting leader.
  5 a node with no --leader and no reachable bootstrap leads itself after the discovery timeout
    and says so in its log.
"""

from __future__ import annotations

import re
import socket
import statistics
import sys
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Cluster, HarnessError, Node, agreement, hold_for, now, rank_key, run_main, split_brain,
    statuses, wait_until,
)

SETUP_TIMEOUT_S = 8.0
KILL_TRIALS = 20
KILL_FAILOVER_LIMIT_S = 1.5      # kill -9 of the leader -> all survivors agree on a new one
REJOIN_LIMIT_S = 5.0             # restarted node follows the leader, all agree, full mesh
STOP_FAILOVER_LIMIT_S = 1.5      # SIGSTOP of the leader -> the other four agree (doc: ~0.7 s)
FROZEN_HOLD_S = 0.5              # how long the new leader must hold while the old one is frozen
CONT_AGREE_LIMIT_S = 3.0         # SIGCONT -> all five agree on one leader again
SETTLED_HOLD_S = 1.0             # window checked after agreement
PREEMPT_LIMIT_S = 3.0            # --preempt joiner -> all agree it leads
FOLLOW_HOLD_S = 2.0              # default joiner must keep following (> discovery timeout)
SOLO_LIMIT_S = 3.0               # lone node -> leader of itself
POLL_S = 0.005                   # status polling period while measuring


# ---- helpers ------------------------------------------------------------------------------------

def five_nodes(cluster: Cluster, priorities: "list[Optional[int]]", leader_index: int = 0,
               ids: "Optional[list[str]]" = None, **common: Any) -> "list[Node]":
    """Starts A..E; node `leader_index` with --leader first, the others bootstrapping to it."""
    names = "ABCDE"
    ids = ids or [None] * 5
    first = cluster.node(names[leader_index], leader=True, priority=priorities[leader_index],
                         node_id=ids[leader_index], **common)
    nodes: "list[Optional[Node]]" = [None] * 5
    nodes[leader_index] = first
    for i in range(5):
        if i != leader_index:
            nodes[i] = cluster.node(names[i], bootstrap=first, priority=priorities[i],
                                    node_id=ids[i], **common)
    members = [n for n in nodes if n is not None]
    elapsed = cluster.wait_mesh(members, timeout=SETUP_TIMEOUT_S, what="set-up mesh")
    cluster.figure("set-up mesh of 5", elapsed)
    return members


class Watch:
    """Polls `status --json` of a set of nodes; remembers every split-brain sample."""

    def __init__(self, cluster: Cluster):
        self.cluster = cluster
        self.samples = 0
        self.violations: "list[str]" = []
        self.stale_claims = 0
        self.last: "dict[str, Any]" = {}
        self.epoch_owner: "dict[Any, str]" = {}
        self.epoch_reuse: "list[str]" = []

    def sample(self, nodes: Iterable[Node], timeout: float = 2.0) -> "dict[str, Any]":
        views = statuses(nodes, timeout)
        self.samples += 1
        self.last = views
        problem = split_brain(views)
        if problem:
            self.violations.append(f"{problem} ({views})")
        claims = [(name, v.get("epoch")) for name, v in views.items() if v.get("role") == "leader"]
        if len(claims) > 1:
            self.stale_claims += 1
        for name, epoch in claims:
            owner = self.epoch_owner.setdefault(epoch, name)
            if owner != name:
                note = f"epoch {epoch} was led by {owner}, then by {name}"
                if note not in self.epoch_reuse:
                    self.epoch_reuse.append(note)
                    print(f"  NOTE: {note} (two leaderships with one epoch)", flush=True)
        return views

    def agreed(self, nodes: "list[Node]", expect: Optional[Node] = None) -> Callable[[], Any]:
        """Predicate: all of `nodes` agree on one leader (and it is `expect`, if given)."""
        def check() -> Any:
            views = self.sample(nodes)
            leader, why = agreement(views, nodes)
            if leader is None:
                return why
            if expect is not None and leader is not expect:
                return f"all agree on {leader.name}, expected {expect.name}"
            return True
        return check

    def assert_safe(self, what: str) -> None:
        if self.violations:
            raise HarnessError(f"{what}: split brain in {len(self.violations)} of {self.samples} "
                               f"samples; first: {self.violations[0]}\n{self.cluster.describe()}")


def leader_of(cluster: Cluster, nodes: "list[Node]") -> Node:
    leader, why = agreement(statuses(nodes), nodes)
    if leader is None:
        raise HarnessError(f"no agreed leader: {why}\n{cluster.describe()}")
    return leader


def highest(nodes: Iterable[Node]) -> Node:
    return max(nodes, key=rank_key)


def percentile(values: "list[float]", q: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, int(round(q * (len(ordered) - 1)))))
    return ordered[k]


def log_lines_after_start(node: Node, start_no: int) -> "list[str]":
    """stderr lines of the node's `start_no`-th run."""
    runs = re.split(r"^==== start #\d+:.*$", node.stderr_text(), flags=re.M)
    return runs[start_no].splitlines() if start_no < len(runs) else []


# ---- scenarios ----------------------------------------------------------------------------------

def scenario_five(cluster: Cluster) -> None:
    """1. Five nodes with distinct priorities, the middle one started with --leader: exactly one
    leader, named by every node in `status` and `peers`. With stable leadership (the default) it
    is the --leader node, though two joiners outrank it."""
    nodes = five_nodes(cluster, [30, 50, 40, 20, 10], leader_index=0)
    a = nodes[0]
    watch = Watch(cluster)
    elapsed = wait_until(watch.agreed(nodes, expect=a), SETUP_TIMEOUT_S,
                         what="all five to agree that A leads", describe=cluster.describe)
    cluster.figure("all five agree on the leader (after the mesh)", elapsed)
    views = watch.last
    claims = [name for name, v in views.items() if v.get("role") == "leader"]
    if claims != ["A"]:
        raise HarnessError(f"leaders claimed: {claims}, expected exactly A\n{cluster.describe()}")
    # The peers view must agree with the status view: one entry flagged leader, and it is A.
    for node in nodes:
        view = node.peers()
        if view.get("leader") != a.id or view.get("role") != views[node.name].get("role"):
            raise HarnessError(f"{node.name}: peers --json says role {view.get('role')} leader "
                               f"{view.get('leader')}, status says {views[node.name]}")
        flagged = [p.get("id") for p in view.get("peers", []) if p.get("leader")]
        expected = [] if node is a else [a.id]
        if flagged != expected:
            raise HarnessError(f"{node.name}: peers flagged leader: {flagged}, expected "
                               f"{expected}: {view}")
    hold_for(watch.agreed(nodes, expect=a), 1.0, what="A staying the one leader",
             describe=cluster.describe)
    watch.assert_safe("five nodes")
    print(f"  epoch {views['A'].get('epoch')}, {watch.samples} samples, no split brain",
          flush=True)


def scenario_kill_leader(cluster: Cluster) -> None:
    """2. kill -9 the leader 20 times (default priorities: rank by id): each time all survivors
    agree on one new leader, the highest-ranked survivor, within 1.5 s; the killed node is
    restarted on the same port and rejoins as a follower before the next kill."""
    nodes = five_nodes(cluster, [None] * 5)
    watch = Watch(cluster)
    wait_until(watch.agreed(nodes), SETUP_TIMEOUT_S, what="initial agreement",
               describe=cluster.describe)
    figures: "list[float]" = []
    leaders_seen: "list[str]" = []
    for trial in range(1, KILL_TRIALS + 1):
        leader = leader_of(cluster, nodes)
        survivors = [n for n in nodes if n is not leader]
        expected = highest(survivors)
        epoch_before = watch.last[leader.name].get("epoch")
        t0 = now()
        leader.kill9()
        elapsed = wait_until(watch.agreed(survivors), KILL_FAILOVER_LIMIT_S + 3.0, poll=POLL_S,
                             since=t0, what=f"trial {trial}: survivors to agree on a new leader",
                             describe=cluster.describe)
        new = leader_of(cluster, survivors)
        epoch_after = watch.last[new.name].get("epoch")
        print(f"  trial {trial:2}: killed {leader.name} (epoch {epoch_before}) -> "
              f"{new.name} leads (epoch {epoch_after}), agreed by all 4 in "
              f"{elapsed * 1000:.0f} ms", flush=True)
        figures.append(elapsed)
        leaders_seen.append(new.name)
        if new is not expected:
            raise HarnessError(f"trial {trial}: {new.name} leads, but the highest-ranked survivor "
                               f"is {expected.name} ({rank_key(expected)})\n{cluster.describe()}")
        if not (isinstance(epoch_after, int) and isinstance(epoch_before, int)
                and epoch_after > epoch_before):
            raise HarnessError(f"trial {trial}: epoch went {epoch_before} -> {epoch_after}")
        if elapsed > KILL_FAILOVER_LIMIT_S:
            raise HarnessError(f"trial {trial}: failover took {elapsed:.3f} s, limit "
                               f"{KILL_FAILOVER_LIMIT_S} s\n{cluster.describe()}")
        # Restart the victim as a plain member on the same port; it must follow, not lead.
        leader.leader = False
        leader.bootstrap = new
        t1 = now()
        leader.restart()
        wait_until(watch.agreed(nodes, expect=new), REJOIN_LIMIT_S, since=t1,
                   what=f"trial {trial}: {leader.name} to rejoin as a follower of {new.name}",
                   describe=cluster.describe)
        rejoin = cluster.wait_mesh(nodes, timeout=REJOIN_LIMIT_S, since=t1,
                                   what=f"trial {trial}: mesh after restart")
        if rejoin > REJOIN_LIMIT_S:
            raise HarnessError(f"trial {trial}: rejoin took {rejoin:.3f} s")
    watch.assert_safe("kill -9 trials")
    p50 = statistics.median(figures)
    cluster.figure(f"kill -9 leader -> survivors agree, p50 of {len(figures)}", p50, "s",
                   KILL_FAILOVER_LIMIT_S)
    cluster.figure(f"kill -9 leader -> survivors agree, p95 of {len(figures)}",
                   percentile(figures, 0.95), "s", KILL_FAILOVER_LIMIT_S)
    cluster.figure(f"kill -9 leader -> survivors agree, max of {len(figures)}", max(figures),
                   "s", KILL_FAILOVER_LIMIT_S)
    print(f"  leaders in turn: {' '.join(leaders_seen)}; {watch.samples} samples, "
          f"no split brain", flush=True)


def sigstop_leader(cluster: Cluster, ids: "list[str]") -> None:
    """SIGSTOP the leader (the highest-ranked node): the other four agree on the next one; on
    SIGCONT the old leader notices it was frozen, steps down and follows the new leader (stable
    leadership). At no sample do two nodes claim leadership at the highest epoch.

    The ids are explicit because they decide which of two simultaneous connections a pair keeps
    (docs/network.md): the peers redial the frozen node while it is stopped, so on SIGCONT it
    meets a new connection from each of them before it has read the end of the old one."""
    nodes = five_nodes(cluster, [50, 40, 30, 20, 10], leader_index=0, ids=ids)
    a = nodes[0]
    others = nodes[1:]
    watch = Watch(cluster)
    wait_until(watch.agreed(nodes, expect=a), SETUP_TIMEOUT_S, what="A to lead",
               describe=cluster.describe)
    epoch_before = watch.last["A"].get("epoch")
    debug_before = a.debug().get("election", {})
    expected = highest(others)

    t0 = now()
    a.sigstop()
    elapsed = wait_until(watch.agreed(others, expect=expected), STOP_FAILOVER_LIMIT_S + 3.0,
                         poll=POLL_S, since=t0, what="the other four to agree on a new leader",
                         describe=cluster.describe)
    cluster.check_limit("SIGSTOP leader -> other four agree on a new leader", elapsed,
                        STOP_FAILOVER_LIMIT_S)
    new = expected
    new_epoch = watch.last[new.name].get("epoch")
    if not (isinstance(new_epoch, int) and new_epoch > epoch_before):
        raise HarnessError(f"new leader {new.name} at epoch {new_epoch}, old at {epoch_before}")
    # Keep A frozen a while longer (well past the failure detection) while checking that the
    # new leadership holds.
    hold_for(watch.agreed(others, expect=new), FROZEN_HOLD_S, poll=0.02,
             what=f"{new.name} leading while A is frozen", describe=cluster.describe)
    frozen_for = now() - t0

    t1 = now()
    a.sigcont()
    a_claims_at_top: "list[Any]" = []

    def all_agree_on_new() -> Any:
        verdict = watch.agreed(nodes, expect=new)()
        view_a = watch.last.get("A", {})
        if view_a.get("role") == "leader":
            top = max(int(v.get("epoch") or 0) for v in watch.last.values())
            if int(view_a.get("epoch") or 0) >= top:
                a_claims_at_top.append(view_a)
        return verdict

    try:
        elapsed = wait_until(all_agree_on_new, CONT_AGREE_LIMIT_S + 3.0, poll=POLL_S, since=t1,
                             what=f"all five to agree on {new.name} after SIGCONT of A",
                             describe=cluster.describe)
    except HarnessError as error:
        if a_claims_at_top:
            raise HarnessError(f"after SIGCONT A took the leadership back instead of following "
                               f"{new.name} (stable leadership): first claim {a_claims_at_top[0]}"
                               f"; {'; '.join(watch.epoch_reuse) or 'no epoch reused'}\n{error}")
        raise
    cluster.check_limit(f"SIGCONT (after {frozen_for:.2f} s frozen) -> all five agree on "
                        f"{new.name}", elapsed, CONT_AGREE_LIMIT_S)
    hold_for(all_agree_on_new, SETTLED_HOLD_S, poll=0.02,
             what=f"all five agreeing on {new.name}", describe=cluster.describe)
    if a_claims_at_top:
        raise HarnessError(f"after SIGCONT A claimed leadership at the highest epoch: "
                           f"{a_claims_at_top[0]}\n{cluster.describe()}")
    watch.assert_safe("SIGSTOP/SIGCONT of the leader")
    debug_after = a.debug().get("election", {})
    if not debug_after.get("step_downs", 0) > debug_before.get("step_downs", 0):
        raise HarnessError(f"A's step_downs did not rise: {debug_before} -> {debug_after}")
    frozen_lines = [line for line in log_lines_after_start(a, 1)
                    if re.search(r"frozen|stall|suspend", line, re.I)]
    if not frozen_lines:
        raise HarnessError(f"A's log never says it was frozen\n{a.stderr_tail()}")
    print(f"  A's log: {frozen_lines[0].strip()}", flush=True)
    print(f"  epochs: A led at {epoch_before}, {new.name} at "
          f"{watch.last[new.name].get('epoch')}; {watch.samples} samples, no split brain, "
          f"{watch.stale_claims} with a stale second claim", flush=True)


def scenario_sigstop_leader_low_id(cluster: Cluster) -> None:
    """3a. As 3b, with the frozen leader's id sorting BEFORE the new leader's (ids a..e)."""
    sigstop_leader(cluster, ["a", "b", "c", "d", "e"])


def scenario_sigstop_leader_high_id(cluster: Cluster) -> None:
    """3b. SIGSTOP the leader, then SIGCONT (ids z..v: the frozen leader's id sorts last)."""
    sigstop_leader(cluster, ["z", "y", "x", "w", "v"])


def _joiner_cluster(cluster: Cluster, preempt: bool) -> "tuple[list[Node], Node]":
    extra = ["--preempt"] if preempt else []
    a = cluster.node("A", leader=True, priority=30, extra_args=extra)
    b = cluster.node("B", bootstrap=a, priority=20, extra_args=extra)
    c = cluster.node("C", bootstrap=a, priority=10, extra_args=extra)
    cluster.wait_mesh([a, b, c], timeout=SETUP_TIMEOUT_S, what="set-up mesh")
    watch = Watch(cluster)
    wait_until(watch.agreed([a, b, c], expect=a), SETUP_TIMEOUT_S, what="A to lead",
               describe=cluster.describe)
    return [a, b, c], a


def scenario_preempt(cluster: Cluster) -> None:
    """4a. With --preempt (classic Bully) everywhere: H, priority 100, joins through follower B
    and takes over; all four agree on H; A counts a step-down."""
    (a, b, c), _ = _joiner_cluster(cluster, preempt=True)
    watch = Watch(cluster)
    t0 = now()
    h = cluster.node("H", bootstrap=b, priority=100, extra_args=["--preempt"])
    members = [a, b, c, h]
    elapsed = wait_until(watch.agreed(members, expect=h), PREEMPT_LIMIT_S + 3.0, poll=POLL_S,
                         since=t0, what="all four to agree on H", describe=cluster.describe)
    cluster.check_limit("--preempt joiner launched -> all agree it leads", elapsed,
                        PREEMPT_LIMIT_S)
    hold_for(watch.agreed(members, expect=h), SETTLED_HOLD_S, what="H staying leader",
             describe=cluster.describe)
    watch.assert_safe("preempting joiner")
    step_downs = a.debug().get("election", {}).get("step_downs")
    if not step_downs:
        raise HarnessError(f"A did not count a step-down (step_downs {step_downs!r})")
    print(f"  epoch now {watch.last['H'].get('epoch')}; A step_downs {step_downs}", flush=True)


def scenario_no_preempt(cluster: Cluster) -> None:
    """4b. Default (stable leadership): H, priority 100, joins and follows A; it keeps
    following for 2 s (longer than the discovery timeout) and never wins an election."""
    (a, b, c), _ = _joiner_cluster(cluster, preempt=False)
    watch = Watch(cluster)
    t0 = now()
    h = cluster.node("H", bootstrap=b, priority=100)
    members = [a, b, c, h]
    elapsed = wait_until(watch.agreed(members, expect=a), SETUP_TIMEOUT_S, poll=POLL_S,
                         since=t0, what="H to follow A", describe=cluster.describe)
    cluster.figure("default joiner launched -> follows A", elapsed)
    samples = hold_for(watch.agreed(members, expect=a), FOLLOW_HOLD_S, poll=0.02,
                       what="A staying leader with higher-priority H in the cluster",
                       describe=cluster.describe)
    watch.assert_safe("non-preempting joiner")
    won = h.debug().get("election", {}).get("elections_won")
    if won:
        raise HarnessError(f"H won {won} election(s) though it should only follow")
    print(f"  A kept the lead over {samples} samples in {FOLLOW_HOLD_S:g} s; H elections_won "
          f"{won}", flush=True)


def scenario_alone(cluster: Cluster) -> None:
    """5. A node started without --leader, whose bootstrap refuses connections, is no leader at
    first, leads itself after the discovery timeout, and says so in its log."""
    # A bound but not listening socket: connections to it are refused, and nobody else can
    # take the port while the test runs.
    holder = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        holder.bind(("127.0.0.1", 0))
        dead_port = holder.getsockname()[1]
        t0 = now()
        s = cluster.node("S", bootstrap=("127.0.0.1", dead_port))
        first = s.status()
        first_at = now() - t0
        print(f"  first status after {first_at * 1000:.0f} ms: {first}", flush=True)
        if first.get("role") == "leader":
            raise HarnessError(f"S leads at once ({first}); it should first wait for a leader")
        if first.get("leader") is not None:
            raise HarnessError(f"S names a leader {first.get('leader')!r} with nobody around")

        def leads() -> Any:
            view = s.status()
            return True if (view.get("role") == "leader" and view.get("leader") == s.id) \
                else f"S: {view}"

        elapsed = wait_until(leads, SOLO_LIMIT_S + 3.0, poll=POLL_S, since=t0,
                             what="S to lead itself", describe=cluster.describe)
        cluster.check_limit("lone node launched -> leads itself", elapsed, SOLO_LIMIT_S)

        def logged() -> Any:
            lines = [line for line in log_lines_after_start(s, 1)
                     if re.search(r"\blead", line, re.I)]
            return True if lines else "no log line about leading yet"

        wait_until(logged, 2.0, what="S's log to say it leads", describe=cluster.describe)
        lines = [line for line in log_lines_after_start(s, 1) if re.search(r"\blead", line, re.I)]
        print(f"  S's log: {lines[0].strip()}", flush=True)
        unreachable = [line for line in log_lines_after_start(s, 1) if "unreachable" in line]
        if unreachable:
            print(f"  S's log: {unreachable[0].strip()}", flush=True)
        view = s.peers()
        if any(p.get("state") == "up" for p in view.get("peers", [])):
            raise HarnessError(f"S lists peers up with nobody around: {view}")
        hold_for(lambda: leads(), 0.5, what="S staying leader", describe=cluster.describe)
    finally:
        holder.close()


SCENARIOS = [
    ("1 five: one leader agreed by all", scenario_five),
    ("2 kill: kill -9 the leader 20 times", scenario_kill_leader),
    ("3a freeze: SIGSTOP the leader, then SIGCONT (its id sorts first)",
     scenario_sigstop_leader_low_id),
    ("3b freeze: SIGSTOP the leader, then SIGCONT (its id sorts last)",
     scenario_sigstop_leader_high_id),
    ("4a preempt: a higher-priority joiner takes over", scenario_preempt),
    ("4b stable: a higher-priority joiner follows", scenario_no_preempt),
    ("5 alone: no bootstrap reachable, leads itself", scenario_alone),
]

if __name__ == "__main__":
    sys.exit(run_main("election", SCENARIOS))
