"""Shared pieces of the chorus benchmarks (standard library only).

Every benchmark script drives real `node` processes through their prompt with
tests/system/harness.py and measures their real output with tools/skew_probe:

  Rig        a context manager owning one harness Cluster (the nodes), the delay proxies and the
             skew probes started through it. Everything is killed on the way out (normal exit,
             exception, SIGTERM/SIGHUP/SIGINT); an atexit hook and PR_SET_PDEATHSIG (setpriv) are
             backstops, as in the harness. Rig(..., keyed=True) starts every node of the run
             with a cluster key (`node --gen-key` into the run's directory, `--key-file`).
  Probe      one `skew_probe measure` run over some nodes' FIFO outputs; holds a dummy write end
             on each FIFO so that a node that dies or restarts never leaves the probe with a
             hung-up FIFO (which epoll would report for ever); parses the --json and --raw output.
  analysis   frame-zero instants, skew from the raw per-block CSV, the first changed frame after
             a command, continuity (gaps and jumps) of one node's output.
  stats      percentile (linear interpolation between closest ranks), summary, machine info.

Times: `mono_us()` is time.monotonic_ns() // 1000, the same clock as the probe's arrival_us
(steady_clock), so a command's send time and a block's arrival can be subtracted.
"""

from __future__ import annotations

import argparse
import atexit
import bisect
import datetime
import errno
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

REPO = Path(__file__).resolve().parent.parent
RESULTS = REPO / "bench" / "results"
sys.path.insert(0, str(REPO / "tests" / "system"))

from harness import (  # noqa: E402,F401
    Cluster, HarnessError, Node, NodeGone, NodeTimeout, agreement, statuses, wait_until,
)
from sync_rig import faketime_prefix  # noqa: E402

# Work directories (FIFOs, logs, probe output) live under a root of our own rather than straight
# in /tmp, so nothing else that cleans /tmp/chorus-* (the system tests) can remove them mid-run.
WORK_ROOT = Path(tempfile.mkdtemp(prefix="bench-rig-"))
tempfile.tempdir = str(WORK_ROOT)


def _remove_work_root() -> None:
    try:
        WORK_ROOT.rmdir()  # only when empty: a failed run keeps its logs
    except OSError:
        pass


atexit.register(_remove_work_root)

RATE = 48_000
BLOCK = 480
HOST = "127.0.0.1"


def free_port() -> int:
    """A port free right now (the node binds it a moment later; the race is accepted)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]

_EXTRA: "set[subprocess.Popen]" = set()
_EXTRA_LOCK = threading.Lock()


def _kill_extra() -> None:
    with _EXTRA_LOCK:
        procs = list(_EXTRA)
    for proc in procs:
        if proc.poll() is None:
            try:
                proc.kill()
            except OSError:
                pass
    for proc in procs:
        try:
            proc.wait(timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            pass


atexit.register(_kill_extra)


def _raise_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    """SIGTERM/SIGHUP raise SystemExit, so every `with Rig()` cleans up."""
    for sig in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _raise_exit)


def spawn(argv: "list[str]", **kwargs: Any) -> subprocess.Popen:
    """Popen that dies with us (pdeathsig) and is killed by the atexit backstop."""
    prefix = []
    setpriv = shutil.which("setpriv")
    if setpriv:
        prefix = [setpriv, "--pdeathsig", "KILL", "--"]
    proc = subprocess.Popen(prefix + argv, start_new_session=True, **kwargs)
    with _EXTRA_LOCK:
        _EXTRA.add(proc)
    return proc


def reap(proc: Optional[subprocess.Popen]) -> None:
    if proc is None:
        return
    if proc.poll() is None:
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass
    with _EXTRA_LOCK:
        _EXTRA.discard(proc)


# ---- clocks and numbers ---------------------------------------------------------------------


def mono_us() -> int:
    """Monotonic microseconds: the probe's arrival_us clock."""
    return time.monotonic_ns() // 1000


def percentile(values: Iterable[float], q: float) -> float:
    """Linear interpolation between closest ranks (q in [0, 1])."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    pos = q * (len(ordered) - 1)
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def summary(values: Iterable[float], digits: int = 1) -> "dict[str, Any]":
    """{n, p50, p95, max} of `values` (same unit), rounded."""
    values = [v for v in values if v is not None]
    if not values:
        return {"n": 0, "p50": None, "p95": None, "max": None}
    return {"n": len(values), "p50": round(percentile(values, 0.5), digits),
            "p95": round(percentile(values, 0.95), digits), "max": round(max(values), digits)}


def machine_info() -> "dict[str, Any]":
    def cmd(argv: "list[str]") -> str:
        try:
            return subprocess.run(argv, cwd=REPO, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""
    head = cmd(["git", "rev-parse", "HEAD"])
    dirty = bool(cmd(["git", "status", "--porcelain", "--untracked-files=no"]))
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        load = Path("/proc/loadavg").read_text().split()[:3]
    except OSError:
        load = []
    return {"uname": cmd(["uname", "-a"]), "nproc": os.cpu_count(), "cpu": cpu,
            "loadavg": " ".join(load),
            "git_head": head, "dirty": dirty, "python": platform.python_version(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


def write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2) + "\n")


# ---- binaries and tracks --------------------------------------------------------------------


def build_dir() -> Path:
    return Path(os.environ.get("BUILD_DIR", REPO / "build-bench"))


def default_node() -> str:
    return str(build_dir() / "apps" / "node")


def default_probe() -> str:
    return str(build_dir() / "tools" / "skew_probe")


def bench_parser(doc: str, name: str) -> argparse.ArgumentParser:
    """The options every benchmark takes (node, probe, quick, keep-logs, out); add the
    benchmark's own, then call parse_bench_args()."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--node", default=default_node())
    parser.add_argument("--probe", default=default_probe())
    parser.add_argument("--quick", action="store_true", help="short windows, few trials (smoke test)")
    parser.add_argument("--keep-logs", action="store_true")
    parser.add_argument("--out", default=str(RESULTS / f"{name}.json"))
    return parser


def parse_bench_args(parser: argparse.ArgumentParser) -> argparse.Namespace:
    """Parses the options and makes sure every process a benchmark starts dies with it."""
    args = parser.parse_args()
    install_signal_handlers()
    return args


def track_dir(probe: str, seconds: int) -> Path:
    """A directory holding exactly one self-numbering WAV of `seconds` (made once, cached)."""
    folder = RESULTS / "tracks" / f"{seconds}s"
    path = folder / f"count-{seconds}s.wav"
    expected = 44 + seconds * RATE * 4
    if not (path.exists() and path.stat().st_size == expected):
        folder.mkdir(parents=True, exist_ok=True)
        subprocess.run([probe, "make-track", str(path), str(seconds)], check=True)
    return folder


# ---- prompt helpers -------------------------------------------------------------------------


def read_line(node: Node, timeout: float = 3.0, json_only: bool = False) -> Any:
    """The next stdout line of `node` (parsed, if json_only: non-JSON lines are skipped)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise NodeTimeout(f"{node.name}: no answer within {timeout} s")
        try:
            line = node._lines.get(timeout=remaining)  # the harness's stdout queue
        except Exception:  # queue.Empty
            continue
        if not isinstance(line, str):
            node._lines.put(line)
            raise NodeGone(f"{node.name}: stdout closed")
        text = line.strip()
        if not text:
            continue
        if json_only:
            if not text.startswith("{"):
                continue
            return json.loads(text)
        return text


def command_text(node: Node, line: str, timeout: float = 3.0) -> str:
    """Types a command whose answer is one text line (play, pause, ...) and returns it."""
    node.send(line)
    return read_line(node, timeout)


def ask_all(nodes: "list[Node]", command: str, timeout: float = 3.0) -> "list[Any]":
    """Sends `command` (a --json one) to every node first, then reads every answer."""
    for n in nodes:
        n.send(command)
    return [read_line(n, timeout, json_only=True) for n in nodes]


# ---- /proc ----------------------------------------------------------------------------------

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    text = Path(f"/proc/{pid}/stat").read_text()
    fields = text[text.rindex(")") + 2:].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> "dict[str, int]":
    """VmRSS, VmHWM, RssAnon, RssFile of a process in KiB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
            out[key] = int(value.split()[0])
    return out


# ---- the probe ------------------------------------------------------------------------------


class Probe:
    """One `skew_probe measure` over named FIFOs; start() returns once it reads all of them."""

    def __init__(self, binary: str, workdir: Path, tag: str, fifos: "dict[str, Path]",
                 seconds: float, raw: bool = True):
        self.binary = binary
        self.fifos = dict(fifos)
        self.seconds = seconds
        self.json_path = workdir / f"probe-{tag}.json"
        self.raw_path = workdir / f"probe-{tag}.csv" if raw else None
        self.log_path = workdir / f"probe-{tag}.log"
        self.proc: Optional[subprocess.Popen] = None
        self.writers: "list[int]" = []
        self.started_us = 0
        self.result: Optional[dict] = None
        self.rows: "list[tuple[str, int, int, int]]" = []
        self.stalls: "list[tuple[int, int, int]]" = []  # (due_us, late_us, cpu)

    def start(self, timeout: float = 5.0) -> "Probe":
        argv = [self.binary, "measure", "--seconds", str(self.seconds),
                "--json", str(self.json_path)]
        if self.raw_path is not None:
            argv += ["--raw", str(self.raw_path)]
        argv += [f"{name}={path}" for name, path in self.fifos.items()]
        with open(self.log_path, "wb") as log:
            self.proc = spawn(argv, stdout=log, stderr=subprocess.STDOUT)
        self.started_us = mono_us()
        deadline = time.monotonic() + timeout
        for path in self.fifos.values():
            while True:  # a write end opens only once the probe holds the read end
                try:
                    self.writers.append(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
                    break
                except OSError as error:
                    if error.errno != errno.ENXIO or time.monotonic() > deadline:
                        raise HarnessError(f"probe did not open {path}: {error}")
                    if self.proc.poll() is not None:
                        raise HarnessError(f"probe exited: {self.log_path.read_text()}")
                    time.sleep(0.001)
        return self

    def finish(self, timeout: Optional[float] = None) -> dict:
        """Waits for the probe's own end (it must end by itself to write its files)."""
        assert self.proc is not None
        if timeout is None:
            timeout = self.seconds + 10
        try:
            self.proc.wait(timeout=timeout)
        finally:
            reap(self.proc)
            for fd in self.writers:
                os.close(fd)
            self.writers = []
        if self.proc.returncode != 0:
            raise HarnessError(f"probe failed ({self.proc.returncode}): "
                               f"{self.log_path.read_text()[-2000:]}")
        self.result = json.loads(self.json_path.read_text())
        if self.raw_path is not None:
            with open(self.raw_path) as raw:
                for line in raw:
                    if line.startswith("!stall,"):  # due_us, late_us, cpu, waited_us (StallWitness)
                        due, late, cpu = line.split(",")[1:4]
                        self.stalls.append((int(due), int(late), int(cpu)))
                        continue
                    name, arrival, first, audible = line.rstrip("\n").rsplit(",", 3)
                    self.rows.append((name, int(arrival), int(first), int(audible)))
        return self.result

    def close(self) -> None:
        reap(self.proc)
        for fd in self.writers:
            try:
                os.close(fd)
            except OSError:
                pass
        self.writers = []


class WriteStamps:
    """The kernel's own record of when each writer wrote each block: perf on the writers'
    write(2) entries (tracepoint syscalls:sys_enter_write, CLOCK_MONOTONIC, the probe's clock).

    Why beside the probe: the probe stamps a block when it has woken up and read it, so its
    stamp is the write plus its own wake-up (measured on a 2-core VM: 40-80 µs median, more when
    its CPU was idle, and differing per writer with the CPU each one ran on). That is the
    instrument's error, not the writers': metronomes in sync by construction show 55-125 µs p95
    by arrival and a few µs by these stamps. A block's frames are heard (read) when the write
    puts them in the FIFO, so the write's instant is the output instant.

    Needs root and perf; otherwise `reason` says why not and stamp() is never asked for."""

    EVENT = "syscalls:sys_enter_write"

    def __init__(self, pid_of: "dict[str, int]", workdir: Path):
        self.pid_of = pid_of  # writer name -> process id
        self.data = workdir / "writes.perf"
        self.proc: Optional[subprocess.Popen] = None
        self.writes: "dict[int, list[int]]" = {}  # read when the recording ends
        self.reason = ""
        if os.geteuid() != 0:
            self.reason = "not root"
        elif shutil.which("perf") is None:
            self.reason = "no perf"

    def __enter__(self) -> "WriteStamps":
        if self.reason:
            return self
        block_bytes = BLOCK * 4
        self.proc = spawn(["perf", "record", "-q", "-k", "CLOCK_MONOTONIC", "-e", self.EVENT,
                           "--filter", f"count == {block_bytes}",
                           "-p", ",".join(map(str, self.pid_of.values())), "-o", str(self.data)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)  # perf attaches to every thread before it records
        if self.proc.poll() is not None:
            self.reason = f"perf exited ({self.proc.returncode})"
        return self

    def __exit__(self, *exc: Any) -> bool:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.reason = "perf did not stop"
        reap(self.proc)
        if self.proc is not None and not self.reason:
            self.writes = self._read_writes()
        return False

    def _read_writes(self) -> "dict[int, list[int]]":
        """Per writer process, the µs instants of its block writes, in order."""
        done = subprocess.run(["perf", "script", "--ns", "-i", str(self.data), "-F", "pid,time"],
                              capture_output=True, text=True)
        if done.returncode != 0:
            self.reason = f"perf script failed: {done.stderr.strip()[:200]}"
            return {}
        out: "dict[int, list[int]]" = {}
        for line in done.stdout.splitlines():
            pid, stamp = line.split()
            out.setdefault(int(pid), []).append(round(float(stamp.rstrip(":")) * 1e6))
        return out

    def stamp(self, rows: "list[tuple[str, int, int, int]]") -> "list[tuple[str, int, int, int]]":
        """The exact blocks of `rows` (those whose write the probe could time) with the instant
        of the write that put them in the FIFO instead of their arrival: the latest write of
        their writer before the probe read them. A block with no such write within 5 ms (perf
        lost events) is left out."""
        out = []
        for name, blocks in by_node(rows).items():
            stamps = self.writes.get(self.pid_of[name], [])
            for arrival, first, audible in exact(blocks):
                i = bisect.bisect_right(stamps, arrival) - 1
                if i >= 0 and arrival - stamps[i] <= 5_000:
                    out.append((name, stamps[i], first, audible))
        return out


# ---- raw analysis ---------------------------------------------------------------------------


def by_node(rows: "list[tuple[str, int, int, int]]") -> "dict[str, list[tuple[int, int, int]]]":
    out: "dict[str, list[tuple[int, int, int]]]" = {}
    for name, arrival, first, audible in rows:
        out.setdefault(name, []).append((arrival, first, audible))
    return out


def exact(blocks: "list[tuple[int, int, int]]") -> "list[tuple[int, int, int]]":
    """The blocks whose write time is known: the last one of each read (as the probe does)."""
    return [b for i, b in enumerate(blocks) if i + 1 == len(blocks) or blocks[i + 1][0] != b[0]]


def zero_instant(block: "tuple[int, int, int]") -> Optional[float]:
    """arrival − first_frame / 48 kHz: the same on every node in sync; None for silence."""
    arrival, first, audible = block
    if first < 0 or audible == 0:
        return None
    return arrival - first * 1e6 / RATE


def skew_from_raw(rows: "list[tuple[str, int, int, int]]", names: "list[str]", t_from: int,
                  t_to: int, bucket_us: int = 100_000,
                  skip: "set[int] | None" = None) -> "list[float]":
    """Spread of the nodes' median frame-zero instants per bucket (the probe's method), over
    the buckets lying wholly inside [t_from, t_to) (a bucket cut by the window's edge would hold
    a few blocks only, and one late block would pass for its median) and holding an exact
    audible block of every named node; buckets in `skip` are left out."""
    per = bucket_medians(rows, names, t_from, t_to, bucket_us)
    common = set.intersection(*(set(b) for b in per.values())) if per else set()
    common -= skip or set()
    return [max(per[n][key] for n in names) - min(per[n][key] for n in names)
            for key in sorted(common)]


def bucket_medians(rows: "list[tuple[str, int, int, int]]", names: "list[str]", t_from: int,
                   t_to: int, bucket_us: int = 100_000) -> "dict[str, dict[int, float]]":
    """Per named writer and bucket lying wholly inside [t_from, t_to): the median frame-zero
    instant of its exact audible blocks (the probe's method)."""
    nodes = by_node(rows)
    first_bucket = -(-t_from // bucket_us)  # ceil
    last_bucket = t_to // bucket_us         # exclusive
    out: "dict[str, dict[int, float]]" = {}
    for name in names:
        buckets: "dict[int, list[float]]" = {}
        for block in exact(nodes.get(name, [])):
            if not first_bucket <= block[0] // bucket_us < last_bucket:
                continue
            z = zero_instant(block)
            if z is not None:
                buckets.setdefault(block[0] // bucket_us, []).append(z)
        out[name] = {key: sorted(zs)[len(zs) // 2] for key, zs in buckets.items()}
    return out


def block_jitter(rows: "list[tuple[str, int, int, int]]", bucket_us: int = 100_000) -> "list[float]":
    """|frame-zero instant − its node's bucket median| of every exact audible block: the
    timing noise of single blocks (the node's write wake-up plus the probe's read wake-up),
    which the per-bucket median mostly removes."""
    out: "list[float]" = []
    for blocks in by_node(rows).values():
        buckets: "dict[int, list[float]]" = {}
        for block in exact(blocks):
            z = zero_instant(block)
            if z is not None:
                buckets.setdefault(block[0] // bucket_us, []).append(z)
        for zeros in buckets.values():
            median = sorted(zeros)[len(zeros) // 2]
            out += [abs(z - median) for z in zeros]
    return out


def write_lateness(blocks: "list[tuple[int, int, int]]",
                   period_us: int = BLOCK * 1_000_000 // RATE) -> "list[float]":
    """How late each exact block reached the probe compared with its node's earliest phase.

    A paced output writes block n at t0 + n · period (absolute deadlines), so on a node whose
    clock runs at the real rate every write falls at the same phase of the period; a write that
    comes later than the node's earliest phase (its 1st percentile) was delayed on the way
    (the output thread or the probe woken late). Not meaningful under a faked clock rate or
    across an output resync."""
    exact_blocks = exact(blocks)
    if not exact_blocks:
        return []
    phases = [b[0] % period_us for b in exact_blocks]
    mid = sorted(phases)[len(phases) // 2]
    rel = [((p - mid + period_us // 2) % period_us) - period_us // 2 for p in phases]
    floor = percentile(rel, 0.01)
    return [r - floor for r in rel]


def first_change(blocks: "list[tuple[int, int, int]]", after_us: int,
                 to_silence: bool) -> Optional[float]:
    """Audible instant (µs, probe clock) of the first changed frame written after `after_us`:
    the first silent frame (to_silence) or the first audible frame (not to_silence). A block
    split at a command instant holds the old state first, then the new one."""
    for arrival, first, audible in blocks:
        if arrival < after_us:
            continue
        if to_silence and audible < BLOCK:
            return arrival + audible * 1e6 / RATE
        if not to_silence and audible > 0:
            return arrival + (BLOCK - audible) * 1e6 / RATE
    return None


def continuity(blocks: "list[tuple[int, int, int]]", t_from: int, t_to: int) -> "dict[str, Any]":
    """Gaps and jumps of one node's output over [t_from, t_to): the longest run of silent
    frames after audio started, block-to-block frame discontinuities (a slew of one frame shows
    as ±1, a dropped block as +480) and the longest interval between two reads."""
    silent_run = longest_silence = 0
    started = False
    prev: Optional[tuple[int, int, int]] = None
    deltas: "list[int]" = []
    longest_interval = 0
    for block in blocks:
        arrival, first, audible = block
        if not t_from <= arrival < t_to:
            continue
        if prev is not None:
            longest_interval = max(longest_interval, arrival - prev[0])
        if audible == BLOCK:
            silent_run = 0
            started = True
        elif audible == 0:
            if started:
                silent_run += BLOCK
        else:
            started = True
            silent_run = BLOCK - audible
        longest_silence = max(longest_silence, silent_run)
        if prev is not None and prev[2] == BLOCK and audible == BLOCK:
            deltas.append(first - prev[1] - BLOCK)
        prev = block
    nonzero = [d for d in deltas if d != 0]
    return {"longest_silence_ms": round(longest_silence * 1000 / RATE, 2),
            "discontinuities": len(nonzero),
            "slews_1_frame": sum(1 for d in nonzero if abs(d) == 1),
            "largest_jump_frames": max((abs(d) for d in nonzero), default=0),
            "longest_read_interval_ms": round(longest_interval / 1000, 2)}


# ---- the rig --------------------------------------------------------------------------------


class Rig:
    """Nodes (a harness Cluster), delay proxies and probes; all of it dies on the way out.
    With keyed=True every node proves one cluster key, made for the run by `node --gen-key`."""

    def __init__(self, name: str, node_binary: str, probe_binary: str,
                 keep_logs: bool = False, keyed: bool = False):
        self.name = name
        self.node_binary = node_binary
        self.probe_binary = probe_binary
        self.keyed = keyed
        self.cluster = Cluster(node_binary, name=name, keep_logs=keep_logs)
        self.proxies: "list[subprocess.Popen]" = []
        self.probes: "list[Probe]" = []
        self.workdir: Path = Path()
        self.key_file: Optional[Path] = None

    def __enter__(self) -> "Rig":
        self.cluster.__enter__()
        assert self.cluster.workdir is not None
        self.workdir = self.cluster.workdir
        if self.keyed:
            self.key_file = self.workdir / "cluster.key"
            subprocess.run([self.node_binary, "--gen-key", str(self.key_file)], check=True,
                           stdout=subprocess.DEVNULL)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        try:
            for probe in self.probes:
                probe.close()
            for proxy in self.proxies:
                reap(proxy)
        finally:
            self.cluster.__exit__(exc_type, exc, tb)
        return False

    # nodes

    def node(self, name: str, *, leader: bool = False, bootstrap: "Node | tuple | None" = None,
             tracks: Optional[Path] = None, output: str = "null",
             latency_ms: Optional[int] = None, faketime: Optional[str] = None,
             port: int = 0, advertise_port: Optional[int] = None,
             node_id: Optional[str] = None, extra: Iterable[str] = (),
             start: bool = True, log_level: str = "info") -> Node:
        args = ["--output", output]
        if tracks is not None:
            args += ["--tracks", str(tracks)]
        if latency_ms is not None:
            args += ["--latency-ms", str(latency_ms)]
        if advertise_port is not None:
            args += ["--advertise-port", str(advertise_port)]
        if self.key_file is not None:
            args += ["--key-file", str(self.key_file)]
        args += list(extra)
        prefix = []
        if faketime is not None:
            prefix = faketime_prefix(self.node_binary, faketime)
        node = self.cluster.node(name, start=False, leader=leader, bootstrap=bootstrap,
                                 port=port, node_id=node_id, log_level=log_level,
                                 extra_args=args, prefix=prefix)
        if start:
            if advertise_port is None:
                node.start()
            else:  # `peers` reports the advertised port, which the harness would refuse
                node.launch()
                me = node.command_json("peers --json", timeout=5.0)["self"]
                node.id, node.address = me["id"], me["address"]
        return node

    def fifo(self, name: str) -> Path:
        path = self.workdir / f"{name}.pcm"
        if not path.exists():
            os.mkfifo(path)
        return path

    def proxy(self, target_port: int, delay_ms: float = 0, jitter_ms: float = 0,
              up_ms: Optional[float] = None, down_ms: Optional[float] = None,
              seed: int = 1) -> int:
        """Starts tools/delay_proxy.py in front of target_port; returns its port."""
        argv = [sys.executable, str(REPO / "tools" / "delay_proxy.py"),
                "--listen", f"{HOST}:0", "--target", f"{HOST}:{target_port}",
                "--delay-ms", str(delay_ms), "--jitter-ms", str(jitter_ms), "--seed", str(seed)]
        if up_ms is not None:
            argv += ["--up-delay-ms", str(up_ms)]
        if down_ms is not None:
            argv += ["--down-delay-ms", str(down_ms)]
        log = open(self.workdir / f"proxy-{target_port}.log", "wb")
        proc = spawn(argv, stdout=subprocess.PIPE, stderr=log)
        log.close()
        self.proxies.append(proc)
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().split()
        if len(line) != 2 or line[0] != "ready":
            raise HarnessError(f"delay proxy did not start: {line!r}")
        return int(line[1])

    def probe(self, tag: str, fifos: "dict[str, Path]", seconds: float,
              raw: bool = True) -> Probe:
        probe = Probe(self.probe_binary, self.workdir, tag, fifos, seconds, raw)
        self.probes.append(probe)
        return probe.start()

    # cluster state

    def wait_mesh(self, nodes: "list[Node]", timeout: float = 15.0) -> None:
        self.cluster.wait_mesh(nodes, timeout=timeout)

    def wait_synced(self, nodes: "list[Node]", timeout: float = 15.0) -> float:
        return wait_synced(nodes, timeout, self.cluster.describe)

    def wait_playing(self, nodes: "list[Node]", timeout: float = 15.0,
                     synced: bool = True) -> float:
        return wait_playing(nodes, timeout, synced, self.cluster.describe)

    def start_cluster(self, names: "list[str]", tracks: Path,
                      fifos: "Optional[dict[str, Path]]" = None,
                      timeout: float = 15.0) -> "list[Node]":
        """names[0] leads, the others bootstrap from it; each writes to its FIFO in `fifos`
        (null output without). Returns once they are meshed and every clock is synced."""
        def output(name: str) -> str:
            return f"file:{fifos[name]}" if fifos else "null"
        leader = self.node(names[0], leader=True, tracks=tracks, output=output(names[0]))
        nodes = [leader] + [self.node(n, bootstrap=leader, tracks=tracks, output=output(n))
                            for n in names[1:]]
        self.wait_mesh(nodes, timeout=timeout)
        self.wait_synced(nodes, timeout=timeout)
        return nodes

    def play_first_track(self, nodes: "list[Node]", timeout: float = 15.0) -> float:
        """Types `play 1` on nodes[0] and waits until every node plays; returns that wait."""
        answer = command_text(nodes[0], "play 1")
        if not answer.startswith("ok"):
            raise HarnessError(f"play 1 on {nodes[0].name}: {answer}")
        return self.wait_playing(nodes, timeout=timeout)

    def describe(self) -> str:
        return self.cluster.describe()


def node_report(node: Node) -> "dict[str, Any]":
    """The parts of `status --json` a benchmark keeps: clock estimate and engine counters."""
    s = node.status()
    clock = s.get("clock", {})
    return {"role": s.get("role"), "state": s.get("state"),
            "clock": {k: clock.get(k) for k in ("following", "synced", "offset_us", "error_us",
                                                "drift_ppm", "min_rtt_us", "samples")},
            "engine": s.get("engine"), "ignored_commands": s.get("ignored_commands")}


def wait_synced(nodes: "list[Node]", timeout: float = 15.0,
                describe: Optional[Callable[[], str]] = None) -> float:
    """Until every follower has the leader's state and a synced clock: benchmarks start from a
    settled cluster. (Before commit 02b42bf a command broadcast in that window was dropped by
    the follower; this wait also keeps older builds measurable.)"""
    def check() -> Any:
        missing = []
        for n in nodes:
            s = n.status()
            if not s.get("state_synced") or (s["clock"]["following"] and
                                             not s["clock"]["synced"]):
                missing.append(f"{n.name}: state_synced={s.get('state_synced')} "
                               f"clock={s['clock']}")
        return True if not missing else "; ".join(missing)
    return wait_until(check, timeout, poll=0.02, what="all synced", describe=describe)


def wait_playing(nodes: "list[Node]", timeout: float = 15.0, synced: bool = True,
                 describe: Optional[Callable[[], str]] = None) -> float:
    """Until every node says playing, state synced and (followers) clock synced."""
    def check() -> Any:
        missing = []
        for n in nodes:
            s = n.status()
            if s.get("state") != "playing" or not s.get("state_synced"):
                missing.append(f"{n.name}: {s.get('state')} synced={s.get('state_synced')}")
            elif synced and s["clock"]["following"] and not s["clock"]["synced"]:
                missing.append(f"{n.name}: clock not synced")
        return True if not missing else "; ".join(missing)
    return wait_until(check, timeout, poll=0.05, what="all playing", describe=describe)
