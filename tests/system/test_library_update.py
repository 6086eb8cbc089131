#!/usr/bin/env python3
"""System test of new music being found while nodes run (docs/library.md "New music").

    python3 tests/system/test_library_update.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Nodes play to --output null; their tracks are short WAV files written here (the standard
library's wave module). Exit 0 = passed, 1 = failed.

Scenarios (how each fails if the product breaks):
  1 watched: A (leader, one track) and B (follower, an empty --tracks). A file written into A's
    directory, and one into a new subdirectory of it, must appear in `list --json` on A and on
    B without any command, and in the queue (which still mirrors the library); a file removed
    must disappear from both. Then 1000 files written at
    once must all appear on B, and cost A at most 5 rescans (status library.rescans), not 1000.
  2 not watched (--no-watch): a file copied in must still be missing after 3 s (more than the
    2 s a watching node waits), appear after `update` at the prompt, and a second one after MPD's
    `update` on a raw socket, which must answer `updating_db: N` then OK.
  3 directory vanishes: A's directory is moved away; `update` must log the error, keep A's
    list (and B's view of it) and leave A answering; moved back with a new file, `update`
    finds it.
  4 watch limit: a node in a user namespace of its own whose inotify watch limit
    (/proc/sys/user/max_inotify_watches, per user namespace) is below its number of directories
    must say once that it falls back to polling, list every track, and find a new file written
    into an unwatched album on `update` (skipped where user namespaces cannot be made).
"""

from __future__ import annotations

import socket
import struct
import subprocess
import sys
import wave
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HOST, Cluster, HarnessError, Node, Skip, hold_for, run_main,  # noqa: E402
                     wait_until)
from test_mpd import free_port, read_answer  # noqa: E402

_written = 0
BURST = 1000


def write_track(path: Path, seconds: float = 0.5) -> None:
    """A short WAV whose samples differ from every other this test writes (its own hash)."""
    global _written
    _written += 1
    step = _written
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = int(seconds * 48000)
    period = b"".join(struct.pack("<hh", i * step % 997, i * step % 991) for i in range(64))
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48000)
        out.writeframes((period * (frames // 64 + 1))[:frames * 4])


def names(node: Node) -> "set[str]":
    listing = node.command_json("list --json", timeout=3)
    result = {t["name"] for t in listing["tracks"]}
    pages = -(-listing["total"] // 50)
    for page in range(2, pages + 1):
        result |= {t["name"] for t in node.command_json(f"list --json --page {page}")["tracks"]}
    return result


def lists(nodes: "list[Node]", present: "set[str]", absent: "set[str]" = frozenset()):
    def check() -> Any:
        for node in nodes:
            have = names(node)
            if not present <= have:
                return f"{node.name} lacks {sorted(present - have)[:5]}"
            if have & absent:
                return f"{node.name} still lists {sorted(have & absent)[:5]}"
        return True
    return check


def library(node: Node) -> Any:
    return node.status()["library"]


def two_nodes(cluster: Cluster, extra: "list[str]" = ()) -> "tuple[Node, Node, Path]":
    tracks_a = cluster.workdir / "tracks-a"
    tracks_b = cluster.workdir / "tracks-b"
    write_track(tracks_a / "first.wav")
    tracks_b.mkdir()
    a = cluster.node("A", leader=True, node_id="node-a",
                     extra_args=["--output", "null", "--tracks", str(tracks_a), *extra])
    b = cluster.node("B", bootstrap=a, node_id="node-b",
                     extra_args=["--output", "null", "--tracks", str(tracks_b)])
    cluster.wait_mesh([a, b], timeout=10)
    wait_until(lists([a, b], {"first.wav"}), 10, what="both list A's first track",
               describe=cluster.describe)
    return a, b, tracks_a


def scenario_watched(cluster: Cluster) -> None:
    """1. Files written and removed show on both nodes without a command; a burst is coalesced."""
    a, b, tracks = two_nodes(cluster)
    write_track(tracks / "second.wav")
    write_track(tracks / "New Album" / "third.wav")
    wait_until(lists([a, b], {"first.wav", "second.wav", "New Album/third.wav"}), 10,
               what="both list the files written after start", describe=cluster.describe)

    def queue_mirrors() -> Any:
        queued = {item["name"] for item in b.command_json("queue --json")["items"]}
        return queued == {"first.wav", "second.wav", "New Album/third.wav"} or f"B's queue: {queued}"
    wait_until(queue_mirrors, 5, what="the queue, still the library, follows it",
               describe=cluster.describe)
    (tracks / "second.wav").unlink()
    wait_until(lists([a, b], {"first.wav", "New Album/third.wav"}, {"second.wav"}), 10,
               what="both drop the removed file", describe=cluster.describe)

    before = library(a)["rescans"]
    burst = [f"Burst/{i:04}.wav" for i in range(BURST)]
    for name in burst:
        write_track(tracks / name, seconds=0.01)
    expected = 2 + BURST  # first.wav, New Album/third.wav and the burst

    def b_has_all() -> Any:
        count = library(b)["cluster_tracks"]
        return count == expected or f"B's cluster library has {count} tracks, not {expected}"
    wait_until(b_has_all, 30, what=f"B lists the {BURST} files of the burst", describe=cluster.describe)
    wait_until(lists([b], {burst[0], burst[-1]}), 5, what="B lists the burst by name")
    wait_until(lambda: library(a)["updating_job"] == 0, 5, what="A's rescans are over")
    rescans = library(a)["rescans"] - before
    cluster.check_limit(f"rescans for a burst of {BURST} files", rescans, 5, unit="")


def mpd_update(port: int) -> str:
    with socket.create_connection((HOST, port), timeout=3) as sock:
        greeting = sock.makefile("rb").readline()
        if not greeting.startswith(b"OK MPD "):
            raise HarnessError(f"greeting {greeting!r}")
        sock.sendall(b"update\n")
        return read_answer(sock)


def scenario_not_watched(cluster: Cluster) -> None:
    """2. --no-watch: `update` at the prompt and MPD's update find new files."""
    mpd_port = free_port()
    a, b, tracks = two_nodes(cluster, ["--no-watch", "--mpd-port", str(mpd_port)])
    write_track(tracks / "late.wav")
    hold_for(lambda: "late.wav" not in names(a) or "A found late.wav without being asked", 3.0,
             what="A, not watching, does not list late.wav by itself")
    a.send("update")
    wait_until(lists([a, b], {"late.wav"}), 10, what="both list late.wav after update",
               describe=cluster.describe)

    write_track(tracks / "later.wav")
    answer = mpd_update(mpd_port)
    lines = answer.splitlines()
    if len(lines) != 2 or not lines[0].startswith("updating_db: ") or lines[1] != "OK":
        raise HarnessError(f"MPD update answered {answer!r}")
    if int(lines[0].split(": ")[1]) < 2:
        raise HarnessError(f"MPD update's job number {lines[0]!r} is not after the prompt's")
    wait_until(lists([a, b], {"late.wav", "later.wav"}), 10,
               what="both list later.wav after MPD's update", describe=cluster.describe)


def scenario_directory_vanishes(cluster: Cluster) -> None:
    """3. A directory moved away: the list is kept, the node runs on; moved back, it recovers."""
    a, b, tracks = two_nodes(cluster, ["--no-watch"])
    away = cluster.workdir / "away"
    tracks.rename(away)
    rescans = library(a)["rescans"]
    a.send("update")
    wait_until(lambda: library(a)["rescans"] > rescans, 5, what="A's rescan of the missing directory")
    wait_until(lambda: "keeping the last list" in a.stderr_text(), 5, what="A logs the error")
    if "first.wav" not in names(a) or "first.wav" not in names(b):
        raise HarnessError("the list was not kept after the directory vanished")
    away.rename(tracks)
    write_track(tracks / "back.wav")
    a.send("update")
    wait_until(lists([a, b], {"first.wav", "back.wav"}), 10, what="both list back.wav",
               describe=cluster.describe)


# One watch: the music folder's own; none of its 4 albums is watched, so a file written into an
# album makes no event and only `update` (or the 5-minute poll) can find it.
WATCH_LIMIT = 1
ALBUMS = 4
LIMITED_WATCHES = ["unshare", "--user", "--map-root-user", "sh", "-c",
                   f'echo {WATCH_LIMIT} > /proc/sys/user/max_inotify_watches && exec "$@"', "sh"]
FALLBACK_WARNING = "the inotify watch limit is reached"


def scenario_watch_limit(cluster: Cluster) -> None:
    """4. More directories than inotify watches: one warning, polling, update still finds music."""
    probe = subprocess.run([*LIMITED_WATCHES, "cat", "/proc/sys/user/max_inotify_watches"],
                           capture_output=True, text=True, timeout=10)
    if probe.returncode != 0 or probe.stdout.strip() != str(WATCH_LIMIT):
        raise Skip(f"no user namespace with a watch limit here: {probe.stderr.strip()!r}")
    tracks = cluster.workdir / "tracks"
    albums = [f"Album {i}/song.wav" for i in range(ALBUMS)]
    for name in albums:
        write_track(tracks / name)
    a = cluster.node("A", leader=True, node_id="node-a", prefix=LIMITED_WATCHES,
                     extra_args=["--output", "null", "--tracks", str(tracks)])
    wait_until(lists([a], set(albums)), 10, what="A lists every album", describe=cluster.describe)
    wait_until(lambda: FALLBACK_WARNING in a.stderr_text(), 5, what="A says it falls back to polling")
    write_track(tracks / "Album 0" / "late.wav")
    a.send("update")
    wait_until(lists([a], {"Album 0/late.wav"}), 10, what="A lists late.wav after update",
               describe=cluster.describe)
    if a.stderr_text().count(FALLBACK_WARNING) != 1:
        raise HarnessError("the fall-back to polling was logged more than once")


SCENARIOS = [
    ("1 watched: written and removed files show on both nodes", scenario_watched),
    ("2 not watched: update at the prompt and by MPD", scenario_not_watched),
    ("3 directory vanishes: the list is kept", scenario_directory_vanishes),
    ("4 watch limit: polling instead, update still works", scenario_watch_limit),
]

if __name__ == "__main__":
    sys.exit(run_main("library update", SCENARIOS))
