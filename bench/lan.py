#!/usr/bin/env python3
"""LAN discovery benchmark: power-on to playing in sync with no address given, and a link flap.

    python3 bench/lan.py [--node PATH] [--probe PATH] [--trials 5] [--quick]

Root only (network namespaces): hosts on a bridge, each with its own avahi-daemon and D-Bus bus
(tests/system/lan.py). Every node writes its output to a FIFO read by skew_probe.

  power-on  5 nodes launched at once, no --leader, no --bootstrap, the same track directory.
            From the instant just before the first is spawned, `play 1` is typed on h1 every
            20 ms until a node accepts it (the first node that leads or follows a leader runs
            it); the figure is the time from spawn until every one of the 5 outputs plays, and
            keeps playing, frame-zero instants within 1 ms of each other (20 ms buckets, the
            probe's method: median per node per bucket). Each trial's nodes leave with `exit`,
            which withdraws their announcements, and the next trial's nodes get new ids.
            Target: <= 2 s.
  flap      3 nodes playing in sync (found by mDNS); the lowest-ranked one's veth goes down
            for 10 s, then up. Figures from link-up: until it and the others see each other up
            again ("rejoined"), and until its output is within 1 ms of the others' for a whole
            second ("in sync"; it may never have left: an isolated node plays on its last
            schedule). Target: <= 1 s.

Writes bench/results/lan.json.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import Rig, by_node, command_text, exact, mono_us, summary, zero_instant  # noqa: F401

sys.path.insert(0, str(rig.REPO / "tests" / "system"))
from harness import Skip  # noqa: E402
from lan import Lan, LanHost, requirements as lan_requirements  # noqa: E402

PORT = 7600
BUCKET_US = 20_000
SYNC_US = 1_000
HOLD_US = 1_000_000  # in sync means: every bucket of the next second within SYNC_US
POWER_ON_TARGET_S = 2.0
FLAP_TARGET_S = 1.0
FLAP_DOWN_S = 10.0
FLAP_TRIALS = 3      # a flap is timed this many times; the slowest is the figure


def spreads(rows: "list[tuple[str, int, int, int]]", names: "list[str]") -> "dict[int, float]":
    """Per bucket holding an exact audible block of every named node: the spread (µs) of the
    nodes' median frame-zero instants."""
    nodes = by_node(rows)
    per: "dict[str, dict[int, list[float]]]" = {}
    for name in names:
        buckets: "dict[int, list[float]]" = {}
        for block in exact(nodes.get(name, [])):
            z = zero_instant(block)
            if z is not None:
                buckets.setdefault(block[0] // BUCKET_US, []).append(z)
        per[name] = buckets
    common = set.intersection(*(set(b) for b in per.values()))
    out = {}
    for key in sorted(common):
        medians = [sorted(per[n][key])[len(per[n][key]) // 2] for n in names]
        out[key] = max(medians) - min(medians)
    return out


def stalled(stalls: "list[tuple[int, int, int]]") -> "set[int]":
    """Buckets in which the probe itself woke up late (a platform stall, not the nodes')."""
    out = set()
    for due, late, _cpu in stalls:
        out.update(range(due // BUCKET_US, (due + late) // BUCKET_US + 1))
    return out


def in_sync_from(probe: rig.Probe, names: "list[str]", after_us: int) -> "dict[str, Any]":
    """The start (µs) of the first bucket after `after_us` from which every bucket with all the
    nodes' blocks, for HOLD_US, is within SYNC_US (buckets of a probe stall left out), and what
    follows it to the end of the recording: buckets out of sync and the worst spread."""
    skip = stalled(probe.stalls)
    buckets = {k: v for k, v in spreads(probe.rows, names).items()
               if k * BUCKET_US >= after_us and k not in skip}
    keys = sorted(buckets)
    hold = HOLD_US // BUCKET_US
    for i, key in enumerate(keys):
        window = [k for k in keys[i:] if k < key + hold]
        if len(window) >= hold // 2 and all(buckets[k] <= SYNC_US for k in window):
            after = [buckets[k] for k in keys[i:]]
            return {"at_us": key * BUCKET_US, "buckets_after": len(after),
                    "out_of_sync_after": sum(1 for v in after if v > SYNC_US),
                    "worst_after_us": round(max(after), 1), "stalled_buckets": len(skip)}
    return {"at_us": None, "stalled_buckets": len(skip)}


def lan_node(bench: Rig, host: LanHost, name: str, node_id: str, tracks: Path, fifo: Path,
             priority: int = 0) -> rig.Node:
    return bench.cluster.node(name, start=False, host=host.address, port=PORT, node_id=node_id,
                              priority=priority, prefix=host.prefix(), mdns=True, log_level="info",
                              extra_args=["--tracks", str(tracks), "--output", f"file:{fifo}"])


def play_as_soon_as_accepted(node: rig.Node, timeout: float = 10.0) -> str:
    deadline = time.monotonic() + timeout
    while True:
        answer = command_text(node, "play 1")
        if answer.startswith("ok") or time.monotonic() > deadline:
            return answer
        time.sleep(0.02)


def power_on_trial(bench: Rig, hosts: "list[LanHost]", tracks: Path, trial: int) -> "dict[str, Any]":
    names = [h.name for h in hosts]
    fifos = {n: bench.fifo(f"{n}-t{trial}") for n in names}
    probe = bench.probe(f"power-{trial}", fifos, seconds=9.0)
    nodes = [lan_node(bench, h, f"{h.name}-t{trial}", f"{h.name}-t{trial}", tracks, fifos[h.name])
             for h in hosts]
    t0 = mono_us()
    for node in nodes:
        node.launch()
    answer = play_as_soon_as_accepted(nodes[0])
    accepted = (mono_us() - t0) / 1e6
    probe.finish()
    for node in nodes:
        node.identify()
    views = rig.statuses(nodes)
    leader, _ = rig.agreement(views, nodes)
    for node in nodes:
        node.exit()
    if not answer.startswith("ok"):
        return {"trial": trial, "error": f"play refused: {answer}"}
    sync = in_sync_from(probe, names, t0)
    at = sync.pop("at_us")
    return {"trial": trial, "play_accepted_s": round(accepted, 3),
            "in_sync_s": None if at is None else round((at - t0) / 1e6, 3),
            "leader": leader.name if leader else None, **sync}


def flap_trial(bench: Rig, hosts: "list[LanHost]", tracks: Path) -> "dict[str, Any]":
    names = [f"{h.name}-flap" for h in hosts]
    fifos = {n: bench.fifo(n) for n in names}
    seconds = FLAP_DOWN_S + 12.0
    probe = bench.probe("flap", fifos, seconds=seconds)
    # The one that flaps ranks lowest, so the cluster keeps its leader.
    nodes = [lan_node(bench, h, n, n, tracks, fifos[n], priority=10 - i)
             for i, (h, n) in enumerate(zip(hosts, names))]
    for node in nodes:
        node.start()
    rig.wait_until(lambda: rig.agreement(rig.statuses(nodes), nodes)[0] is not None, 10.0,
                   what="three nodes agree on a leader")
    answer = command_text(nodes[0], "play 1")
    rig.wait_playing(nodes, timeout=10.0)
    time.sleep(2.0)  # steady playback before the cut (the probe records it)
    flapper, others = nodes[-1], nodes[:-1]
    hosts[-1].link_down()
    cut = mono_us()

    def marked_down() -> Any:
        states = [next((p.get("state") for p in o.peers().get("peers", []) if p.get("id") == flapper.id),
                       None) for o in others]
        return all(state == "down" for state in states) or f"the others see it {states}"
    rig.wait_until(marked_down, FLAP_DOWN_S - 1, what="the others mark the cut-off node down")
    marked_down_s = (mono_us() - cut) / 1e6
    time.sleep(max(0.0, FLAP_DOWN_S - (mono_us() - cut) / 1e6))
    hosts[-1].link_up()
    t_up = mono_us()

    def rejoined() -> Any:
        ups = [p.get("id") for p in flapper.peers().get("peers", []) if p.get("state") == "up"]
        seen = all(any(p.get("id") == flapper.id and p.get("state") == "up"
                       for p in o.peers().get("peers", [])) for o in others)
        return (len(ups) == len(others) and seen) or f"flapper sees {ups}; seen by all: {seen}"
    rig.wait_until(rejoined, 10.0, what="the flapped node rejoins")
    rejoin_s = (mono_us() - t_up) / 1e6
    probe.finish()
    sync = in_sync_from(probe, names, t_up)
    at = sync.pop("at_us")
    for node in nodes:
        node.exit()
    return {"play": answer, "marked_down_s": round(marked_down_s, 3), "rejoined_s": round(rejoin_s, 3),
            "in_sync_s": None if at is None else round(max(0, at - t_up) / 1e6, 3),
            "down_s": FLAP_DOWN_S, **sync}


def main() -> int:
    parser = rig.bench_parser(__doc__, "lan")
    parser.add_argument("--trials", type=int, default=5)
    args = rig.parse_bench_args(parser)
    trials = 2 if args.quick else args.trials
    tracks = rig.track_dir(args.probe, 30)
    try:
        lan_requirements()
    except Skip as why:
        print(f"lan: not run: {why}", flush=True)  # the report lists it as not run
        return 0
    with Rig("lan", args.node, args.probe, keep_logs=args.keep_logs) as bench:
        with Lan(bench.workdir) as lan:
            hosts = [lan.add_host(f"h{n}") for n in range(1, 6)]
            power_on = []
            for trial in range(trials):
                result = power_on_trial(bench, hosts, tracks, trial)
                print(f"  power-on trial {trial}: {result}", flush=True)
                power_on.append(result)
            flaps = []
            for trial in range(1 if args.quick else FLAP_TRIALS):
                flaps.append(flap_trial(bench, hosts[:3], tracks))
                print(f"  flap trial {trial}: {flaps[-1]}", flush=True)
    # The slowest flap stands for all of them: the figure is a maximum.
    flap = max(flaps, key=lambda f: max(f["rejoined_s"], f["in_sync_s"] if f["in_sync_s"] is not None else 1e9))
    figures = [r["in_sync_s"] for r in power_on if r.get("in_sync_s") is not None]
    results = {"machine": rig.machine_info(), "power_on": power_on,
               "power_on_summary_s": summary(figures, 3),
               "power_on_missing": len(power_on) - len(figures),
               "power_on_target_s": POWER_ON_TARGET_S,
               "flap": flap, "flap_trials": flaps, "flap_target_s": FLAP_TARGET_S}
    rig.write_json(Path(args.out), results)
    print(f"power-on to in sync: {results['power_on_summary_s']} (target <= {POWER_ON_TARGET_S} s); "
          f"flap: rejoined {flap['rejoined_s']} s, in sync {flap['in_sync_s']} s after link-up")
    return 0


if __name__ == "__main__":
    sys.exit(main())
