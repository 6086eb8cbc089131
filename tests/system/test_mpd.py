#!/usr/bin/env python3
"""System test of the MPD protocol server (docs/mpd.md): real MPD clients control the cluster
through any node.

    python3 tests/system/test_mpd.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Needs a node with --mpd-port (else every scenario is skipped), mpc and Debian's python3-mpd (python-mpd2, imported by /usr/bin/python3, which may not be
the python3 first in PATH: the python-mpd2 clients run as /usr/bin/python3 subprocesses). Without
them every scenario is skipped (exit 77). Nodes play to --output null; their tracks are short WAV
files written here (the standard library's wave module).

Scenarios (how each fails if the product breaks):
  1 a follower controls the cluster: A (leader) holds the tracks, B (follower) none; both have
    --mpd-port. Through B: mpc must list A's tracks (the catalog is the cluster's), `mpc add`
    must put them in the queue that A's MPD shows, `mpc play` must make A's MPD say [playing],
    `mpc outputs` must list both nodes as outputs named by their ids and sorted by id,
    `mpc disable` of A's output must show A muted on A's MPD, `mpc volume 30` must show on B;
    python-mpd2 on B must read the same queue (ids equal to those A's MPD gives).
  2 idle across nodes: python-mpd2 waits in `idle playlist` on A's MPD; `mpc add` on B must end
    that idle with `playlist` within 3 s.
  3 keyed cluster: A and B started with the same --key-file. The prompt's `access` must print
    `mpd password: X`; mpc without it must be refused with "permission", with a wrong one with
    "incorrect password", with X@host it must work; python-mpd2 with password X too.
  4 bad input and a port in use: an overlong line gets an ACK and a close, an unknown command the
    ACK [5@0] line, 200 connections leave the node answering; a node whose --mpd-port is taken
    logs it and runs on (its prompt answers).
"""

from __future__ import annotations

import json
import re
import shutil
import socket
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HOST, Cluster, HarnessError, Node, Skip, run_main,  # noqa: E402
                     wait_until)

PYTHON_WITH_MPD = "/usr/bin/python3"
TRACKS = {  # path in the library -> seconds
    "Artist A/Album X/one.wav": 20.0,
    "Artist A/Album X/two.wav": 20.0,
    "loose.wav": 5.0,
}


# ---- set-up -------------------------------------------------------------------------------------


def require_clients(cluster: Cluster) -> None:
    help_text = subprocess.run([cluster.binary, "--help"], capture_output=True, text=True).stdout
    if "--mpd-port" not in help_text:
        raise Skip("this node has no --mpd-port option (the MPD server is not wired in)")
    if shutil.which("mpc") is None:
        raise Skip("mpc is not installed")
    check = subprocess.run([PYTHON_WITH_MPD, "-c", "import mpd"], capture_output=True)
    if check.returncode != 0:
        raise Skip(f"{PYTHON_WITH_MPD} cannot import mpd (python3-mpd)")


def free_port() -> int:
    """A port free right now (the node binds it a moment later; the race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def write_tracks(directory: Path) -> None:
    for index, (name, seconds) in enumerate(TRACKS.items()):
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        frames = int(seconds * 48000)
        with wave.open(str(path), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(48000)
            # a quiet ramp, its step from the track's index, so that no two have the same hash
            step = index + 1
            period = b"".join(struct.pack("<hh", i * step % 64, i * step % 64) for i in range(64))
            out.writeframes((period * (frames // 64 + 1))[:frames * 4])


class MpdNode:
    """A node with an MPD port."""

    def __init__(self, cluster: Cluster, name: str, *, tracks: Optional[Path],
                 extra: "list[str]" = (), **kwargs):
        self.mpd_port = free_port()
        args = ["--output", "null", "--mpd-port", str(self.mpd_port), *extra]
        if tracks is not None:
            args += ["--tracks", str(tracks)]
        self.node: Node = cluster.node(name, extra_args=args, **kwargs)

    def mpc(self, *args: str, password: Optional[str] = None, check: bool = True) -> str:
        host = f"{password}@{HOST}" if password else HOST
        result = subprocess.run(["mpc", "-h", host, "-p", str(self.mpd_port), *args],
                                capture_output=True, text=True, timeout=10,
                                env={"PATH": "/usr/bin:/bin"})
        if check and result.returncode != 0:
            raise HarnessError(f"mpc {' '.join(args)} on {self.node.name} failed "
                               f"({result.returncode}): {result.stdout}{result.stderr}")
        return result.stdout + result.stderr

    def python_mpd(self, body: str, password: Optional[str] = None, timeout: float = 10,
                   background: bool = False):
        """Runs `body` with `client` connected (and authenticated) in /usr/bin/python3."""
        script = "\n".join([
            "import json, sys, mpd",
            "client = mpd.MPDClient()",
            "client.timeout = 10",
            f"client.connect({HOST!r}, {self.mpd_port})",
            f"if {password!r}: client.password({password!r})",
            body,
        ])
        argv = [PYTHON_WITH_MPD, "-c", script]
        if background:
            return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True)
        result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if result.returncode != 0:
            raise HarnessError(f"python-mpd2 on {self.node.name} failed: {result.stderr}")
        return result.stdout


def library_listed(node: MpdNode, password: Optional[str] = None) -> object:
    listing = node.mpc("listall", password=password, check=False)
    missing = [name for name in TRACKS if name not in listing]
    return True if not missing else f"{node.node.name} lists no {missing} (has {listing!r})"


def two_nodes(cluster: Cluster, extra: "list[str]" = ()) -> "tuple[MpdNode, MpdNode]":
    """A (leader, the tracks) and B (follower, no tracks), in a mesh."""
    tracks = cluster.workdir / "tracks"
    write_tracks(tracks)
    a = MpdNode(cluster, "A", tracks=tracks, leader=True, node_id="node-a", extra=list(extra))
    b = MpdNode(cluster, "B", tracks=None, bootstrap=a.node, node_id="node-b", extra=list(extra))
    cluster.wait_mesh([a.node, b.node], timeout=10)
    return a, b


def wait_library(cluster: Cluster, b: MpdNode, password: Optional[str] = None) -> None:
    wait_until(lambda: library_listed(b, password), 15, what="B's MPD lists A's tracks",
               describe=cluster.describe)


# ---- scenarios ----------------------------------------------------------------------------------


def scenario_follower_controls(cluster: Cluster) -> None:
    """1. Through a follower's MPD port: library, queue, play, outputs, volume."""
    require_clients(cluster)
    a, b = two_nodes(cluster)
    wait_library(cluster, b)
    b.mpc("clear")
    b.mpc("add", "Artist A")
    wait_until(lambda: "one.wav" in a.mpc("playlist", "-f", "%file%") or "not yet",
               5, what="A's MPD shows the queue B filled", describe=cluster.describe)
    queue_on_a = a.mpc("playlist", "-f", "%file%").split()
    print(f"  queue on A after `mpc add` on B: {queue_on_a}")

    b.mpc("play")
    wait_until(lambda: "[playing]" in a.mpc("status") or "not yet", 5,
               what="A's MPD says playing", describe=cluster.describe)

    outputs = b.mpc("outputs")
    print(f"  outputs on B: {outputs.strip()!r}")
    if "Output 1 (node-a) is enabled" not in outputs or "Output 2 (node-b)" not in outputs:
        raise HarnessError(f"outputs are not the rooms sorted by id: {outputs!r}")
    b.mpc("disable", "1")
    wait_until(lambda: "Output 1 (node-a) is disabled" in a.mpc("outputs") or "not yet", 5,
               what="A muted, as its MPD shows", describe=cluster.describe)
    b.mpc("enable", "1")

    b.mpc("volume", "30")
    wait_until(lambda: "volume: 30%" in b.mpc("volume") or "not yet", 5,
               what="B's volume 30", describe=cluster.describe)

    ids_on_b = json.loads(b.python_mpd(
        "print(json.dumps([s['id'] for s in client.playlistinfo()]))"))
    ids_on_a = json.loads(a.python_mpd(
        "print(json.dumps([s['id'] for s in client.playlistinfo()]))"))
    if ids_on_a != ids_on_b or len(ids_on_b) != 2:
        raise HarnessError(f"queue ids differ: A {ids_on_a}, B {ids_on_b}")
    status = json.loads(b.python_mpd("print(json.dumps(client.status()))"))
    if status.get("state") != "play" or status.get("playlistlength") != "2":
        raise HarnessError(f"python-mpd2 status on B: {status}")


def scenario_idle_across_nodes(cluster: Cluster) -> None:
    """2. idle on A ends when B changes the queue."""
    require_clients(cluster)
    a, b = two_nodes(cluster)
    wait_library(cluster, b)
    waiter = a.python_mpd("print('READY', flush=True)\n"
                          "print(json.dumps(client.idle('playlist')), flush=True)",
                          background=True)
    try:
        ready = waiter.stdout.readline().strip()
        if ready != "READY":
            raise HarnessError(f"the idle client did not start: {ready!r} {waiter.stderr.read()}")
        b.mpc("add", "loose.wav")
        try:
            out, err = waiter.communicate(timeout=3)
        except subprocess.TimeoutExpired:
            raise HarnessError("idle on A did not end within 3 s of `mpc add` on B\n"
                               + cluster.describe())
        changed = json.loads(out.strip().splitlines()[-1])
        if changed != ["playlist"]:
            raise HarnessError(f"idle on A answered {changed}, stderr {err!r}")
    finally:
        if waiter.poll() is None:
            waiter.kill()
            waiter.wait()


def mpd_password(node: Node) -> str:
    node.send("access")
    pattern = re.compile(r"mpd password:\s*(\S+)")

    def found() -> object:
        node.command_json("peers --json")  # drains what `access` printed into other_output
        for line in node.other_output:
            match = pattern.search(line)
            if match:
                return True
        return f"no 'mpd password:' line in {node.other_output[-5:]!r}"

    wait_until(found, 5, what=f"{node.name}'s `access` prints the MPD password")
    for line in node.other_output:
        match = pattern.search(line)
        if match:
            return match.group(1)
    raise HarnessError("unreachable")


def scenario_keyed_cluster(cluster: Cluster) -> None:
    """3. A keyed cluster's MPD needs the password derived from the key."""
    require_clients(cluster)
    key = cluster.workdir / "cluster.key"
    made = subprocess.run([cluster.binary, "--gen-key", str(key)], capture_output=True, text=True)
    if made.returncode != 0:
        raise HarnessError(f"--gen-key failed: {made.stderr}")
    a, b = two_nodes(cluster, extra=["--key-file", str(key)])
    password = mpd_password(b.node)
    if password != mpd_password(a.node):
        raise HarnessError("the nodes of one cluster print different MPD passwords")
    wait_library(cluster, b, password)
    refused = b.mpc("status", check=False)
    if "permission" not in refused:
        raise HarnessError(f"mpc without the password was not refused: {refused!r}")
    wrong = b.mpc("status", password="wrong" + password, check=False)
    if "incorrect password" not in wrong:
        raise HarnessError(f"a wrong password was not refused: {wrong!r}")
    status = b.mpc("status", password=password)
    if "volume:" not in status:
        raise HarnessError(f"mpc with the password: {status!r}")
    listing = b.python_mpd("print(len(client.listall()))", password=password)
    if int(listing.strip()) < len(TRACKS):
        raise HarnessError(f"python-mpd2 with the password lists {listing!r}")


def read_answer(sock: socket.socket, timeout: float = 3.0) -> str:
    sock.settimeout(timeout)
    data = b""
    while not (data.endswith(b"OK\n") or b"ACK [" in data):
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return data.decode(errors="replace")


def scenario_bad_input(cluster: Cluster) -> None:
    """4. Bad input, many connections, a port in use."""
    require_clients(cluster)
    tracks = cluster.workdir / "tracks"
    write_tracks(tracks)
    a = MpdNode(cluster, "A", tracks=tracks, leader=True, node_id="node-a")

    with socket.create_connection((HOST, a.mpd_port), timeout=3) as sock:
        greeting = sock.makefile("rb").readline()
        if not greeting.startswith(b"OK MPD "):
            raise HarnessError(f"greeting {greeting!r}")
        sock.sendall(b"frobnicate\n")
        answer = read_answer(sock)
        if answer != 'ACK [5@0] {} unknown command "frobnicate"\n':
            raise HarnessError(f"unknown command answered {answer!r}")
    with socket.create_connection((HOST, a.mpd_port), timeout=3) as sock:
        sock.recv(64)
        try:
            sock.sendall(b"add \"" + b"x" * (100 * 1024))
        except OSError:
            pass  # closed while sending: also a refusal
        rest = b""
        sock.settimeout(3)
        try:
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                rest += chunk
        except (ConnectionResetError, socket.timeout) as error:
            if isinstance(error, socket.timeout):
                raise HarnessError("an overlong line did not close the connection")
        if rest and b"ACK [2@0]" not in rest:
            raise HarnessError(f"overlong line answered {rest!r}")

    sockets = []
    try:
        for _ in range(200):
            sockets.append(socket.create_connection((HOST, a.mpd_port), timeout=3))
        a.node.peers()  # the node goes on (MPD refuses connections past its limit)
    finally:
        for sock in sockets:
            sock.close()
    wait_until(lambda: "volume:" in a.mpc("status", check=False) or "not yet", 5,
               what="MPD answers again once the connections are gone")

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("0.0.0.0", 0))  # taken whichever address the node binds
        taken.listen(1)
        port = taken.getsockname()[1]
        b = cluster.node("B", bootstrap=a.node, node_id="node-b",
                         extra_args=["--output", "null", "--mpd-port", str(port)])
        b.peers()
        wait_until(lambda: "MPD" in b.stderr_text() and str(port) in b.stderr_text()
                   or "no log line about the taken MPD port yet", 5,
                   what="B logs that its MPD port is taken")


SCENARIOS = [
    ("1 a follower's MPD port controls the cluster (mpc, python-mpd2)", scenario_follower_controls),
    ("2 idle on one node ends with a change made on another", scenario_idle_across_nodes),
    ("3 a keyed cluster's MPD needs the password", scenario_keyed_cluster),
    ("4 bad input, many connections, a port in use", scenario_bad_input),
]


if __name__ == "__main__":
    sys.exit(run_main("MPD protocol server", SCENARIOS))
