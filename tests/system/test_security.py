#!/usr/bin/env python3
"""System test of the cluster key: real `node` processes with --key-file, strangers without it or
with another key, raw clients, a replayed handshake, a spoofed id, a flood from a peer that holds
the key, and a storm of connections that never prove anything.

    python3 tests/system/test_security.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Needs BUILD/tools/skew_probe (or $CHORUS_SKEW_PROBE) and BUILD/tools/keyed_peer (or
$CHORUS_KEYED_PEER). Exit 0 = passed, 1 = failed.

Playing clusters are three keyed nodes A (leader), B, C on loopback with the counting track
(skew_probe make-track), output null unless a scenario measures skew (then file:FIFO, read by
skew_probe, see sync_rig.py). "Nothing changed" means, sampled throughout: every member lists
exactly the other members, up, at their address and incarnation; leader and epoch are as
before; every node plays the same track and its position moves on at 48 frames per ms.

Scenarios:
  1 key tooling: --gen-key writes a 0600 file of 64 hex digits and will not overwrite it; a key
    file of mode 0644 stops the node with a message naming chmod 600; a node without a key says
    OPEN CLUSTER (status, status --json); a keyed node shows its key id.
  2 strangers: a node without the key and one with another key, both --priority 100 --preempt
    and bootstrapped to a member: for 3 s neither appears in any member's peers and nothing
    changes; the members count and log the refusals.
  3 raw clients: plain-protocol clients (HELLO then CONTROL_REQUEST pause, PLAY_REQUEST,
    COORDINATOR with a huge epoch; a HELLO of priority 2^62; a forged keyed HELLO of an unknown
    key): each is closed by the node without a single byte back; nothing changes.
  4 replay: a joiner's bytes recorded by a relay, replayed on a fresh connection once it has
    joined, are refused (the proof does not match this connection's fresh ephemerals).
  5 id spoof: a keyed node with the id of a live member is refused; the member keeps its place.
  6 flood: two peers holding the key (tools/keyed_peer) flood the leader for 5 s, one with
    HEARTBEATs, one with 60 KB frames of an unknown type, as fast as the socket takes them: the
    members' heartbeats stay healthy (no timeout, last heard < 400 ms), the skew stays within
    test_sync's limits, the leader paces both (throttled > 0) without cutting them off, and
    answers its prompt within 250 ms.
  7 connection storm: 500 connections that never prove the key (from 127.0.0.1, then spread
    over 127.0.0.2..11): RSS rises < 5 MB, each is closed within the 2 s deadline (+1 s), CPU
    stays low, the member stays up and a new member joins afterwards.
  8 keyed cluster end to end: join, play, pause, resume, and failover when the leader is killed.
  9 key rotation: nodes of key A that accept B and nodes of key B that accept A form one
    cluster.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import resource
import selectors
import socket
import stat
import struct
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HOST, Cluster, HarnessError, Node, WaitTimeout, agreement,  # noqa: E402
                     gen_key, hold_for, now, one_agreed_leader, run_main, state_of, statuses,
                     wait_until)
from sync_rig import (SyncNode, SyncRig, _reap_group, _spawn, all_playing,  # noqa: E402
                      find_tool, mono_to_us, pace_until, percentile, require_ok, synced)
from test_sync import check_skew  # noqa: E402

RATE_PER_MS = 48  # frames
SETUP_TIMEOUT_S = 5.0
QUIET_S = 3.0                 # 2, 5: how long nothing may change while strangers knock
AFTER_ATTACK_S = 1.5          # 3, 4: how long nothing may change after the attacks
HANDSHAKE_DEADLINE_S = 2.0    # the node's deadline for an unproved connection
CLOSE_MARGIN_S = 1.0
POSITION_TOLERANCE_FRAMES = 2400  # 50 ms: a position that jumps further than this has moved

FLOOD_S = 5.0                 # 6
FLOOD_SETTLE_S = 3.0          # 6: after play, before the baseline window
FLOOD_BASELINE_S = 4.0        # 6: skew measured before the flood, for comparison
FLOOD_SETUP_BUDGET_S = 4.0    # 6: probe start -> play
LAST_HEARD_LIMIT_MS = 400.0   # 6: two heartbeat intervals: never suspect
PROMPT_LIMIT_MS = 250.0       # 6: the flooded node answers `status --json` within this
BULK_FRAME_BYTES = 60_000     # 6: the second flooder's frames (its byte budget binds first)
FLOOD_CPU_LIMIT = 0.5         # 6: share of one core the flooded node may use

STORM_CONNECTIONS = 500       # 7
STORM_FIRST_ADDRESS = 40      # 7: this many from 127.0.0.1 first (past its cap of 16)
STORM_ADDRESSES = 10          # 7: the rest from 127.0.0.2 .. 127.0.0.11, in turn
STORM_RSS_LIMIT_KB = 5 * 1024
STORM_CPU_LIMIT = 0.30
JOIN_LIMIT_S = 5.0

AGREE_LIMIT_S = 5.0           # 8: survivors agree on a new leader within this after kill -9


# ---- tools and keys ----------------------------------------------------------------------------


def key_args(path: Path, *accept: Path) -> "list[str]":
    args = ["--key-file", str(path)]
    for other in accept:
        args += ["--accept-key-file", str(other)]
    return args


def text_answer(node: Node, command: str) -> str:
    """The text lines a prompt command prints (its answer is not JSON): a JSON command sent
    after it marks where they end."""
    node.other_output.clear()
    node.send(command)
    node.command_json("peers --json")
    return "\n".join(node.other_output)


# ---- process measurements ----------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(node: Node) -> float:
    fields = Path(f"/proc/{node.pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_kb(node: Node) -> int:
    for line in Path(f"/proc/{node.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise HarnessError(f"no VmRSS for {node.name}")


def counter(node: Node, name: str) -> int:
    return int(node.debug().get(name) or 0)


def log_has(node: Node, text: str, timeout: float = 2.0) -> bool:
    """Whether `node` logs `text` within `timeout`: a node logs an event just after it counts it
    (a counter read through the prompt can come first)."""
    try:
        wait_until(lambda: text in node.stderr_text(), timeout, what=f"{node.name} to log {text!r}")
    except WaitTimeout:
        return False
    return True


# ---- a keyed cluster that plays, and what must not change ------------------------------------


def keyed_trio(rig: SyncRig, key: Path, outputs: bool = False) -> "list[SyncNode]":
    """A (leader, priority 10), B, C holding `key`, meshed."""
    a = rig.add_node("A", leader=True, priority=10, extra_args=key_args(key))
    b = rig.add_node("B", bootstrap=a, extra_args=key_args(key))
    c = rig.add_node("C", bootstrap=a, extra_args=key_args(key))
    rig.cluster.wait_mesh([a, b, c], timeout=SETUP_TIMEOUT_S, what="keyed set-up mesh")
    return [a, b, c]


def play_and_wait(rig: SyncRig, nodes: "list[SyncNode]") -> None:
    wait_until(synced(nodes[1:]), SETUP_TIMEOUT_S, what="followers synced",
               describe=rig.cluster.describe)
    require_ok(nodes[0], "play 1")
    wait_until(all_playing(nodes), 3.0, what="every member playing", describe=rig.cluster.describe)
    # Past the lead-in (the position holds still until the first frame is due).
    wait_until(lambda: all(n.status().get("position_frames", 0) >= RATE_PER_MS * 100
                           for n in nodes) or "not 100 ms into the track everywhere", 3.0,
               what="every member 100 ms into the track", describe=rig.cluster.describe)

@contextlib.contextmanager
def playing_keyed_trio(cluster: Cluster):
    """A fresh key, and A, B, C holding it, playing a 30 s track 100 ms in: (rig, key, members)."""
    key, _ = gen_key(cluster, "cluster")
    with SyncRig(cluster, track_seconds=30.0, use_proxies=False) as rig:
        rig.make_track()
        members = keyed_trio(rig, key)
        play_and_wait(rig, members)
        yield rig, key, members



class Steady:
    """The cluster's membership, leadership and playback as they are now; check() is a
    predicate (for hold_for) that they still are, with every position moving on in time."""

    def __init__(self, members: "list[Node]"):
        self.members = members
        self.views = {n.name: n.peers() for n in members}
        self.rows = {(n.name, p["id"]): (p["address"], p.get("incarnation"))
                     for n in members for p in self.views[n.name]["peers"]}
        first = {n.name: n.status() for n in members}
        self.leadership = {name: (s.get("leader"), s.get("epoch")) for name, s in first.items()}
        leaders = set(self.leadership.values())
        if len(leaders) != 1 or None in next(iter(leaders)):
            raise HarnessError(f"no agreed leader to start from: {self.leadership}")
        tracks = {(s.get("track") or {}).get("hash") for s in first.values()}
        if len(tracks) != 1:
            raise HarnessError(f"the members play different tracks: {tracks}")
        self.track = tracks.pop()
        self.playing = self.track is not None
        self.positions = {name: (s.get("position_frames"), s.get("position_local_us"))
                          for name, s in first.items()}
        self.samples = 0

    def check(self) -> Any:
        self.samples += 1
        ids = {n.id for n in self.members}
        for node in self.members:
            view = node.peers()
            listed = {p["id"] for p in view["peers"]}
            if listed != ids - {node.id}:
                return f"{node.name} lists {sorted(listed)}, want {sorted(ids - {node.id})}"
            for peer in view["peers"]:
                if peer["state"] != "up":
                    return f"{node.name} sees {peer['id']} {peer['state']}"
                was = self.rows.get((node.name, peer["id"]))
                now_row = (peer["address"], peer.get("incarnation"))
                if was != now_row:
                    return f"{node.name} lists {peer['id']} at {now_row}, was {was}"
            status = node.status()
            leadership = (status.get("leader"), status.get("epoch"))
            if leadership != self.leadership[node.name]:
                return (f"{node.name}'s leader/epoch moved from {self.leadership[node.name]} to "
                        f"{leadership}")
            if not self.playing:
                continue
            track = (status.get("track") or {}).get("hash")
            if status.get("state") != "playing" or track != self.track:
                return f"{node.name} is {status.get('state')} with track {track}"
            frames, local_us = status.get("position_frames"), status.get("position_local_us")
            old_frames, old_us = self.positions[node.name]
            if local_us > old_us:
                expected = (local_us - old_us) * RATE_PER_MS / 1000
                moved = frames - old_frames
                if moved <= 0 or abs(moved - expected) > POSITION_TOLERANCE_FRAMES:
                    return (f"{node.name}'s position moved {moved} frames in "
                            f"{(local_us - old_us) / 1000:.0f} ms (expected {expected:.0f})")
            self.positions[node.name] = (frames, local_us)
        return True


# ---- raw clients -------------------------------------------------------------------------------


def frame(message: dict) -> bytes:
    body = json.dumps(message, separators=(",", ":")).encode()
    return struct.pack(">I", len(body)) + body


def plain_hello(node_id: str, priority: int = 0) -> dict:
    return {"type": "HELLO", "from": node_id, "priority": priority, "incarnation": 12345,
            "advertised": {"host": HOST, "port": 9}, "version": 4, "cluster": "chorus",
            "content_port": 0}


def send_and_read_to_close(port: int, payload: bytes, timeout: float) -> "tuple[bytes, float]":
    """Connects, sends `payload`, reads until the node closes; returns (bytes received, seconds
    from connect to close). Raises if the node keeps the connection open past `timeout`."""
    sock = socket.create_connection((HOST, port), timeout=timeout)
    start = now()
    received = b""
    try:
        try:
            sock.sendall(payload)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed while we were still sending: what we want
        while True:
            remaining = timeout - (now() - start)
            if remaining <= 0:
                raise HarnessError(f"the node kept the connection open for {timeout} s")
            sock.settimeout(remaining)
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            except socket.timeout:
                continue
            if not chunk:
                break
            received += chunk
        return received, now() - start
    finally:
        sock.close()


class RecordingRelay:
    """A TCP relay on 127.0.0.1 to `target_port` that records what each client sent."""

    def __init__(self, target_port: int):
        self.target_port = target_port
        self.listener = socket.socket()
        self.listener.bind((HOST, 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.sessions: "list[bytearray]" = []  # client -> server bytes, per connection
        self.sockets: "list[socket.socket]" = []
        self.lock = threading.Lock()
        self.threads: "list[threading.Thread]" = []
        self._spawn(self._accept_loop)

    def _spawn(self, target: Callable[..., None], *args: Any) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)
        self.threads.append(thread)
        thread.start()

    def _accept_loop(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.create_connection((HOST, self.target_port), timeout=3.0)
                server.settimeout(None)
            except OSError:
                client.close()
                continue
            for sock in (client, server):  # as the nodes' own sockets: no Nagle delays
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            record = bytearray()
            with self.lock:
                self.sessions.append(record)
                self.sockets += [client, server]
            self._spawn(self._pump, client, server, record)
            self._spawn(self._pump, server, client, None)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket, record: Optional[bytearray]) -> None:
        try:
            while True:
                chunk = source.recv(65536)
                if not chunk:
                    break
                if record is not None:
                    record.extend(chunk)
                sink.sendall(chunk)
        except OSError:
            pass
        try:
            sink.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        self.listener.close()
        with self.lock:
            for sock in self.sockets:
                try:
                    sock.close()
                except OSError:
                    pass
        for thread in self.threads:
            thread.join(timeout=2)


class Flooder:
    """tools/keyed_peer flooding a node for FLOOD_S seconds; its JSON events on stdout."""

    def __init__(self, cluster: Cluster, tool: str, key: Path, target: Node, peer_id: str,
                 extra: "list[str]"):
        self.id = peer_id
        self.log = open(Path(cluster.workdir) / f"{peer_id}.stderr.log", "ab")
        self.proc = _spawn([tool, "--key-file", str(key), "--connect", HOST, str(target.port),
                            "--id", peer_id, "--flood", f"{FLOOD_S:g}", *extra],
                           stdout=subprocess.PIPE, stderr=self.log, stdin=subprocess.DEVNULL)
        self.lines: "list[str]" = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for raw in iter(self.proc.stdout.readline, b""):
            self.lines.append(raw.decode(errors="replace").strip())

    def finish(self) -> dict:
        """Waits for the flood to end; returns its "done" event."""
        try:
            self.proc.wait(timeout=FLOOD_S + 5)
        except subprocess.TimeoutExpired:
            raise HarnessError(f"{self.id} did not end its flood")
        self.reader.join(timeout=5)
        events = [json.loads(line) for line in self.lines if line.startswith("{")]
        if not any(e.get("event") == "accepted" for e in events):
            raise HarnessError(f"{self.id} was never accepted (exit {self.proc.returncode}): "
                               f"{self.lines}")
        done = next((e for e in events if e.get("event") == "done"), None)
        if done is None:
            raise HarnessError(f"{self.id} did not finish: {self.lines}")
        return done

    def close(self) -> None:
        _reap_group(self.proc)
        self.proc.stdout.close()
        self.log.close()


# ---- scenarios ---------------------------------------------------------------------------------


def scenario_key_tooling(cluster: Cluster) -> None:
    """1. --gen-key, a key file others can read, open and keyed status."""
    workdir = Path(cluster.workdir)
    path, key_id = gen_key(cluster, "tool")
    mode = stat.S_IMODE(os.stat(path).st_mode)
    if mode != 0o600:
        raise HarnessError(f"--gen-key wrote mode {mode:04o}, not 0600")
    text = path.read_text()
    if not re.fullmatch(r"[0-9a-f]{64}\n?", text):
        raise HarnessError(f"the key file does not hold 64 hex digits: {text!r}")
    again = subprocess.run([cluster.binary, "--gen-key", str(path)], capture_output=True,
                           timeout=10, text=True)
    if again.returncode == 0 or path.read_text() != text:
        raise HarnessError(f"--gen-key overwrote an existing key file (exit {again.returncode})")
    if "exists" not in again.stderr:
        raise HarnessError(f"--gen-key's refusal does not say the file exists: {again.stderr!r}")
    print(f"  --gen-key: mode 0600, 64 hex digits, key id {key_id}; second run refused: "
          f"{again.stderr.strip()}", flush=True)

    readable = workdir / "readable.key"
    readable.write_text(text)
    os.chmod(readable, 0o644)
    refused = subprocess.run([cluster.binary, HOST, "0", "--key-file", str(readable)],
                             capture_output=True, timeout=10, text=True, stdin=subprocess.DEVNULL)
    said = refused.stdout + refused.stderr
    if refused.returncode == 0 or "chmod 600" not in said:
        raise HarnessError(f"a node with a 0644 key file: exit {refused.returncode}, said {said!r}")
    print(f"  0644 key file: exit {refused.returncode}: {said.strip()}", flush=True)

    open_node = cluster.node("open", log_level="info")
    status = open_node.status()
    if status.get("open_cluster") is not True or status.get("cluster_key") is not None:
        raise HarnessError(f"an unkeyed node's status --json: {status}")
    if "OPEN CLUSTER" not in text_answer(open_node, "status"):
        raise HarnessError(f"an unkeyed node's status does not say OPEN CLUSTER: "
                           f"{open_node.other_output}")
    if not log_has(open_node, "NO CLUSTER KEY"):
        raise HarnessError("an unkeyed node did not warn NO CLUSTER KEY in its log")

    keyed = cluster.node("keyed", log_level="info", extra_args=key_args(path))
    status = keyed.status()
    if status.get("open_cluster") is not False or status.get("cluster_key") != key_id:
        raise HarnessError(f"a keyed node's status --json: {status} (key id {key_id})")
    answer = text_answer(keyed, "status")
    if f"cluster key {key_id}" not in answer or "OPEN CLUSTER" in answer:
        raise HarnessError(f"a keyed node's status does not show key {key_id}: {answer!r}")


def scenario_strangers(cluster: Cluster) -> None:
    """2. A node without the key and one with another key, both eager to lead, knock."""
    other, other_id = gen_key(cluster, "other")
    with playing_keyed_trio(cluster) as (rig, key, members):
        a, b, c = members
        steady = Steady(members)
        before = {n.name: n.debug() for n in members}
        eager = ["--preempt"]
        no_key = rig.add_node("nokey", bootstrap=a, priority=100,
                              extra_args=eager + ["--id", "stranger-nokey"])
        wrong_key = rig.add_node("otherkey", bootstrap=b, priority=100,
                                 extra_args=eager + ["--id", "stranger-otherkey"]
                                 + key_args(other))
        samples = hold_for(steady.check, QUIET_S, poll=0.1, what="nothing changing while "
                           "strangers knock", describe=cluster.describe)
        cluster.figure("samples with nothing changed while strangers knocked", samples, "samples")

        for stranger in (no_key, wrong_key):
            listed = [p["id"] for p in stranger.peers()["peers"] if p["state"] == "up"]
            if listed:
                raise HarnessError(f"{stranger.name} sees members up: {listed}")
        expect = {a: ("the peer does not open with the keyed handshake", "nokey"),
                  b: (f"the peer uses another cluster key (key id {other_id})", "otherkey")}
        for member, (reason, who) in expect.items():
            after = member.debug()
            failed = after["failed_handshakes"] - before[member.name]["failed_handshakes"]
            rejected = after["rejected_connections"] - before[member.name]["rejected_connections"]
            cluster.figure(f"{member.name}: failed handshakes from {who}", failed, "handshakes")
            if failed < 1 or rejected < 1:
                raise HarnessError(f"{member.name} counted {failed} failed handshakes, {rejected} "
                                   f"rejected connections from {who}\n" + cluster.describe())
            if not log_has(member, f"authentication failed: {reason}"):
                raise HarnessError(f"{member.name}'s log does not say 'authentication failed: "
                                   f"{reason}'\n" + cluster.describe())
        if not log_has(no_key, "closed the connection before any handshake"):
            raise HarnessError("the stranger without a key was not told (in its log) that it was "
                               "refused")


def scenario_raw_clients(cluster: Cluster) -> None:
    """3. Plain-protocol clients with commands, a huge epoch and a huge priority; a forged keyed
    HELLO: every connection is closed, nothing comes back, nothing changes."""
    with playing_keyed_trio(cluster) as (rig, key, members):
        a, b, c = members
        steady = Steady(members)
        track = a.status()["track"]
        ref = {"index": track["index"] - 1, "name": track["name"], "hash": track["hash"],
               "frames": track["frames"], "size": 0, "root": ""}
        me = "raw-intruder"
        forged_keyed = (b"CHRS\x01\x00\x00\x00" + os.urandom(8) + os.urandom(32)
                        + frame(plain_hello(me)))
        attacks = {
            "CONTROL_REQUEST pause": frame(plain_hello(me)) + frame(
                {"type": "CONTROL_REQUEST", "from": me, "id": 1, "command": "pause"}),
            "PLAY_REQUEST": frame(plain_hello(me)) + frame(
                {"type": "PLAY_REQUEST", "from": me, "epoch": 2 ** 62, "seq": 2 ** 62,
                 "track": ref, "frame": 0, "at_us": 1}),
            "COORDINATOR epoch 2^63": frame(plain_hello(me)) + frame(
                {"type": "COORDINATOR", "from": me, "epoch": 2 ** 63}),
            "HELLO priority 2^62": frame(plain_hello(me, priority=2 ** 62)),
            "forged keyed HELLO": forged_keyed,
        }
        before = {n.name: counter(n, "failed_handshakes") for n in members}
        worst = 0.0
        for label, payload in attacks.items():
            for node in members:
                received, closed_after = send_and_read_to_close(
                    node.port, payload, HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S)
                worst = max(worst, closed_after)
                if received:
                    raise HarnessError(f"{label} to {node.name}: the node answered "
                                       f"{len(received)} bytes before any proof: {received[:64]!r}")
        cluster.check_limit("raw clients: slowest close by the node", worst,
                            HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S)
        for node in members:
            failed = counter(node, "failed_handshakes") - before[node.name]
            if failed != len(attacks):
                raise HarnessError(f"{node.name} counted {failed} failed handshakes for "
                                   f"{len(attacks)} raw clients\n" + cluster.describe())
        hold_for(steady.check, AFTER_ATTACK_S, poll=0.1, what="nothing changed after the raw "
                 "clients", describe=cluster.describe)


def scenario_replay(cluster: Cluster) -> None:
    """4. A joiner's recorded bytes replayed on a fresh connection are refused."""
    with playing_keyed_trio(cluster) as (rig, key, members):
        a, b, c = members
        relay = RecordingRelay(a.port)
        try:
            d = rig.add_node("D", start=False, extra_args=key_args(key))
            d.bootstrap = (HOST, relay.port)
            d.start()
            everyone = members + [d]
            cluster.wait_mesh(everyone, timeout=SETUP_TIMEOUT_S, what="D joined through the relay")
            wait_until(all_playing(everyone), 3.0, what="D playing", describe=cluster.describe)
            with relay.lock:
                recorded = bytes(relay.sessions[0]) if relay.sessions else b""
            if len(recorded) <= 48 + 56:
                raise HarnessError(f"the relay recorded only {len(recorded)} bytes from D")
            if not recorded.startswith(b"CHRS"):
                raise HarnessError(f"D's first bytes are not a keyed HELLO: {recorded[:8]!r}")
            cluster.figure("bytes recorded from D's connection", len(recorded), "bytes")
            # D has only just joined: its reported position holds still until its first frame
            # is heard. The attack is judged from a state whose positions already move on.
            wait_until(lambda: Steady(everyone).check(), 3.0,
                       what="every position moving with its clock", describe=cluster.describe)
            steady = Steady(everyone)
            before = counter(a, "failed_handshakes")
            received, closed_after = send_and_read_to_close(a.port, recorded,
                                                            HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S)
            cluster.figure("replay: closed by A after", closed_after, "s",
                           HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S)
            # A answers a HELLO it can use with its own HELLO and PROOF (fresh ones), nothing more.
            if len(received) > 48 + 56:
                raise HarnessError(f"A sent {len(received)} bytes to the replay, more than its own "
                                   "handshake")
            wait_until(lambda: counter(a, "failed_handshakes") > before, 2.0,
                       what="A counting the replay as a failed handshake",
                       describe=cluster.describe)
            if not log_has(a, "authentication failed: the peer failed to prove the cluster key"):
                raise HarnessError("A's log does not say the replay failed to prove the key\n"
                                   + cluster.describe())
            hold_for(steady.check, AFTER_ATTACK_S, poll=0.1, what="nothing changed after the "
                     "replay", describe=cluster.describe)
        finally:
            relay.close()


def scenario_id_spoof(cluster: Cluster) -> None:
    """5. A keyed node started with a live member's id is refused; the member keeps its place."""
    with playing_keyed_trio(cluster) as (rig, key, members):
        a, b, c = members
        steady = Steady(members)
        restarts = {n.name: counter(n, "restarts_seen") for n in members}
        spoof = rig.add_node("spoof", bootstrap=a, priority=100,
                             extra_args=["--preempt", "--id", b.id] + key_args(key))
        hold_for(steady.check, QUIET_S, poll=0.1, what=f"B ({b.id}) keeping its place",
                 describe=cluster.describe)
        for node in members:
            if counter(node, "restarts_seen") != restarts[node.name]:
                raise HarnessError(f"{node.name} saw a restart of some member\n"
                                   + cluster.describe())
        expected = f"node id {b.id} is already in use by a live process at {b.address}"
        if not log_has(a, expected):
            raise HarnessError(f"A's log does not say {expected!r}\n" + cluster.describe())
        if not log_has(spoof, "refused this node"):
            raise HarnessError("the spoofing node's log does not say it was refused")
        if any(p["state"] == "up" for p in spoof.peers()["peers"]):
            raise HarnessError(f"the spoofing node sees members up: {spoof.peers()}")


def scenario_flood(cluster: Cluster) -> None:
    """6. Two peers holding the key flood the leader for 5 s."""
    tool = find_tool(cluster.binary, "keyed_peer", "CHORUS_KEYED_PEER")
    key, _ = gen_key(cluster, "cluster")
    with SyncRig(cluster, track_seconds=30.0, use_proxies=False) as rig:
        rig.make_track()
        names = ["A", "B", "C"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, FLOOD_SETUP_BUDGET_S + FLOOD_SETTLE_S + FLOOD_BASELINE_S
                        + FLOOD_S + 1.5)
        a, b, c = members = keyed_trio(rig, key)
        wait_until(synced([b, c]), SETUP_TIMEOUT_S, what="B and C synced",
                   describe=cluster.describe)
        t_play = now()
        if t_play - rig.probe_started_at > FLOOD_SETUP_BUDGET_S:
            raise HarnessError(f"set-up took {t_play - rig.probe_started_at:.1f} s, more than "
                               f"the probe's budget of {FLOOD_SETUP_BUDGET_S} s")
        require_ok(a, "play 1")
        wait_until(all_playing(members), 3.0, what="every member playing",
                   describe=cluster.describe)
        pace_until(t_play + FLOOD_SETTLE_S + FLOOD_BASELINE_S)  # timeline pacing
        before = {n.name: n.debug() for n in members}
        cpu0 = cpu_seconds(a)

        t_flood = now()
        flooders = [Flooder(cluster, tool, key, a, "zz-flooder", ["--flood-type", "heartbeat"]),
                    Flooder(cluster, tool, key, a, "zz-bulk",
                            ["--flood-type", "unknown", "--frame-bytes", str(BULK_FRAME_BYTES)])]
        try:
            prompt: "list[float]" = []
            heard: "list[float]" = []

            def healthy() -> Any:
                t0 = now()
                a.status()
                prompt.append(now() - t0)
                for observer in members:
                    for peer in observer.peers()["peers"]:
                        if peer["id"].startswith("zz-"):
                            continue
                        if peer["state"] != "up":
                            return f"{observer.name} sees {peer['id']} {peer['state']}"
                        heard.append(peer["last_heard_ms"] or 0.0)
                return True

            hold_for(healthy, FLOOD_S - 0.2, poll=0.1, what="members healthy during the flood",
                     describe=cluster.describe)
            t_end = now()
            cpu = (cpu_seconds(a) - cpu0) / (t_end - t_flood)
            results = [f.finish() for f in flooders]
        finally:
            for flooder in flooders:
                flooder.close()
        after = {n.name: n.debug() for n in members}
        run = rig.finish_probe()

        for flooder, done in zip(flooders, results):
            rate = done["frames_out"] / max(done["flood_s"], 1e-3)
            print(f"  {flooder.id}: {done['frames_out']} frames ({done['bytes_out']} bytes) "
                  f"written in {done['flood_s']:.1f} s, link closed by A: "
                  f"{done['closed_by_peer']}", flush=True)
            cluster.figure(f"flood: frames {flooder.id} got written per second", rate, "frames/s")
            if done["closed_by_peer"] or done["flood_s"] < FLOOD_S - 0.5:
                raise HarnessError(f"A cut {flooder.id} off instead of pacing it: {done}\n"
                                   + cluster.describe())
        handled = after["A"]["frames_in"] - before["A"]["frames_in"]
        read = after["A"]["bytes_in"] - before["A"]["bytes_in"]
        throttled = after["A"]["throttled"] - before["A"]["throttled"]
        unknown = after["A"]["unknown_types"] - before["A"]["unknown_types"]
        print(f"  A read {handled} frames ({read} bytes, {unknown} of an unknown type) in "
              f"{t_end - t_flood:.1f} s, paused reading {throttled} times", flush=True)
        cluster.figure("flood: frames A handled per second (all links)",
                       handled / (t_end - t_flood), "frames/s")
        cluster.figure("flood: bytes A read per second (all links)",
                       read / (t_end - t_flood) / 2 ** 20, "MiB/s")
        cluster.figure("flood: A's reads paused by the budget", throttled, "pauses")
        if throttled <= 0 or unknown <= 0:
            raise HarnessError(f"A throttled {throttled} times and read {unknown} unknown frames"
                               "\n" + cluster.describe())
        for node in members:
            timeouts = after[node.name]["heartbeat_timeouts"] - \
                before[node.name]["heartbeat_timeouts"]
            if timeouts:
                raise HarnessError(f"{node.name} timed out {timeouts} peers during the flood\n"
                                   + cluster.describe())
        cluster.check_limit("flood: worst last_heard_ms among members", max(heard),
                            LAST_HEARD_LIMIT_MS, "ms")
        cluster.figure("flood: A's prompt answer p50", percentile(prompt, 0.5) * 1e3, "ms")
        cluster.check_limit("flood: A's slowest prompt answer", max(prompt) * 1e3,
                            PROMPT_LIMIT_MS, "ms")
        cluster.check_limit("flood: A's CPU share", cpu, FLOOD_CPU_LIMIT, "cores")
        check_skew(cluster, "before the flood A,B,C", run, names,
                   mono_to_us(t_flood - FLOOD_BASELINE_S), mono_to_us(t_flood), 30)
        check_skew(cluster, "during the flood A,B,C", run, names, mono_to_us(t_flood),
                   mono_to_us(t_end), 40)


def scenario_storm(cluster: Cluster) -> None:
    """7. 500 connections that never prove the key, at a keyed member."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = STORM_CONNECTIONS + 256
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(want, soft), hard), hard))
    key, _ = gen_key(cluster, "cluster")
    a = cluster.node("A", leader=True, log_level="info", extra_args=key_args(key))
    b = cluster.node("B", bootstrap=a, log_level="info", extra_args=key_args(key))
    cluster.wait_mesh([a, b], timeout=SETUP_TIMEOUT_S, what="keyed set-up mesh")
    before = {n.name: n.debug() for n in (a, b)}
    rss0 = rss_kb(b)
    cpu0 = cpu_seconds(b)

    selector = selectors.DefaultSelector()
    opened: "dict[socket.socket, float]" = {}
    closed_after: "dict[int, float]" = {}
    answered: "list[int]" = []
    sources = ["127.0.0.1"] * STORM_FIRST_ADDRESS + [
        f"127.0.0.{2 + i % STORM_ADDRESSES}"
        for i in range(STORM_CONNECTIONS - STORM_FIRST_ADDRESS)]
    index: "dict[socket.socket, int]" = {}
    rss_peak = rss0
    t0 = now()
    try:
        for i, source in enumerate(sources):
            sock = socket.socket()
            sock.bind((source, 0))
            sock.setblocking(False)
            sock.connect_ex((HOST, b.port))
            opened[sock] = now()
            index[sock] = i
            selector.register(sock, selectors.EVENT_READ)
        t_connected = now()
        deadline = t_connected + HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S
        while len(closed_after) < len(sources) and now() < deadline:
            for handle, _ in selector.select(timeout=0.05):
                sock = handle.fileobj
                try:
                    data = sock.recv(4096)
                except (ConnectionResetError, ConnectionRefusedError):
                    data = b""
                except BlockingIOError:
                    continue
                if data:
                    answered.append(index[sock])
                    continue
                closed_after[index[sock]] = now() - opened[sock]
                selector.unregister(sock)
            rss_peak = max(rss_peak, rss_kb(b))
        t_done = now()
    finally:
        selector.close()
        for sock in opened:
            sock.close()
    cpu = (cpu_seconds(b) - cpu0) / (t_done - t0)
    open_left = len(sources) - len(closed_after)
    times = sorted(closed_after.values())
    early = sum(1 for t in times if t < HANDSHAKE_DEADLINE_S * 0.75)
    print(f"  {len(sources)} connections opened in {t_connected - t0:.2f} s; {len(times)} closed "
          f"by B ({early} before the deadline, by the caps), {open_left} still open after "
          f"{HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S:g} s", flush=True)
    cluster.figure("storm: connections closed by B early (by the caps)", early, "connections")
    if answered:
        raise HarnessError(f"B sent bytes on {len(answered)} unproved connections")
    if open_left:
        raise HarnessError(f"B left {open_left} unproved connections open past its deadline\n"
                           + cluster.describe())
    cluster.check_limit("storm: slowest close by B", times[-1],
                        HANDSHAKE_DEADLINE_S + CLOSE_MARGIN_S)
    cluster.check_limit("storm: B's RSS rise", (rss_peak - rss0) / 1024.0,
                        STORM_RSS_LIMIT_KB / 1024.0, "MB")
    cluster.check_limit("storm: B's CPU share", cpu, STORM_CPU_LIMIT, "cores")
    after = {n.name: n.debug() for n in (a, b)}
    evicted = after["B"]["unidentified_evicted"] - before["B"]["unidentified_evicted"]
    cluster.figure("storm: connections B evicted over its caps", evicted, "connections")
    if evicted < STORM_CONNECTIONS - 64:
        raise HarnessError(f"B evicted only {evicted} of {STORM_CONNECTIONS} unproved "
                           f"connections (it may hold 64)\n" + cluster.describe())
    if not log_has(b, f"({16 + 1} from 127.0.0.1, "):
        raise HarnessError("B's log does not show the per-address cap at work\n"
                           + cluster.describe())
    if after["A"]["heartbeat_timeouts"] != before["A"]["heartbeat_timeouts"] or \
            state_of(a.peers(), b) != "up":
        raise HarnessError("A lost B during the storm\n" + cluster.describe())
    t_join = now()
    c = cluster.node("C", bootstrap=b, log_level="info", extra_args=key_args(key))
    joined = cluster.wait_mesh([a, b, c], timeout=JOIN_LIMIT_S, since=t_join,
                               what="C joining after the storm")
    cluster.figure("storm: C joined afterwards in", joined, "s", JOIN_LIMIT_S)


def scenario_keyed_cluster(cluster: Cluster) -> None:
    """8. The keyed path carries the real protocol: join, play, pause, resume, failover."""
    key, key_id = gen_key(cluster, "cluster")
    with SyncRig(cluster, track_seconds=30.0, use_proxies=False) as rig:
        rig.make_track()
        a, b, c = members = keyed_trio(rig, key)
        for node in members:
            status = node.status()
            if status.get("cluster_key") != key_id or status.get("open_cluster"):
                raise HarnessError(f"{node.name}'s status: {status}")
        play_and_wait(rig, members)
        require_ok(c, "pause")  # typed on a follower: forwarded to the leader
        wait_until(lambda: all(n.status().get("state") == "paused" for n in members) or
                   "not all paused", 3.0, what="every member paused", describe=cluster.describe)
        require_ok(b, "resume")
        wait_until(all_playing(members), 3.0, what="every member playing again",
                   describe=cluster.describe)
        for node in members:
            if counter(node, "failed_handshakes") or counter(node, "decode_errors"):
                raise HarnessError(f"{node.name} counted failed handshakes or decode errors\n"
                                   + cluster.describe())
        leader, why = agreement(statuses(members), members)
        if leader is not a:
            raise HarnessError(f"A should lead: {why}")
        t_kill = now()
        a.kill9()
        agreed: "list[Node]" = []
        elapsed = wait_until(one_agreed_leader([b, c], agreed), AGREE_LIMIT_S + 2.0, poll=0.02,
                             since=t_kill, what="B and C agreeing on a new leader",
                             describe=cluster.describe)
        cluster.check_limit(f"kill -9 leader -> B and C agree on {agreed[-1].name}", elapsed,
                            AGREE_LIMIT_S)
        hold_for(all_playing([b, c]), 1.0, what="B and C playing on after the failover",
                 describe=cluster.describe)


def scenario_rotation(cluster: Cluster) -> None:
    """9. Key A accepting B and key B accepting A: one cluster."""
    old, old_id = gen_key(cluster, "old")
    new, new_id = gen_key(cluster, "new")
    n1 = cluster.node("N1", leader=True, log_level="info", extra_args=key_args(old, new))
    n2 = cluster.node("N2", bootstrap=n1, log_level="info", extra_args=key_args(new, old))
    n3 = cluster.node("N3", bootstrap=n2, log_level="info", extra_args=key_args(old, new))
    n4 = cluster.node("N4", bootstrap=n1, log_level="info", extra_args=key_args(new, old))
    everyone = [n1, n2, n3, n4]
    elapsed = cluster.wait_mesh(everyone, timeout=SETUP_TIMEOUT_S, what="mixed-key mesh")
    cluster.figure("rotation: mesh of two primary keys formed in", elapsed, "s")
    agreed: "list[Node]" = []
    wait_until(one_agreed_leader(everyone, agreed), 3.0, what="one leader",
               describe=cluster.describe)
    for node, key_id in ((n1, old_id), (n2, new_id), (n3, old_id), (n4, new_id)):
        if node.status().get("cluster_key") != key_id:
            raise HarnessError(f"{node.name} shows key {node.status().get('cluster_key')}, "
                               f"not {key_id}")
        if counter(node, "failed_handshakes"):
            raise HarnessError(f"{node.name} refused a handshake\n" + cluster.describe())


SCENARIOS = [
    ("1 key tooling: --gen-key, a readable key file, open and keyed status", scenario_key_tooling),
    ("2 strangers: no key and another key never join", scenario_strangers),
    ("3 raw clients: plain-protocol commands get nothing", scenario_raw_clients),
    ("4 replay: a recorded handshake replayed is refused", scenario_replay),
    ("5 id spoof: a live member's id is refused", scenario_id_spoof),
    ("6 flood: a keyed peer floods the leader", scenario_flood),
    ("7 connection storm: 500 unproved connections", scenario_storm),
    ("8 keyed cluster: play, pause, failover", scenario_keyed_cluster),
    ("9 key rotation: two primary keys, one cluster", scenario_rotation),
]

if __name__ == "__main__":
    sys.exit(run_main("security", SCENARIOS))
