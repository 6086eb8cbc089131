#!/usr/bin/env python3
"""Cost benchmark: CPU (% of one core) and memory (RSS) per node, idle and playing.

    python3 bench/cost.py [--node PATH] [--probe PATH] [--window 12] [--quick]

Runs, each a fresh cluster on loopback with `--output null`:
  3 nodes, a 4-minute track (a real song's length: 46 MB of PCM if decoded whole)
  8 nodes, the same track
  3 nodes, a 30-second track
Each run waits until the cluster is synced, measures an idle window (nothing playing; the null
output still renders silence every 10 ms), types `play 1`, waits 2 s and measures a playing
window. Per node, from /proc: CPU = (utime + stime) delta of /proc/PID/stat / window (clock
ticks of 1/CLK_TCK s: the resolution is 1 tick per window), cross-checked with the exact run
time in ns of /proc/PID/task/*/schedstat, which also gives the CPU of each thread; context
switches per second (all threads, /proc/PID/task/*/status); VmRSS / RssAnon / RssFile at the end
of the window and VmHWM. Targets while playing: <= 1 % CPU and <= 40 MiB RSS per node.

Writes bench/results/cost.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import Rig

TARGET_CPU_PCT = 1.0
TARGET_RSS_MIB = 40.0
RUNS = [{"nodes": 3, "track_s": 240}, {"nodes": 8, "track_s": 240}, {"nodes": 3, "track_s": 30}]


def ctxt_switches(pid: int) -> int:
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for line in (task / "status").read_text().splitlines():
                if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def run_ns(pid: int) -> int:
    """CPU time of every live thread in ns (/proc/PID/task/*/schedstat, exact)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            total += int((task / "schedstat").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
    return total


def started(task: Path) -> "tuple[int, int]":
    """When a thread started (clock ticks since boot, field 22 of its stat), then its tid: creation
    order, even where tids wrapped around (then the main thread's is not the smallest)."""
    try:
        return int((task / "stat").read_text().rsplit(")", 1)[1].split()[19]), int(task.name)
    except (OSError, ValueError, IndexError):
        return 1 << 62, int(task.name)


def thread_ns(pid: int) -> "dict[str, tuple[int, int]]":
    """(run time in ns, context switches) per thread, keyed "#k NAME": the k-th thread created
    (#0 = the main thread, which runs the io loop) and its name (/proc/PID/task/TID/comm: the
    node names its threads, docs/architecture.md)."""
    out = {}
    tasks = sorted(Path(f"/proc/{pid}/task").iterdir(),
                   key=lambda t: (int(t.name) != pid, started(t)))
    for k, task in enumerate(tasks):
        try:
            ns = int((task / "schedstat").read_text().split()[0])
            switches = sum(int(line.split()[1]) for line in
                           (task / "status").read_text().splitlines()
                           if line.startswith(("voluntary_ctxt", "nonvoluntary_ctxt")))
            out[f"#{k} {(task / 'comm').read_text().strip()}"] = (ns, switches)
        except (OSError, ValueError, IndexError):
            continue
    return out


def sample(pids: "dict[str, int]") -> "dict[str, Any]":
    return {name: {"ticks": rig.cpu_ticks(pid), "threads": thread_ns(pid),
                   "ctxt": ctxt_switches(pid), "ns": run_ns(pid)} for name, pid in pids.items()}


def measure(pids: "dict[str, int]", window: float) -> "dict[str, Any]":
    before = sample(pids)
    t0 = time.monotonic()
    time.sleep(window)
    after = sample(pids)
    elapsed = time.monotonic() - t0
    out = {}
    for name, pid in pids.items():
        b, a = before[name], after[name]
        threads = {t: {"cpu_pct": round((a["threads"][t][0] - b["threads"].get(t, (0, 0))[0])
                                        / 1e9 / elapsed * 100, 3),
                       "wakeups_per_s": round((a["threads"][t][1] - b["threads"].get(t, (0, 0))[1])
                                              / elapsed, 1)}
                   for t in a["threads"]}
        mem = rig.rss_kib(pid)
        out[name] = {"cpu_pct": round((a["ticks"] - b["ticks"]) / rig.CLK_TCK / elapsed * 100, 2),
                     "cpu_pct_schedstat": round((a["ns"] - b["ns"]) / 1e9 / elapsed * 100, 3),
                     "threads": threads,
                     "ctxt_per_s": round((a["ctxt"] - b["ctxt"]) / elapsed, 1),
                     "rss_mib": round(mem["VmRSS"] / 1024, 1),
                     "rss_anon_mib": round(mem.get("RssAnon", 0) / 1024, 1),
                     "rss_file_mib": round(mem.get("RssFile", 0) / 1024, 1),
                     "hwm_mib": round(mem["VmHWM"] / 1024, 1)}
    return out


def digest(per_node: "dict[str, Any]") -> "dict[str, Any]":
    cpu = [v["cpu_pct"] for v in per_node.values()]
    rss = [v["rss_mib"] for v in per_node.values()]
    exact = [v["cpu_pct_schedstat"] for v in per_node.values()]
    return {"cpu_pct": {"mean": round(sum(cpu) / len(cpu), 2), "max": max(cpu),
                        "leader": per_node["A"]["cpu_pct"]},
            "cpu_pct_schedstat": {"mean": round(sum(exact) / len(exact), 3), "max": max(exact),
                                  "leader": per_node["A"]["cpu_pct_schedstat"]},
            "rss_mib": {"mean": round(sum(rss) / len(rss), 1), "max": max(rss)},
            "hwm_mib_max": max(v["hwm_mib"] for v in per_node.values()),
            "ctxt_per_s_mean": round(sum(v["ctxt_per_s"] for v in per_node.values())
                                     / len(per_node), 1)}


def main() -> int:
    parser = rig.bench_parser(__doc__, "cost")
    parser.add_argument("--window", type=float, default=12.0)
    args = rig.parse_bench_args(parser)
    window = 3.0 if args.quick else args.window
    runs = []
    for run in RUNS:
        tracks = rig.track_dir(args.probe, run["track_s"])
        names = [chr(ord("A") + i) for i in range(run["nodes"])]
        print(f"-- cost: {run['nodes']} nodes, {run['track_s']} s track, {window} s windows",
              flush=True)
        with Rig(f"cost-{run['nodes']}", args.node, args.probe, args.keep_logs) as r:
            nodes = r.start_cluster(names, tracks)
            time.sleep(1.0)
            pids = {n.name: n.pid for n in nodes}
            idle = measure(pids, window)
            r.play_first_track(nodes)
            time.sleep(2.0)
            playing = measure(pids, window)
        result = {**run, "window_s": window, "pcm_mib": round(run["track_s"] * 48000 * 4 / 2**20, 1),
                  "idle": digest(idle), "playing": digest(playing),
                  "per_node": {"idle": idle, "playing": playing}}
        result["met"] = (result["playing"]["cpu_pct"]["max"] <= TARGET_CPU_PCT and
                         result["playing"]["rss_mib"]["max"] <= TARGET_RSS_MIB)
        runs.append(result)
        for phase in ("idle", "playing"):
            d = result[phase]
            print(f"   {phase:7}: CPU mean {d['cpu_pct']['mean']} % max {d['cpu_pct']['max']} % "
                  f"(schedstat {d['cpu_pct_schedstat']['mean']} / {d['cpu_pct_schedstat']['max']} %) "
                  f"(leader {d['cpu_pct']['leader']} %), RSS mean {d['rss_mib']['mean']} MiB max "
                  f"{d['rss_mib']['max']} MiB, {d['ctxt_per_s_mean']} context switches/s",
                  flush=True)
        print(f"   threads of B while playing: {playing['B']['threads']}", flush=True)
    results = {"machine": rig.machine_info(), "clk_tck": rig.CLK_TCK,
               "target": {"cpu_pct": TARGET_CPU_PCT, "rss_mib": TARGET_RSS_MIB}, "runs": runs}
    rig.write_json(Path(args.out), results)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
