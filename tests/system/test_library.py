#!/usr/bin/env python3
"""System test of the cluster's library: nodes play tracks they do not have, fetching them from
their peers chunk by chunk into their caches (docs/library.md).

    python3 tests/system/test_library.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Needs BUILD/tools/skew_probe (or $CHORUS_SKEW_PROBE). Exit 0 = passed, 1 = failed.

Tracks are counting tracks (skew_probe make-track: every frame holds its own number + 1), 48 kHz
stereo 16-bit WAV, 192 kB a second: a 40 s track is 7.68 MB, 30 chunks of 256 KiB. Nodes that
are measured play into FIFOs read by skew_probe (see sync_rig.py), so what is checked is which
frame each node really put out and when, on this machine's clock. No proxies: loopback, with the
loopback limits of test_sync.py scenario 3 (skew p95 <= 1 ms, max <= 2 ms).

Scenarios (how each fails if the product breaks):
  1 empty nodes play in sync: A holds the tracks, B and C start with an empty --tracks; `play`
    on A. B and C must fetch the track and be in sync with A from 1 s after their fetches
    complete (skew window); `list --json` on B must list every track of A with the right hashes,
    the played one "cached", the other "not here"; bytes_fetched must equal the file's size
    exactly on B and C, and their cache file must hash to the track's hash.
  2 leader dies mid-fetch: A uploads at 2 MB/s (the 1.5 Mbit/s WAV twice over, with room for
    the start); B and C empty. Once both play and neither has
    the whole file, A is killed with SIGKILL. B and C must agree on a new leader, keep playing
    with no silence while the audio they hold together lasts (probe gap analysis), and either
    complete from each other or report, in fetches[].unavailable, exactly the chunks neither
    holds (read from their .meta bitmaps) with a problem text; neither may crash.
  3 corrupt holder: B fetched the track from A, was stopped, its cache file damaged (a marker of
    0xFF bytes, frame number 2^32-2, in the middle of every chunk but the first and last, size
    kept) and restarted. C joins empty while A and B play; A uploads slowly (2 MB/s) so C asks B
    for chunks too. C must count corrupt chunks, log "failed verification", complete from A
    (whole-file hash right), never put out a frame that is not the counting value (no marker
    frames, no frame of the track's range beyond it, jumps only at silences) and be in sync with
    A once complete; A must play on without a gap or jump.
  4 cache fills and evicts: B (empty, --cache-mb 16, room for two of the tracks) plays three
    7.7 MB tracks in turn, each until it is cached. While track 2 plays, B must fetch track 3
    (the next one) before `play 3`: track 1 is protected only until the switch to track 2 has
    passed, and is evicted for track 3. Then evictions >= 1, list says "not here" for track 1
    and "cached" for the others, the cache dir holds <= cache_max_bytes; B (like A) goes from
    track 2 straight into track 3's first block, with no silence, and is in sync with A from
    there.
  5 seek on a follower: A, B, C (B and C fetched the track) in sync; `seek 20` typed on B, then
    `seek -5` typed on C. Every node must jump to frame 20 s * 48000 (+ at most 0.3 s), then to
    5 s before where it was, at the same instant (skew limits after each seek).
  6a cache dir is a regular file: the node starts, status library.cache_error says "not a
    directory", it still plays its own track, and A plays that track too (fetched from it).
  6b file changed on disk while served: A's file is overwritten (same size) past the chunks B
    fetched first; B's fetch must show a problem and not complete, A must log "changed on disk",
    both keep running.
  6c holder stopped mid-transfer: A (the only holder) gets SIGSTOP while B fetches: B's fetch
    must stall with a problem; after SIGCONT it must complete, and the file must hash right.
"""

from __future__ import annotations

import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any, Iterable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HOST, Cluster, HarnessError, agreement, hold_for, now,  # noqa: E402
                     run_main, statuses, wait_until)
from sync_rig import (BLOCK_FRAMES, RATE, Block, ProbeRun, SyncNode, SyncRig,  # noqa: E402
                      all_playing, free_port, mono_to_us, require_ok, synced)
from test_sync import check_skew  # noqa: E402

CHUNK = 256 * 1024
WAV_HEADER = 44
MARKER_BYTES = 4096          # 1024 frames of 0xFFFFFFFF (frame number 2^32 - 2) per damaged chunk
JOIN_SETTLE_S = 1.0          # a fetching node is judged from this long after its fetch completed


# ---- set-up -------------------------------------------------------------------------------------


def make_track(rig: SyncRig, directory: Path, name: str, seconds: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    result = subprocess.run([rig.probe_binary, "make-track", str(path), f"{seconds:g}"],
                            capture_output=True, timeout=30)
    if result.returncode != 0 or not path.is_file():
        raise HarnessError(f"skew_probe make-track failed: {result.stderr.decode(errors='replace')}")
    return path


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def chunks_of(size: int) -> int:
    return (size + CHUNK - 1) // CHUNK


def frames_of(path: Path) -> int:
    return (path.stat().st_size - WAV_HEADER) // 4


def add(rig: SyncRig, name: str, tracks: Path, *, leader: bool = False,
        bootstrap: Optional[SyncNode] = None, extra: Iterable[str] = ()) -> SyncNode:
    """A node on loopback with its own --tracks dir (created, possibly empty), writing into its
    FIFO if rig.fifo(name) made one, else to --output null."""
    tracks.mkdir(parents=True, exist_ok=True)
    port = free_port()
    output = f"file:{rig.fifos[name]}" if name in rig.fifos else "null"
    node = SyncNode(rig.binary, name, rig.workdir, port=port, leader=leader,
                    bootstrap=None if bootstrap is None else (HOST, bootstrap.port),
                    log_level="info", listen_port=port,
                    extra_args=["--tracks", str(tracks), "--output", output, *extra])
    rig.cluster.nodes.append(node)
    rig.nodes[name] = node
    node.start(timeout=5.0)
    return node


def library(node: SyncNode) -> "dict[str, Any]":
    return node.status(timeout=2.0).get("library") or {}


def fetch_of(node: SyncNode, track_hash: str) -> Optional["dict[str, Any]"]:
    for f in library(node).get("fetches") or []:
        if f.get("hash") == track_hash:
            return f
    return None


def listing(node: SyncNode, query: str = "") -> "dict[str, Any]":
    return node.command_json(f"list --json {query}".strip(), timeout=3.0)


def where(node: SyncNode, track_hash: str) -> Optional[str]:
    for t in listing(node).get("tracks") or []:
        if t.get("hash") == track_hash:
            return t.get("where")
    return None


def index_of(node: SyncNode, track_hash: str) -> "Any":
    """Predicate for wait_until that also gives the track's index: a list, filled on success."""
    found: "list[int]" = []

    def check() -> object:
        for t in listing(node).get("tracks") or []:
            if t.get("hash") == track_hash:
                found.append(int(t["index"]))
                return True
        return f"{node.name} does not list {track_hash[:12]} yet"
    return check, found


def track_index(node: SyncNode, track_hash: str, timeout: float = 5.0) -> int:
    check, found = index_of(node, track_hash)
    wait_until(check, timeout, what=f"{node.name} to list the track")
    return found[-1]


def cached(node: SyncNode, track_hash: str):
    def check() -> object:
        w = where(node, track_hash)
        return True if w == "cached" else f"{node.name}: where = {w!r}, fetch {fetch_of(node, track_hash)}"
    return check


def cache_file(node: SyncNode, track_hash: str) -> Path:
    return node.workdir / f"{node.name}.cache" / track_hash


def held_bitmap(node: SyncNode, track_hash: str, chunks: int) -> "list[bool]":
    """What a node holds of a track, from its cache on disk: everything if complete, else the
    .meta bitmap (docs/library.md, "The .meta format")."""
    directory = node.workdir / f"{node.name}.cache"
    if (directory / track_hash).is_file():
        return [True] * chunks
    meta = directory / f"{track_hash}.meta"
    if not meta.is_file():
        return [False] * chunks
    data = meta.read_bytes()
    if data[:8] != b"CHORUSPF":
        raise HarnessError(f"{meta} has no CHORUSPF magic")
    n = int.from_bytes(data[24:32], "little")
    if n != chunks:
        raise HarnessError(f"{meta} says {n} chunks, expected {chunks}")
    bits = data[32 + 32 * n:]
    return [bool(bits[i // 8] >> (i % 8) & 1) for i in range(n)]


def ranges_bitmap(fetch: dict, chunks: int) -> "list[bool]":
    """The chunks a fetch's `held_ranges` ([first, last] pairs) name, as a bitmap."""
    if fetch.get("held_ranges_truncated"):
        raise HarnessError(f"held_ranges cut short: {fetch}")
    bits = [False] * chunks
    for first, last in fetch.get("held_ranges") or []:
        for i in range(first, last + 1):
            bits[i] = True
    if bits.count(True) != fetch.get("held"):
        raise HarnessError(f"held_ranges {fetch.get('held_ranges')} name {bits.count(True)} "
                           f"chunks, held says {fetch.get('held')}")
    return bits


def check_whole_file(cluster: Cluster, node: SyncNode, track_hash: str, size: int) -> None:
    path = cache_file(node, track_hash)
    if not path.is_file():
        raise HarnessError(f"{node.name}: no complete cache file {path}")
    if path.stat().st_size != size or sha256_of(path) != track_hash:
        raise HarnessError(f"{node.name}: cache file {path} ({path.stat().st_size} bytes) does "
                           f"not hash to the track's {track_hash}")


def check_counting(cluster: Cluster, run: ProbeRun, name: str, track_frames: int,
                   allowed_jumps: int = 0) -> None:
    """Every audible block of `name` carries counting values of the track: its first frame in
    [0, track_frames), and its frames consecutive except
    across a silence (the probe's own count of jumps, over every frame, is at most the number of
    silences plus the start plus `allowed_jumps`)."""
    bad = []
    for block in run.blocks.get(name, []):
        if block.first < 0:
            continue
        if not 0 <= block.first < track_frames:
            bad.append(("out of the track", block))
    if bad:
        raise HarnessError(f"{name} put out frames that are not the track's: {bad[:5]} "
                           f"({len(bad)} blocks)")
    gaps = run.gaps(name)
    jumps = run.node(name)["jumps"]
    cluster.figure(f"{name}: jumps / silences in its output", jumps, "jumps")
    if jumps > len(gaps) + 1 + allowed_jumps:
        raise HarnessError(f"{name}: {jumps} jumps in its frame numbers with {len(gaps)} "
                           f"silences: it put out frames out of order: {run.jumps_at(name)[:5]}")


def steady_skew(cluster: Cluster, label: str, run: ProbeRun, names: "list[str]",
                t0: float, t1: float = math.inf, min_buckets: int = 30) -> None:
    check_skew(cluster, label, run, names, mono_to_us(t0),
               mono_to_us(t1) if t1 != math.inf else math.inf, min_buckets)


def no_gaps(run: ProbeRun, name: str, t0: float, t1: float = math.inf) -> None:
    lo, hi = mono_to_us(t0), (mono_to_us(t1) if t1 != math.inf else math.inf)
    found = [g for g in run.gaps(name) if lo <= g.start_us < hi]
    if found:
        raise HarnessError(f"{name} fell silent while playing: {found[:3]}")


# ---- scenarios ----------------------------------------------------------------------------------


def scenario_empty_nodes(cluster: Cluster) -> None:
    """1. B and C have no tracks: they fetch A's and play in sync."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        big = make_track(rig, w / "A.tracks", "01-count.wav", 30.0)
        small = make_track(rig, w / "A.tracks", "02-short.wav", 5.0)
        other = make_track(rig, w / "A.tracks", "03-other.wav", 6.0)
        big_hash, small_hash, other_hash = sha256_of(big), sha256_of(small), sha256_of(other)
        names = ["A", "B", "C"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, 14.0)
        a = add(rig, "A", w / "A.tracks", leader=True)
        b = add(rig, "B", w / "B.tracks", bootstrap=a)
        c = add(rig, "C", w / "C.tracks", bootstrap=a)
        cluster.wait_mesh([a, b, c], timeout=5.0)
        wait_until(synced([b, c]), 5.0, what="B and C synced", describe=cluster.describe)
        index = track_index(b, big_hash)
        t_play = now()
        require_ok(a, f"play {index}")
        done = {}
        for node in (b, c):
            done[node.name] = wait_until(cached(node, big_hash), 8.0, since=t_play,
                                         what=f"{node.name} to cache the track",
                                         describe=cluster.describe)
            cluster.figure(f"{node.name}: play -> track cached", done[node.name])
            # The next track is fetched too, so that the played one flows into it.
            wait_until(cached(node, small_hash), 5.0, what=f"{node.name} to cache the next track")
        wait_until(all_playing([a, b, c]), 3.0, what="A, B, C playing")
        t_complete = t_play + max(done.values())

        # The list: every track of A, alike on B, the played one cached.
        page = listing(b)
        got = {t["hash"]: t for t in page.get("tracks", [])}
        if page.get("total") != 3 or set(got) != {big_hash, small_hash, other_hash}:
            raise HarnessError(f"B lists {page.get('total')} tracks {sorted(got)}, expected A's "
                               f"three: {big_hash}, {small_hash}, {other_hash}: "
                               f"{json.dumps(page)[:600]}")
        wheres = [got[h]["where"] for h in (big_hash, small_hash, other_hash)]
        if wheres != ["cached", "cached", "not here"]:
            raise HarnessError(f"B's list says {wheres} for the played track, the next one and "
                               f"the one after: expected cached, cached, not here: {page}")
        if listing(a)["tracks"] and [t["hash"] for t in listing(a)["tracks"]] != \
                [t["hash"] for t in page["tracks"]]:
            raise HarnessError("A and B number the tracks differently")
        for node in (b, c):
            # status shows the content service's view as of its last tick: wait for it.
            wait_until(lambda: not library(node).get("fetches") or "fetches still listed", 2.0,
                       what=f"{node.name}'s status to drop the finished fetches")
            lib = library(node)
            expected = big.stat().st_size + small.stat().st_size
            if lib.get("bytes_fetched") != expected:
                raise HarnessError(f"{node.name}: bytes_fetched {lib.get('bytes_fetched')} != "
                                   f"the two files' sizes {expected}: {lib}")
            if fetch_of(node, big_hash) is not None or lib.get("corrupt_chunks"):
                raise HarnessError(f"{node.name}: fetch still listed or corrupt chunks: {lib}")
            check_whole_file(cluster, node, big_hash, big.stat().st_size)
            check_whole_file(cluster, node, small_hash, small.stat().st_size)

        run = rig.finish_probe()
        for name in ("B", "C"):
            first = run.first_audible_us(name)
            if first is None:
                raise HarnessError(f"{name} was never audible")
            cluster.figure(f"{name}: play -> first audible block", (first - mono_to_us(t_play)) / 1e6)
            check_counting(cluster, run, name, frames_of(big))
        steady_skew(cluster, "A,B,C after the fetches", run, names, t_complete + JOIN_SETTLE_S)
        no_gaps(run, "A", t_play)
        for name in ("B", "C"):
            no_gaps(run, name, (run.first_audible_us(name) or 0) / 1e6)


def scenario_leader_dies(cluster: Cluster) -> None:
    """2. A (the only holder, 2 MB/s upload) is killed while B and C fetch and play."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        track = make_track(rig, w / "A.tracks", "count.wav", 60.0)
        track_hash, size = sha256_of(track), track.stat().st_size
        n = chunks_of(size)
        for name in ("B", "C"):
            rig.fifo(name)
        rig.start_probe(["B", "C"], 16.0)
        a = add(rig, "A", w / "A.tracks", leader=True, extra=["--upload-limit-mb", "2"])
        b = add(rig, "B", w / "B.tracks", bootstrap=a)
        c = add(rig, "C", w / "C.tracks", bootstrap=a)
        cluster.wait_mesh([a, b, c], timeout=5.0)
        wait_until(synced([b, c]), 5.0, what="B and C synced", describe=cluster.describe)
        index = track_index(b, track_hash)
        t_play = now()
        require_ok(a, f"play {index}")
        wait_until(all_playing([b, c]), 8.0, what="B and C playing", describe=cluster.describe)

        def audio_in() -> object:
            held = {node.name: (fetch_of(node, track_hash) or {}).get("held", 0) for node in (b, c)}
            if min(held.values()) < 10:
                return f"held: {held}"
            silent = [node.name for node in (b, c) if node.status().get("missing_track")]
            return f"{silent} not playing the track yet" if silent else True
        # Long enough for them to hold different chunks: each gets every other one from A.
        wait_until(audio_in, 8.0, what="B and C to hold 10 chunks each",
                   describe=cluster.describe)

        def both_fetching() -> object:
            for node in (b, c):
                f = fetch_of(node, track_hash)
                if f is None or f.get("complete"):
                    return f"{node.name}: fetch {f}"
            return True
        # Both play from the fetched bytes, every block decoded, for half a second before the
        # kill: the check below is about what the kill does, not about the fetch's start.
        def steady_for_half_a_second() -> object:
            start = {node.name: node.status()["engine"]["not_decoded_frames"] for node in (b, c)}
            try:
                hold_for(lambda: all(not node.status().get("missing_track")
                                     and node.status()["engine"]["not_decoded_frames"] == start[node.name]
                                     for node in (b, c)), 0.5, what="B and C playing every block")
            except HarnessError as error:
                return str(error)
            return True
        wait_until(steady_for_half_a_second, 8.0, what="B and C playing every block for 0.5 s",
                   describe=cluster.describe)
        # Not a wait: both must still be fetching the moment they play (A's upload is slow).
        why = both_fetching()
        if why is not True:
            raise HarnessError(f"B or C completed before A could be killed mid-fetch: {why}")
        held_at_kill = {node.name: fetch_of(node, track_hash)["held"] for node in (b, c)}
        t_kill = now()
        a.kill9()
        print(f"  A killed {t_kill - t_play:.2f} s after play; held then: {held_at_kill} of {n}",
              flush=True)
        agreed: list = []

        def new_leader() -> object:
            leader, why = agreement(statuses([b, c]), [b, c])
            if leader is None:
                return why
            agreed.append(leader)
            return True
        cluster.figure("A killed -> B and C agree on a new leader",
                       wait_until(new_leader, 6.0, since=t_kill, what="a new leader of B and C",
                                  describe=cluster.describe))

        def settled() -> object:
            out = []
            for node in (b, c):
                f = fetch_of(node, track_hash)
                if f is None:
                    if where(node, track_hash) != "cached":
                        return f"{node.name}: no fetch and not cached"
                    continue
                if not (f.get("unavailable") and f.get("problem")) or \
                        f["held"] + f["unavailable"] != f["chunks"]:
                    out.append(f"{node.name}: {f}")
            return True if not out else "; ".join(out)
        wait_until(settled, 8.0, what="B and C to complete or report the missing chunks",
                   describe=cluster.describe)
        bitmaps = {node.name: held_bitmap(node, track_hash, n) for node in (b, c)}
        # `status` names the chunks held (held_ranges) as the cache's own bitmap does.
        for node in (b, c):
            f = fetch_of(node, track_hash)
            if f is not None and ranges_bitmap(f, n) != bitmaps[node.name]:
                raise HarnessError(f"{node.name}: held_ranges {f.get('held_ranges')} are not the "
                                   f"chunks its cache holds")
        union = [x or y for x, y in zip(bitmaps["B"], bitmaps["C"])]
        missing = union.count(False)
        # What one of them held, the other fetched from it.
        for name, bits in bitmaps.items():
            if bits != union:
                raise HarnessError(f"{name} holds {bits.count(True)} chunks, B and C together "
                                   f"{union.count(True)}: it did not fetch the rest from the other")
        for node in (b, c):
            f = fetch_of(node, track_hash)
            if f is None:
                check_whole_file(cluster, node, track_hash, size)
                if missing:
                    raise HarnessError(f"{node.name} completed though {missing} chunks were held "
                                       "by nobody alive")
                continue
            print(f"  {node.name}: {f}", flush=True)
            if f["unavailable"] != missing:
                raise HarnessError(f"{node.name} says {f['unavailable']} chunks are unavailable; "
                                   f"B and C together lack {missing}: {f}")
            if "no reachable peer" not in f["problem"] and "no peer" not in f["problem"]:
                raise HarnessError(f"{node.name}'s problem does not say chunks are missing: {f}")
        cluster.figure("chunks held by neither B nor C after A died", missing, "chunks")

        run = rig.finish_probe()
        for node in (b, c):
            if not node.alive():
                raise HarnessError(f"{node.name} exited with {node.returncode()}")
        # No silence while the audio B and C hold together lasts: from the chunk playing at the
        # kill up to the first chunk neither holds.
        held_s = []
        for name in ("B", "C"):
            check_counting(cluster, run, name, frames_of(track))
            first = run.first_audible_us(name)
            before_kill = [blk for blk in run.blocks[name]
                           if 0 <= blk.first and blk.arrival_us <= mono_to_us(t_kill)]
            if not before_kill:
                raise HarnessError(f"{name} was not audible before A was killed")
            at_kill = before_kill[-1].first
            chunk_at_kill = (WAV_HEADER + 4 * at_kill) // CHUNK
            end_chunk = next((i for i in range(chunk_at_kill, n) if not union[i]), n)
            end_frame = (end_chunk * CHUNK - WAV_HEADER) // 4
            # Silence that lasts past the kill (the start of the fetch, before it, is scenario
            # 1's and the wait above's).
            gaps = [g for g in run.gaps(name) if g.start_us >= first and g.end_us > mono_to_us(t_kill)
                    and g.last_before < end_frame - 2 * BLOCK_FRAMES]
            held_s.append((end_frame - at_kill) / RATE)
            cluster.figure(f"{name}: audio held past the kill", held_s[-1])
            if gaps:
                raise HarnessError(f"{name} fell silent with the audio in hand (held up to frame "
                                   f"{end_frame}): {gaps[:3]}")
            after = [blk for blk in run.blocks[name]
                     if blk.first >= 0 and blk.arrival_us > mono_to_us(t_kill + 2.0)]
            if min(end_frame - at_kill, 2 * RATE) >= RATE and not after:
                raise HarnessError(f"{name} was not audible 2 s after A was killed")
        window_end = t_kill + min(4.0, min(held_s) - 0.3)
        steady_skew(cluster, "B,C after A died", run, ["B", "C"], t_kill + 0.5, window_end,
                    min_buckets=int((window_end - t_kill - 0.5) * 8))


def damage(path: Path, chunks: int) -> "list[tuple[int, int]]":
    """Overwrites MARKER_BYTES in the middle of every chunk but the first and last with 0xFF
    (same size); returns the damaged chunks' frame ranges."""
    ranges = []
    with open(path, "r+b") as f:
        for c in range(1, chunks - 1):
            f.seek(c * CHUNK + CHUNK // 2)
            f.write(b"\xff" * MARKER_BYTES)
            lo = (c * CHUNK - WAV_HEADER + 3) // 4
            hi = ((c + 1) * CHUNK - WAV_HEADER) // 4
            ranges.append((lo, hi))
    return ranges


def scenario_corrupt_holder(cluster: Cluster) -> None:
    """3. B's cache copy is damaged; C joins and fetches from A and B."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        track = make_track(rig, w / "A.tracks", "count.wav", 40.0)
        track_hash, size = sha256_of(track), track.stat().st_size
        n = chunks_of(size)
        for name in ("A", "C"):
            rig.fifo(name)
        rig.start_probe(["A", "C"], 15.0)
        a = add(rig, "A", w / "A.tracks", leader=True, extra=["--upload-limit-mb", "2"])
        b = add(rig, "B", w / "B.tracks", bootstrap=a)
        cluster.wait_mesh([a, b], timeout=5.0)
        index = track_index(b, track_hash)
        t_play = now()
        require_ok(a, f"play {index}")
        wait_until(cached(b, track_hash), 8.0, what="B to cache the track", describe=cluster.describe)
        b.terminate()
        damage(cache_file(b, track_hash), n)
        b.restart()
        c = add(rig, "C", w / "C.tracks", bootstrap=a)
        t_c = now()
        cluster.wait_mesh([a, b, c], timeout=5.0)
        took = wait_until(cached(c, track_hash), 12.0, since=t_c, what="C to cache the track",
                          describe=cluster.describe)
        t_complete = now()
        cluster.figure("C launched -> track cached (from A, with B damaged)", took)
        # status shows the content service's view as of its last tick: wait for it.
        wait_until(lambda: library(c).get("bytes_fetched") == size or "not yet", 2.0,
                   what="C's status to count the whole file")
        lib = library(c)
        print(f"  C: corrupt_chunks {lib.get('corrupt_chunks')}, bytes_fetched "
              f"{lib.get('bytes_fetched')}", flush=True)
        cluster.figure("C: corrupt chunks detected", lib.get("corrupt_chunks") or 0, "chunks")
        if not lib.get("corrupt_chunks"):
            raise HarnessError(f"C counted no corrupt chunk though B holds {n - 2} damaged ones "
                               f"and A's upload is slow: {lib}\n{cluster.describe()}")
        if "failed verification" not in c.stderr_text():
            raise HarnessError("C's log has no 'failed verification' line")
        if lib.get("bytes_fetched") != size:
            raise HarnessError(f"C stored {lib.get('bytes_fetched')} bytes, the file has {size}")
        check_whole_file(cluster, c, track_hash, size)
        hold_for(lambda: a.alive() and b.alive() and c.alive(), 1.5, what="A, B, C running")
        run = rig.finish_probe()
        check_counting(cluster, run, "C", frames_of(track))
        check_counting(cluster, run, "A", frames_of(track))
        no_gaps(run, "A", t_play)
        steady_skew(cluster, "A,C after C's fetch", run, ["A", "C"], t_complete + JOIN_SETTLE_S,
                    min_buckets=15)


def scenario_eviction(cluster: Cluster) -> None:
    """4. An empty node with a 16 MB cache plays three 7.7 MB tracks in turn."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        # Lengths differ: same-length counting tracks are the same file, one library entry.
        tracks = [make_track(rig, w / "A.tracks", f"{i}-count.wav", 41.0 - i) for i in (1, 2, 3)]
        hashes = [sha256_of(t) for t in tracks]
        for name in ("A", "B"):
            rig.fifo(name)
        rig.start_probe(["A", "B"], 13.0)
        a = add(rig, "A", w / "A.tracks", leader=True, extra=["--upload-limit-mb", "0"])
        b = add(rig, "B", w / "B.tracks", bootstrap=a, extra=["--cache-mb", "16"])
        cluster.wait_mesh([a, b], timeout=5.0)
        wait_until(synced([b]), 5.0, what="B synced")
        t3 = 0.0
        for i, h in enumerate(hashes):
            index = track_index(b, h)
            if i == 2:
                # The next track is fetched while this one plays, before it is needed.
                took = wait_until(cached(b, h), 8.0, what="B to cache track 3 while track 2 plays",
                                  describe=cluster.describe)
                cluster.figure("play track 2 -> track 3 cached on B", took)
                t3 = now()
            require_ok(a, f"play {index}")
            took = wait_until(cached(b, h), 8.0, what=f"B to cache track {i + 1}",
                              describe=cluster.describe)
            cluster.figure(f"play track {i + 1} -> cached on B", took)
            if i < 2:  # played for a while: an order of plays the cache can tell apart
                hold_for(all_playing([a, b]), 1.0, what="A and B playing")
        lib = library(b)
        wheres = [where(b, h) for h in hashes]
        print(f"  B: evictions {lib.get('evictions')}, cache {lib.get('cache_used_bytes')} of "
              f"{lib.get('cache_max_bytes')} bytes; where: {wheres}", flush=True)
        if not lib.get("evictions"):
            raise HarnessError(f"B evicted nothing: {lib}")
        if wheres != ["not here", "cached", "cached"]:
            raise HarnessError(f"after playing 1, 2, 3: where = {wheres}, expected the least "
                               "recently played evicted")
        on_disk = sum(p.stat().st_size for p in (w / "B.cache").iterdir() if p.is_file())
        cluster.figure("B's cache dir size", on_disk / 1e6, "MB", lib["cache_max_bytes"] / 1e6)
        if on_disk > lib["cache_max_bytes"] or lib["cache_max_bytes"] > 16 * 1024 * 1024:
            raise HarnessError(f"B's cache dir holds {on_disk} bytes, max {lib['cache_max_bytes']}")
        if cache_file(b, hashes[0]).exists():
            raise HarnessError("track 1's cache file is still there")
        run = rig.finish_probe()
        for name in ("A", "B"):
            # Track 3's frame 0 lies in the block where track 2 ends (or starts the next one).
            start = switch_block(run, name, t3)
            cluster.figure(f"{name}: first frame of track 3's first whole block", start.first,
                           "frames", BLOCK_FRAMES - 1)
            if not 0 <= start.first < BLOCK_FRAMES:
                raise HarnessError(f"{name} did not go from track 2 into track 3's first block: "
                                   f"its first block of track 3 starts at frame {start.first}")
            no_gaps(run, name, t3)
        first = track_start(run, "B", t3)
        t_first = first / 1e6
        wrong = [blk for blk in run.blocks["B"] if blk.arrival_us > first and blk.first >= 0
                 and blk.first >= frames_of(tracks[2])]
        if wrong:
            raise HarnessError(f"B put out frames beyond track 3: {wrong[:3]}")
        steady_skew(cluster, "A,B on track 3", run, ["A", "B"], t_first, min_buckets=15)


def switch_block(run: ProbeRun, name: str, t: float) -> Block:
    """`name`'s first whole audible block of the track started after t, found as in
    track_start, right after a whole audible block of the track before (no silence between)."""
    arrival = track_start(run, name, t)
    blocks = run.blocks.get(name, [])
    i = next(i for i, blk in enumerate(blocks) if blk.arrival_us == arrival and blk.first >= 0)
    before = blocks[i - 1] if i > 0 else None
    if before is None or before.first < 0 or before.audible != BLOCK_FRAMES or \
            blocks[i].audible != BLOCK_FRAMES:
        raise HarnessError(f"{name}: the new track did not follow the one before without "
                           f"silence: {before} then {blocks[i]}")
    return blocks[i]


def track_start(run: ProbeRun, name: str, t: float) -> int:
    """Arrival of `name`'s first audible block of a track started from its beginning after t:
    the first audible block after t whose frame number went back from the audible block before
    it, wherever that one lies (the previous track plays on until the switch, up to and past t,
    and a node still fetching the new track is silent in between); if `name` was never audible
    before, its first audible block after t that lies in the track's first second."""
    last = None
    for block in run.blocks.get(name, []):
        if block.first < 0:
            continue
        if block.arrival_us >= mono_to_us(t):
            if last is None and block.first < RATE:
                return block.arrival_us
            if last is not None and block.first < last - BLOCK_FRAMES:
                return block.arrival_us
        last = block.first
    raise HarnessError(f"{name}: no start of the new track in its output after {t:.2f}")


def seek_target(run: ProbeRun, name: str, t: float) -> "tuple[int, int, int]":
    """(arrival, last frame before, first frame after) of the first discontinuity in `name`'s
    audible output after monotonic time t (through a silence or not)."""
    previous = None
    for block in run.blocks.get(name, []):
        if block.first < 0:
            continue
        if previous is not None and block.arrival_us >= mono_to_us(t) and \
                abs(block.first - previous.first - BLOCK_FRAMES) > 1:
            return block.arrival_us, previous.first + previous.audible - 1, block.first
        previous = block
    raise HarnessError(f"{name}: no jump in its output after the seek")


def scenario_seek_follower(cluster: Cluster) -> None:
    """5. `seek 20` on follower B, then `seek -5` on follower C: every node jumps alike."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        track = make_track(rig, w / "A.tracks", "count.wav", 40.0)
        track_hash = sha256_of(track)
        names = ["A", "B", "C"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, 15.0)
        a = add(rig, "A", w / "A.tracks", leader=True, extra=["--upload-limit-mb", "0"])
        b = add(rig, "B", w / "B.tracks", bootstrap=a)
        c = add(rig, "C", w / "C.tracks", bootstrap=a)
        cluster.wait_mesh([a, b, c], timeout=5.0)
        wait_until(synced([b, c]), 5.0, what="B and C synced", describe=cluster.describe)
        require_ok(a, f"play {track_index(b, track_hash)}")
        for node in (b, c):
            wait_until(cached(node, track_hash), 6.0, what=f"{node.name} to cache the track")
        wait_until(all_playing([a, b, c]), 3.0, what="all playing")
        t_ready = now()
        hold_for(all_playing([a, b, c]), 2.0, what="all playing")
        t_seek1 = now()
        require_ok(b, "seek 20")
        hold_for(all_playing([a, b, c]), 3.0, what="all playing after seek 20")
        t_seek2 = now()
        require_ok(c, "seek -5")
        hold_for(all_playing([a, b, c]), 3.0, what="all playing after seek -5")
        run = rig.finish_probe()
        steady_skew(cluster, "A,B,C before the seeks", run, names, t_ready, t_seek1,
                    min_buckets=12)
        firsts, seconds = {}, {}
        for name in names:
            at1, before1, after1 = seek_target(run, name, t_seek1)
            at2, before2, after2 = seek_target(run, name, t_seek2)
            firsts[name], seconds[name] = (at1, after1), (at2, before2, after2)
            print(f"  {name}: seek 20 -> frame {after1} at +{(at1 - mono_to_us(t_seek1)) / 1e3:.0f}"
                  f" ms; seek -5: {before2} -> {after2} at +{(at2 - mono_to_us(t_seek2)) / 1e3:.0f}"
                  f" ms", flush=True)
            if not 20 * RATE - BLOCK_FRAMES <= after1 <= 20.3 * RATE:
                raise HarnessError(f"{name}: `seek 20` went to frame {after1}, not ~{20 * RATE}")
            back = before2 - after2
            if abs(back - 5 * RATE) > 2 * BLOCK_FRAMES:
                raise HarnessError(f"{name}: `seek -5` went back {back} frames, not {5 * RATE}")
        for label, values in (("seek 20", [v[1] for v in firsts.values()]),
                              ("seek -5", [v[2] for v in seconds.values()])):
            spread = max(values) - min(values)
            cluster.figure(f"{label}: spread of the first frame after the jump", spread, "frames",
                           2 * BLOCK_FRAMES)
            if spread > 2 * BLOCK_FRAMES:
                raise HarnessError(f"{label}: nodes continued from different frames: {values}")
        t_after1 = max(v[0] for v in firsts.values()) / 1e6
        t_after2 = max(v[0] for v in seconds.values()) / 1e6
        steady_skew(cluster, "A,B,C after seek 20", run, names, t_after1 + 0.2, t_seek2,
                    min_buckets=15)
        steady_skew(cluster, "A,B,C after seek -5", run, names, t_after2 + 0.2, min_buckets=15)


def scenario_cache_dir_is_a_file(cluster: Cluster) -> None:
    """6a. --cache-dir names a regular file: the node still plays its own tracks."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        a_track = make_track(rig, w / "A.tracks", "a.wav", 10.0)
        d_track = make_track(rig, w / "D.tracks", "d.wav", 12.0)
        not_a_dir = w / "plain-file"
        not_a_dir.write_bytes(b"not a directory\n")
        a = add(rig, "A", w / "A.tracks", leader=True)
        d = add(rig, "D", w / "D.tracks", bootstrap=a, extra=["--cache-dir", str(not_a_dir)])
        cluster.wait_mesh([a, d], timeout=5.0)
        wait_until(lambda: bool(library(d).get("content_port")) or "no content port yet", 3.0,
                   what="D's content service to start")
        error = library(d).get("cache_error") or ""
        print(f"  D: cache_error {error!r}", flush=True)
        if "not a directory" not in error or str(not_a_dir) not in error:
            raise HarnessError(f"D's cache_error does not say {not_a_dir} is not a directory: "
                               f"{error!r}")
        if not_a_dir.read_bytes() != b"not a directory\n":
            raise HarnessError("the file given as --cache-dir was changed")
        d_hash = sha256_of(d_track)
        require_ok(a, f"play {track_index(a, d_hash)}")
        wait_until(all_playing([a, d]), 5.0, what="A and D playing D's track",
                   describe=cluster.describe)
        wait_until(cached(a, d_hash), 5.0, what="A to fetch D's track from D")
        a_hash = sha256_of(a_track)
        if where(d, a_hash) != "not here":
            raise HarnessError(f"D, which has no cache, says A's track is {where(d, a_hash)!r}")
        hold_for(lambda: a.alive() and d.alive(), 1.0, what="A and D running")


def scenario_changed_on_disk(cluster: Cluster) -> None:
    """6b. A's file is overwritten (same size) while B fetches it."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        track = make_track(rig, w / "A.tracks", "count.wav", 60.0)
        track_hash, size = sha256_of(track), track.stat().st_size
        n = chunks_of(size)
        # Not watched: a rescan would take the changed file in before a request finds it changed
        # (tests/system/test_library_update.py); this is the guard for a change between rescans.
        a = add(rig, "A", w / "A.tracks", leader=True, extra=["--upload-limit-mb", "1", "--no-watch"])
        b = add(rig, "B", w / "B.tracks", bootstrap=a)
        cluster.wait_mesh([a, b], timeout=5.0)
        require_ok(a, f"play {track_index(b, track_hash)}")
        wait_until(lambda: (fetch_of(b, track_hash) or {}).get("held", 0) >= 3, 6.0,
                   what="B to hold 3 chunks")
        # Overwrite the second half (B fetches from the start, the last chunk first).
        with open(track, "r+b") as f:
            f.seek((n // 2) * CHUNK)
            f.write(b"\x11" * ((n - 1 - n // 2) * CHUNK))
        t_changed = now()

        def problem_shown() -> object:
            f = fetch_of(b, track_hash)
            if f is None:
                return f"B has no fetch (where {where(b, track_hash)})"
            return True if f.get("problem") else f"B's fetch shows no problem: {f}"
        took = wait_until(problem_shown, 8.0, what="B's fetch to show a problem",
                          describe=cluster.describe)
        cluster.figure("file changed -> problem on B's fetch", took)
        wait_until(lambda: "changed on disk" in a.stderr_text() or "A has not logged it", 3.0,
                   what="A to log 'changed on disk'")
        f = fetch_of(b, track_hash)
        print(f"  B: {f}", flush=True)
        if cache_file(b, track_hash).exists():
            raise HarnessError("B completed a fetch of a file that changed under it")
        hold_for(lambda: a.alive() and b.alive(), 1.0, what="A and B running")
        print(f"  {now() - t_changed:.1f} s after the change", flush=True)


def scenario_holder_stopped(cluster: Cluster) -> None:
    """6c. The only holder is stopped mid-transfer, then continued."""
    with SyncRig(cluster, use_proxies=False) as rig:
        w = rig.workdir
        track = make_track(rig, w / "A.tracks", "count.wav", 40.0)
        track_hash, size = sha256_of(track), track.stat().st_size
        a = add(rig, "A", w / "A.tracks", leader=True, extra=["--upload-limit-mb", "1"])
        b = add(rig, "B", w / "B.tracks", bootstrap=a)
        cluster.wait_mesh([a, b], timeout=5.0)
        require_ok(a, f"play {track_index(b, track_hash)}")
        wait_until(lambda: (fetch_of(b, track_hash) or {}).get("held", 0) >= 3, 6.0,
                   what="B to hold 3 chunks")
        a.sigstop()
        t_stop = now()

        def stalled() -> object:
            f = fetch_of(b, track_hash)
            if f is None:
                return f"B's fetch is gone (where {where(b, track_hash)})"
            return True if f.get("problem") else f"no problem shown: {f}"
        took = wait_until(stalled, 8.0, what="B's fetch to stall with a problem",
                          describe=cluster.describe)
        cluster.figure("A stopped -> problem on B's fetch", took)
        held = fetch_of(b, track_hash)
        print(f"  B while A is stopped: {held}", flush=True)
        a.sigcont()
        took = wait_until(cached(b, track_hash), 15.0, what="B to complete after SIGCONT",
                          describe=cluster.describe)
        cluster.figure("A continued -> B's fetch complete", took)
        check_whole_file(cluster, b, track_hash, size)
        print(f"  {now() - t_stop:.1f} s from the stop", flush=True)


SCENARIOS = [
    ("1 empty nodes: B and C fetch A's track and play in sync", scenario_empty_nodes),
    ("2 leader dies mid-fetch: the others play on and share what they hold",
     scenario_leader_dies),
    ("3 corrupt holder: damaged chunks are detected, never played", scenario_corrupt_holder),
    ("4 eviction: a 16 MB cache plays three 7.7 MB tracks", scenario_eviction),
    ("5 seek on a follower: every node jumps to the same frame", scenario_seek_follower),
    ("6a cache dir is a regular file: the node plays its own tracks", scenario_cache_dir_is_a_file),
    ("6b file changed on disk while served", scenario_changed_on_disk),
    ("6c only holder stopped mid-transfer, then continued", scenario_holder_stopped),
]

if __name__ == "__main__":
    sys.exit(run_main("library", SCENARIOS))
