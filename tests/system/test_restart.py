#!/usr/bin/env python3
"""System test of the state a cluster keeps across a restart (docs/playback.md and docs/queue.md,
"After a restart"): after a power cut every node comes back with the queue, the modes, the
current item and its position.

    python3 tests/system/test_restart.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Three nodes (A with --leader, B and C) play to --output null from their own copies of two 40 s
WAV tracks written here; each has its own cache directory (the harness's), kept across restarts.

Scenarios (how each fails if the product breaks):
  1 power cut: the queue is edited (an add, a move; repeat and random on), the added item plays
    and is seeked to 20 s. B and C are killed with SIGKILL, A (the leader) stopped with SIGTERM
    (a graceful stop writes the position it has reached). All three start again: on every node
    the queue (ids, names, version), the modes and the current item must be back, paused at the
    position A had when it stopped (±0.3 s), within 6 s of the restart; `resume` typed on B must
    make all three play that item in the same (epoch, seq) from that position.
    Then a second power cut while playing (SIGKILL for all three): started again with
    --resume-playing on A, the cluster must play by itself, from a position no further back than
    the save interval (5 s) + 1 s before where it was at the kill.
  2 stale joiner: C is killed, the cluster (A, B) pauses and edits its queue; C started again
    with its older kept state must change nothing there (A's (epoch, seq), queue version and
    items unchanged) and must end with the cluster's queue and state.
Takes about 5 s.
"""

from __future__ import annotations

import sys
import time
import wave
from pathlib import Path
from typing import Any

from harness import Cluster, HarnessError, now, run_main, wait_until
from sync_rig import SyncNode, require_ok

RATE = 48_000
TRACK_SECONDS = 40
TRACKS = ("01-first.wav", "02-second.wav")
KEEP_INTERVAL_S = 5.0  # node/save_schedule.hpp kPlayingSaveIntervalUs: the position kept is at most this old


def write_tracks(directory: Path) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for index, name in enumerate(TRACKS):
        frames = TRACK_SECONDS * RATE
        with wave.open(str(directory / name), "wb") as out:
            out.setnchannels(2)
            out.setsampwidth(2)
            out.setframerate(RATE)
            # silence but for the first sample, which tells the two tracks apart (their hashes)
            out.writeframes(bytes([index + 1, 0, 0, 0]) + bytes(frames * 4 - 4))


def start_node(cluster: Cluster, name: str, tracks: Path, *, leader: bool = False,
               bootstrap: Any = None) -> SyncNode:
    node = SyncNode(cluster.binary, name, cluster.workdir, leader=leader, listen_port=0,
                    bootstrap=bootstrap, log_level="info",
                    extra_args=["--tracks", str(tracks), "--output", "null"])
    cluster.nodes.append(node)
    node.start(timeout=5.0)
    node.listen_port = node.port  # a restart listens where the others dial it
    return node


def queue_of(node: SyncNode) -> "dict[str, Any]":
    return node.command_json("queue --json", timeout=2.0)


def summary(queue: "dict[str, Any]") -> "tuple":
    return (queue["version"], [(i["id"], i["name"]) for i in queue["items"]],
            tuple(sorted(queue["modes"].items())))


def seconds_of(view: "dict[str, Any]") -> float:
    """The position status reports, in seconds, extrapolated to now when playing."""
    frames = view["position_frames"]
    if view.get("state") == "playing":
        frames += (time.monotonic_ns() / 1000 - view["position_local_us"]) * RATE / 1e6
    return frames / RATE


def same_everywhere(nodes: "list[SyncNode]", want_queue: "tuple", state: str, item_id: int):
    """Predicate: every node has the queue `want_queue`, is in `state` on `item_id`, synced."""
    def check() -> object:
        bad = []
        for node in nodes:
            view = node.status(timeout=2.0)
            got = summary(queue_of(node))
            track = view.get("track") or {}
            if got != want_queue:
                bad.append(f"{node.name}: queue {got}")
            if view.get("state") != state or track.get("item_id") != item_id or not view.get("state_synced"):
                bad.append(f"{node.name}: {view.get('state')} item {track.get('item_id')} "
                           f"synced {view.get('state_synced')}")
        return True if not bad else "; ".join(bad)
    return check


def one_order(nodes: "list[SyncNode]") -> None:
    orders = {n.name: tuple(n.status(timeout=2.0)["epoch_seq"]) for n in nodes}
    if len(set(orders.values())) != 1:
        raise HarnessError(f"the nodes hold different states: {orders}")


def power_cut_cluster(cluster: Cluster) -> "tuple[SyncNode, SyncNode, SyncNode, Path]":
    tracks = cluster.workdir / "tracks"
    write_tracks(tracks)
    a = start_node(cluster, "A", tracks, leader=True)
    b = start_node(cluster, "B", tracks, bootstrap=a)
    c = start_node(cluster, "C", tracks, bootstrap=a)
    cluster.wait_mesh([a, b, c], timeout=5.0)
    wait_until(lambda: all(len(queue_of(n)["items"]) == 2 for n in (a, b, c)) or "queues not mirrored yet",
               5.0, what="the library in every queue", describe=cluster.describe)
    return a, b, c, tracks


def restart_all(cluster: Cluster, a: SyncNode, b: SyncNode, c: SyncNode) -> float:
    t = now()
    a.restart(timeout=5.0)
    b.restart(timeout=5.0)
    c.restart(timeout=5.0)
    cluster.wait_mesh([a, b, c], timeout=5.0)
    return t


def scenario_power_cut(cluster: Cluster) -> None:
    """1. The queue, modes, current item and position come back after a power cut."""
    a, b, c, _ = power_cut_cluster(cluster)
    everyone = [a, b, c]
    require_ok(a, "add 2")        # 01, 02, 02
    require_ok(a, "move 3 1")     # 02 (the added one), 01, 02
    require_ok(a, "repeat on")
    require_ok(a, "random on")
    before = queue_of(a)
    added = before["items"][0]["id"]
    require_ok(a, "play 1")
    require_ok(a, "seek 20")
    wait_until(same_everywhere(everyone, summary(before), "playing", added), 5.0,
               what="all three playing the added item", describe=cluster.describe)
    b.kill9()
    c.kill9()
    t_asked = now()
    a_before = seconds_of(a.status())
    if a.terminate(timeout=5.0) != 0:
        raise HarnessError(f"A did not stop cleanly: {a.stderr_tail()}")
    a_latest = a_before + (now() - t_asked)  # A played on until it stopped, at most this far
    kept = a.workdir / "A.cache" / "playback.json"
    if not kept.exists():
        raise HarnessError("A kept no playback.json in its cache directory")
    print(f"  A kept: {kept.read_text()[:300]}", flush=True)

    t_restart = restart_all(cluster, a, b, c)
    elapsed = wait_until(same_everywhere(everyone, summary(before), "paused", added), 6.0,
                         since=t_restart, what="the kept queue and item, paused, on all three",
                         describe=cluster.describe)
    cluster.figure("restart -> kept state on all three", elapsed)
    one_order(everyone)
    positions = {n.name: seconds_of(n.status()) for n in everyone}
    # A stopped gracefully: what it kept is where it was when it stopped.
    if len({round(p, 3) for p in positions.values()}) != 1 or \
            not a_before - 0.3 <= positions["A"] <= a_latest + 0.3:
        raise HarnessError(f"paused positions after the restart: {positions}, expected one, "
                           f"between {a_before:.3f} and {a_latest:.3f} s")
    position = positions["A"]
    print(f"  restored paused at {position:.3f} s on all three", flush=True)
    paused_again = seconds_of(a.status())
    if abs(paused_again - position) > 0.001:
        raise HarnessError(f"a restored cluster should stay paused: {position} -> {paused_again}")

    require_ok(b, "resume")
    wait_until(same_everywhere(everyone, summary(before), "playing", added), 3.0,
               what="all three playing the kept item again", describe=cluster.describe)
    one_order(everyone)
    # The resume takes effect `lead` after the command; the engines report from their first block.
    wait_until(lambda: all(seconds_of(n.status()) > position for n in everyone) or
               {n.name: seconds_of(n.status()) for n in everyone}, 2.0,
               what="the engines to play on from the kept position", describe=cluster.describe)
    resumed = {n.name: seconds_of(n.status()) for n in everyone}
    if any(not position <= p <= position + 2.0 for p in resumed.values()):
        raise HarnessError(f"after play the nodes are at {resumed}, expected just after {position:.3f} s")

    # A second power cut, while playing: all three SIGKILLed once A has written that it plays (a
    # change is on disk within 2 s, node/save_schedule.hpp).
    kept_file = a.workdir / "A.cache" / "playback.json"
    wait_until(lambda: '"status":"playing"' in kept_file.read_text() or kept_file.read_text()[:200], 4.0,
               what="A to keep the playing state", describe=cluster.describe)
    at_kill = seconds_of(a.status())
    for node in everyone:
        node.kill9()
    a.extra_args.append("--resume-playing")
    t_restart = restart_all(cluster, a, b, c)
    elapsed = wait_until(same_everywhere(everyone, summary(before), "playing", added), 6.0,
                         since=t_restart, what="--resume-playing: all three playing by themselves",
                         describe=cluster.describe)
    cluster.figure("restart with --resume-playing -> playing on all three", elapsed)
    one_order(everyone)
    wait_until(lambda: all(n.status()["position_frames"] > 0 for n in everyone) or "engines not started", 2.0,
               what="the engines to play", describe=cluster.describe)
    played = {n.name: seconds_of(n.status()) for n in everyone}
    ran = now() - t_restart
    if any(not at_kill - KEEP_INTERVAL_S - 1.0 <= p <= at_kill + ran + 0.5 for p in played.values()):
        raise HarnessError(f"resumed at {played}, killed at {at_kill:.3f} s ({ran:.1f} s ago)")


def scenario_stale_joiner(cluster: Cluster) -> None:
    """2. A node with an older kept state joining a running cluster changes nothing there."""
    a, b, c, _ = power_cut_cluster(cluster)
    require_ok(a, "play 2")
    wait_until(lambda: all((n.status().get("track") or {}).get("item_id") for n in (a, b, c)) or "not yet",
               5.0, what="all three playing")
    c.kill9()
    require_ok(a, "add 1")
    require_ok(a, "pause")
    require_ok(a, "seek 10")
    cluster_queue = summary(queue_of(a))
    order = a.status()["epoch_seq"]
    item = a.status()["track"]["item_id"]
    c.restart(timeout=5.0)
    cluster.wait_mesh([a, b, c], timeout=5.0)
    wait_until(same_everywhere([a, b, c], cluster_queue, "paused", item), 5.0,
               what="C to take the running cluster's state", describe=cluster.describe)
    if a.status()["epoch_seq"] != order or summary(queue_of(a)) != cluster_queue:
        raise HarnessError(f"C's kept state changed the running cluster: {a.status()['epoch_seq']} != {order}")
    one_order([a, b, c])
    if abs(seconds_of(c.status()) - 10.0) > 0.001:
        raise HarnessError(f"C is not where the cluster is paused: {seconds_of(c.status())}")


SCENARIOS = [
    ("1 power cut: queue, modes, item and position come back", scenario_power_cut),
    ("2 stale joiner: an older kept state changes nothing", scenario_stale_joiner),
]

if __name__ == "__main__":
    sys.exit(run_main("kept state across restarts", SCENARIOS))
