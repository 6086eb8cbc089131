"""Process-level test harness for chorus: real `node` processes driven through their prompt.

Standard library only. The pieces:

  Node      one `node` process: stdin/stdout pipes, stderr to a per-node log file, a reader
            thread that puts stdout lines on a queue; command_json() sends a prompt command and
            returns the parsed JSON answer; kill9/sigstop/sigcont/terminate/exit/restart.
            prefix=[...] runs it through an exec-ing wrapper (e.g. `ip netns exec NS`).
            LAN discovery is off (--no-mdns) unless mdns=True; launch() then identify() starts
            several nodes at once.
  Cluster   a context manager owning a temp dir and every Node started through it. It ALWAYS
            kills them on the way out (normal exit, exception, KeyboardInterrupt); an atexit
            hook and PR_SET_PDEATHSIG (via setpriv, when present) are backstops.
  wait_until / hold_for
            poll a predicate against a deadline (never a bare sleep standing in for sync).
  run_main  the command-line runner used by every tests/system/test_*.py script:
            `python3 test_x.py --node PATH [--only NAME] [--keep-logs] [--list]`;
            exit code 0 = all passed, 77 = all skipped, 1 = some failed, 2 = usage error.

Predicates given to wait_until/hold_for return True when satisfied; anything else (False, None,
or a string explaining what is still missing) means "not yet", and the last explanation is
included in the failure message.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

HOST = "127.0.0.1"
DEFAULT_HEARTBEAT_MS = 200
_EOF = object()

# Every node a test starts ignores /etc/chorus/chorus.toml (docs/configuration.md): a test gives
# its settings on the command line or with --config, whatever is installed on the machine.
os.environ.setdefault("CHORUS_DEFAULT_CONFIG", "")

# Every process any Node started, for the atexit backstop.
_ALL_PROCESSES: "set[subprocess.Popen]" = set()
_ALL_LOCK = threading.Lock()


def _kill_everything() -> None:
    with _ALL_LOCK:
        processes = list(_ALL_PROCESSES)
    for proc in processes:
        if proc.poll() is None:
            try:
                proc.kill()  # SIGKILL also ends a SIGSTOPped process
            except OSError:
                pass
    for proc in processes:
        try:
            reap_node(proc, timeout=5)
        except (subprocess.TimeoutExpired, OSError):
            pass


atexit.register(_kill_everything)


class HarnessError(AssertionError):
    """A test-visible failure raised by the harness (counts as a test failure, not a crash)."""


def remove_faketime_leftovers(pid: int) -> None:
    """libfaketime makes a semaphore and a shared-memory object named after the process's pid and
    removes them when the process exits normally; a killed process leaves them in /dev/shm.
    Removed here once the process is reaped, so that they do not pile up run after run."""
    for name in (f"sem.faketime_sem_{pid}", f"faketime_shm_{pid}"):
        try:
            os.unlink(f"/dev/shm/{name}")
        except OSError:
            pass


def reap_node(proc: subprocess.Popen, timeout: Optional[float]) -> int:
    """Waits for a node process to end (subprocess.TimeoutExpired after `timeout`), then removes
    its libfaketime leftovers; returns its exit code. Every wait for a node's exit goes here."""
    code = proc.wait(timeout=timeout)
    remove_faketime_leftovers(proc.pid)
    return code


class NodeGone(HarnessError):
    """The node process exited (or its stdout closed) while we expected an answer."""


class NodeTimeout(HarnessError):
    """The node did not answer in time."""


class WaitTimeout(HarnessError):
    """wait_until's deadline passed before its predicate held."""


class Skip(Exception):
    """Raised by a scenario that cannot run here (e.g. needs root); reported as skipped."""


def now() -> float:
    """Monotonic seconds."""
    return time.monotonic()


def _call_predicate(predicate: Callable[[], Any]) -> "tuple[bool, str]":
    try:
        result = predicate()
    except HarnessError as error:  # e.g. one node answered late: keep polling
        return False, f"{type(error).__name__}: {error}"
    if result is True:
        return True, ""
    if isinstance(result, str):
        return False, result
    return False, repr(result)


def wait_until(predicate: Callable[[], Any], timeout: float, poll: float = 0.02,
               what: str = "condition", since: Optional[float] = None,
               describe: Optional[Callable[[], str]] = None) -> float:
    """Polls `predicate` until it returns True; returns seconds elapsed since `since` (or the call).

    Raises WaitTimeout after `timeout` seconds (counted from the call), with the predicate's last
    explanation and, if given, describe()'s dump of the system.
    """
    start = now()
    origin = start if since is None else since
    deadline = start + timeout
    last = "never evaluated"
    while True:
        ok, reason = _call_predicate(predicate)
        if ok:
            return now() - origin
        last = reason
        if now() >= deadline:
            message = f"timed out after {timeout:.2f} s waiting for {what}; last: {last}"
            if describe is not None:
                message += "\n" + describe()
            raise WaitTimeout(message)
        time.sleep(min(poll, max(0.0, deadline - now())))


def hold_for(predicate: Callable[[], Any], duration: float, poll: float = 0.05,
             what: str = "condition", describe: Optional[Callable[[], str]] = None) -> int:
    """Asserts `predicate` is True at every sample for `duration` seconds; returns sample count."""
    deadline = now() + duration
    samples = 0
    while True:
        ok, reason = _call_predicate(predicate)
        samples += 1
        if not ok:
            message = f"{what} stopped holding after {samples} samples: {reason}"
            if describe is not None:
                message += "\n" + describe()
            raise HarnessError(message)
        if now() >= deadline:
            return samples
        time.sleep(min(poll, max(0.0, deadline - now())))


def parse_address(address: str) -> "tuple[str, int]":
    host, _, port = address.rpartition(":")
    return host, int(port)


def kernel_faults(node: "Node") -> "list[str]":
    """What the kernel logged when one of `node`'s threads faulted (dmesg: "traps: node[TID]
    general protection fault ip:… in libc.so.6[OFFSET,…]" or "segfault at …"), each with the
    function at that offset when gdb can tell: a crash in CI then says where it happened."""
    if node.proc is None or shutil.which("dmesg") is None:
        return []
    try:
        kernel_log = subprocess.run(["dmesg"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    pid, since = node.proc.pid, (node.launched_at or 0.0) - 1.0
    out = []
    for line in kernel_log.splitlines():
        # "[seconds since boot] …": the same clock as time.monotonic(); a reused pid is older
        stamp = re.match(r"\[\s*(\d+\.\d+)\]", line)
        thread = re.search(r"(\S+)\[(\d+)\][: ]", line)
        if not stamp or not thread or float(stamp.group(1)) < since:
            continue
        if "node" not in thread.group(1):
            continue
        if not pid <= int(thread.group(2)) < pid + 256:
            continue
        place = re.search(r" in (\S+?)\[([0-9a-f]+),", line)
        where = ""
        if place:
            where = _symbol_at(node.binary if place.group(1) == Path(node.binary).name
                               else f"/lib/x86_64-linux-gnu/{place.group(1)}", place.group(2))
        out.append(line.strip() + (f"  -> {where}" if where else ""))
    return out


def _symbol_at(path: str, offset_hex: str) -> str:
    if shutil.which("gdb") is None or not Path(path).exists():
        return ""
    try:
        result = subprocess.run(["gdb", "-batch", "-ex", f"info symbol 0x{offset_hex}", path],
                                capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return ""
    lines = result.stdout.strip().splitlines()
    return lines[-1] if lines else ""


def sanitized(pid: int) -> bool:
    """Whether process `pid` runs with AddressSanitizer's runtime (the --asan suite): a debug
    build several times slower, whose freed memory waits in a quarantine. Its speed and memory
    figures are reported, not judged."""
    return sanitized_binary(f"/proc/{pid}/exe")


def sanitized_binary(path: str) -> bool:
    """Whether the node binary at `path` links AddressSanitizer's runtime, before any process of it
    runs: its dynamic string table, which names the libraries it needs, lies in the file's first
    megabytes."""
    with open(path, "rb") as binary:
        return b"libasan.so" in binary.read(4 << 20)


def _threads(pid: int) -> "list[dict[str, str]]":
    """Each live thread of process `pid` from /proc: id, name, state (R running or runnable, S
    sleeping, D in uninterruptible I/O, T stopped), the kernel function it sleeps in, its CPU time
    and its time spent runnable but not running (schedstat), and the top of its kernel stack
    (root only)."""
    threads = []
    for task in sorted(Path(f"/proc/{pid}/task").iterdir(), key=lambda t: int(t.name)):
        try:
            sched = (task / "schedstat").read_text().split()
            threads.append({
                "tid": task.name,
                "name": (task / "comm").read_text().strip(),
                # the name in stat may hold spaces and parentheses: the state follows the last ')'
                "state": (task / "stat").read_text().rsplit(")", 1)[1].split()[0],
                "wchan": (task / "wchan").read_text().strip() or "-",
                "ran": f"{int(sched[0]) / 1e6:.1f} ms", "waited": f"{int(sched[1]) / 1e6:.1f} ms",
            })
        except (OSError, IndexError, ValueError):
            continue  # the thread ended while we looked
        try:
            frames = (task / "stack").read_text().splitlines()[:4]
        except OSError:
            frames = []
        threads[-1]["stack"] = " < ".join(frame.split()[-1] for frame in frames) or "-"
    return threads


def thread_states(pid: int) -> str:
    """Each live thread of a process as name:state(where it sleeps), e.g. 'node:S(ep_poll)'; for
    a node that does not answer, whether its threads run, wait on a lock or block in the kernel."""
    return " ".join(f"{t['name']}:{t['state']}({t['wchan']})" for t in _threads(pid))


def threads_snapshot(pid: int) -> str:
    """What each thread of process `pid` is doing, for a timeout's message: besides its state,
    whether it was busy, waiting on something, or never given a CPU."""
    try:
        threads = _threads(pid)
    except OSError as error:
        return f"  threads of {pid}: unreadable ({error})"
    lines = [f"  threads of {pid} (state, sleeping in, ran / waited to run so far, kernel stack):"]
    lines += [f"    {t['tid']} {t['name']}: {t['state']}, {t['wchan']}, {t['ran']} / {t['waited']}, "
              f"{t['stack']}" for t in threads]
    return "\n".join(lines)


def thread_names(pid: int) -> "set[str]":
    """The names of a process's live threads (/proc/PID/task/*/comm)."""
    names = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            names.add((task / "comm").read_text().strip())
        except OSError:
            continue  # the thread ended while we looked
    return names


class Node:
    """One `node` process. Start it with start(); every method is called from the main thread."""

    def __init__(self, binary: str, name: str, workdir: Path, *, host: str = HOST, port: int = 0,
                 leader: bool = False, bootstrap: "Node | tuple[str, int] | None" = None,
                 priority: Optional[int] = None, node_id: Optional[str] = None,
                 cluster_name: Optional[str] = None, heartbeat_ms: Optional[int] = None,
                 log_level: Optional[str] = "debug", extra_args: Iterable[str] = (),
                 prefix: Iterable[str] = (), mdns: bool = False):
        self.binary = binary
        self.launched_at: Optional[float] = None  # now() when last launched
        self.name = name
        self.workdir = Path(workdir)
        self.host = host
        self.port = port
        self.leader = leader
        self.bootstrap = bootstrap
        self.priority = priority
        self.node_id = node_id
        self.cluster_name = cluster_name
        self.heartbeat_ms = heartbeat_ms
        self.log_level = log_level
        self.extra_args = list(extra_args)
        # LAN discovery is off unless asked for: nodes of unrelated tests on one machine must not
        # find one another through its avahi-daemon (tests/system/lan.py gives each its own).
        self.mdns = mdns
        # Run the node through this command, e.g. ["ip", "netns", "exec", NS]. It must exec the
        # node (not fork it), so that signals sent to the pid reach the node itself.
        self.prefix = list(prefix)
        self.log_path = self.workdir / f"{name}.stderr.log"
        self.id: Optional[str] = None
        self.address: Optional[str] = None
        self.proc: Optional[subprocess.Popen] = None
        self.stopped = False
        self.starts = 0
        self.other_output: "list[str]" = []
        self._lines: "queue.Queue[Any]" = queue.Queue()
        self._stale = 0
        self._reader: Optional[threading.Thread] = None

    # ---- process control -------------------------------------------------------------------

    def argv(self) -> "list[str]":
        """The command line, with the current port (0 before the first start)."""
        argv = [self.binary, self.host, str(self.port)]
        if self.leader:
            argv.append("--leader")
        if self.bootstrap is not None:
            if isinstance(self.bootstrap, Node):
                if self.bootstrap.port == 0:
                    raise HarnessError(f"{self.name}: bootstrap node {self.bootstrap.name} "
                                       "has no known port yet")
                argv += ["--bootstrap", self.bootstrap.host, str(self.bootstrap.port)]
            else:
                argv += ["--bootstrap", self.bootstrap[0], str(self.bootstrap[1])]
        if self.priority is not None:
            argv += ["--priority", str(self.priority)]
        if self.node_id is not None:
            argv += ["--id", self.node_id]
        if self.cluster_name is not None:
            argv += ["--cluster", self.cluster_name]
        if self.heartbeat_ms is not None:
            argv += ["--heartbeat-ms", str(self.heartbeat_ms)]
        if self.log_level is not None:
            argv += ["--log-level", self.log_level]
        # Each node its own cache, in the test's directory: never the user's, never shared.
        if "--cache-dir" not in self.extra_args:
            argv += ["--cache-dir", str(self.workdir / f"{self.name}.cache")]
        # The MPD and web ports default to fixed numbers; test nodes use them only when asked.
        if "--mpd-port" not in self.extra_args:
            argv += ["--mpd-port", "0"]
        if "--http-port" not in self.extra_args:
            argv += ["--http-port", "0"]
        if not self.mdns:
            argv.append("--no-mdns")
        return argv + self.extra_args

    def launch(self) -> None:
        """Starts the process without waiting for it to answer (see start())."""
        if self.alive():
            raise HarnessError(f"{self.name} is already running (pid {self.proc.pid})")
        if self.proc is not None:  # it exited by itself: reap it before it is replaced
            reap_node(self.proc, timeout=5)
        argv = self.argv()
        self.starts += 1
        self.launched_at = now()
        with open(self.log_path, "ab") as log:
            log.write(f"==== start #{self.starts}: {' '.join(self.prefix + argv)}\n".encode())
            log.flush()
            prefix = []
            setpriv = shutil.which("setpriv")
            if setpriv and sys.platform.startswith("linux"):
                # The node dies with this thread/process even if we are SIGKILLed.
                prefix = [setpriv, "--pdeathsig", "KILL", "--"]
            proc = subprocess.Popen(prefix + self.prefix + argv, stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=log, start_new_session=True)
        with _ALL_LOCK:
            _ALL_PROCESSES.add(proc)
        self.proc = proc
        self.stopped = False
        self._lines = queue.Queue()
        self._stale = 0
        self._reader = threading.Thread(target=self._read_stdout, args=(proc, self._lines),
                                        name=f"stdout-{self.name}", daemon=True)
        self._reader.start()

    def start(self, timeout: float = 5.0) -> "Node":
        """Launches the process and learns id, address and port from `peers --json`."""
        self.launch()
        return self.identify(timeout)

    def identify(self, timeout: float = 5.0) -> "Node":
        """Learns id, address and port of the launched process from `peers --json` (start() is
        launch() then this; several nodes launched at once are identified afterwards)."""
        answer = self.command_json("peers --json", timeout=timeout)
        try:
            me = answer["self"]
            self.id = me["id"]
            self.address = me["address"]
            _, port = parse_address(self.address)
        except (KeyError, TypeError, ValueError) as error:
            raise HarnessError(f"{self.name}: `peers --json` has no usable self.id/self.address "
                               f"({error!r}): {json.dumps(answer)[:500]}")
        if self.port not in (0, port):
            raise HarnessError(f"{self.name}: asked for port {self.port}, node reports {port}")
        self.port = port
        return self

    def restart(self, timeout: float = 5.0) -> "Node":
        """Starts the node again with the same arguments and the same (learned) port."""
        if self.alive():
            self.kill9()
        old_id = self.id
        self.start(timeout)
        if old_id is not None and self.node_id is None and self.id != old_id:
            raise HarnessError(f"{self.name}: restarted on port {self.port} with id {self.id!r}, "
                               f"was {old_id!r}")
        return self

    @staticmethod
    def _read_stdout(proc: subprocess.Popen, lines: "queue.Queue[Any]") -> None:
        assert proc.stdout is not None
        for raw in iter(proc.stdout.readline, b""):
            lines.put(raw.decode("utf-8", errors="replace").rstrip("\r\n"))
        lines.put(_EOF)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    @property
    def pid(self) -> int:
        if self.proc is None:
            raise HarnessError(f"{self.name} was never started")
        return self.proc.pid

    def _signal(self, signum: int) -> None:
        if not self.alive():
            raise HarnessError(f"{self.name} is not running (exit code {self.returncode()})")
        os.kill(self.pid, signum)

    def kill9(self, timeout: float = 5.0) -> None:
        """SIGKILL and reap."""
        self._signal(signal.SIGKILL)
        reap_node(self.proc, timeout)
        self.stopped = False

    def sigstop(self) -> None:
        self._signal(signal.SIGSTOP)
        self.stopped = True

    def sigcont(self) -> None:
        self._signal(signal.SIGCONT)
        self.stopped = False

    def terminate(self, timeout: float = 5.0) -> Optional[int]:
        """SIGTERM (SIGKILL after `timeout`); returns the exit code."""
        if self.alive():
            if self.stopped:
                self.sigcont()
            os.kill(self.pid, signal.SIGTERM)
            try:
                reap_node(self.proc, timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                reap_node(self.proc, timeout=5)
        return self.returncode()

    def exit(self, timeout: float = 5.0) -> int:
        """Types `exit` at the prompt and waits for the process to end; returns its exit code."""
        self.send("exit")
        return self.wait_exit(timeout)

    def wait_exit(self, timeout: float = 5.0) -> int:
        try:
            return reap_node(self.proc, timeout)
        except subprocess.TimeoutExpired:
            raise NodeTimeout(f"{self.name} still running {timeout} s after being asked to exit\n"
                              f"{self.stderr_tail()}")

    def returncode(self) -> Optional[int]:
        return None if self.proc is None else self.proc.poll()

    def close(self) -> None:
        """Kills the process if it runs, and reaps it. Safe to call repeatedly."""
        if self.proc is None:
            return
        if self.proc.poll() is None:
            try:
                self.proc.kill()
            except OSError:
                pass
        try:
            reap_node(self.proc, timeout=5)
        except subprocess.TimeoutExpired:
            pass
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass
        if self._reader is not None:
            self._reader.join(timeout=1)
        with _ALL_LOCK:
            _ALL_PROCESSES.discard(self.proc)

    # ---- prompt ---------------------------------------------------------------------------

    def send(self, line: str) -> None:
        """Writes one line to the node's stdin."""
        if self.proc is None or self.proc.stdin is None:
            raise HarnessError(f"{self.name} was never started")
        try:
            self.proc.stdin.write((line + "\n").encode())
            self.proc.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise NodeGone(f"{self.name}: cannot write {line!r} ({error}); exit code "
                           f"{self.returncode()}")

    def command_json(self, command: str, timeout: float = 3.0) -> Any:
        """Sends `command` and returns the next JSON line it prints, parsed.

        Lines that do not start with '{' are kept in other_output and skipped. If an earlier
        command timed out, its late answer is discarded, not mistaken for this one's.
        """
        if self.stopped:
            raise HarnessError(f"{self.name} is SIGSTOPped: it cannot answer {command!r}")
        self.send(command)
        deadline = now() + timeout
        skipped: "list[str]" = []
        while True:
            remaining = deadline - now()
            if remaining <= 0:
                self._stale += 1
                raise NodeTimeout(f"{self.name}: no JSON answer to {command!r} within {timeout} s"
                                  f" (other stdout: {skipped[-5:]!r})\n{self._state_now()}")
            try:
                line = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if line is _EOF:
                self._lines.put(_EOF)  # later calls see it too
                code = reap_node(self.proc, timeout=5) if self.proc else None
                raise NodeGone(f"{self.name}: stdout closed (exit code {code}) before answering "
                               f"{command!r}; other stdout: {skipped[-5:]!r}")
            text = line.strip()
            if not text.startswith("{"):
                skipped.append(line)
                self.other_output.append(line)
                del self.other_output[:-200]
                continue
            if self._stale:
                self._stale -= 1
                continue
            try:
                return json.loads(text)
            except ValueError as error:
                raise HarnessError(f"{self.name}: answer to {command!r} is not valid JSON "
                                   f"({error}): {text[:500]!r}")

    def peers(self, timeout: float = 3.0) -> Any:
        return self.command_json("peers --json", timeout)

    def debug(self, timeout: float = 3.0) -> Any:
        return self.command_json("debug --json", timeout)

    def status(self, timeout: float = 3.0) -> Any:
        return self.command_json("status --json", timeout)

    # ---- logs -----------------------------------------------------------------------------

    def stderr_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def _state_now(self) -> str:
        """The process's threads as /proc shows them, and its log's last lines."""
        threads = threads_snapshot(self.pid) if self.alive() else f"  exited ({self.returncode()})"
        return f"{threads}\n{self.stderr_tail(10)}"

    def stderr_tail(self, lines: int = 30) -> str:
        tail = self.stderr_text().splitlines()[-lines:]
        return "\n".join(f"    {self.name}| {line}" for line in tail) or f"    {self.name}| (empty)"

    def __repr__(self) -> str:
        return f"Node({self.name}, id={self.id!r}, pid={self.proc.pid if self.proc else None})"


def entries_for(view: Any, node: Node) -> "list[dict]":
    """The entries of a `peers --json` answer that describe `node` (by id)."""
    return [p for p in view.get("peers", []) if p.get("id") == node.id]


def state_of(view: Any, node: Node) -> Optional[str]:
    """`node`'s state in a `peers --json` answer; None if absent; 'DUPLICATE' if listed twice."""
    found = entries_for(view, node)
    if not found:
        return None
    if len(found) > 1:
        return "DUPLICATE"
    return found[0].get("state")


# ---- leadership ----------------------------------------------------------------------------------


def statuses(nodes: Iterable[Node], timeout: float = 2.0) -> "dict[str, Any]":
    """`status --json` of each node, by node name (asked one after the other)."""
    return {n.name: n.status(timeout) for n in nodes}


def leader_claims(views: "dict[str, Any]") -> "list[tuple[str, int]]":
    """(name, epoch) of every node whose view says it is the leader."""
    return [(name, int(v.get("epoch") or 0)) for name, v in views.items()
            if v.get("role") == "leader"]


def split_brain(views: "dict[str, Any]") -> Optional[str]:
    """None if at most one node claims leadership at the highest epoch claimed; else why not.

    A claim at a lower epoch than another's is stale (a frozen leader that has not yet noticed,
    say): it is not split brain, since followers never accept an epoch below their own."""
    claims = leader_claims(views)
    if not claims:
        return None
    top = max(epoch for _, epoch in claims)
    at_top = [name for name, epoch in claims if epoch == top]
    if len(at_top) > 1:
        return f"{len(at_top)} nodes claim leadership at epoch {top}: {', '.join(at_top)}"
    return None


def agreement(views: "dict[str, Any]", nodes: Iterable[Node]) -> "tuple[Optional[Node], str]":
    """(leader, "") when every view names the same leader at the same epoch, that leader is one
    of `nodes` and says role "leader", and every other node says "follower"; else (None, why)."""
    nodes = list(nodes)
    leaders = {v.get("leader") for v in views.values()}
    epochs = {v.get("epoch") for v in views.values()}
    summary = "; ".join(f"{name}: {v.get('role')} of {v.get('leader')} @{v.get('epoch')}"
                        for name, v in views.items())
    if len(leaders) != 1 or None in leaders:
        return None, f"no common leader ({summary})"
    if len(epochs) != 1:
        return None, f"epochs differ ({summary})"
    leader_id = leaders.pop()
    by_id = [n for n in nodes if n.id == leader_id]
    if len(by_id) != 1:
        return None, f"leader {leader_id} is not one of {[n.name for n in nodes]} ({summary})"
    leader = by_id[0]
    for node in nodes:
        want = "leader" if node is leader else "follower"
        if views[node.name].get("role") != want:
            return None, f"{node.name} is {views[node.name].get('role')}, not {want} ({summary})"
    return leader, ""


def one_agreed_leader(nodes: "list[Node]", agreed: list):
    """A wait_until check: true once `nodes` agree on one leader, which it appends to `agreed`."""
    def check() -> object:
        leader, why = agreement(statuses(nodes), nodes)
        if leader is None:
            return why
        agreed.append(leader)
        return True
    return check


def rank_key(node: Node) -> "tuple[int, str]":
    """The Bully rank (priority, then id), as the node orders it."""
    return (node.priority or 0, node.id or "")


class Cluster:
    """Owns a temp dir and every node started through it; kills them all on exit, always."""

    def __init__(self, binary: str, name: str = "cluster", keep_logs: bool = False):
        self.binary = binary
        self.name = name
        self.keep_logs = keep_logs
        self.nodes: "list[Node]" = []
        self.figures: "list[tuple[str, float, str, Optional[float]]]" = []
        self.workdir: Optional[Path] = None

    def __enter__(self) -> "Cluster":
        self.workdir = Path(tempfile.mkdtemp(prefix=f"chorus-{self.name}-"))
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        self.shutdown()
        if self.workdir is not None:
            nothing_to_see = exc_type is None or issubclass(exc_type, Skip)
            if nothing_to_see and not self.keep_logs:
                shutil.rmtree(self.workdir, ignore_errors=True)
            else:
                print(f"  logs kept in {self.workdir}", flush=True)
        return False

    def node(self, name: str, start: bool = True, **kwargs: Any) -> Node:
        """Creates (and by default starts) a node; see Node for the keyword arguments."""
        if self.workdir is None:
            raise HarnessError("use Cluster as a context manager")
        node = Node(self.binary, name, self.workdir, **kwargs)
        self.nodes.append(node)
        if start:
            node.start()
        return node

    def shutdown(self) -> None:
        for node in self.nodes:
            node.close()

    def live(self, exclude: Iterable[Node] = ()) -> "list[Node]":
        """Running, not stopped nodes (minus `exclude`)."""
        skip = set(map(id, exclude))
        return [n for n in self.nodes if n.alive() and not n.stopped and id(n) not in skip]

    def figure(self, label: str, value: float, unit: str = "s",
               limit: Optional[float] = None) -> float:
        """Records and prints a measured figure, e.g. "full mesh after 0.41 s (limit 2.00 s)"."""
        self.figures.append((label, value, unit, limit))
        bound = f" (limit {limit:.2f} {unit})" if limit is not None else ""
        print(f"  FIGURE {label}: {value:.3f} {unit}{bound}", flush=True)
        return value

    def check_limit(self, label: str, value: float, limit: float, unit: str = "s") -> None:
        """Records the figure, then fails with a system dump if it exceeds `limit`."""
        self.figure(label, value, unit, limit)
        if value > limit:
            raise HarnessError(f"{label}: {value:.3f} {unit} exceeds the limit of {limit} {unit}\n"
                               + self.describe())

    # ---- views and predicates ---------------------------------------------------------------

    def views(self, observers: Iterable[Node], timeout: float = 2.0) -> "dict[str, Any]":
        return {n.name: n.peers(timeout) for n in observers}

    def states_are(self, observers: Iterable[Node], subjects: Iterable[Node],
                   states: "str | tuple[str, ...]") -> Callable[[], Any]:
        """Predicate: every observer lists every subject (other than itself) exactly once in one
        of `states`."""
        wanted = (states,) if isinstance(states, str) else tuple(states)
        observers = list(observers)
        subjects = list(subjects)

        def check() -> Any:
            missing = []
            for observer in observers:
                view = observer.peers(timeout=2.0)
                for subject in subjects:
                    if subject is observer:
                        continue
                    state = state_of(view, subject)
                    if state not in wanted:
                        missing.append(f"{observer.name} sees {subject.name} as {state}")
            return True if not missing else "; ".join(missing)

        return check

    def mesh(self, nodes: Optional[Iterable[Node]] = None) -> Callable[[], Any]:
        """Predicate: every node in `nodes` (default: all live) lists all the others as up."""
        members = list(nodes) if nodes is not None else self.live()
        return self.states_are(members, members, "up")

    def wait_mesh(self, nodes: Optional[Iterable[Node]] = None, timeout: float = 5.0,
                  since: Optional[float] = None, what: str = "full mesh") -> float:
        members = list(nodes) if nodes is not None else self.live()
        return wait_until(self.mesh(members), timeout, what=f"{what} of "
                          f"{', '.join(n.name for n in members)}", since=since,
                          describe=self.describe)

    def describe(self) -> str:
        """Each node's status, `peers --json` answer and stderr tail, for failure messages."""
        out = [f"---- cluster {self.name} ({self.workdir}) ----"]
        for node in self.nodes:
            header = f"  [{node.name}] id={node.id} pid={node.proc.pid if node.proc else None}"
            if node.proc is None:
                out.append(header + " (never started)")
                continue
            if not node.alive():
                out.append(header + f" exited with {node.returncode()}")
                if (node.returncode() or 0) < 0:
                    out.extend(f"    kernel: {line}" for line in kernel_faults(node))
            elif node.stopped:
                out.append(header + " SIGSTOPped")
            else:
                out.append(header + " running")
                for command in ("peers --json", "debug --json"):
                    try:
                        answer = json.dumps(node.command_json(command, timeout=1.0))
                    except HarnessError as error:
                        answer = f"(no answer: {error}; threads: {thread_states(node.proc.pid)})"
                    out.append(f"    {command}: {answer}")
            if node.other_output:
                out.append(f"    other stdout: {node.other_output[-5:]!r}")
            out.append(node.stderr_tail())
        return "\n".join(out)


# ---- runner ------------------------------------------------------------------------------------

Scenario = Callable[[Cluster], None]


def _raise_system_exit(signum: int, _frame: Any) -> None:
    raise SystemExit(128 + signum)


def gen_key(cluster: Cluster, name: str) -> "tuple[Path, str]":
    """A fresh cluster key file (node --gen-key) in the cluster's temp dir: its path and key id."""
    path = Path(cluster.workdir) / f"{name}.key"
    result = subprocess.run([cluster.binary, "--gen-key", str(path)], capture_output=True,
                            timeout=10, text=True)
    found = re.search(r"key id ([0-9a-f]{16})", result.stdout)
    if result.returncode != 0 or not found:
        raise HarnessError(f"--gen-key {path} failed ({result.returncode}): {result.stdout!r} "
                           f"{result.stderr!r}")
    return path, found.group(1)


def run_main(title: str, scenarios: "list[tuple[str, Scenario]]",
             argv: Optional["list[str]"] = None) -> int:
    """Parses the command line, runs the scenarios (each with a fresh Cluster), prints a summary
    with every figure; returns the exit code (0 pass, 1 fail, 77 all skipped, 2 usage)."""
    parser = argparse.ArgumentParser(description=title)
    parser.add_argument("--node", required=True, help="path to the node executable")
    parser.add_argument("--only", action="append", default=[],
                        help="run only scenarios whose name contains this (repeatable)")
    parser.add_argument("--keep-logs", action="store_true", help="keep per-node logs on success")
    parser.add_argument("--list", action="store_true", help="list scenario names and exit")
    args = parser.parse_args(argv)

    if args.list:
        for name, _ in scenarios:
            print(name)
        return 0
    binary = os.path.abspath(args.node)
    if not (os.path.isfile(binary) and os.access(binary, os.X_OK)):
        print(f"error: node executable not found or not executable: {binary}", file=sys.stderr)
        return 2

    signal.signal(signal.SIGTERM, _raise_system_exit)
    signal.signal(signal.SIGHUP, _raise_system_exit)

    selected = [(n, s) for n, s in scenarios if not args.only or any(o in n for o in args.only)]
    if not selected:
        print("error: --only matched no scenario", file=sys.stderr)
        return 2

    results: "list[tuple[str, str, float, str]]" = []  # name, outcome, seconds, why it failed
    figures: "list[tuple[str, str, float, str, Optional[float]]]" = []
    print(f"== {title}: {len(selected)} scenario(s), node {binary}", flush=True)
    for name, scenario in selected:
        print(f"-- {name}", flush=True)
        started = now()
        outcome = "PASS"
        reason = ""
        cluster = Cluster(binary, name=name.split(":")[0].replace(" ", "_"),
                          keep_logs=args.keep_logs)
        try:
            with cluster:
                try:
                    scenario(cluster)
                except Skip:
                    raise
                except Exception as failure:
                    reason = (str(failure).strip().splitlines() or [repr(failure)])[0]
                    # Dump the system while it still runs, unless the message already holds it.
                    if isinstance(failure, AssertionError):
                        print(f"  FAILED: {failure}", flush=True)
                    else:  # a harness or scenario bug: report it as a failure, keep going
                        print("  ERROR:\n" + traceback.format_exc(), flush=True)
                    if "---- cluster" not in str(failure):
                        print(cluster.describe(), flush=True)
                    raise
        except Skip as skip:
            outcome = "SKIP"
            print(f"  skipped: {skip}", flush=True)
        except Exception:
            outcome = "FAIL"
        finally:
            for label, value, unit, limit in cluster.figures:
                figures.append((name.split(" ")[0], label, value, unit, limit))
        elapsed = now() - started
        results.append((name, outcome, elapsed, reason))
        print(f"   {outcome} ({elapsed:.1f} s)", flush=True)

    if figures:
        print("== figures")
        for tag, label, value, unit, limit in figures:
            bound = f"  (limit {limit:g} {unit})" if limit is not None else ""
            print(f"  [{tag}] {label}: {value:.3f} {unit}{bound}")
    # The summary comes last and repeats each failure's reason: a long log is often read from
    # its end, or cut in its middle.
    print(f"== summary: {title}")
    for name, outcome, elapsed, reason in results:
        print(f"  {outcome:4}  {name}  ({elapsed:.1f} s)")
        if reason:
            print(f"        because: {reason[:300]}")
    sys.stdout.flush()

    outcomes = [o for _, o, _, _ in results]
    if "FAIL" in outcomes:
        return 1
    if all(o == "SKIP" for o in outcomes):
        return 77
    return 0
