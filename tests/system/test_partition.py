#!/usr/bin/env python3
"""System test of the election across a network partition (root only; skips otherwise).

    python3 tests/system/test_partition.py --node build/apps/node [--keep-logs]

Five hosts, each a network namespace of its own with one veth into a bridge that lives in a
sixth ("hub") namespace. Addresses 10.77.0.1-5/24 exist only inside those namespaces; the hosts
have no route anywhere else. One `node` per host (`ip netns exec NS node 10.77.0.N 7600 ...`).
The partition is an nftables bridge-family forward rule in the hub that silently drops every
frame between the two sides (so peers find out through heartbeat silence, as with a real cut).

Scenario (two rounds on one cluster):
  round 1: n1 (priority 30, --leader) leads. Cut {n1,n2} | {n3,n4,n5}: the n1 side keeps n1, the
           other side elects n5 (its highest). Heal: n5 outranks n1, so n1 steps down and all
           five agree on n5.
  round 2: Cut {n3,n4,n5} | {n1,n2}: the n5 side keeps n5, the other side elects n1. Heal: n1
           steps down again (from a HIGHER epoch than n5's), all five agree on n5.
Each side is checked to see the other side down, the side holding the old leader never loses it,
and no side ever has two leaders. Everything created (namespaces, veths, bridge, nft table) is
deleted in a finally block and by an atexit hook; namespaces left behind by a killed run of this
test (the pid in their name no longer exists) are deleted at start.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Cluster, HarnessError, Node, Skip, agreement, hold_for, now, rank_key, run_main,
    split_brain, statuses, wait_until,
)
from lan import delete_namespaces, remove_stale_namespaces  # noqa: E402

SUBNET = "10.77.0"
PORT = 7600
NS_PREFIX = "chorus-part"
NFT_TABLE = "chorus_cut"
PRIORITIES = {1: 30, 2: 10, 3: 20, 4: 40, 5: 50}   # n1 starts as --leader

SETUP_TIMEOUT_S = 10.0
SPLIT_LIMIT_S = 3.0     # cut -> each side agrees on its leader and sees the other side down
SPLIT_HOLD_S = 1.0      # both sides checked stable for this long before healing
HEAL_LIMIT_S = 8.0      # heal -> all five agree (reconnect backoff is up to 5 s, dial 2 s)
SETTLED_HOLD_S = 1.0


def run(argv: "list[str]", check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=20)
    if check and result.returncode != 0:
        raise HarnessError(f"`{' '.join(argv)}` failed ({result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


class Lab:
    """Five host namespaces on a bridge in a hub namespace. destroy() is idempotent."""

    def __init__(self, hosts: int = 5):
        self.hosts = hosts
        tag = f"{os.getpid()}-{secrets.token_hex(3)}"
        self.short = secrets.token_hex(3)          # for interface names (15 chars at most)
        self.hub = f"{NS_PREFIX}-{tag}-hub"
        self.ns = {n: f"{NS_PREFIX}-{tag}-h{n}" for n in range(1, hosts + 1)}
        self.port_if = {n: f"hp{n}{self.short}" for n in range(1, hosts + 1)}   # hub side
        self.host_if = {n: f"hv{n}{self.short}" for n in range(1, hosts + 1)}   # host side
        self.created: "list[str]" = []
        self.cut_active = False

    def address(self, n: int) -> str:
        return f"{SUBNET}.{n}"

    def build(self) -> None:
        probe = run(["ip", "netns", "add", self.hub], check=False)
        if probe.returncode != 0:
            raise Skip(f"cannot create a network namespace (`ip netns add`): "
                       f"{probe.stderr.strip()}")
        self.created.append(self.hub)
        nft_probe = run(["ip", "netns", "exec", self.hub, "nft", "list", "tables"], check=False)
        if nft_probe.returncode != 0:
            raise Skip(f"nft does not work in a namespace here: {nft_probe.stderr.strip()}")
        run(["ip", "-n", self.hub, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.hub, "link", "set", "br0", "up"])
        run(["ip", "-n", self.hub, "link", "set", "lo", "up"])
        for n, ns in self.ns.items():
            run(["ip", "netns", "add", ns])
            self.created.append(ns)
            run(["ip", "link", "add", self.host_if[n], "netns", ns, "type", "veth",
                 "peer", "name", self.port_if[n], "netns", self.hub])
            run(["ip", "-n", self.hub, "link", "set", self.port_if[n], "master", "br0"])
            run(["ip", "-n", self.hub, "link", "set", self.port_if[n], "up"])
            run(["ip", "-n", ns, "link", "set", "lo", "up"])
            run(["ip", "-n", ns, "addr", "add", f"{self.address(n)}/24", "dev",
                 self.host_if[n]])
            run(["ip", "-n", ns, "link", "set", self.host_if[n], "up"])
        # Nothing may leave the lab: the hosts must have no route but their /24.
        for n, ns in self.ns.items():
            routes = run(["ip", "-n", ns, "route", "show"]).stdout
            for line in routes.splitlines():
                if not line.startswith(f"{SUBNET}.0/24"):
                    raise HarnessError(f"unexpected route in {ns}: {line}")

    def nft(self, script: str) -> None:
        result = subprocess.run(["ip", "netns", "exec", self.hub, "nft", "-f", "-"],
                                input=script, text=True, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, timeout=20)
        if result.returncode != 0:
            raise HarnessError(f"nft failed in {self.hub}: {result.stderr.strip()}\n{script}")

    def cut(self, side_a: "list[int]", side_b: "list[int]") -> None:
        """Silently drops every frame the bridge would forward between the two sides."""
        a = ", ".join(f'"{self.port_if[n]}"' for n in side_a)
        b = ", ".join(f'"{self.port_if[n]}"' for n in side_b)
        self.nft(f"""
table bridge {NFT_TABLE} {{
  chain forward {{
    type filter hook forward priority 0; policy accept;
    iifname {{ {a} }} oifname {{ {b} }} counter drop
    iifname {{ {b} }} oifname {{ {a} }} counter drop
  }}
}}
""")
        self.cut_active = True

    def drops(self) -> str:
        if not self.cut_active:
            return "no cut"
        out = run(["ip", "netns", "exec", self.hub, "nft", "list", "table", "bridge",
                   NFT_TABLE], check=False).stdout
        return "; ".join(m.group(0) for m in re.finditer(r"packets \d+ bytes \d+", out))

    def heal(self) -> None:
        self.nft(f"delete table bridge {NFT_TABLE}\n")
        self.cut_active = False

    def destroy(self) -> None:
        delete_namespaces(self.created)

    def leftovers(self) -> "list[str]":
        listing = run(["ip", "netns", "list"], check=False).stdout
        mine = set(self.ns.values()) | {self.hub}
        return [line.split()[0] for line in listing.splitlines()
                if line.split() and line.split()[0] in mine]


def requirements() -> None:
    if sys.platform != "linux":
        raise Skip("network namespaces need Linux")
    if os.geteuid() != 0:
        raise Skip("needs root to create network namespaces, veths and nftables rules "
                   "(run as root, e.g. `sudo ctest -R partition`)")
    missing = [tool for tool in ("ip", "nft") if shutil.which(tool) is None]
    if missing:
        raise Skip(f"missing {', '.join(missing)} (Debian packages iproute2, nftables; "
                   "scripts/setup.sh installs them)")


class SideWatch:
    """Samples one side of the partition; records any sample breaking the side's invariants."""

    def __init__(self, cluster: Cluster, nodes: "list[Node]", others: "list[Node]",
                 expect: Node, keeps: bool):
        self.cluster = cluster
        self.nodes = nodes
        self.others = others
        self.expect = expect
        self.keeps = keeps          # this side holds the old leader: it must never change
        self.violations: "list[str]" = []
        self.samples = 0

    def check(self) -> Any:
        views = statuses(self.nodes)
        self.samples += 1
        problem = split_brain(views)
        claims = [name for name, v in views.items() if v.get("role") == "leader"]
        if len(claims) > 1:
            problem = f"two leaders on one side: {claims} ({views})"
        if problem:
            self.violations.append(problem)
        if self.keeps:
            lost = {name: v for name, v in views.items() if v.get("leader") != self.expect.id}
            if lost:
                self.violations.append(f"side of {self.expect.name} lost its leader: {lost}")
        leader, why = agreement(views, self.nodes)
        if leader is None:
            return why
        if leader is not self.expect:
            return f"side agrees on {leader.name}, expected {self.expect.name}"
        for node in self.nodes:
            view = node.peers(timeout=2.0)
            for other in self.others:
                state = next((p.get("state") for p in view.get("peers", [])
                              if p.get("id") == other.id), None)
                if state != "down":
                    return f"{node.name} sees {other.name} as {state}, not down yet"
        return True

    def assert_clean(self, what: str) -> None:
        if self.violations:
            raise HarnessError(f"{what}: {len(self.violations)} bad sample(s) of "
                               f"{self.samples}; first: {self.violations[0]}\n"
                               f"{self.cluster.describe()}")


def scenario_partition(cluster: Cluster) -> None:
    """Split 2 | 3 twice (old leader first on the small side, then on the big side), heal each
    time: each side converges on its own leader, and after the heal the higher-ranked of the two
    leaders is the only one left, agreed by all five."""
    requirements()
    remove_stale_namespaces(NS_PREFIX)
    lab = Lab()

    def cleanup() -> None:
        cluster.shutdown()
        lab.destroy()

    atexit.register(cleanup)
    try:
        lab.build()
        print(f"  lab: hub {lab.hub}, hosts {', '.join(lab.ns.values())}", flush=True)
        nodes: "dict[int, Node]" = {}
        for n in range(1, 6):
            nodes[n] = cluster.node(
                f"n{n}", host=lab.address(n), port=PORT, node_id=f"n{n}",
                priority=PRIORITIES[n], leader=(n == 1),
                bootstrap=None if n == 1 else (lab.address(1), PORT),
                prefix=["ip", "netns", "exec", lab.ns[n]])
        members = list(nodes.values())
        elapsed = cluster.wait_mesh(members, timeout=SETUP_TIMEOUT_S, what="set-up mesh")
        cluster.figure("set-up mesh of 5 across namespaces", elapsed)

        def all_agree(expect: Node) -> Any:
            def check() -> Any:
                views = statuses(members)
                problem = split_brain(views)
                if problem:
                    safety.append(problem)
                leader, why = agreement(views, members)
                if leader is None:
                    return why
                return True if leader is expect else \
                    f"all agree on {leader.name}, expected {expect.name}"
            return check

        safety: "list[str]" = []
        wait_until(all_agree(nodes[1]), SETUP_TIMEOUT_S, what="all five to follow n1",
                   describe=cluster.describe)

        rounds = [
            ("round 1", [1, 2], [3, 4, 5]),
            ("round 2", [3, 4, 5], [1, 2]),
        ]
        for label, keep_side, new_side in rounds:
            side_keep = [nodes[i] for i in keep_side]
            side_new = [nodes[i] for i in new_side]
            old, why = agreement(statuses(members), members)
            if old is None or old not in side_keep:
                raise HarnessError(f"{label}: expected one agreed leader among "
                                   f"{[n.name for n in side_keep]}: {why or old.name}")
            elected = max(side_new, key=rank_key)
            winner = max([old, elected], key=rank_key)
            print(f"  {label}: cut {{{','.join(n.name for n in side_keep)}}} | "
                  f"{{{','.join(n.name for n in side_new)}}}; {old.name} leads; expect "
                  f"{elected.name} on the other side, {winner.name} after the heal", flush=True)

            watch_keep = SideWatch(cluster, side_keep, side_new, old, keeps=True)
            watch_new = SideWatch(cluster, side_new, side_keep, elected, keeps=False)
            t0 = now()
            lab.cut(keep_side, new_side)
            done: "dict[str, float]" = {}

            def both_sides() -> Any:
                for tag, watch in (("keep", watch_keep), ("new", watch_new)):
                    if tag in done:
                        watch.check()  # keep sampling its invariants
                        continue
                    verdict = watch.check()
                    if verdict is not True:
                        return f"{tag} side: {verdict}"
                    done[tag] = now() - t0
                return True

            wait_until(both_sides, SPLIT_LIMIT_S + 5.0, poll=0.01, since=t0,
                       what=f"{label}: both sides to converge", describe=cluster.describe)
            cluster.check_limit(f"{label}: cut -> {old.name}'s side settled (keeps it, sees "
                                f"the others down)", done["keep"], SPLIT_LIMIT_S)
            cluster.check_limit(f"{label}: cut -> other side elected {elected.name}",
                                done["new"], SPLIT_LIMIT_S)
            def split_stable() -> Any:
                for tag, watch in (("keep", watch_keep), ("new", watch_new)):
                    verdict = watch.check()
                    if verdict is not True:
                        return f"{tag} side: {verdict}"
                return True

            hold_for(split_stable, SPLIT_HOLD_S, what=f"{label}: split stable",
                     describe=cluster.describe)
            watch_keep.assert_clean(f"{label}: side of {old.name}")
            watch_new.assert_clean(f"{label}: side of {elected.name}")
            epochs = statuses([old, elected])
            print(f"  {label}: during the split {old.name} leads at epoch "
                  f"{epochs[old.name].get('epoch')}, {elected.name} at epoch "
                  f"{epochs[elected.name].get('epoch')}; dropped by the cut: {lab.drops()}",
                  flush=True)

            t1 = now()
            lab.heal()
            elapsed = wait_until(all_agree(winner), HEAL_LIMIT_S + 5.0, poll=0.01, since=t1,
                                 what=f"{label}: all five to agree on {winner.name} after the "
                                      "heal", describe=cluster.describe)
            cluster.check_limit(f"{label}: heal -> all five agree on {winner.name}", elapsed,
                                HEAL_LIMIT_S)
            mesh = cluster.wait_mesh(members, timeout=HEAL_LIMIT_S, since=t1,
                                     what=f"{label}: mesh after heal")
            cluster.figure(f"{label}: heal -> full mesh again", mesh)
            hold_for(all_agree(winner), SETTLED_HOLD_S, what=f"{label}: one leader after heal",
                     describe=cluster.describe)
            if safety:
                raise HarnessError(f"{label}: split brain after the heal: {safety[0]}\n"
                                   f"{cluster.describe()}")
            final = statuses(members)
            print(f"  {label}: after the heal all follow {winner.name} at epoch "
                  f"{final[winner.name].get('epoch')}", flush=True)
    finally:
        failing = sys.exc_info()[0] is not None
        cleanup()
        left = lab.leftovers()
        if left:
            message = f"namespaces left behind after clean-up: {left}"
            if failing:
                print(f"  {message}", flush=True)
            else:
                raise HarnessError(message)


SCENARIOS = [
    ("1 partition: split 2|3, converge per side, heal to one leader", scenario_partition),
]

if __name__ == "__main__":
    sys.exit(run_main("partition", SCENARIOS))
