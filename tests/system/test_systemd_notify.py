#!/usr/bin/env python3
"""systemd's notify protocol, as chorus-node.service uses it (docs/service.md): the test is the
service manager. It binds a Unix datagram socket, names it in NOTIFY_SOCKET (with WATCHDOG_USEC)
and starts a real --no-prompt node, then checks:

  1. READY=1 comes only once the node listens: every port it serves (cluster, content, MPD, web)
     accepts a connection when READY arrives; it carries a STATUS= line, and STATUS= follows the
     cluster (a peer joins, a track plays).
  2. WATCHDOG=1 comes at half the interval while the node runs, none while it is stopped
     (SIGSTOP: hung, as far as systemd can tell) and again once it runs; SIGTERM sends
     STOPPING=1 before the node leaves and exits 0.

The io thread hung inside the node (not the whole process) is covered by the unit test
tests/unit/node/test_service_notifier.cpp.

Run: python3 tests/system/test_systemd_notify.py --node build/apps/node [--only NAME]
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import HOST, Cluster, HarnessError, Node, now, run_main  # noqa: E402
from sync_rig import free_port  # noqa: E402

TRACKS = Path(__file__).resolve().parents[2] / "tracks"
WATCHDOG_S = 1.0  # WatchdogSec: the node pings every 0.5 s
READY_LIMIT_S = 10.0


class NotifySocket:
    """The service manager's end: a bound datagram socket and the messages read from it."""

    def __init__(self) -> None:
        self.dir = tempfile.TemporaryDirectory(prefix="chorus-notify-")
        self.path = os.path.join(self.dir.name, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.messages: "list[tuple[float, str]]" = []

    def close(self) -> None:
        self.sock.close()
        self.dir.cleanup()

    def receive(self, timeout: float) -> Optional[str]:
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(4096)
        except socket.timeout:
            return None
        text = data.decode()
        self.messages.append((now(), text))
        return text

    def wait_for(self, field: str, timeout: float, what: str) -> str:
        """The next message with a line starting with `field` (e.g. "READY=1", "STATUS=")."""
        deadline = now() + timeout
        while now() < deadline:
            message = self.receive(deadline - now())
            if message is not None and any(line.startswith(field) for line in message.split("\n")):
                return message
        raise HarnessError(f"no {field} within {timeout} s ({what}); messages so far: "
                           f"{[m for _, m in self.messages][-8:]!r}")

    def drain(self) -> None:
        while self.receive(0.001) is not None:
            pass


def status_of(message: str) -> str:
    return next(line[len("STATUS="):] for line in message.split("\n") if line.startswith("STATUS="))


def start_service(cluster: Cluster, notify: NotifySocket) -> "tuple[Node, dict[str, int]]":
    """A --no-prompt node started as systemd would start it (NOTIFY_SOCKET, WATCHDOG_USEC)."""
    ports = {"cluster": free_port(), "content": free_port(), "mpd": free_port(), "http": free_port()}
    node = cluster.node("S", start=False, port=ports["cluster"], node_id="service", leader=True,
                        extra_args=["--no-prompt", "--output", "null", "--tracks", str(TRACKS),
                                    "--content-port", str(ports["content"]),
                                    "--mpd-port", str(ports["mpd"]),
                                    "--http-port", str(ports["http"])])
    os.environ["NOTIFY_SOCKET"] = notify.path
    os.environ["WATCHDOG_USEC"] = str(int(WATCHDOG_S * 1e6))
    try:
        node.launch()
    finally:
        del os.environ["NOTIFY_SOCKET"]
        del os.environ["WATCHDOG_USEC"]
    node.id = "service"
    return node, ports


def refused_ports(ports: "dict[str, int]") -> "list[str]":
    refused = []
    for name, port in ports.items():
        try:
            with socket.create_connection((HOST, port), timeout=1.0):
                pass
        except OSError as error:
            refused.append(f"{name} port {port}: {error}")
    return refused


def scenario_ready_and_status(cluster: Cluster) -> None:
    """1. READY=1 once every port listens, with STATUS=; STATUS= follows peers and playback."""
    notify = NotifySocket()
    try:
        s, ports = start_service(cluster, notify)
        t0 = now()
        ready = notify.wait_for("READY=1", READY_LIMIT_S, "the node's start")
        cluster.figure("start -> READY=1", now() - t0)
        refused = refused_ports(ports)
        if refused:
            raise HarnessError(f"READY=1 came before the node listened: {refused}")
        early = [m for _, m in notify.messages[:-1]]
        if early:
            raise HarnessError(f"messages before READY=1: {early!r}")
        first = status_of(ready)
        if not first.startswith("leader, no peers, stopped"):
            raise HarnessError(f"unexpected first STATUS: {first!r}")

        b = cluster.node("B", bootstrap=s, extra_args=["--output", "null", "--tracks", str(TRACKS)])
        joined = notify.wait_for("STATUS=leader, 1 of 1 peer up", 10.0, "B joining")
        print(f"  STATUS: {status_of(joined)}", flush=True)
        b.send("play 3")
        playing = notify.wait_for("STATUS=leader, 1 of 1 peer up, playing", 10.0, "`play 3` on B")
        print(f"  STATUS: {status_of(playing)}", flush=True)
        if "03-click-track" not in playing:
            raise HarnessError(f"the status does not name the track playing: {playing!r}")
        # At most one status a second: count those of the first messages after READY.
        statuses = [t for t, m in notify.messages if "STATUS=" in m]
        gaps = [b_ - a_ for a_, b_ in zip(statuses[1:], statuses[2:])]
        if any(gap < 0.8 for gap in gaps):
            raise HarnessError(f"STATUS sent more often than once a second: gaps {gaps!r}")
    finally:
        notify.close()


def scenario_watchdog_and_stopping(cluster: Cluster) -> None:
    """2. WATCHDOG=1 every half interval while alive, none while stopped; STOPPING=1 on SIGTERM."""
    notify = NotifySocket()
    try:
        s, _ = start_service(cluster, notify)
        notify.wait_for("READY=1", READY_LIMIT_S, "the node's start")
        t0 = now()
        for _ in range(4):
            notify.wait_for("WATCHDOG=1", WATCHDOG_S, "pings while the node runs")
        period = (now() - t0) / 4
        cluster.figure("watchdog ping period", period)
        if period < WATCHDOG_S / 2 * 0.8:
            raise HarnessError(f"pings every {period:.3f} s: faster than half the interval")

        s.sigstop()
        notify.drain()  # a ping sent just before the stop may still be queued
        pings = 0
        deadline = now() + 2 * WATCHDOG_S
        while now() < deadline:
            message = notify.receive(deadline - now())
            if message is not None and "WATCHDOG=1" in message:
                pings += 1
        if pings:
            raise HarnessError(f"{pings} WATCHDOG=1 while the node was stopped")
        s.sigcont()
        notify.wait_for("WATCHDOG=1", WATCHDOG_S, "pings after SIGCONT")

        s._signal(signal.SIGTERM)
        stopping = notify.wait_for("STOPPING=1", 3.0, "SIGTERM")
        if "STATUS=" not in stopping:
            raise HarnessError(f"STOPPING=1 without a status: {stopping!r}")
        code = s.wait_exit(timeout=5.0)
        if code != 0:
            raise HarnessError(f"the node exited with {code} after SIGTERM\n{s.stderr_tail()}")
        notify.drain()
        texts = [m for _, m in notify.messages]
        after_stopping = texts[next(i for i, m in enumerate(texts) if "STOPPING=1" in m) + 1:]
        if any("WATCHDOG=1" in m for m in after_stopping):
            raise HarnessError(f"WATCHDOG=1 after STOPPING=1: {after_stopping!r}")
    finally:
        notify.close()


SCENARIOS = [
    ("1 ready: READY once listening, STATUS follows the cluster", scenario_ready_and_status),
    ("2 watchdog: pings while alive, none while stopped, STOPPING on SIGTERM",
     scenario_watchdog_and_stopping),
]

if __name__ == "__main__":
    sys.exit(run_main("systemd notify protocol", SCENARIOS))
