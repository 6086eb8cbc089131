"""One measurement of unlike outputs playing together, shared by tests/system/test_real_outputs.py
(which judges it) and bench/real_outputs.py (which reports it).

A private sound server (sound_server.py) with one null sink per room; nodes:
  F  file:FIFO, the leader: its audible instants are known by construction
  P  pulse:room_p
  A  alsa:pulse:room_a (ALSA through its pulse plugin)
  S  sdl on SDL's pulseaudio driver, sink room_s
  L  pulse:room_l with --latency-ms 5: the method check (it must come out 5 ms early)
None has a --latency-ms of its own. skew_probe reads F's FIFO and records the others' monitors,
calibrating its capture path on a sink of its own (tools/skew_probe.cpp); every offset and skew
here is after that calibration.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness import Cluster, HarnessError, now, wait_until
from sound_server import SoundServer
from sync_rig import (ProbeRun, SyncNode, SyncRig, all_playing, mono_to_us, require_ok,
                      synced)

SINKS = ["calibration", "room_p", "room_a", "room_s", "room_l"]
DEVICE_NODES = ["P", "A", "S", "L"]
TRACK_S = 60.0


def calibrated_offsets(run: ProbeRun, name: str, ref: str, t0_us: float = -math.inf,
                       t1_us: float = math.inf) -> "list[float]":
    """name - ref per 100 ms bucket in [t0, t1), the capture path's offset taken off `name`
    (recorded through the server; `ref` is the FIFO node)."""
    capture = run.summary.get("capture_offset_us")
    if capture is None:
        raise HarnessError("the probe reported no capture offset (calibration failed; see "
                           "probe.stderr.log)")
    return [o - capture for _, o in run.offsets(name, ref, t0_us, t1_us)]


def skews(run: ProbeRun, names: "list[str]", t0_us: float, t1_us: float) -> "list[float]":
    """Per-bucket spread of the nodes' frame-zero instants outside platform stalls, recorded
    nodes corrected by the capture offset (F, read from its FIFO, is not)."""
    capture = run.summary["capture_offset_us"]
    medians = {n: run.zero_instants(n) for n in names}
    stalled = run.stalled_buckets()
    out = []
    for bucket in run.buckets(names, t0_us, t1_us):
        if bucket not in stalled:
            values = [medians[n][bucket] - (0 if n == "F" else capture) for n in names]
            out.append(max(values) - min(values))
    return out


@dataclass
class UnlikeRun:
    run: ProbeRun
    t0_us: float               # start of the measured window (after the settling time)
    t1_us: float
    timing: "dict[str, dict[str, Any]]" = field(default_factory=dict)  # status output_timing
    outputs: "dict[str, str]" = field(default_factory=dict)            # status output

    @property
    def capture_offset_us(self) -> float:
        return self.run.summary["capture_offset_us"]

    @property
    def calibration_underruns(self) -> int:
        """Underruns of the probe's calibration stream after its settling time: its capture
        offset is the first thing to doubt when it underran (tools/skew_probe.cpp)."""
        return self.run.summary["calibration_underruns"]

    def offsets(self, name: str) -> "list[float]":
        return calibrated_offsets(self.run, name, "F", self.t0_us, self.t1_us)

    def skews(self, names: "list[str]") -> "list[float]":
        return skews(self.run, names, self.t0_us, self.t1_us)

    def jumps(self, name: str) -> "list[tuple[int, int, int]]":
        return [j for j in self.run.jumps_at(name) if j[0] >= self.t0_us]


def add_device_nodes(rig: SyncRig, server: SoundServer,
                     leader: SyncNode) -> "tuple[SyncNode, SyncNode]":
    """P on pulse:room_p and A on alsa:pulse:room_a, following `leader`."""
    env = server.node_env()
    return (rig.add_node("P", bootstrap=leader, output="pulse:room_p", env_prefix=env),
            rig.add_node("A", bootstrap=leader, output="alsa:pulse:room_a", env_prefix=env))


def measure_unlike_outputs(cluster: Cluster, settle_s: float, measure_s: float) -> UnlikeRun:
    """Starts the server and F, P, A, S, L; plays; measures `measure_s` after `settle_s`."""
    server = SoundServer(Path(cluster.workdir), SINKS)
    try:
        with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
            rig.make_track()
            rig.fifo("F")
            f = rig.add_node("F", leader=True)
            nodes = [
                *add_device_nodes(rig, server, f),
                rig.add_node("S", bootstrap=f, output="sdl", env_prefix=server.node_env(
                    SDL_AUDIODRIVER="pulseaudio", PULSE_SINK="room_s")),
                rig.add_node("L", bootstrap=f, output="pulse:room_l", env_prefix=server.node_env(),
                             extra_args=["--latency-ms", "5"]),
            ]
            cluster.wait_mesh([f, *nodes], timeout=5.0)
            wait_until(synced(nodes), 10.0, what="followers synced", describe=cluster.describe)
            monitors = {n.name: f"room_{n.name.lower()}" for n in nodes}
            rig.start_probe(["F"], settle_s + measure_s + 1.0, monitors=monitors,
                            calibrate="calibration", env=server.env())
            t_play = now()
            require_ok(f, "play 1")
            wait_until(all_playing([f, *nodes]), 3.0, what="all playing", describe=cluster.describe)
            run = rig.finish_probe()
            result = UnlikeRun(run, mono_to_us(t_play + settle_s),
                               mono_to_us(t_play + settle_s + measure_s))
            for node in nodes:
                view = node.status(timeout=2.0)
                result.timing[node.name] = view.get("output_timing") or {}
                result.outputs[node.name] = view.get("output", "")
            return result
    finally:
        server.close()
