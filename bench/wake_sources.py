#!/usr/bin/env python3
"""Wake sources: what wakes a playing follower's io thread, and how often.

    python3 bench/wake_sources.py [--node PATH] [--nodes 3] [--keyed] [--window 10]

Needs root (uprobes, perf, ptrace), perf and strace. Starts a fresh cluster on loopback
(`--output null`, A leads, the others bootstrap from it), plays the 4-minute track, waits 2 s and
watches follower B's io thread (its main thread) for --window seconds, twice:

  perf   one uprobe on every asio completion handler of the binary (the do_complete of each
         handler type: its template argument names the lambda, hence the component), with the
         thread's sched_switch and epoll_wait exits. An epoll_wait return after the thread went to
         sleep is one wake-up; the first handler run after it names the wake's source (a timer's
         owner, or the socket read loop). Context switches/s come from /proc over the same window.
  strace the thread's socket reads and writes for another window: frames in and out by type
         (open clusters only: keyed frames are sealed) and frames per write.

Prints a table and writes bench/results/wake_sources[-keyed]-N.json.
"""

from __future__ import annotations

import collections
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import Rig

TRACEFS = next((p for p in (Path("/sys/kernel/tracing"), Path("/sys/kernel/debug/tracing"))
                if (p / "uprobe_events").exists()), Path("/sys/kernel/tracing"))
GROUP = "chorus_wake"


# ---- uprobes on the completion handlers ------------------------------------------------------

def load_segments(binary: str) -> "list[tuple[int, int, int]]":
    """(vaddr, offset, size) of each LOAD segment, to turn a symbol's address into a file offset."""
    out = []
    text = subprocess.run(["readelf", "-lW", binary], check=True, capture_output=True,
                          text=True).stdout
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "LOAD":
            offset, vaddr, size = int(parts[1], 16), int(parts[2], 16), int(parts[5], 16)
            out.append((vaddr, offset, size))
    return out


def label_of(demangled: str) -> str:
    """"wait_handler: chorus::node::ElectionShell::schedule_tick" from the handler's type."""
    kind = re.match(r"boost::asio::detail::(\w+)", demangled)
    where = re.search(r"(chorus::[\w:]+?)(?:\(|::\{lambda)", demangled)
    return f"{kind.group(1) if kind else '?'}: {where.group(1) if where else demangled[:60]}"


def handler_symbols(binary: str) -> "list[tuple[int, str]]":
    """(file offset, label) of every asio completion handler's do_complete."""
    segments = load_segments(binary)
    text = subprocess.run(["nm", "-C", "--defined-only", binary], check=True,
                          capture_output=True, text=True).stdout
    out = []
    for line in text.splitlines():
        address, _, name = line.partition(" ")
        name = name[2:]
        if not name.startswith("boost::asio::detail::") or "::do_complete(" not in name:
            continue
        if "chorus::" not in name or "[clone" in name:
            continue
        vaddr = int(address, 16)
        for start, offset, size in segments:
            if start <= vaddr < start + size:
                out.append((vaddr - start + offset, label_of(name)))
                break
    return out


def write_probe_line(line: str) -> None:
    # Not open(..., "a"): Python seeks to the end, which tracefs refuses.
    fd = os.open(TRACEFS / "uprobe_events", os.O_WRONLY | os.O_APPEND)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def remove_probes() -> None:
    events = (TRACEFS / "uprobe_events").read_text().splitlines()
    mine = [line.split()[0].split(":", 1)[1] for line in events if f":{GROUP}/" in line.split()[0]]
    for name in mine:
        write_probe_line(f"-:{name}")


def add_probes(binary: str) -> "dict[str, str]":
    """Defines one uprobe per handler; returns probe name -> label."""
    remove_probes()
    labels = {}
    path = str(Path(binary).resolve())
    for k, (offset, label) in enumerate(handler_symbols(binary)):
        name = f"h{k}"
        write_probe_line(f"p:{GROUP}/{name} {path}:{offset:#x}")
        labels[name] = label
    return labels


def trace_for(window: float, argv: "list[str]") -> None:
    """Runs a tracer (perf record, strace) for `window` seconds of the node's life, then stops it
    with SIGINT so that it writes out what it has."""
    tracer = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(window)
    finally:
        tracer.send_signal(signal.SIGINT)
        tracer.wait(timeout=30)


# ---- perf: wakes and their first handler ------------------------------------------------------

def perf_wakes(tid: int, window: float, labels: "dict[str, str]", workdir: Path) -> "dict[str, Any]":
    data = workdir / "wake.perf"
    trace_for(window, ["perf", "record", "-q", "-o", str(data), "-t", str(tid),
                       "-e", "sched:sched_switch", "-e", "syscalls:sys_exit_epoll_wait",
                       "-e", "syscalls:sys_exit_epoll_pwait", "-e", f"{GROUP}:*"])
    text = subprocess.run(["perf", "script", "-i", str(data), "-F", "time,event,trace"],
                          check=True, capture_output=True, text=True).stdout
    data.unlink(missing_ok=True)
    return wake_table(text, tid, labels)


# A wake-up that ran no handler of a chorus type: a function another thread posted as a
# std::function (the player's and the content service's callbacks), or an event with nothing to run.
NO_HANDLER = "(no chorus handler: a posted std::function, or nothing to run)"


def wake_table(text: str, tid: int, labels: "dict[str, str]") -> "dict[str, Any]":
    """Rates over the trace's own span (perf takes a while to set up its probes)."""
    sources: "collections.Counter[str]" = collections.Counter()
    handlers: "collections.Counter[str]" = collections.Counter()
    wakes = sleeps = preempted = 0
    slept = False
    current: "list[str] | None" = None
    times = []
    for line in text.splitlines():
        stamp = re.match(r"\s*(\d+\.\d+):", line)
        if stamp:
            times.append(float(stamp.group(1)))
        if "sched:sched_switch" in line:
            m = re.search(r"prev_pid=(\d+) prev_prio=\d+ prev_state=(\S+)", line)
            if m and int(m.group(1)) == tid:
                if m.group(2).startswith(("S", "D")):
                    slept = True
                    sleeps += 1
                else:
                    preempted += 1
        elif "sys_exit_epoll" in line:
            if current is not None:
                sources[current[0] if current else NO_HANDLER] += 1
            current = None
            if slept:
                wakes += 1
                current = []
                slept = False
        elif f"{GROUP}:" in line:
            name = line.split(f"{GROUP}:")[1].split(":")[0].strip()
            label = labels.get(name, name)
            handlers[label] += 1
            if current is not None:
                current.append(label)
    if current is not None:
        sources[current[0] if current else NO_HANDLER] += 1
    span = max(times) - min(times) if len(times) > 1 else 0.0
    rate = lambda n: round(n / span, 2) if span else 0.0  # noqa: E731
    return {"span_s": round(span, 2), "wakes_per_s": rate(wakes),
            "voluntary_switches_per_s": rate(sleeps), "involuntary_switches_per_s": rate(preempted),
            "wake_sources_per_s": {k: rate(v) for k, v in sources.most_common()},
            "handlers_per_s": {k: rate(v) for k, v in handlers.most_common()}}


# ---- strace: frames in and out ---------------------------------------------------------------

FRAME_TYPE = re.compile(r'\\"type\\":\\"([A-Z_]+)\\",\\"from\\":\\"([^\\]+)\\"')
SOCKET_CALLS = ("read", "recvfrom", "recvmsg", "write", "writev", "sendto", "sendmsg")


def strace_frames(tid: int, window: float, workdir: Path, names: "dict[str, str]") -> "dict[str, Any]":
    log = workdir / "wake.strace"
    t0 = time.monotonic()
    trace_for(window, ["strace", "-q", "-p", str(tid), "-s", "256", "-o", str(log),
                       "-e", "trace=epoll_wait,epoll_pwait," + ",".join(SOCKET_CALLS)])
    elapsed = time.monotonic() - t0
    frames_in: "collections.Counter[str]" = collections.Counter()
    by_sender: "collections.Counter[str]" = collections.Counter()
    frames_out: "collections.Counter[str]" = collections.Counter()
    calls: "collections.Counter[str]" = collections.Counter()
    writes_with = collections.Counter()
    blocking_waits = 0
    for line in log.read_text(errors="replace").splitlines():
        call = line.split("(", 1)[0].strip()
        if call.startswith(("epoll_wait", "epoll_pwait")):
            if not re.search(r",\s*0\)\s*=", line):
                blocking_waits += 1
            continue
        if call not in SOCKET_CALLS or "EAGAIN" in line:
            continue
        calls[call] += 1
        frames = FRAME_TYPE.findall(line)
        types = [kind for kind, _ in frames]
        if call in ("read", "recvfrom", "recvmsg"):
            frames_in.update(types)
            by_sender.update(f"{kind} from {names.get(sender, sender)}" for kind, sender in frames)
        else:
            frames_out.update(types)
            writes_with[len(types)] += 1
    log.unlink(missing_ok=True)
    per_s = lambda c: {k: round(v / elapsed, 2) for k, v in c.most_common()}  # noqa: E731
    return {"window_s": round(elapsed, 2), "blocking_epoll_waits_per_s": round(blocking_waits / elapsed, 1),
            "syscalls_per_s": per_s(calls), "frames_in_per_s": per_s(frames_in),
            "frames_in_by_sender_per_s": per_s(by_sender),
            "frames_out_per_s": per_s(frames_out),
            "writes_by_frames_in_them": {str(k): v for k, v in sorted(writes_with.items())}}


def main() -> int:
    parser = rig.bench_parser(__doc__, "wake_sources")
    parser.add_argument("--nodes", type=int, default=3)
    parser.add_argument("--keyed", action="store_true")
    parser.add_argument("--window", type=float, default=10.0)
    parser.add_argument("--watch", default="B", help="the node watched (A is the leader)")
    args = rig.parse_bench_args(parser)
    if args.out == str(rig.RESULTS / "wake_sources.json"):
        args.out = str(rig.RESULTS / f"wake_sources{'-keyed' if args.keyed else ''}-{args.nodes}.json")
    tracks = rig.track_dir(args.probe, 240)
    names = [chr(ord("A") + i) for i in range(args.nodes)]
    labels = add_probes(args.node)
    try:
        with Rig(f"wakes-{args.nodes}", args.node, args.probe, args.keep_logs, keyed=args.keyed) as r:
            nodes = r.start_cluster(names, tracks)
            r.play_first_track(nodes)
            time.sleep(2.0)
            watched = next(n for n in nodes if n.name == args.watch)
            load = open("/proc/loadavg").read().split()[:3]
            perf = perf_wakes(watched.pid, args.window, labels, r.workdir)
            frames = strace_frames(watched.pid, args.window, r.workdir, {n.id: n.name for n in nodes})
    finally:
        remove_probes()
    result = {"nodes": args.nodes, "keyed": args.keyed, "watched": args.watch,
              "loadavg": load, "perf": perf, "strace": frames}
    rig.write_json(Path(args.out), result)
    print(f"-- {args.nodes} nodes, {'keyed' if args.keyed else 'open'}, follower {args.watch}, "
          f"load {' '.join(load)}")
    print(f"   io thread: {perf['wakes_per_s']} wakes/s; context switches/s: "
          f"{perf['voluntary_switches_per_s']} voluntary, {perf['involuntary_switches_per_s']} "
          f"involuntary ({perf['span_s']} s traced)")
    for source, rate in perf["wake_sources_per_s"].items():
        print(f"   {rate:7.2f}/s  {source}")
    print(f"   frames in/s: {frames['frames_in_per_s']}")
    print(f"   by sender: {frames['frames_in_by_sender_per_s']}")
    print(f"   frames out/s: {frames['frames_out_per_s']}")
    print(f"   writes by frames in them: {frames['writes_by_frames_in_them']}, syscalls/s: "
          f"{frames['syscalls_per_s']}")
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
