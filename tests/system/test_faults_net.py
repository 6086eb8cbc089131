#!/usr/bin/env python3
"""Network faults system test: what a node must not trust. Real `node` processes over loopback,
and raw TCP clients that speak the wire protocol (4-byte big-endian length + one JSON object).

  4 fd exhaustion: a node with 64 file descriptors flooded with connections neither spins nor
    floods its log, keeps its existing peer, and lets a new peer join once the flood ends.
  5 forged RTT: a HEARTBEAT echoing a stamp the node never sent yields no RTT sample, so the
    election after the leader dies is not slowed down by it.
  6 membership bounds: gossip of thousands of made-up members and a flood of HELLOs with unique
    ids leave at most --max-members entries, and those never reached are forgotten.
  7 duplicate id: a second live process with an id already in use is refused at both ends, does
    not flap leadership, does not spin; a genuine kill -9 and restart still reconnects at once.

Run: python3 tests/system/test_faults_net.py --node build/apps/node [--only NAME] [--keep-logs]
"""

from __future__ import annotations

import json
import os
import random
import socket
import struct
import sys
import threading
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HOST, Cluster, HarnessError, Node, hold_for, now,  # noqa: E402
                     run_main, state_of, wait_until)

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SETUP_TIMEOUT_S = 5.0

FD_LIMIT = 64
FLOOD_S = 3.0                 # scenario 4: how long the connection flood lasts
FLOOD_CONNECTIONS = 2000      # scenario 4: connections opened (and held) in the flood
FLOOD_ADDRESSES = 10          # scenario 4: loopback source addresses (127.0.0.2 ...) they come from
FLOOD_LOG_LIMIT = 50          # scenario 4: log lines the flooded node may write meanwhile
FLOOD_CPU_LIMIT = 0.30        # scenario 4: share of one core the flooded node may use
JOIN_AFTER_FLOOD_S = 5.0      # scenario 4: a new peer joins within this after the flood

NEW_LEADER_LIMIT_S = 3.0      # scenario 5: control run takes ~0.3 s; a forged RTT made it 8 s+
RTT_LIMIT_MS = 1000.0         # scenario 5: no forged sample may show up as the probe's RTT

MAX_MEMBERS = 64              # scenario 6: --max-members of the node under test
FORGET_DOWN_MS = 2000         # scenario 6: --forget-down-after-ms of the node under test
GOSSIP_FRAMES = 20
GOSSIP_MEMBERS = 1024
HELLO_FLOOD = 150
FORGET_LIMIT_S = 20.0         # scenario 6: made-up members are all forgotten within this
IDLE_CPU_LIMIT = 0.10         # scenarios 6, 7: share of one core used once things settle

DUPLICATE_WATCH_S = 3.0       # scenario 7: how long the duplicate is watched
DUPLICATE_LOG_LIMIT = 30      # scenario 7: log lines the refused duplicate may write meanwhile
RESTART_UP_LIMIT_S = 3.0      # scenario 7: a genuine restart is up again within this


# ---- raw protocol client -------------------------------------------------------------------------


def frame(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return struct.pack(">I", len(body)) + body


def handshake(node_id: str, advertised_port: int, priority: int = -1000) -> dict:
    return {"type": "HELLO", "from": node_id, "priority": priority,
            "incarnation": random.getrandbits(63) + 1,
            "advertised": {"host": HOST, "port": advertised_port}, "version": 4,
            "cluster": "chorus", "content_port": 0}


def closed_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class RawPeer:
    """A TCP client that completes a handshake and can send frames; its reads are on demand."""

    def __init__(self, node: Node, node_id: str, advertised_port: int):
        self.id = node_id
        self.sock = socket.create_connection((HOST, node.port), timeout=3.0)
        self.buffer = b""
        self.sock.sendall(frame(handshake(node_id, advertised_port)))

    def read_message(self, timeout: float = 3.0) -> dict:
        deadline = now() + timeout
        while True:
            if len(self.buffer) >= 4:
                (length,) = struct.unpack(">I", self.buffer[:4])
                if len(self.buffer) >= 4 + length:
                    body, self.buffer = self.buffer[4:4 + length], self.buffer[4 + length:]
                    return json.loads(body)
            remaining = deadline - now()
            if remaining <= 0:
                raise HarnessError(f"{self.id}: no frame within {timeout} s")
            self.sock.settimeout(remaining)
            chunk = self.sock.recv(65536)
            if not chunk:
                raise HarnessError(f"{self.id}: connection closed by the node")
            self.buffer += chunk

    def first_reply(self) -> dict:
        """The node's answer to our handshake: HELLO, RECONNECT or HELLO_REJECT."""
        return self.read_message()

    def send(self, message: dict) -> None:
        self.sock.sendall(frame(message))

    def heartbeat(self, echo_us: int = 0) -> None:
        self.send({"type": "HEARTBEAT", "from": self.id, "sent_us": int(now() * 1e6),
                   "echo_us": echo_us, "echo_hold_us": 0})

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass


class KeepAlive:
    """Sends a heartbeat on each raw peer every 100 ms from a thread, so they stay up."""

    def __init__(self, peers: "list[RawPeer]"):
        self.peers = peers
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self.stop.wait(0.1):
            for peer in self.peers:
                try:
                    peer.heartbeat()
                except OSError:
                    pass

    def __enter__(self) -> "KeepAlive":
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=2)


# ---- process measurements ----------------------------------------------------------------------


def cpu_seconds(node: Node) -> float:
    """User + system CPU time the node's process has used so far."""
    fields = Path(f"/proc/{node.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def log_lines(node: Node) -> int:
    return len(node.stderr_text().splitlines())


class Window:
    """CPU share and log lines of a node over a span of wall time."""

    def __init__(self, node: Node):
        self.node = node
        self.t0, self.cpu0, self.lines0 = now(), cpu_seconds(node), log_lines(node)

    def cpu_share(self) -> float:
        return (cpu_seconds(self.node) - self.cpu0) / max(now() - self.t0, 1e-3)

    def new_lines(self) -> int:
        return log_lines(self.node) - self.lines0


def check_at_most(cluster: Cluster, label: str, value: float, limit: float, unit: str) -> None:
    cluster.figure(label, value, unit, limit)
    if value > limit:
        raise HarnessError(f"{label}: {value:.3f} {unit} exceeds {limit} {unit}\n"
                           + cluster.describe())


def known_ids(node: Node) -> "list[str]":
    return [p.get("id") for p in node.peers().get("peers", [])]


# ---- scenarios ---------------------------------------------------------------------------------


def scenario_fd_exhaustion(cluster: Cluster) -> None:
    """4. A runs with 64 fds; a client opens 2000 connections to it from 10 loopback addresses
    and holds them for 3 s: A's descriptors run out (A keeps at most 16 unidentified connections
    an address and 64 in all, so one address alone cannot do it), yet it writes under 50 log
    lines and uses under 30 % of a core meanwhile, B sees it up throughout, and once the flood
    ends C joins."""
    a = cluster.node("A", leader=True, log_level="info",
                     prefix=["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--"])
    b = cluster.node("B", bootstrap=a)
    cluster.wait_mesh([a, b], timeout=SETUP_TIMEOUT_S, what="set-up mesh")
    timeouts_before = b.debug().get("heartbeat_timeouts")

    window = Window(a)
    flood: "list[socket.socket]" = []
    try:
        deadline = now() + FLOOD_S
        # Every connection is held open, so that A's descriptor table stays full.
        while len(flood) < FLOOD_CONNECTIONS and now() < deadline:
            sock = socket.socket()
            sock.bind((f"127.0.0.{2 + len(flood) % FLOOD_ADDRESSES}", 0))
            sock.setblocking(False)
            sock.connect_ex((HOST, a.port))
            flood.append(sock)
        hold_for(lambda: state_of(b.peers(), a) == "up" or "B does not see A up",
                 max(0.0, deadline - now()), what="B seeing A up during the flood",
                 describe=cluster.describe)
        cpu, lines = window.cpu_share(), window.new_lines()
    finally:
        for sock in flood:
            sock.close()
    if "Too many open files" not in a.stderr_text():
        raise HarnessError("the flood never exhausted A's descriptors\n" + cluster.describe())
    check_at_most(cluster, "A's log lines during the flood", lines, FLOOD_LOG_LIMIT, "lines")
    check_at_most(cluster, "A's CPU share during the flood", cpu, FLOOD_CPU_LIMIT, "cores")
    if state_of(b.peers(), a) != "up":
        raise HarnessError("B lost A during the flood\n" + cluster.describe())
    timeouts_after = b.debug().get("heartbeat_timeouts")
    if timeouts_after != timeouts_before:
        raise HarnessError(f"B timed A out during the flood ({timeouts_before} -> "
                           f"{timeouts_after})\n" + cluster.describe())

    t0 = now()
    c = cluster.node("C", bootstrap=a)
    elapsed = cluster.wait_mesh([a, b, c], timeout=JOIN_AFTER_FLOOD_S, since=t0,
                                what="C joining after the flood")
    cluster.figure("C joined after the flood", elapsed, limit=JOIN_AFTER_FLOOD_S)


def scenario_forged_rtt(cluster: Cluster) -> None:
    """5. A raw peer joins B and C and sends heartbeats echoing a stamp of 1 µs (an RTT the
    length of the node's uptime if believed). Its RTT stays unmeasured or small, and when leader
    A is killed B and C agree on a new leader within 3 s."""
    a = cluster.node("A", leader=True, priority=10)
    b = cluster.node("B", bootstrap=a)
    c = cluster.node("C", bootstrap=a)
    cluster.wait_mesh([a, b, c], timeout=SETUP_TIMEOUT_S, what="set-up mesh")
    probes = [RawPeer(node, f"zz-probe-{node.name}", closed_port()) for node in (b, c)]
    try:
        for probe in probes:
            if probe.first_reply().get("type") not in ("HELLO", "RECONNECT"):
                raise HarnessError(f"{probe.id} was not accepted")
        with KeepAlive(probes):
            for _ in range(5):
                for probe in probes:
                    probe.heartbeat(echo_us=1)
                    probe.heartbeat(echo_us=1 << 62)  # a stamp from the far future

            def probe_rtts() -> object:
                rtts = {}
                for node, probe in zip((b, c), probes):
                    rows = [p for p in node.peers()["peers"] if p["id"] == probe.id]
                    if not rows or rows[0]["state"] != "up":
                        return f"{probe.id} not up at {node.name}: {rows}"
                    rtts[probe.id] = rows[0]["rtt_ms"]
                bad = {k: v for k, v in rtts.items() if v is not None and v > RTT_LIMIT_MS}
                return f"forged RTTs believed: {bad}" if bad else True

            hold_for(probe_rtts, 1.0, what="probes up, with no forged RTT",
                     describe=cluster.describe)
            t0 = now()
            a.kill9()

            def new_leader() -> object:
                views = {n.name: n.status() for n in (b, c)}
                leaders = {v.get("leader") for v in views.values()}
                roles = sorted(v.get("role") for v in views.values())
                if len(leaders) == 1 and None not in leaders and a.id not in leaders \
                        and roles == ["follower", "leader"]:
                    return True
                return f"views: {views}"

            elapsed = wait_until(new_leader, NEW_LEADER_LIMIT_S + 8, since=t0,
                                 what="a new leader among B and C", describe=cluster.describe)
            check_at_most(cluster, "new leader after killing A", elapsed, NEW_LEADER_LIMIT_S, "s")
    finally:
        for probe in probes:
            probe.close()


def scenario_membership_bounds(cluster: Cluster) -> None:
    """6. A raw peer gossips 20 DISCOVERY frames of 1024 made-up members at a closed port to B:
    B never lists more than --max-members, forgets them all, and idles afterwards. Then 150 raw
    HELLOs with unique ids: those over the cap are refused with HELLO_REJECT, and the ones that
    were up are forgotten once down for --forget-down-after-ms."""
    a = cluster.node("A", leader=True)
    b = cluster.node("B", bootstrap=a, extra_args=["--max-members", str(MAX_MEMBERS),
                                                   "--forget-down-after-ms", str(FORGET_DOWN_MS)])
    cluster.wait_mesh([a, b], timeout=SETUP_TIMEOUT_S, what="set-up mesh")
    dead = closed_port()
    gossip = RawPeer(b, "zz-gossip", dead)
    try:
        gossip.first_reply()
        for f in range(GOSSIP_FRAMES):
            members = [{"id": f"fake-{f}-{i}", "priority": 0,
                        "endpoint": {"host": HOST, "port": dead}} for i in range(GOSSIP_MEMBERS)]
            gossip.send({"type": "DISCOVERY", "from": "zz-gossip", "members": members})
        gossip.send({"type": "LEAVE", "from": "zz-gossip"})
    finally:
        gossip.close()

    most_listed = [0]

    def forgotten() -> object:
        ids = known_ids(b)
        most_listed[0] = max(most_listed[0], len(ids))
        if len(ids) > MAX_MEMBERS:
            return f"B lists {len(ids)} members, over the cap of {MAX_MEMBERS}"
        fakes = [i for i in ids if i.startswith("fake-")]
        return True if not fakes else f"{len(fakes)} made-up members still listed"

    elapsed = wait_until(forgotten, FORGET_LIMIT_S, poll=0.2, what="made-up members forgotten",
                         describe=cluster.describe)
    cluster.figure("made-up members forgotten", elapsed, limit=FORGET_LIMIT_S)
    check_at_most(cluster, "most members B listed", most_listed[0], MAX_MEMBERS, "members")
    if "membership is full" not in b.stderr_text():
        raise HarnessError("B never logged that its membership was full\n" + cluster.describe())

    refused = 0
    for i in range(HELLO_FLOOD):
        peer = RawPeer(b, f"hello-flood-{i}", dead)
        try:
            reply = peer.first_reply()
            if reply.get("type") == "HELLO_REJECT":
                refused += 1
                if "full" not in reply.get("reason", ""):
                    raise HarnessError(f"unexpected refusal reason: {reply}")
        finally:
            peer.close()
        if i % 25 == 0 and len(known_ids(b)) > MAX_MEMBERS:
            raise HarnessError(f"B lists more than {MAX_MEMBERS} members\n" + cluster.describe())
    cluster.figure("HELLOs refused over the cap", refused, "hellos")
    if refused == 0:
        raise HarnessError(f"none of {HELLO_FLOOD} HELLOs was refused\n" + cluster.describe())

    def flood_forgotten() -> object:
        left = [i for i in known_ids(b) if i.startswith("hello-flood-")]
        return True if not left else f"{len(left)} HELLO-flood peers still listed"

    elapsed = wait_until(flood_forgotten, FORGET_LIMIT_S, poll=0.2,
                         what="HELLO-flood peers forgotten", describe=cluster.describe)
    cluster.figure("HELLO-flood peers forgotten", elapsed, limit=FORGET_LIMIT_S)
    window = Window(b)
    hold_for(lambda: state_of(b.peers(), a) == "up" or "A not up at B", 1.5,
             what="B idle with A up")
    check_at_most(cluster, "B's CPU share once idle", window.cpu_share(), IDLE_CPU_LIMIT, "cores")


def scenario_duplicate_id(cluster: Cluster) -> None:
    """7. B runs as id dup-x; X starts with the same id: A and X both log that the id is in use
    by a live process at B's address, A keeps B and its leadership (epoch unchanged), X neither
    spins nor floods its log. Then B is killed (kill -9) and restarted on its port: up again at A
    within 3 s."""
    a = cluster.node("A", leader=True)
    b = cluster.node("B", bootstrap=a, node_id="dup-x", priority=5)
    cluster.wait_mesh([a, b], timeout=SETUP_TIMEOUT_S, what="set-up mesh")
    epoch = a.status().get("epoch")
    b_address = b.address

    x = cluster.node("X", bootstrap=a, node_id="dup-x", priority=5, log_level="info")
    window = Window(x)
    expected = f"node id dup-x is already in use by a live process at {b_address}"

    def a_keeps_b() -> object:
        view = a.peers()
        rows = [p for p in view["peers"] if p["id"] == "dup-x"]
        if len(rows) != 1 or rows[0]["state"] != "up" or rows[0]["address"] != b_address:
            return f"A lists dup-x as {rows}"
        if view.get("epoch") != epoch:
            return f"A's epoch moved from {epoch} to {view.get('epoch')}"
        return True

    hold_for(a_keeps_b, DUPLICATE_WATCH_S, what="A keeping B as dup-x", describe=cluster.describe)
    for node in (a, x):
        if expected not in node.stderr_text():
            raise HarnessError(f"{node.name}'s log never said {expected!r}\n" + cluster.describe())
    check_at_most(cluster, "X's log lines while refused", window.new_lines(), DUPLICATE_LOG_LIMIT,
                  "lines")
    check_at_most(cluster, "X's CPU share while refused", window.cpu_share(), IDLE_CPU_LIMIT,
                  "cores")
    x.kill9()

    b.kill9()
    t0 = now()
    b.restart()
    elapsed = wait_until(lambda: state_of(a.peers(), b) == "up" or "B not up at A",
                         RESTART_UP_LIMIT_S + 3, since=t0, what="B up again at A",
                         describe=cluster.describe)
    cluster.figure("restarted B up again at A", elapsed, limit=RESTART_UP_LIMIT_S)
    if elapsed > RESTART_UP_LIMIT_S:
        raise HarnessError(f"restart took {elapsed:.2f} s\n" + cluster.describe())


SCENARIOS = [
    ("4 fd exhaustion: a connection flood at 64 fds", scenario_fd_exhaustion),
    ("5 forged RTT: a heartbeat echoing a stamp never sent", scenario_forged_rtt),
    ("6 membership bounds: gossip and HELLO floods", scenario_membership_bounds),
    ("7 duplicate id: a second live process is refused", scenario_duplicate_id),
]

if __name__ == "__main__":
    sys.exit(run_main("network faults", SCENARIOS))
