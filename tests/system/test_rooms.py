#!/usr/bin/env python3
"""System test of per-room volume and mute: real nodes, their audio read sample by sample.

    python3 tests/system/test_rooms.py --node BUILD/apps/node [--keep-logs]

Needs BUILD/tools/skew_probe (or $CHORUS_SKEW_PROBE) to write the counting track. Exit 0 =
passed, 1 = failed.

Three nodes A (--leader), B and C play the counting track (skew_probe make-track: frame n holds
n + 1, left = low 16 bits, right = high 16 bits) into FIFOs (--output file:FIFO: each block is
written at the instant it is audible). A reader thread per FIFO keeps every sample and stamps
each read on this machine's steady clock, so the test sees what each room played, and when.

Scenario (every command typed on A's prompt until A is killed, then on B's):
  1. `mute C`: C falls silent through a ramp of about 20 ms (no step between two samples larger
     than a ramp step can make of a full-scale sample); B plays on untouched.
  2. `unmute C`: C is heard again on the exact right frame: its frames line up with B's at the
     same instants as before the mute (frame-zero instants within 2 ms of each other, and of
     C's own before the mute), and its frame count moved on by exactly the frames it spent
     muted (give or take the single frames the engine repeated or dropped meanwhile to follow
     the leader's clock, which it counts).
  3. `volume C 40`: C's samples are the track's scaled by the curve's gain (40/100)^3 = 0.064
     (every block matched against the track at that gain), B's are the track's, unscaled; the
     change ramps without a click.
  4. `volume nosuch 10` is refused: no room named nosuch.
  5. kill -9 A (the leader): once B and C agree on a new leader, C still plays at 0.064, and
     `status` and `peers` say 40. On B: `volume A 10` is refused (unreachable), `volume C +10`
     sets C to 50 (gain 0.125).
  6. kill -9 C and start it again: it comes back at volume 50 (kept in its cache directory),
     plays at gain 0.125 in sync, and B's `peers` shows it at 50.
"""

from __future__ import annotations

import array
import os
import select
import sys
import threading
import time
from pathlib import Path
from statistics import median
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import HarnessError, now, one_agreed_leader, run_main, wait_until  # noqa: E402
from sync_rig import SyncNode, SyncRig, all_playing, pace_until, require_ok, synced  # noqa: E402

RATE = 48_000
BLOCK = 480
TRACK_S = 60.0
RAMP_FRAMES = 960                      # 20 ms: src/playback/volume.hpp
# The most one frame of ramp can move a full-scale sample (32768 / 960), plus the counting
# track's own step (1), plus rounding on both samples.
CLICK_LIMIT = 32768 // RAMP_FRAMES + 4
ALIGN_LIMIT_US = 2000.0                # frame-zero instants: reader threads stamp reads, not writes
MATCH_SHARE = 0.9                      # of the blocks in a window that must match exactly
HOLD_S = 2.0


def gain(volume: int) -> float:
    return (volume / 100.0) ** 3


def track_sample(n: int) -> "tuple[int, int]":
    """The counting track's frame n as two signed 16-bit samples."""
    value = n + 1
    left, right = value & 0xFFFF, value >> 16
    return (left - 65536 if left >= 32768 else left, right - 65536 if right >= 32768 else right)


def decode(samples: "array.array", frame: int) -> Optional[int]:
    """The counting track's frame number a frame of output holds (None: silence)."""
    value = (samples[2 * frame] & 0xFFFF) | ((samples[2 * frame + 1] & 0xFFFF) << 16)
    return None if value == 0 else value - 1


class FifoTap:
    """Reads one node's FIFO on its own thread; keeps every sample and, per read, when it came
    and how many frames had arrived by then. Holds a write end open, so that a node that dies
    does not leave the read end reporting end-of-file for ever (and a restarted node writes on)."""

    def __init__(self, path: Path):
        self.path = path
        self.data = bytearray()
        self.reads: "list[tuple[int, int]]" = []  # (arrival_us, frames received up to then)
        self.lock = threading.Lock()
        self.stopping = False
        self.read_fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        self.hold_fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        self.thread = threading.Thread(target=self._run, name=f"tap-{path.name}", daemon=True)
        self.thread.start()

    def _run(self) -> None:
        poller = select.poll()
        poller.register(self.read_fd, select.POLLIN)
        while not self.stopping:
            if not poller.poll(100):
                continue
            try:
                chunk = os.read(self.read_fd, 1 << 20)
            except BlockingIOError:
                continue
            arrival = time.monotonic_ns() // 1000
            if not chunk:
                continue
            with self.lock:
                self.data += chunk
                self.reads.append((arrival, len(self.data) // 4))

    def close(self) -> None:
        self.stopping = True
        self.thread.join(timeout=2)
        os.close(self.read_fd)
        os.close(self.hold_fd)

    def snapshot(self) -> "tuple[array.array, list[tuple[int, int]]]":
        with self.lock:
            samples = array.array("h")
            samples.frombytes(bytes(self.data[: len(self.data) // 4 * 4]))
            return samples, list(self.reads)


def us(t: float) -> int:
    """harness.now() (time.monotonic) in µs, the taps' clock."""
    return int(t * 1e6)


def frame_at(reads: "list[tuple[int, int]]", t_us: int) -> int:
    """How many frames had arrived by instant t_us."""
    count = 0
    for arrival, frames in reads:
        if arrival > t_us:
            break
        count = frames
    return count


def newest_blocks(reads: "list[tuple[int, int]]", t0: float, t1: float) -> "list[tuple[int, int]]":
    """(arrival_us, first frame index) of the newest block of each read in [t0, t1): the block
    whose arrival is its write instant (earlier blocks of a read came earlier)."""
    return [(arrival, frames - BLOCK) for arrival, frames in reads
            if us(t0) <= arrival < us(t1) and frames >= BLOCK]


def clean_block(samples: "array.array", first: int) -> Optional[int]:
    """The track frame a block starts with when it is the track's frames, unscaled and in order."""
    n = decode(samples, first)
    if n is None:
        return None
    for i in (1, BLOCK // 2, BLOCK - 1):
        if decode(samples, first + i) != n + i:
            return None
    return n


def frame_zero_instants(tap: FifoTap, t0: float, t1: float) -> "list[float]":
    """Per clean newest block in [t0, t1): the instant frame 0 was (would have been) audible."""
    samples, reads = tap.snapshot()
    out = []
    for arrival, first in newest_blocks(reads, t0, t1):
        n = clean_block(samples, first)
        if n is not None:
            out.append(arrival - n * 1e6 / RATE)
    return out


def matches_scaled(samples: "array.array", first: int, count: int, g: float) -> bool:
    """Whether frames [first, first + count) are some run of the track's frames scaled by g (each
    sample within 1 of round(sample * g))."""
    left0 = samples[2 * first]
    estimate = round(left0 / g) if g > 0 else 0
    spread = int(1 / g) + 2
    for high in range(0, 32):
        for low in range(estimate - spread, estimate + spread + 1):
            n0 = ((high << 16) | (low & 0xFFFF)) - 1
            if n0 < 0:
                continue
            ok = True
            for i in range(count):
                left, right = track_sample(n0 + i)
                if (abs(samples[2 * (first + i)] - left * g) > 1.01 or
                        abs(samples[2 * (first + i) + 1] - right * g) > 1.01):
                    ok = False
                    break
            if ok:
                return True
    return False


def scaled_share(tap: FifoTap, t0: float, t1: float, g: float) -> "tuple[float, int]":
    """Share of the newest blocks in [t0, t1) whose first or second half is the track at gain g
    (a single repeated or dropped frame, the sync engine's correction, spoils at most one half)."""
    samples, reads = tap.snapshot()
    blocks = newest_blocks(reads, t0, t1)
    if not blocks:
        return 0.0, 0
    half = BLOCK // 2
    good = sum(1 for _, first in blocks
               if matches_scaled(samples, first, half, g) or
               matches_scaled(samples, first + half, half, g))
    return good / len(blocks), len(blocks)


def clean_share(tap: FifoTap, t0: float, t1: float) -> "tuple[float, int]":
    samples, reads = tap.snapshot()
    blocks = newest_blocks(reads, t0, t1)
    if not blocks:
        return 0.0, 0
    return sum(1 for _, first in blocks if clean_block(samples, first) is not None) / len(blocks), len(blocks)


def largest_step(tap: FifoTap, t0: float, t1: float) -> "tuple[int, int]":
    """Largest |change| between consecutive samples of a channel in the frames that arrived in
    [t0, t1), and where; the counting track's own wrap (32767 -> -32768, at any gain) excepted."""
    samples, reads = tap.snapshot()
    begin, end = frame_at(reads, us(t0)), frame_at(reads, us(t1))
    largest, where = 0, begin
    for frame in range(max(begin, 1), end):
        for channel in (0, 1):
            a, b = samples[2 * (frame - 1) + channel], samples[2 * frame + channel]
            if a > 0 > b and abs(a + b) <= 2 * CLICK_LIMIT:
                continue  # the track wraps here: a ramp scales both sides alike
            if abs(b - a) > largest:
                largest, where = abs(b - a), frame
    return largest, where


def silent_span(tap: FifoTap, t0: float, t1: float) -> "tuple[int, int, int]":
    """(first frame of the fade, first frame of lasting silence, frames silent) in [t0, t1): the
    fade begins at the first frame that is not the clean run's continuation."""
    samples, reads = tap.snapshot()
    begin, end = frame_at(reads, us(t0)), frame_at(reads, us(t1))
    if decode(samples, begin) is None:
        raise HarnessError("no audio where the mute's window begins")
    fade = None
    for frame in range(begin + 1, end):
        previous, current = decode(samples, frame - 1), decode(samples, frame)
        # 0 and 2: the sync engine repeated or dropped a frame, which it may do at any time.
        if previous is None or current is None or current - previous not in (0, 1, 2):
            fade = frame
            break
    if fade is None:
        raise HarnessError("C never left the track in the mute's window")
    silent_from = None
    for frame in range(fade, end):
        if samples[2 * frame] == 0 and samples[2 * frame + 1] == 0:
            if silent_from is None:
                silent_from = frame
        else:
            silent_from = None
    if silent_from is None:
        raise HarnessError("C did not fall silent in the mute's window")
    return fade, silent_from, end - silent_from


def room_of(view: dict, node_id: str) -> dict:
    for peer in view.get("peers", []):
        if peer.get("id") == node_id:
            return peer
    if view.get("self", {}).get("id") == node_id:
        return view["self"]
    raise HarnessError(f"no row for {node_id} in peers: {view}")


def expect_room(node: SyncNode, volume: int, muted: bool = False) -> None:
    """`status` shows the room at `volume` and the output applies its gain (within the 20 ms
    ramp of a change; a node just started may still ramp from its first block)."""
    expected = 0.0 if muted else gain(volume)

    def check() -> object:
        room = node.status().get("room") or {}
        if (room.get("volume"), room.get("muted")) != (volume, muted):
            return f"status room {room}, expected volume {volume} muted {muted}"
        if abs(room.get("gain", -1) - expected) > 1e-4:
            return f"applied gain {room.get('gain')}, expected {expected}"
        return True
    wait_until(check, 1.0, poll=0.05, what=f"{node.name}'s room at volume {volume}")


def shown_by(observer: SyncNode, subject: SyncNode, volume: int, muted: bool = False):
    def check() -> object:
        row = room_of(observer.peers(), subject.id)
        return True if (row.get("volume"), row.get("muted")) == (volume, muted) else \
            f"{observer.name} shows {subject.name} at {row.get('volume')} muted {row.get('muted')}"
    return check


def require_error(node: SyncNode, command: str, words: str) -> str:
    answer = node.command_line(command)
    if not answer.startswith("error") or words not in answer:
        raise HarnessError(f"`{command}` on {node.name} answered {answer!r}, expected an error "
                           f"saying {words!r}")
    print(f"  {node.name}> {command}: {answer}", flush=True)
    return answer


def check_scaled(cluster, tap: FifoTap, name: str, t0: float, t1: float, volume: int) -> None:
    share, blocks = scaled_share(tap, t0, t1, gain(volume))
    cluster.figure(f"{name}'s blocks that are the track at volume {volume}", share * 100, "%")
    if blocks < 50 or share < MATCH_SHARE:
        raise HarnessError(f"{name}: {share:.0%} of {blocks} blocks are the track scaled by "
                           f"{gain(volume):.4f}")


def check_clean(cluster, tap: FifoTap, name: str, t0: float, t1: float) -> None:
    share, blocks = clean_share(tap, t0, t1)
    if blocks < 50 or share < MATCH_SHARE:
        raise HarnessError(f"{name}: only {share:.0%} of {blocks} blocks are the track unscaled")


def check_no_click(cluster, tap: FifoTap, what: str, t0: float, t1: float) -> None:
    step, where = largest_step(tap, t0, t1)
    cluster.check_limit(f"largest sample step at {what}", step, CLICK_LIMIT, "LSB")


def scenario_rooms(cluster) -> None:
    """1. mute, unmute, volume on a follower; leader failover; restart."""
    with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
        rig.make_track()
        taps: "dict[str, FifoTap]" = {}
        try:
            for name in ("A", "B", "C"):
                taps[name] = FifoTap(rig.fifo(name))
            run_rooms(cluster, rig, taps)
        finally:
            for tap in taps.values():
                tap.close()


def run_rooms(cluster, rig: SyncRig, taps: "dict[str, FifoTap]") -> None:
    a = rig.add_node("A", leader=True)
    b = rig.add_node("B", bootstrap=a)
    c = rig.add_node("C", bootstrap=a)
    everyone = [a, b, c]
    cluster.wait_mesh(everyone, timeout=5.0)
    wait_until(synced([b, c]), 8.0, what="B and C synced", describe=cluster.describe)
    expect_room(c, 100)
    require_ok(a, "play 1")
    wait_until(all_playing(everyone), 3.0, what="all three playing", describe=cluster.describe)
    pace_until(now() + HOLD_S)

    # 1. mute C from the leader's prompt.
    before = c.status()
    t_mute = now()
    require_ok(a, f"mute {c.id}")
    pace_until(t_mute + HOLD_S)
    fade, silent_from, silent = silent_span(taps["C"], t_mute - 0.5, now())
    cluster.figure("mute ramp", (silent_from - fade) * 1000 / RATE, "ms")
    if not RAMP_FRAMES - 60 <= silent_from - fade <= RAMP_FRAMES + 10:
        raise HarnessError(f"C faded over {silent_from - fade} frames, expected about {RAMP_FRAMES}")
    check_no_click(cluster, taps["C"], "the mute", t_mute - 0.2, now())
    check_clean(cluster, taps["B"], "B while C is muted", t_mute, now())
    expect_room(c, 100, muted=True)
    wait_until(shown_by(b, c, 100, muted=True), 2.0, what="B shows C muted")

    # 2. unmute: heard again on the right frame.
    t_unmute = now()
    require_ok(a, f"unmute {c.id}")
    pace_until(t_unmute + HOLD_S)
    after = c.status()
    check_no_click(cluster, taps["C"], "the unmute", t_unmute - 0.2, now())
    zero_c_before = median(frame_zero_instants(taps["C"], t_mute - 1.5, t_mute))
    zero_b_before = median(frame_zero_instants(taps["B"], t_mute - 1.5, t_mute))
    zero_c_after = median(frame_zero_instants(taps["C"], t_unmute + 0.5, now()))
    zero_b_after = median(frame_zero_instants(taps["B"], t_unmute + 0.5, now()))
    cluster.figure("C - B frame-zero instant before the mute", zero_c_before - zero_b_before, "us")
    cluster.figure("C - B frame-zero instant after the unmute", zero_c_after - zero_b_after, "us")
    cluster.figure("C's frame-zero instant moved across the mute", zero_c_after - zero_c_before, "us")
    for label, value in (("C against B after the unmute", zero_c_after - zero_b_after),
                         ("C against itself across the mute", zero_c_after - zero_c_before)):
        if abs(value) > ALIGN_LIMIT_US:
            raise HarnessError(f"{label}: frame-zero instants {value:.0f} µs apart")
    # In C's own stream: the frames it played after the unmute are the ones it would have played
    # had it never been muted (unless its output fell behind and re-timed meanwhile).
    untouched = (before["engine"]["jumps"] == after["engine"]["jumps"] and
                 before["output_timing"]["resyncs"] == after["output_timing"]["resyncs"])
    samples, reads = taps["C"].snapshot()
    last_clean = frame_at(reads, us(t_mute)) - 1
    first_clean = frame_at(reads, us(t_unmute + 0.5))
    n_before, n_after = decode(samples, last_clean), decode(samples, first_clean)
    if n_before is None or n_after is None:
        raise HarnessError("C plays no track frame around the mute")
    drift = (n_after - n_before) - (first_clean - last_clean)
    # The engine keeps a follower on the leader's clock by repeating or dropping single frames
    # now and then; those between the two status reads bound what the count may differ by.
    corrections = sum(after["engine"][key] - before["engine"][key]
                      for key in ("frames_inserted", "frames_dropped"))
    cluster.figure("C's frame count against its output across the mute", drift, "frames")
    cluster.figure("C's single-frame corrections meanwhile", corrections, "frames")
    if untouched and abs(drift) > corrections + 1:
        raise HarnessError(f"C's frames moved by {drift} against its output across the mute, "
                           f"with {corrections} single-frame corrections")
    if not untouched:
        print("  note: C's output re-timed during the mute (machine load); frame count not compared",
              flush=True)

    # 3. volume 40 on C: scaled by the curve; B untouched.
    t_volume = now()
    require_ok(a, f"volume {c.id} 40")
    pace_until(t_volume + HOLD_S)
    check_no_click(cluster, taps["C"], "the volume change", t_volume - 0.2, t_volume + 0.6)
    check_scaled(cluster, taps["C"], "C", t_volume + 0.3, now(), 40)
    check_clean(cluster, taps["B"], "B while C plays at 40", t_volume, now())
    check_clean(cluster, taps["A"], "A while C plays at 40", t_volume, now())
    expect_room(c, 40)
    expect_room(b, 100)
    wait_until(shown_by(a, c, 40), 2.0, what="A shows C at 40")
    wait_until(shown_by(b, c, 40), 2.0, what="B shows C at 40")

    # 4. a room nobody knows.
    require_error(a, "volume nosuch 10", "no room named nosuch")

    # 5. the leader dies: C's room is C's, so nothing is lost.
    t_kill = now()
    a.kill9()
    agreed: "list[object]" = []
    wait_until(one_agreed_leader([b, c], agreed), 8.0, poll=0.05, since=t_kill,
               what="B and C agree on a new leader", describe=cluster.describe)
    print(f"  after killing A: {agreed[0].name} leads", flush=True)
    pace_until(now() + 1.0)
    expect_room(c, 40)
    wait_until(shown_by(b, c, 40), 2.0, what="B still shows C at 40")
    check_scaled(cluster, taps["C"], "C after the failover", t_kill + 0.5, now(), 40)
    wait_until(lambda: room_of(b.peers(), a.id).get("state") != "up", 5.0, what="B sees A down")
    require_error(b, f"volume {a.id} 10", "unreachable")
    t_raise = now()
    require_ok(b, f"volume {c.id} +10")
    pace_until(t_raise + HOLD_S)
    expect_room(c, 50)
    check_scaled(cluster, taps["C"], "C after +10 from B", t_raise + 0.3, now(), 50)
    check_clean(cluster, taps["B"], "B while C plays at 50", t_raise, now())

    # 6. C restarts: its room comes back at 50.
    c.kill9()
    t_restart = now()
    c.bootstrap = (b.host, b.port)  # A, its first contact, is gone
    c.restart()
    expect_room(c, 50)
    wait_until(all_playing([b, c]), 8.0, what="C playing again", describe=cluster.describe)
    wait_until(synced([c]), 8.0, what="C synced again", describe=cluster.describe)
    wait_until(shown_by(b, c, 50), 2.0, what="B shows the restarted C at 50")
    t_back = now()
    pace_until(t_back + HOLD_S)
    check_scaled(cluster, taps["C"], "C after its restart", t_back, now(), 50)
    cluster.figure("restart to playing at volume 50", t_back - t_restart)


SCENARIOS = [("1 rooms: mute, unmute, volume, failover, restart", scenario_rooms)]

if __name__ == "__main__":
    sys.exit(run_main("per-room volume and mute", SCENARIOS))
