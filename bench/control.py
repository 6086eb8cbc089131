#!/usr/bin/env python3
"""Control benchmark: the cluster driven by MPD clients and the web page.

    python3 bench/control.py [--node PATH] [--probe PATH] [--cycles 10] [--quick]

1. mpc reaction. 3 nodes on loopback (A leads, B and C follow), outputs read by skew_probe as in
   bench/reaction.py. While a self-numbering track plays, `mpc pause` and `mpc play` (which
   resumes) are run against B's MPD port, 0.25 s apart. Per command and node: the audible
   instant of the first changed frame minus the instant mpc was started. Target: pause -> every
   node's output stops <= 100 ms.
2. Web click. The same cluster, a headless Chromium on B's page: the pause and play buttons are
   clicked through the DevTools protocol; the figure starts when the click is sent. Target
   <= 100 ms.
3. Idle fan-out. 100 MPD clients wait in `idle` on B; `volume B 50` and `pause`/`resume` are typed
   on A's prompt: the time from the command to each client's `changed:` line. Target <= 50 ms for
   all 100. B's RSS and CPU with the 100 clients connected, against the same window without them.

Writes bench/results/control.json.
"""

from __future__ import annotations

import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

import rig
from reaction import reactions
from rig import Rig, command_text, mono_us, summary

sys.path.insert(0, str(rig.REPO / "tests" / "system"))
from browser import Browser  # noqa: E402

REACTION_TARGET_MS = 100.0
IDLE_TARGET_MS = 50.0
SPACING_S = 0.25
IDLE_CLIENTS = 100
WINDOW_S = 10.0


def start_controlled_cluster(r: Rig, names: "list[str]", tracks: Path,
                             fifos: "dict[str, Path]") -> "tuple[list[rig.Node], dict[str, int]]":
    """names[0] leads; every node serves MPD and the web page on free ports."""
    ports: "dict[str, dict[str, int]]" = {}
    nodes = []
    for i, name in enumerate(names):
        ports[name] = {"mpd": rig.free_port(), "http": rig.free_port()}
        extra = ["--mpd-port", str(ports[name]["mpd"]), "--http-port", str(ports[name]["http"])]
        nodes.append(r.node(name, leader=i == 0, bootstrap=None if i == 0 else nodes[0],
                            tracks=tracks, output=f"file:{fifos[name]}", extra=extra))
    r.wait_mesh(nodes)
    r.wait_synced(nodes)
    return nodes, ports


def timed_commands(r: Rig, fifos: "dict[str, Path]", tag: str, plan: "list[tuple[str, Callable[[], str]]]"
                   ) -> "tuple[list[dict], rig.Probe]":
    """Runs each (kind, action) of the plan SPACING_S apart while the probe reads the outputs."""
    probe = r.probe(tag, fifos, 0.5 + len(plan) * SPACING_S + 0.5)
    start = time.monotonic() + 0.5
    sent = []
    for i, (kind, action) in enumerate(plan):
        delay = start + i * SPACING_S - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        t_cmd = mono_us()
        reply = action()
        sent.append({"origin": "B", "role": "follower", "kind": kind, "t_us": t_cmd,
                     "reply_ms": round((mono_us() - t_cmd) / 1000, 3), "reply": reply})
    probe.finish()
    return sent, probe


def judge(records: "list[dict]", kinds: "tuple[str, ...]") -> "dict[str, Any]":
    groups = {}
    for kind in kinds:
        mine = [x for x in records if x["kind"] == kind]
        values = [v for x in mine for v in x["reaction_ms"].values() if v is not None]
        missing = sum(1 for x in mine for v in x["reaction_ms"].values() if v is None)
        s = summary(values)
        groups[kind] = {"commands": len(mine), "reaction_ms": s, "missing": missing,
                        "reply_ms": summary([x["reply_ms"] for x in mine], 2),
                        "met": s["n"] > 0 and missing == 0 and s["p95"] <= REACTION_TARGET_MS}
        print(f"   {kind:6}: p50 {s['p50']} / p95 {s['p95']} / max {s['max']} ms "
              f"({s['n']} samples, {missing} missing)", flush=True)
    return groups


def mpc(port: int, *words: str) -> str:
    done = subprocess.run(["mpc", "-q", "-h", rig.HOST, "-p", str(port), *words],
                          capture_output=True, text=True, timeout=5)
    return (done.stdout + done.stderr).strip() or "ok"


def part_mpc(r: Rig, fifos: "dict[str, Path]", ports: "dict[str, dict[str, int]]",
             names: "list[str]", cycles: int) -> "dict[str, Any]":
    port = ports["B"]["mpd"]
    plan = [(k, lambda k=k: mpc(port, "pause" if k == "pause" else "play"))
            for _ in range(cycles) for k in ("pause", "resume")]
    print(f"-- mpc: {len(plan)} commands on B's MPD port", flush=True)
    sent, probe = timed_commands(r, fifos, "mpc", plan)
    return judge(reactions(sent, probe.rows, names), ("pause", "resume"))


def part_web(r: Rig, fifos: "dict[str, Path]", ports: "dict[str, dict[str, int]]",
             names: "list[str]", cycles: int) -> "dict[str, Any]":
    url = f"http://{rig.HOST}:{ports['B']['http']}/"
    print(f"-- web: {2 * cycles} clicks on B's page", flush=True)
    with Browser(r.workdir) as browser:
        page = browser.open(url)
        page.wait_for("window.chorus.connected && window.chorus.view", timeout=10, what="the first view")

        def click(selector: str) -> str:
            page.click(selector)
            return "clicked"
        plan = [(k, lambda k=k: click("#pause" if k == "pause" else "#play"))
                for _ in range(cycles) for k in ("pause", "resume")]
        sent, probe = timed_commands(r, fifos, "web", plan)
    return judge(reactions(sent, probe.rows, names), ("pause", "resume"))


def idle_clients(port: int, count: int) -> "list[socket.socket]":
    clients = []
    for _ in range(count):
        sock = socket.create_connection((rig.HOST, port), timeout=5)
        greeting = sock.recv(256)
        if not greeting.startswith(b"OK MPD"):
            raise rig.HarnessError(f"MPD greeting was {greeting!r}")
        sock.sendall(b"idle\n")
        clients.append(sock)
    return clients


def wait_changed(clients: "list[socket.socket]", t_cmd: int, timeout: float) -> "list[Optional[float]]":
    """Per client: ms from t_cmd until it received a `changed:` line; then it idles again."""
    arrived: "dict[int, float]" = {}
    buffers = {sock.fileno(): b"" for sock in clients}
    by_fd = {sock.fileno(): sock for sock in clients}
    deadline = time.monotonic() + timeout
    while len(arrived) < len(clients) and time.monotonic() < deadline:
        ready, _, _ = select.select([s for s in clients if s.fileno() not in arrived], [], [], 0.1)
        for sock in ready:
            data = sock.recv(4096)
            t = mono_us()
            buffers[sock.fileno()] += data
            if b"\nOK\n" in b"\n" + buffers[sock.fileno()] and b"changed:" in buffers[sock.fileno()]:
                arrived[sock.fileno()] = (t - t_cmd) / 1000
    for fd in arrived:
        by_fd[fd].sendall(b"idle\n")
    return [arrived.get(sock.fileno()) for sock in clients]


def usage(pid: int, seconds: float) -> "dict[str, Any]":
    ticks0 = rig.cpu_ticks(pid)
    time.sleep(seconds)
    ticks = rig.cpu_ticks(pid) - ticks0
    return {"cpu_percent": round(100 * ticks / rig.CLK_TCK / seconds, 2), **rig.rss_kib(pid)}


def part_idle(nodes: "list[rig.Node]", ports: "dict[str, dict[str, int]]",
              window_s: float) -> "dict[str, Any]":
    b = nodes[1]
    print(f"-- idle: {IDLE_CLIENTS} clients idle on B, {window_s} s windows", flush=True)
    without = usage(b.pid, window_s)
    clients = idle_clients(ports["B"]["mpd"], IDLE_CLIENTS)
    try:
        with_clients = usage(b.pid, window_s)
        delays: "list[Optional[float]]" = []
        for command in ("volume B 50", "pause", "resume", "volume B 100"):
            t_cmd = mono_us()
            reply = command_text(nodes[0], command.replace(" B ", f" {b.id} "))
            if not reply.startswith("ok"):
                raise rig.HarnessError(f"{command}: {reply}")
            delays += wait_changed(clients, t_cmd, timeout=2.0)
            time.sleep(SPACING_S)
    finally:
        for sock in clients:
            sock.close()
    got = [d for d in delays if d is not None]
    s = summary(got)
    missing = len(delays) - len(got)
    print(f"   changed: p50 {s['p50']} / p95 {s['p95']} / max {s['max']} ms ({missing} missing); "
          f"CPU {without['cpu_percent']} -> {with_clients['cpu_percent']} %, RSS "
          f"{without['VmRSS']} -> {with_clients['VmRSS']} KiB", flush=True)
    return {"clients": IDLE_CLIENTS, "changed_ms": s, "missing": missing,
            "met": missing == 0 and s["max"] is not None and s["max"] <= IDLE_TARGET_MS,
            "without_clients": without, "with_clients": with_clients}


def main() -> int:
    parser = rig.bench_parser(__doc__, "control")
    parser.add_argument("--cycles", type=int, default=10)
    args = rig.parse_bench_args(parser)
    cycles = 3 if args.quick else args.cycles
    window_s = 3.0 if args.quick else WINDOW_S
    tracks = rig.track_dir(args.probe, 240)
    names = ["A", "B", "C"]
    results: "dict[str, Any]" = {"machine": rig.machine_info(), "nodes": 3, "cycles": cycles,
                                 "reaction_target_ms": REACTION_TARGET_MS,
                                 "idle_target_ms": IDLE_TARGET_MS}
    with Rig("control", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        nodes, ports = start_controlled_cluster(r, names, tracks, fifos)
        r.play_first_track(nodes)
        time.sleep(1.0)
        results["mpc"] = part_mpc(r, fifos, ports, names, cycles)
        if shutil.which("chromium"):
            results["web"] = part_web(r, fifos, ports, names, cycles)
        results["idle"] = part_idle(nodes, ports, window_s)
    rig.write_json(Path(args.out), results)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
