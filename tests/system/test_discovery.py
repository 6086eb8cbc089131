#!/usr/bin/env python3
"""System test of LAN discovery (mDNS/DNS-SD through avahi-daemon, docs/discovery.md).

    python3 tests/system/test_discovery.py --node build/apps/node [--keep-logs]

lan: (root only; skips when namespaces cannot be made or avahi-daemon is missing) hosts on a
     bridge, each a network namespace with its own avahi-daemon and D-Bus bus (tests/system/lan.py).
     Three nodes (h1 with the repo's tracks/) started with no address find each other and agree on
     one leader; play -> all three playing in sync; kill -9 the leader -> the other two elect and
     keep playing; the old leader restarted with no address rejoins and plays in sync. Meanwhile
     a node of another cluster name (h4) is never a member, dials nobody and is dialled by nobody,
     and a node started with --no-mdns (h5) stays alone. Last, h2's avahi-daemon is killed and
     started again: h2 announces itself to the new daemon without being restarted. Two nodes
     whose ids make the same service name both announce themselves (one under avahi's
     alternative name) and find each other. A node that exits is forgotten by the other daemons.
     A node started before its host's avahi-daemon warns once, then announces itself when the
     daemon appears. Keyed: two nodes holding one key find each other and form a cluster, while
     a node of the same cluster name with another key is announced with its own key id and is
     neither dialled nor dials (no handshake refused anywhere).
no_daemon: (any user) a node whose D-Bus address leads nowhere warns once that avahi-daemon is
     unreachable, leads itself, and a second such node still joins it through --bootstrap.

"In sync" is judged from each node's report of which frame it plays at which instant of the
machine's steady clock (shared by the namespaces): the instant frame 0 is heard, from every node,
within SYNC_LIMIT_US.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    Cluster, HarnessError, Node, agreement, gen_key, now, one_agreed_leader, run_main,
    statuses, thread_names, wait_until,
)

REPO = Path(__file__).resolve().parents[2]
TRACKS = REPO / "tracks"
PORT = 7600
RATE = 48_000
SYNC_LIMIT_US = 1_000
FIND_LIMIT_S = 4.0       # started together with no address -> one agreed leader
PLAY_LIMIT_S = 6.0       # play -> all playing, in sync (fetching the track included)
FAILOVER_LIMIT_S = 4.0
REJOIN_LIMIT_S = 6.0
UNREACHABLE_WARNING = "mDNS: avahi-daemon is not running"


def heard_zero_us(view: Any) -> "float | None":
    """The steady-clock instant (µs) at which this node plays (or played) frame 0 of its track."""
    engine = view.get("engine") or {}
    frames = engine.get("position_frames", view.get("position_frames"))
    local_us = engine.get("position_local_us", view.get("position_local_us"))
    if frames is None or local_us is None:
        return None
    return float(local_us) - float(frames) * 1e6 / RATE


def in_sync(nodes: "list[Node]", limit_us: float = SYNC_LIMIT_US):
    """A wait_until check: every node playing, its state (and a follower's clock) synced, frame 0
    heard within the limit on all of them."""
    def check() -> object:
        views = statuses(nodes)
        problems = []
        zeros = {}
        for name, view in views.items():
            clock = view.get("clock") or {}
            if view.get("state") != "playing":
                problems.append(f"{name}: {view.get('state')}")
            elif not view.get("state_synced") or (clock.get("following") and not clock.get("synced")):
                problems.append(f"{name}: clock.synced={clock.get('synced')} "
                                f"state_synced={view.get('state_synced')}")
            else:
                zero = heard_zero_us(view)
                if zero is None:
                    problems.append(f"{name}: no position in its status")
                else:
                    zeros[name] = zero
        if problems:
            return "; ".join(problems)
        spread = max(zeros.values()) - min(zeros.values())
        return True if spread <= limit_us else f"frame 0 heard {spread:.0f} µs apart: {zeros}"
    return check


def require_ok(node: Node, command: str) -> None:
    """Runs a command whose answer is a text line starting with "ok"."""
    seen = len(node.other_output)
    node.send(command)
    node.command_json("status --json")  # answered after the command: its line came first
    answer = node.other_output[seen:]
    if not answer or not answer[0].startswith("ok"):
        raise HarnessError(f"`{command}` on {node.name} answered {answer!r}")


def peer_ids(node: Node) -> "set[str]":
    return {p.get("id") for p in node.peers().get("peers", []) if p.get("state") == "up"}


LOUD_LEVELS = (" warning ", " error ", " critical ")  # how a log line names its level


def refused_handshake(node: Node) -> Optional[str]:
    """The first line in which `node` logged a refused handshake (warnings and errors: a refusal
    by either end), or None. A dial that meets "Connection refused" (a peer restarting) is logged
    at debug level and is not one."""
    for line in node.stderr_text().splitlines():
        if "refus" in line and any(level in line for level in LOUD_LEVELS):
            return line
    return None

def scenario_lan(cluster: Cluster) -> None:
    from lan import Lan  # noqa: E402  (raises Skip when namespaces or avahi-daemon are missing)

    started = now()
    # IPv6 on too: every service also resolves to a link-local IPv6 address, and IPv4 must win.
    with Lan(cluster.workdir, ipv6=True) as lan:
        hosts = {name: lan.add_host(name) for name in ("h1", "h2", "h3", "h4", "h5")}
        cluster.figure("LAN of 5 hosts with their avahi-daemons up", now() - started)

        def member(name: str, **kwargs: Any) -> Node:
            host = hosts[name]
            args = ["--output", f"file:{cluster.workdir / (name + '.raw')}"]
            if name == "h1":
                args += ["--tracks", str(TRACKS)]
            return cluster.node(name, start=False, host=host.address, port=PORT, node_id=name,
                                prefix=host.prefix(), mdns=kwargs.pop("mdns", True),
                                extra_args=args, **kwargs)

        trio = [member("h1"), member("h2"), member("h3")]
        stranger = member("h4", cluster_name="elsewhere")
        loner = member("h5", mdns=False)
        t0 = now()
        for node in trio + [stranger, loner]:
            node.launch()
        for node in trio + [stranger, loner]:
            node.identify()
        agreed: list = []
        found = wait_until(one_agreed_leader(trio, agreed), FIND_LIMIT_S,
                           what="three nodes with no address agree on a leader", since=t0)
        cluster.figure("power-on to one agreed leader (3 nodes, mDNS)", found)
        wait_until(lambda: all(len(peer_ids(n)) == 2 for n in trio) or
                   {n.name: sorted(peer_ids(n)) for n in trio}, 3.0, what="a full mesh")
        # Avahi's poll thread is named like the node's own, for top -H, ps -L and gdb.
        unnamed = [n.name for n in trio if "chorus-mdns" not in thread_names(n.pid)]
        if unnamed:
            raise HarnessError(f"no thread named chorus-mdns in {unnamed}: "
                               f"{sorted(thread_names(trio[0].pid))}")
        addresses = {p.get("address") for n in trio for p in n.peers().get("peers", [])}
        if not all(a.startswith("10.78.0.") for a in addresses):
            raise HarnessError(f"members reached at addresses other than IPv4 ones: {addresses}")

        require_ok(trio[0], "play 1")
        played = now()
        wait_until(in_sync(trio), PLAY_LIMIT_S, what="all three playing in sync", since=played)
        cluster.figure("play to all three in sync", now() - played)

        leader = agreed[-1]
        leader.kill9()
        survivors = [n for n in trio if n is not leader]
        killed = now()
        agreed.clear()
        wait_until(one_agreed_leader(survivors, agreed), FAILOVER_LIMIT_S,
                   what="the other two elect a leader", since=killed)
        wait_until(in_sync(survivors), FAILOVER_LIMIT_S, what="the other two still in sync")
        cluster.figure("leader killed to the other two in sync under a new leader", now() - killed)

        leader.restart()  # no address given, as at first
        back = now()
        wait_until(lambda: agreement(statuses(trio), trio)[0] is not None or
                   agreement(statuses(trio), trio)[1], REJOIN_LIMIT_S,
                   what="the old leader rejoins", since=back)
        wait_until(in_sync(trio), REJOIN_LIMIT_S, what="all three in sync again")
        cluster.figure("old leader restarted to all three in sync", now() - back)

        # The other cluster's node was announced all along: nobody dialled it, it dialled nobody.
        trio_ids = {n.id for n in trio}
        if peer_ids(stranger) or any(stranger.id in peer_ids(n) for n in trio):
            raise HarnessError(f"h4 (cluster 'elsewhere') is a member: {peer_ids(stranger)}")
        if peer_ids(loner):
            raise HarnessError(f"h5 (--no-mdns) found peers: {peer_ids(loner)}")
        if loner.status().get("role") != "leader":
            raise HarnessError("h5 (--no-mdns) does not lead itself")
        for node in trio + [stranger, loner]:
            line = refused_handshake(node)
            if line:
                raise HarnessError(f"{node.name} took part in a refused handshake: {line}")
            if UNREACHABLE_WARNING in node.stderr_text():
                raise HarnessError(f"{node.name} did not reach its avahi-daemon")
        print(f"  h4 and h5 stayed alone; members {sorted(trio_ids)}", flush=True)

        # h2's avahi-daemon dies and comes back: h2 announces itself to the new one, unasked.
        h2, node = hosts["h2"], trio[1]
        announced = node.stderr_text().count("mDNS: announced as")
        h2.stop_avahi()
        h2.start_avahi()
        restarted = now()
        wait_until(lambda: node.stderr_text().count("mDNS: announced as") > announced or
                   node.stderr_tail(3), 5.0, what="h2 announces itself to its new avahi-daemon")
        listing = h2.run(["avahi-browse", "--parsable", "--terminate", "--no-db-lookup",
                          "_chorus._tcp"]).stdout
        if not any(line.split(";")[3:4] == ["h2"] for line in listing.splitlines()):
            raise HarnessError(f"h2's new avahi-daemon does not list h2: {listing!r}")
        cluster.figure("avahi-daemon restarted to h2 announced again", now() - restarted)

        # A node that exits withdraws its announcement: the others' daemons forget it.
        def listed_on(host: Any) -> "set[str]":
            listing = host.run(["avahi-browse", "--parsable", "--terminate", "--no-db-lookup",
                                "_chorus._tcp"]).stdout
            return {line.split(";")[3] for line in listing.splitlines() if line.count(";") >= 3}
        if "h1" not in listed_on(hosts["h3"]):
            raise HarnessError(f"h3's avahi-daemon does not list h1: {listed_on(hosts['h3'])}")
        trio[0].exit()
        left = now()
        wait_until(lambda: "h1" not in listed_on(hosts["h3"]) or "h1 still listed", 3.0,
                   what="h1's announcement withdrawn when it exits")
        cluster.figure("h1 exits to its announcement gone from h3's daemon", now() - left)

        # Two ids alike in their first 63 bytes make one service name (a DNS label): the second
        # to probe takes avahi's alternative name, and the two still find each other.
        stem = "twin-" + "x" * 58
        twins = [cluster.node(f"twin{n}", start=False, host=hosts[h].address, port=PORT + 1,
                              node_id=f"{stem}-{n}", prefix=hosts[h].prefix(), mdns=True,
                              cluster_name="twins", extra_args=["--output", "null"])
                 for n, h in ((1, "h4"), (2, "h5"))]
        for twin in twins:
            twin.launch()
        for twin in twins:
            twin.identify()
        wait_until(one_agreed_leader(twins, []), FIND_LIMIT_S, what="twins find each other")
        def both_announced() -> object:
            names = [line for twin in twins for line in twin.stderr_text().splitlines()
                     if "mDNS: announced as" in line]
            return (len(names) == 2 and any(" #2'" in line for line in names)) or str(names)
        wait_until(both_announced, 3.0, what="one twin announced under the alternative name")

        # A node started while its host's bus has no avahi-daemon on it announces itself once the
        # daemon appears.
        h4 = hosts["h4"]
        h4.stop_avahi()
        late = cluster.node("late", host=h4.address, port=PORT + 2, node_id="late",
                            prefix=h4.prefix(), mdns=True, cluster_name="late",
                            extra_args=["--output", "null"])
        wait_until(lambda: UNREACHABLE_WARNING in late.stderr_text() or late.stderr_tail(3), 3.0,
                   what="a node without its avahi-daemon says so")
        h4.start_avahi()
        appeared = now()
        wait_until(lambda: "mDNS: announced as 'late'" in late.stderr_text() or late.stderr_tail(3),
                   5.0, what="the node announces itself once avahi-daemon appears")
        cluster.figure("avahi-daemon started to the waiting node announced", now() - appeared)
        if late.stderr_text().count(UNREACHABLE_WARNING) != 1:
            raise HarnessError("the node warned more than once that avahi-daemon is not running")
        keyed_step(cluster, hosts)
        cluster.shutdown()
    leftovers = lan.leftovers()
    if leftovers:
        raise HarnessError(f"namespaces left behind: {leftovers}")
    cluster.check_limit("whole LAN scenario", now() - started, 45.0)


def keyed_step(cluster: Cluster, hosts: "dict[str, Any]") -> None:
    """Two nodes with one key join each other; a third of the same cluster name with another
    key is skipped by its announced key id, so no handshake is ever tried and refused."""
    key_a, id_a = gen_key(cluster, "lan-a")
    key_b, id_b = gen_key(cluster, "lan-b")

    def keyed(name: str, host: str, key: Path) -> Node:
        return cluster.node(name, start=False, host=hosts[host].address, port=PORT + 3,
                            node_id=name, prefix=hosts[host].prefix(), mdns=True,
                            cluster_name="keyed",
                            extra_args=["--output", "null", "--key-file", str(key)])

    pair = [keyed("k1", "h4", key_a), keyed("k2", "h5", key_a)]
    other = keyed("k3", "h3", key_b)
    t0 = now()
    for node in pair + [other]:
        node.launch()
    for node in pair + [other]:
        node.identify()
    wait_until(one_agreed_leader(pair, []), FIND_LIMIT_S, what="two nodes of one key agree on a leader",
               since=t0)
    wait_until(lambda: all(len(peer_ids(n)) == 1 for n in pair) or
               {n.name: sorted(peer_ids(n)) for n in pair}, 3.0, what="the keyed pair linked")
    cluster.figure("power-on to one agreed leader (2 keyed nodes, mDNS)", now() - t0)

    # The pair may agree before both are announced (one finding the other is enough), so the
    # announcements are awaited: each node's own, with its key id, in h3's daemon.
    def announced_with_key_ids() -> object:
        listing = hosts["h3"].run(["avahi-browse", "--parsable", "--terminate", "--resolve",
                                   "--no-db-lookup", "_chorus._tcp"]).stdout
        announced = {line.split(";")[3]: line for line in listing.splitlines()
                     if line.startswith("=") and line.count(";") >= 9}
        expected = (("k1", id_a), ("k2", id_a), ("k3", id_b))
        wrong = {name: announced.get(name) for name, key_id in expected
                 if f'"key={key_id}"' not in announced.get(name, "")}
        return not wrong or f"not announced with their key ids: {wrong}"
    wait_until(announced_with_key_ids, 5.0, poll=0.2,
               what="the keyed nodes announced with their key ids")
    if peer_ids(other) or any(other.id in peer_ids(n) for n in pair):
        raise HarnessError(f"k3 (another key) is linked: {peer_ids(other)}")
    for node in pair + [other]:
        line = refused_handshake(node)
        if line:
            raise HarnessError(f"{node.name} took part in a refused handshake: {line}")
    print(f"  keyed pair linked; k3 (key {id_b}) stayed alone", flush=True)


def scenario_no_daemon(cluster: Cluster) -> None:
    nowhere = ["env", f"DBUS_SYSTEM_BUS_ADDRESS=unix:path={cluster.workdir / 'no-bus'}"]
    first = cluster.node("alone", prefix=nowhere, mdns=True)
    t0 = now()
    wait_until(lambda: first.status().get("role") == "leader" or first.status().get("role"), 4.0,
               what="a node without avahi-daemon leads itself", since=t0)
    second = cluster.node("joiner", prefix=nowhere, mdns=True, bootstrap=first)
    wait_until(one_agreed_leader([first, second], []), 4.0, what="--bootstrap still joins")
    for node in (first, second):
        count = node.stderr_text().count(UNREACHABLE_WARNING)
        if count != 1:
            raise HarnessError(f"{node.name} warned {count} times that avahi-daemon is unreachable")


if __name__ == "__main__":
    sys.exit(run_main("LAN discovery", [
        ("no_daemon", scenario_no_daemon),
        ("lan", scenario_lan),
    ]))
