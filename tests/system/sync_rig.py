"""Shared rig of the sync system tests (test_sync.py, test_sync_failover.py).

Standard library only. What it adds to harness.py:

  SyncRig     per scenario: a counting track (skew_probe make-track) in a tracks dir, one FIFO
              per node, a delay proxy in front of each node (tools/delay_proxy.py; peers dial the
              proxy through --advertise-port), nodes optionally under libfaketime, and one
              skew_probe run reading every FIFO. Its close() ends the proxies and the probe and
              unlinks the FIFOs; the nodes are in the harness Cluster, whose exit kills them
              (their process groups), always.
  SyncNode    harness.Node listening on one port and advertising another (its proxy's).
  require_ok, synced, all_playing, pace_until
              driving nodes through their prompt: a command that must answer ok, conditions for
              wait_until (clocks and state synced, every node playing), timeline pacing.
  ProbeRun    the probe's JSON summary plus its --raw CSV, with the analysis the checks need:
              skew over a time window (the probe's own method), offsets between two nodes,
              first audible block, and silent gaps with the frames on either side.

Measurement method (see tools/skew_probe.cpp): every node writes each 480-frame block into its
FIFO at the instant the block is audible (--output file:FIFO); the probe, run WITHOUT
libfaketime, stamps each block on this machine's real steady clock when it arrives. A block
whose first frame is n, arriving at t, says "frame 0 was audible at t - n/48 kHz" on that node;
the spread of that instant across nodes (median per node per 100 ms bucket) is the skew. So the
figures are measured on the real clock, not taken from the nodes' beliefs about their clocks.
Only the newest block of each read is timed (earlier ones in the same read arrived earlier).
The probe runs under `chrt -f 20` where allowed (root), so that load elsewhere on the machine
does not delay its wake-ups (a late wake-up stamps every node's block late and looks like skew).
"""

from __future__ import annotations

import atexit
import csv
import json
import math
import os
import queue
import shutil
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HOST, Cluster, HarnessError, Node, NodeTimeout, Skip, now,  # noqa: E402
                     reap_node, sanitized_binary, wait_until)

REPO = Path(__file__).resolve().parents[2]
PROXY_SCRIPT = REPO / "tools" / "delay_proxy.py"
RATE = 48_000
BLOCK_FRAMES = 480
BUCKET_US = 100_000

# Process groups of everything the rig started, for the atexit backstop.
_GROUPS: "set[int]" = set()
_GROUPS_LOCK = threading.Lock()


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_all_groups() -> None:
    with _GROUPS_LOCK:
        groups = list(_GROUPS)
    for pgid in groups:
        _kill_group(pgid)


atexit.register(_kill_all_groups)


def _pdeathsig_prefix() -> "list[str]":
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


def _spawn(argv: "list[str]", **kwargs: Any) -> subprocess.Popen:
    """Popen in a new session (pgid = pid), dying with us where setpriv exists."""
    proc = subprocess.Popen(_pdeathsig_prefix() + argv, start_new_session=True, **kwargs)
    with _GROUPS_LOCK:
        _GROUPS.add(proc.pid)
    return proc


def _reap_group(proc: Optional[subprocess.Popen], sig: int = signal.SIGKILL,
                timeout: float = 5.0) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc.pid)
            proc.wait(timeout=5)
    else:
        _kill_group(proc.pid)  # a child the node started may outlive it
    with _GROUPS_LOCK:
        _GROUPS.discard(proc.pid)


def free_port() -> int:
    """A port free right now (the node binds it a moment later; the race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


FAKETIME_LIB = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1"


def require_faketime() -> str:
    if not os.path.isfile(FAKETIME_LIB):
        raise Skip("libfaketime is not installed (Debian: apt-get install libfaketime)")
    return FAKETIME_LIB


def find_tool(node_binary: str, name: str, env: str) -> str:
    """A tool beside the node's build tree (BUILD/apps/node -> BUILD/tools/NAME), or $ENV."""
    candidates = [os.environ.get(env, ""),
                  str(Path(node_binary).resolve().parent.parent / "tools" / name)]
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise HarnessError(f"{name} not found (looked at {[c for c in candidates if c]}); build it: "
                       f"cmake --build BUILD --target {name}, or set {env}")


def find_probe(node_binary: str) -> str:
    """skew_probe beside the node's build tree, or $CHORUS_SKEW_PROBE."""
    return find_tool(node_binary, "skew_probe", "CHORUS_SKEW_PROBE")


def faketime_prefix(node_binary: str, spec: str) -> "list[str]":
    """Runs a node under libfaketime with FAKETIME=SPEC, the build's timerfd shim preloaded
    first (tools/timerfd_already_due.cpp says why). libfaketime is preloaded directly rather than
    through the `faketime` wrapper: the wrapper makes a POSIX semaphore and shared memory named
    after its pid, which a killed wrapper leaves in /dev/shm, and a later wrapper that gets the
    same pid then fails to start ("sem_open: File exists"); the library itself passes over such
    leftovers (and the harness removes them, remove_faketime_leftovers())."""
    faketime = require_faketime()  # first: without libfaketime the scenario is skipped
    shim = timerfd_shim(node_binary)
    if not shim.is_file():
        raise HarnessError(f"timerfd shim not found at {shim}; build it: cmake --build BUILD "
                           "--target timerfd_already_due")
    preload = [str(shim), faketime]
    return ["env", f"LD_PRELOAD={':'.join(preload)}", f"FAKETIME={spec}"]


def timerfd_shim(node_binary: str) -> Path:
    """Where the build that made `node_binary` puts the timerfd shim."""
    return Path(node_binary).resolve().parent.parent / "tools" / "libtimerfd_already_due.so"


_REALTIME: "Optional[list[str]]" = None


def realtime_prefix() -> "list[str]":
    """`chrt -f 20` where this process may use SCHED_FIFO (root), else nothing.

    The probe stamps each block when it wakes up; descheduled for a few ms by other load on the
    machine, it would stamp blocks late on every node at once and see skew that is not there
    (seen here: 2 ms spikes while a benchmark ran beside the test). A real-time probe wakes
    when the block is written; it sleeps in epoll_wait otherwise, so it costs the nodes nothing."""
    global _REALTIME
    if _REALTIME is None:
        chrt = shutil.which("chrt")
        ok = False
        if chrt:
            try:
                ok = subprocess.run([chrt, "-f", "20", "true"], capture_output=True,
                                    timeout=5).returncode == 0
            except (OSError, subprocess.TimeoutExpired):
                ok = False
        _REALTIME = [chrt, "-f", "20"] if ok else []
        if not ok:
            print("  note: chrt -f unavailable; skew_probe runs at normal priority (other load on "
                  "the machine can show up as skew)", flush=True)
    return list(_REALTIME)


def percentile(values: "list[float]", p: float) -> float:
    """skew_probe's percentile: the ceil(p * n)-th smallest value."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = max(0, math.ceil(p * len(ordered)) - 1)
    return ordered[min(index, len(ordered) - 1)]


def _median(values: "list[float]") -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


# ---- processes ------------------------------------------------------------------------------


class DelayProxy:
    """tools/delay_proxy.py in front of one node."""

    def __init__(self, workdir: Path, name: str, target_port: int, delay_ms: float,
                 jitter_ms: float, seed: int):
        self.name = name
        self.target_port = target_port
        self.args = ["--delay-ms", f"{delay_ms:g}", "--jitter-ms", f"{jitter_ms:g}",
                     "--seed", str(seed)]
        self.log_path = workdir / f"proxy-{name}.stderr.log"
        self.proc: Optional[subprocess.Popen] = None
        self.port = 0

    def start(self, timeout: float = 5.0) -> int:
        argv = [sys.executable, str(PROXY_SCRIPT), "--listen", f"{HOST}:0",
                "--target", f"{HOST}:{self.target_port}"] + self.args
        with open(self.log_path, "ab") as log:
            self.proc = _spawn(argv, stdout=subprocess.PIPE, stderr=log, stdin=subprocess.DEVNULL)
        line: "list[bytes]" = []
        reader = threading.Thread(target=lambda: line.append(self.proc.stdout.readline()),
                                  daemon=True)
        reader.start()
        reader.join(timeout)
        text = line[0].decode(errors="replace").strip() if line else ""
        if not text.startswith("ready "):
            raise HarnessError(f"delay proxy for {self.name} did not say `ready PORT` within "
                               f"{timeout} s (got {text!r}); exit code {self.proc.poll()}")
        self.port = int(text.split()[1])
        return self.port

    def close(self) -> None:
        if self.proc is not None:
            _reap_group(self.proc, signal.SIGTERM, timeout=3.0)
            if self.proc.stdout is not None:
                self.proc.stdout.close()


class SyncNode(Node):
    """A node that listens on `listen_port` and is dialled at `port` (its proxy, or itself).

    Under libfaketime the node is started through `env`, which execs it: the pid is the node's.
    close() and group_kill9() signal its whole process group all the same."""

    def __init__(self, *args: Any, listen_port: int, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.listen_port = listen_port

    def argv(self) -> "list[str]":
        argv = super().argv()
        argv[2] = str(self.listen_port)
        return argv

    def launch(self) -> None:
        super().launch()
        with _GROUPS_LOCK:
            _GROUPS.add(self.proc.pid)

    def group_kill9(self) -> None:
        """SIGKILL to the node's process group; reaps."""
        _kill_group(self.pid)
        reap_node(self.proc, timeout=5)

    def close(self) -> None:
        if self.proc is not None:
            _kill_group(self.proc.pid)
            with _GROUPS_LOCK:
                _GROUPS.discard(self.proc.pid)
        super().close()

    def command_line(self, command: str, timeout: float = 3.0) -> str:
        """Sends a playback command; returns its one-line answer ("ok..." or "error: ...")."""
        self.send(command)
        deadline = now() + timeout
        while True:
            remaining = deadline - now()
            if remaining <= 0:
                raise NodeTimeout(f"{self.name}: no answer to {command!r} within {timeout} s")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if not isinstance(line, str):
                self._lines.put(line)
                raise HarnessError(f"{self.name}: stdout closed before answering {command!r}")
            text = line.strip()
            if text.startswith("{"):
                self._stale = max(0, self._stale - 1)  # a late answer to an earlier command
                continue
            if text.startswith("ok") or text.startswith("error"):
                return text
            self.other_output.append(line)


# ---- probe results ----------------------------------------------------------------------------


@dataclass
class Block:
    arrival_us: int
    first: int        # frame number at the block's first sample; -1 = silent block
    audible: int      # audible frames in the block
    timed: bool       # newest block of its read: its arrival is its write time


@dataclass
class Gap:
    """A run of silent blocks after playback started, with the frames on either side."""
    start_us: int          # arrival of its first silent block
    end_us: int            # arrival of the block after it (audible)
    last_before: int       # last audible frame number before the silence
    first_after: int       # first audible frame number after it
    blocks: int


@dataclass
class Stall:
    """A window in which the platform held a CPU: a real-time thread pinned to it woke late."""
    due_us: int
    late_us: int
    cpu: int
    waited_us: int = -1  # of late_us, runnable on the run queue (-1: unknown)

    def held_here(self) -> bool:
        """Whether a thread of this machine held the CPU (the witness, woken, waited for it to
        finish) rather than the host (which delays the wake-up itself). Unknown counts as here."""
        return self.waited_us < 0 or 2 * self.waited_us >= self.late_us


# Blocks due in a stall arrive when it ends, and the output catches up over the next block.
STALL_TAIL_US = 2 * BLOCK_FRAMES * 1_000_000 // RATE
# Nodes write a block every 10 ms, so the probe reads at least that often unless it is held.
PROBE_GAP_US = 3 * BLOCK_FRAMES * 1_000_000 // RATE // 2
# A paced output held back by more than four blocks (output_paced.cpp, kLateBlocks) restarts its
# pace from the present, and its engine then jumps to where the cluster is: that keeps the room
# in time, and only a stall this long can cause it.
PACE_RESTART_US = 4 * BLOCK_FRAMES * 1_000_000 // RATE


def stalled_buckets(stalls: "Iterable[tuple[int, int]]",
                    bucket_us: int = BUCKET_US) -> "set[int]":
    """Buckets touched by a platform stall, given as (due_us, late_us) (see skew_probe's
    StallWitness): no real-time thread on the stalled CPU, a node's output included, could run on
    time there, nor in the blocks it catches up with after."""
    out: "set[int]" = set()
    for due, late in stalls:
        out.update(range(due // bucket_us, (due + late + STALL_TAIL_US) // bucket_us + 1))
    return out


@dataclass
class ProbeRun:
    summary: "dict[str, Any]"
    blocks: "dict[str, list[Block]]" = field(default_factory=dict)
    stalls: "list[Stall]" = field(default_factory=list)

    def node(self, name: str) -> "dict[str, Any]":
        return self.summary["nodes"][name]

    def zero_instants(self, name: str) -> "dict[int, float]":
        """bucket -> median 'frame 0 audible at' instant (µs) of the node's timed blocks."""
        by_bucket: "dict[int, list[float]]" = {}
        for block in self.blocks.get(name, []):
            if block.timed and block.first >= 0:
                zero = block.arrival_us - block.first * 1e6 / RATE
                by_bucket.setdefault(block.arrival_us // BUCKET_US, []).append(zero)
        return {bucket: _median(zeros) for bucket, zeros in by_bucket.items()}

    def stalled_buckets(self) -> "set[int]":
        """Buckets touched by a platform stall or by a gap in the probe's own reads."""
        return stalled_buckets([(s.due_us, s.late_us) for s in self.stalls] + self.read_gaps())

    def read_gaps(self) -> "list[tuple[int, int]]":
        """(last read, length) wherever the probe read nothing for more than PROBE_GAP_US while
        nodes wrote every block: the probe itself was held (seen: 20.5 ms without a witness
        stall), and the newest block of its next read, stamped with that read's instant, was
        written up to a gap earlier: such buckets say nothing about the nodes."""
        reads = sorted({block.arrival_us for blocks in self.blocks.values() for block in blocks})
        return [(before, after - before) for before, after in zip(reads, reads[1:])
                if after - before > PROBE_GAP_US]

    def machine_wide_share(self, t0_us: float = -math.inf, t1_us: float = math.inf) -> float:
        """Share of the stalls due in [t0, t1) that another CPU's witness saw within 1 ms: the
        host holding the whole virtual machine, not one thread hogging one CPU (0 if none)."""
        inside = [s for s in self.stalls if t0_us <= s.due_us < t1_us]
        shared = sum(1 for s in inside
                     if any(o.cpu != s.cpu and abs(o.due_us - s.due_us) <= 1000 for o in inside))
        return shared / len(inside) if inside else 0.0

    def holds(self, t0_us: float = -math.inf, t1_us: float = math.inf) -> "list[Stall]":
        """One stall per hold of a CPU due in [t0, t1): after a long hold the witness catches up
        on the wake-ups it missed, each recorded late, all at one instant; the first (the
        latest) stands for the hold."""
        firsts: "dict[tuple[int, int], Stall]" = {}
        for stall in self.stalls:
            if t0_us <= stall.due_us < t1_us:
                key = (stall.cpu, (stall.due_us + stall.late_us) // 1000)
                if key not in firsts or stall.late_us > firsts[key].late_us:
                    firsts[key] = stall
        return list(firsts.values())

    def buckets(self, names: Iterable[str], t0_us: float = -math.inf,
                t1_us: float = math.inf) -> "list[int]":
        """The buckets wholly in [t0, t1) in which every named node played."""
        medians = [self.zero_instants(n) for n in names]
        return [b for b in sorted(set.intersection(*(set(m) for m in medians)))
                if b * BUCKET_US >= t0_us and (b + 1) * BUCKET_US <= t1_us]

    def skews(self, names: Iterable[str], t0_us: float = -math.inf,
              t1_us: float = math.inf, *, skip_stalls: bool = True) -> "list[float]":
        """Per-bucket spread (max - min of the nodes' medians) over the buckets that lie wholly
        in [t0, t1) and in which every named node played; without the platform's stalls unless
        skip_stalls is False."""
        names = list(names)
        medians = [self.zero_instants(n) for n in names]
        stalled = self.stalled_buckets() if skip_stalls else set()
        out = []
        for bucket in self.buckets(names, t0_us, t1_us):
            if bucket in stalled:
                continue
            values = [m[bucket] for m in medians]
            out.append(max(values) - min(values))
        return out

    def stalled_share(self, names: Iterable[str], t0_us: float = -math.inf,
                      t1_us: float = math.inf) -> "tuple[int, int]":
        """(stalled buckets, all buckets) of the window that skews() judges."""
        window = self.buckets(list(names), t0_us, t1_us)
        stalled = self.stalled_buckets()
        return sum(1 for b in window if b in stalled), len(window)

    def offsets(self, name: str, ref: str, t0_us: float = -math.inf,
                t1_us: float = math.inf, *, skip_stalls: bool = True) -> "list[tuple[int, float]]":
        """(bucket, node's median - ref's median) for buckets wholly in [t0, t1); without the
        platform's stalls unless skip_stalls is False."""
        mine, theirs = self.zero_instants(name), self.zero_instants(ref)
        stalled = self.stalled_buckets() if skip_stalls else set()
        return [(b, mine[b] - theirs[b]) for b in sorted(set(mine) & set(theirs))
                if b * BUCKET_US >= t0_us and (b + 1) * BUCKET_US <= t1_us and b not in stalled]

    def first_audible_us(self, name: str) -> Optional[int]:
        for block in self.blocks.get(name, []):
            if block.first >= 0:
                return block.arrival_us
        return None

    def jumps_at(self, name: str) -> "list[tuple[int, int, int]]":
        """(arrival_us, previous block's first frame, this block's) wherever two consecutive
        fully audible blocks are not 480 (+-1) frames apart: where a jump happened."""
        out = []
        previous: Optional[Block] = None
        for block in self.blocks.get(name, []):
            full = block.first >= 0 and block.audible == BLOCK_FRAMES
            if full and previous is not None and abs(block.first - previous.first
                                                     - BLOCK_FRAMES) > 1:
                out.append((block.arrival_us, previous.first, block.first))
            previous = block if full else None
        return out

    def stall_before(self, arrival_us: int) -> Optional[Stall]:
        """A platform stall long enough to restart an output's pace, ending at most
        STALL_TAIL_US before `arrival_us` (or still under way then); None if there is none."""
        for stall in self.stalls:
            if (stall.late_us >= PACE_RESTART_US
                    and stall.due_us <= arrival_us <= stall.due_us + stall.late_us + STALL_TAIL_US):
                return stall
        return None

    def gaps(self, name: str, min_blocks: int = 1) -> "list[Gap]":
        """Silent runs between audible blocks (not the lead-in, not a silent tail)."""
        out: "list[Gap]" = []
        previous: Optional[Block] = None
        silent: "list[Block]" = []
        for block in self.blocks.get(name, []):
            if block.first < 0:
                if previous is not None:
                    silent.append(block)
                continue
            if previous is not None and len(silent) >= min_blocks:
                # Silence is at the end of the block before and at the start of the block after.
                out.append(Gap(start_us=silent[0].arrival_us, end_us=block.arrival_us,
                               last_before=previous.first + previous.audible - 1,
                               first_after=block.first + (BLOCK_FRAMES - block.audible),
                               blocks=len(silent)))
            silent = []
            previous = block
        return out


def read_raw(path: Path) -> "tuple[dict[str, list[Block]], list[Stall]]":
    rows: "dict[str, list[list[int]]]" = {}
    stalls: "list[Stall]" = []
    with open(path, newline="") as f:
        for row in csv.reader(f):
            if row and row[0] == "!stall":
                stalls.append(Stall(*(int(v) for v in row[1:6])))
                continue
            if len(row) != 4:
                continue
            rows.setdefault(row[0], []).append([int(row[1]), int(row[2]), int(row[3])])
    out: "dict[str, list[Block]]" = {}
    for name, items in rows.items():
        blocks = []
        for i, (arrival, first, audible) in enumerate(items):
            timed = i + 1 == len(items) or items[i + 1][0] != arrival
            blocks.append(Block(arrival, first, audible, timed))
        out[name] = blocks
    return out, stalls


# ---- driving nodes ------------------------------------------------------------------------------


def pace_until(instant: float) -> None:
    """Timeline pacing (not synchronisation): sleep until the monotonic `instant`."""
    delay = instant - now()
    if delay > 0:
        time.sleep(delay)


def require_ok(node: SyncNode, command: str) -> str:
    answer = node.command_line(command)
    if not answer.startswith("ok"):
        raise HarnessError(f"`{command}` on {node.name} answered {answer!r}")
    print(f"  {node.name}> {command}: {answer}", flush=True)
    return answer


def synced(nodes: "list[SyncNode]"):
    def check() -> object:
        missing = []
        for node in nodes:
            view = node.status(timeout=2.0)
            clock = view.get("clock") or {}
            if not (clock.get("synced") and view.get("state_synced")):
                missing.append(f"{node.name}: clock.synced={clock.get('synced')} "
                               f"state_synced={view.get('state_synced')}")
        return True if not missing else "; ".join(missing)
    return check


def all_playing(nodes: "list[SyncNode]"):
    def check() -> object:
        views = {n.name: n.status(timeout=2.0) for n in nodes}
        bad = [f"{name}: {v.get('state')} (epoch_seq {v.get('epoch_seq')}, ignored_commands "
               f"{v.get('ignored_commands')})" for name, v in views.items()
               if v.get("state") != "playing"]
        return True if not bad else "; ".join(bad)
    return check


# ---- the rig ------------------------------------------------------------------------------------


class SyncRig:
    """Tracks, FIFOs, proxies, nodes and the probe of one scenario. Use inside a harness Cluster
    (whose temp dir it uses) as a context manager; its exit kills and unlinks everything."""

    def __init__(self, cluster: Cluster, *, track_seconds: float = 40.0,
                 proxy_delay_ms: float = 2.0, proxy_jitter_ms: float = 1.0,
                 use_proxies: bool = True, log_level: str = "info"):
        self.cluster = cluster
        self.binary = cluster.binary
        self.workdir = Path(cluster.workdir)
        self.probe_binary = find_probe(self.binary)
        self.track_seconds = track_seconds
        self.proxy_delay_ms = proxy_delay_ms
        self.proxy_jitter_ms = proxy_jitter_ms
        self.use_proxies = use_proxies
        self.log_level = log_level
        self.tracks = self.workdir / "tracks"
        self.fifos: "dict[str, Path]" = {}
        self.proxies: "list[DelayProxy]" = []
        self.nodes: "dict[str, SyncNode]" = {}
        self.probe: Optional[subprocess.Popen] = None
        self.probe_started_at: Optional[float] = None
        self.probe_seconds = 0.0
        self.holders: "list[int]" = []
        self.raw_path = self.workdir / "probe.csv"
        self.json_path = self.workdir / "probe.json"

    def __enter__(self) -> "SyncRig":
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        # A failure's dump of the cluster must be taken before the proxies go (afterwards every
        # node would list every peer down); run_main does not dump again when the message has it.
        if isinstance(exc, AssertionError) and "---- cluster" not in str(exc):
            try:
                exc.args = (f"{exc}\n{self.cluster.describe()}",)
            except Exception:  # the dump is a courtesy; never hide the failure behind it
                pass
        self.close()
        return False

    # ---- set-up ----

    def make_track(self, name: str = "count.wav") -> Path:
        self.tracks.mkdir(exist_ok=True)
        path = self.tracks / name
        result = subprocess.run([self.probe_binary, "make-track", str(path),
                                 f"{self.track_seconds:g}"], capture_output=True, timeout=30)
        if result.returncode != 0 or not path.is_file():
            raise HarnessError(f"skew_probe make-track failed ({result.returncode}): "
                               f"{result.stderr.decode(errors='replace')}")
        return path

    def fifo(self, name: str) -> Path:
        path = self.workdir / f"{name}.pcm"
        if path.exists():
            path.unlink()
        os.mkfifo(path)
        self.fifos[name] = path
        return path

    def start_probe(self, names: "list[str]", seconds: float, *,
                    monitors: "Optional[dict[str, str]]" = None,
                    calibrate: Optional[str] = None,
                    env: "Optional[dict[str, str]]" = None) -> None:
        """Starts skew_probe on the named nodes' FIFOs (create them first with fifo()), and on
        the sound-server sinks in `monitors` (node name -> sink, recorded from its monitor),
        calibrating the capture path on sink `calibrate` (see tools/skew_probe.cpp)."""
        monitors = monitors or {}
        argv = realtime_prefix() + [self.probe_binary, "measure", "--seconds", f"{seconds:g}",
                "--json", str(self.json_path), "--raw", str(self.raw_path)]
        if calibrate:
            argv += ["--calibrate", calibrate]
        argv += [f"{name}={self.fifos[name]}" for name in names]
        argv += [f"{name}=pulse:{sink}.monitor" for name, sink in monitors.items()]
        self.probe_log = open(self.workdir / "probe.stderr.log", "ab")
        self.probe_started_at = now()
        self.probe_seconds = seconds
        self.probe = _spawn(argv, stdout=subprocess.PIPE, stderr=self.probe_log,
                            stdin=subprocess.DEVNULL, env=env)
        held: "list[tuple[str, int]]" = []

        # Hold a write end of every FIFO open as long as the probe runs: a FIFO whose last
        # writer closed (a killed node) reports EPOLLHUP for ever and would make the probe spin.
        # (Opening for writing without blocking needs the probe's read end: wait for it.)
        def all_open() -> Any:
            if self.probe.poll() is not None:
                raise HarnessError(f"skew_probe exited early ({self.probe.returncode})")
            for name in names:
                if name in {h[0] for h in held}:
                    continue
                try:
                    fd = os.open(self.fifos[name], os.O_WRONLY | os.O_NONBLOCK)
                except OSError:
                    return f"{name}'s FIFO has no reader yet"
                held.append((name, fd))
                self.holders.append(fd)
            return True

        wait_until(all_open, 5.0, poll=0.005, what="skew_probe to open the FIFOs")

    def add_node(self, name: str, *, leader: bool = False,
                 bootstrap: Optional[SyncNode] = None, faketime: Optional[str] = None,
                 proxy_seed: int = 0, start: bool = True, priority: Optional[int] = None,
                 extra_args: Iterable[str] = (), output: Optional[str] = None,
                 env_prefix: Iterable[str] = ()) -> SyncNode:
        """A node writing to its FIFO (if fifo(name) made one; else --output null, or `output`
        if given), behind its own delay proxy if the rig uses proxies, under libfaketime
        (FAKETIME=SPEC) if given, with `--priority` and `extra_args` (such as `--preempt`) if
        given, run through `env_prefix` (e.g. SoundServer.node_env())."""
        listen_port = free_port()
        advertised = listen_port
        if output is None:
            output = f"file:{self.fifos[name]}" if name in self.fifos else "null"
        extra = ["--tracks", str(self.tracks), "--output", output, *extra_args]
        if self.use_proxies:
            proxy = DelayProxy(self.workdir, name, listen_port, self.proxy_delay_ms,
                               self.proxy_jitter_ms, proxy_seed)
            self.proxies.append(proxy)
            advertised = proxy.start()
            extra += ["--advertise-port", str(advertised)]
        prefix = list(env_prefix) + (faketime_prefix(self.binary, faketime) if faketime else [])
        boot = None if bootstrap is None else (HOST, bootstrap.port)
        node = SyncNode(self.binary, name, self.workdir, port=advertised, leader=leader,
                        bootstrap=boot, priority=priority, log_level=self.log_level,
                        extra_args=extra, prefix=prefix, listen_port=listen_port)
        self.cluster.nodes.append(node)
        self.nodes[name] = node
        if start:
            node.start(timeout=5.0)
        return node

    # ---- results ----

    def finish_probe(self, extra_wait: float = 10.0) -> ProbeRun:
        """Waits for the probe to end its --seconds, then reads its JSON and raw CSV."""
        assert self.probe is not None and self.probe_started_at is not None
        remaining = self.probe_started_at + self.probe_seconds - now()
        try:
            out, _ = self.probe.communicate(timeout=max(0.0, remaining) + extra_wait)
        except subprocess.TimeoutExpired:
            raise HarnessError("skew_probe did not finish in time")
        if self.probe.returncode != 0:
            raise HarnessError(f"skew_probe exited with {self.probe.returncode}")
        text = out.decode(errors="replace").strip().splitlines()
        try:
            summary = json.loads(text[-1])
        except (IndexError, ValueError) as error:
            raise HarnessError(f"skew_probe printed no JSON ({error}): {text[-3:]!r}")
        self._release_holders()
        blocks, stalls = read_raw(self.raw_path)
        return ProbeRun(summary, blocks, stalls)

    def _release_holders(self) -> None:
        for fd in self.holders:
            try:
                os.close(fd)
            except OSError:
                pass
        self.holders = []

    # ---- teardown ----

    def close(self) -> None:
        """Kills the proxies and the probe (process groups), closes and unlinks the FIFOs. The
        nodes belong to the Cluster, whose exit kills them (SyncNode.close: the whole process
        group) after run_main has dumped their state on a failure."""
        for proxy in self.proxies:
            proxy.close()
        if self.probe is not None:
            _reap_group(self.probe)
            if self.probe.stdout is not None:
                self.probe.stdout.close()
            self.probe_log.close()
        self._release_holders()
        for path in self.fifos.values():
            try:
                if stat.S_ISFIFO(os.lstat(path).st_mode):
                    path.unlink()
            except OSError:
                pass


def mono_to_us(t: float) -> int:
    """harness.now() seconds (time.monotonic) -> µs on the probe's arrival_us clock: both are
    CLOCK_MONOTONIC."""
    return int(t * 1e6)


def fmt_us(values: "list[float]") -> str:
    if not values:
        return "no buckets"
    # Signed values (an offset from another node) have a low tail as telling as the high one.
    low = f"min {min(values):.0f} / " if min(values) < 0 else ""
    return (f"{low}p50 {percentile(values, 0.5):.0f} / p95 {percentile(values, 0.95):.0f} / "
            f"max {max(values):.0f} µs over {len(values)} buckets")


# Share of a window's stalls seen on two or more CPUs at once above which the host held them.
MACHINE_WIDE_SHARE = 0.8


# Holds of one CPU of which at most this share kept the witness waiting on its run queue were the
# host's (a thread of this machine keeps it waiting; the host delays the wake-up itself).
HELD_HERE_SHARE = 0.2


# A node's real-time thread can explain a stall only by running 1 ms or more at a stretch
# (status --json: output_timing.realtime_long_blocks). Stalls that outnumber such runs of every
# live node this many times over were the platform's, even when it held one CPU at a time.
STALLS_PER_LONG_BLOCK = 10


def realtime_long_blocks(cluster: Cluster) -> Optional[int]:
    """The live nodes' real-time runs of 1 ms or more, summed over their lives; None if a live
    node cannot say (frozen, or too busy to answer)."""
    total = 0
    for node in cluster.live():
        try:
            timing = node.status(timeout=2.0).get("output_timing", {})
            total += timing.get("realtime_long_blocks", 0)
        except HarnessError:
            return None
    return total


def judge_outside_stalls(cluster: Cluster, label: str, run: ProbeRun, names: "list[str]",
                         t0_us: float, t1_us: float, min_buckets: int) -> bool:
    """Whether [t0, t1) is judged on its buckets outside platform stalls (sync_rig.Stall), which
    are counted and left out. Fewer than min_buckets with every named node audible fails (a node
    was silent); fewer than half of them left outside stalls cannot be judged: that fails unless
    the stalls were the platform's (the host held the CPUs together, or the nodes' real-time
    threads never ran long enough to cause them) or the nodes are a sanitized build, which is
    reported (False: not judged)."""
    stalled, total = run.stalled_share(names, t0_us, t1_us)
    if total < min_buckets:
        raise HarnessError(f"{label}: only {total} buckets with every one of {names} audible "
                           f"(need {min_buckets})\n{cluster.describe()}")
    worst = max((s.late_us for s in run.stalls), default=0)
    print(f"  {label}: {stalled} of {total} buckets left out for platform stalls "
          f"(worst real-time wake-up {worst} µs late)", flush=True)
    cluster.figure(f"{label}: buckets left out for platform stalls", stalled, "buckets")
    if total - stalled >= min_buckets / 2:
        return True
    held = run.machine_wide_share(t0_us, t1_us)
    if held >= MACHINE_WIDE_SHARE:
        # The host froze the whole machine, nodes and probe alike: nothing here says anything
        # about the nodes.
        print(f"  {label}: NOT JUDGED: the host held the CPUs together ({held:.0%} of the "
              f"stalls) in {stalled} of {total} buckets", flush=True)
        cluster.figure(f"{label}: not judged, buckets the host held", stalled, "buckets")
        return False
    # One CPU held at a time: the host again, or a thread of this machine (a node's real-time
    # thread?) hogging that CPU. The witness tells them apart: a thread here keeps it waiting on
    # its run queue once woken; the host delays the wake-up itself. (The nodes' count of long
    # real-time runs cannot: a thread's CPU clock here counts time the host held its CPU.)
    holds = run.holds(t0_us, t1_us)
    here = sum(1 for hold in holds if hold.held_here())
    if here <= HELD_HERE_SHARE * len(holds):
        print(f"  {label}: NOT JUDGED: the host held one CPU at a time in {stalled} of {total} "
              f"buckets ({len(holds)} holds; {here} of them by a thread of this machine)",
              flush=True)
        cluster.figure(f"{label}: not judged, buckets the host held", stalled, "buckets")
        return False
    stalls = sum(1 for s in run.stalls if t0_us <= s.due_us < t1_us)
    long_runs = realtime_long_blocks(cluster)
    if long_runs is not None and long_runs * STALLS_PER_LONG_BLOCK < stalls:
        print(f"  {label}: NOT JUDGED: {stalls} stalls held one CPU at a time in {stalled} of "
              f"{total} buckets, while the nodes' real-time threads ran 1 ms or more at a "
              f"stretch {long_runs} times in all", flush=True)
        cluster.figure(f"{label}: not judged, buckets the platform held", stalled, "buckets")
        return False
    if sanitized_binary(cluster.binary):
        # A sanitized debug build's real-time threads are slow by construction (its output
        # thread runs 1 ms and more at a stretch): its speed is reported, not judged.
        print(f"  {label}: NOT JUDGED: a sanitized build; {here} of {len(holds)} holds of one CPU "
              f"by a thread of this machine, in {stalled} of {total} buckets", flush=True)
        cluster.figure(f"{label}: not judged, buckets a sanitized build held", stalled, "buckets")
        return False
    raise HarnessError(f"{label}: real-time threads were stalled in {stalled} of {total} "
                       f"buckets, {held:.0%} of the stalls on two or more CPUs at once, and the "
                       f"nodes' real-time threads ran 1 ms or more at a stretch "
                       f"{'(unknown: a node did not answer)' if long_runs is None else long_runs} "
                       f"times against {stalls} stalls, {here} of {len(holds)} holds by a thread "
                       f"of this machine; too few buckets are left to judge")
