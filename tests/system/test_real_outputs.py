#!/usr/bin/env python3
"""System test of the real outputs: nodes on a sound server's sinks (pulse, ALSA through its
pulse plugin, sdl on SDL's pulseaudio driver) play in time with a node on a file output, with no
--latency-ms, and keep their schedule when the device goes away.

    python3 tests/system/test_real_outputs.py --node BUILD/apps/node [--only NAME] [--keep-logs]

No sound card is needed: a private PulseAudio server (sound_server.py) holds null sinks at
48 kHz, one per room, each playing on its own clock and offering what it played on its monitor.
Exit 0 = passed, 1 = failed, 77 = skipped (no pulseaudio).

Measurement (tools/skew_probe.cpp, sync_rig.py): every node plays the counting track. The file
node writes into a FIFO at each block's audible instant, as in test_sync.py. The other nodes are
recorded from their sink's monitor, each block stamped with when the sink played it (libpulse's
record timing). That capture path has an offset of its own (a null sink renders a little ahead
of its clock; the monitor passes audio on when rendered), so the probe calibrates it: it plays its
own counting track into a calibration sink, noting when the server says each block will be heard,
records that sink's monitor the same way, and reports the difference (capture_offset_us), which
is subtracted from every recorded node. The method is checked with a node that claims 5 ms of
extra speaker latency (--latency-ms 5): it must come out 5 ms early.

Scenarios:
  1 unlike outputs: F (file, leader), P (pulse:), A (alsa:pulse:), S (sdl), L (pulse:,
    --latency-ms 5): after 4 s to settle, 12 s measured. P within OFFSET_LIMIT_US of F (median,
    after calibration), A within the plugin's bound PLUGIN_LIMIT_US (see there); skew p95 of F, P
    within SKEW_P95_LIMIT_US (of F, P, A reported: see the scenario for why);
    L - P = -5 ms +- METHOD_TOLERANCE_US;
    every device node reports a measured latency (status --json); no jump after the settling
    time. S's offset is reported as a figure (docs/audio.md: sdl).
  2 device faults: P's sink is unloaded mid-track -> P logs that its output went away and
    keeps its schedule (`status` playing); the sink is loaded again -> P is audible and in sync
    with F within OFFSET_LIMIT_US. Then the sound server is killed and started again -> P and A
    reopen and are in sync again. Then P is frozen (SIGSTOP) for 300 ms, long enough for its
    stream to run dry -> an underrun counted, and in sync again afterwards. A node on a device
    that does not exist (alsa:hw:99) and one on a device that refuses 48 kHz (ALSA's a52 plugin
    fixed at 44.1 kHz) each log why once, keep their schedule, and play on nothing.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Cluster, HarnessError, now, run_main, wait_until  # noqa: E402
from sound_server import SoundServer  # noqa: E402
from sync_rig import (ProbeRun, SyncNode, SyncRig, all_playing, fmt_us,  # noqa: E402
                      judge_outside_stalls, mono_to_us, percentile, require_ok, synced)
from unlike_outputs import (DEVICE_NODES, TRACK_S, add_device_nodes,  # noqa: E402
                            calibrated_offsets, measure_unlike_outputs)

OFFSET_LIMIT_US = 500.0        # a device node's median offset from the file node
# A (ALSA through its pulse plugin) is judged against the plugin's own bound. The plugin reports
# libpulse's interpolated latency, and the node has nothing else to time that PCM by (docs/audio.md,
# the outputs' table). Traced in 9 runs (A's every report next to the audio the probe captured):
# the reports strayed from the truth by 0.1-4.4 ms for seconds at a time, most in a stream's first
# 12 s, and A's audio followed its reports to within ~50 µs, so A's offset from F is the plugin's
# error. A's median offset over a window reached 0.77 ms in those runs and 6.7 ms (early) in a
# later one, while P's, timed by the server's own updates, stayed within 46..189 µs. What this limit still catches is a node
# that does not time its ALSA device by the device's delay at all: A's latency is ~40 ms, and a
# node that did not rejoin is that far off or silent. The shared timing code (DeviceClock, the
# render at the audible instant) is held to OFFSET_LIMIT_US through P.
PLUGIN_LIMIT_US = 10_000.0
SKEW_P95_LIMIT_US = 500.0      # F and P: a pulse room against a file room
METHOD_TOLERANCE_US = 500.0    # L - P against -5 ms
SETTLE_S = 4.0
STEADY_S = 12.0
MIN_BUCKETS = 80
MIN_OFFSET_BUCKETS = 20        # a device node's offset: buckets with it and F audible
BACK_MEASURE_S = 4.0           # of which the probe's own first second is not stamped


def check_offset(cluster: Cluster, run: ProbeRun, name: str, t0_us: float, t1_us: float,
                 label: str, limit_us: float = OFFSET_LIMIT_US) -> Optional[float]:
    """The median offset of `name` from F outside platform stalls, checked against limit_us;
    None when the window cannot be judged (sync_rig.judge_outside_stalls)."""
    if not judge_outside_stalls(cluster, f"{label}, {name} and F", run, [name, "F"], t0_us,
                                t1_us, MIN_OFFSET_BUCKETS):
        return None
    offsets = calibrated_offsets(run, name, "F", t0_us, t1_us)
    middle = percentile(offsets, 0.5)
    print(f"  {label}: {name} - F {fmt_us(offsets)}", flush=True)
    cluster.check_limit(f"{label}: |median offset of {name} from F|", abs(middle), limit_us, "µs")
    return middle


# ---- scenarios ----------------------------------------------------------------------------


def scenario_unlike_outputs(cluster: Cluster) -> None:
    """1. file, pulse, alsa, sdl and a pulse node with --latency-ms 5, measured together."""
    m = measure_unlike_outputs(cluster, SETTLE_S, STEADY_S)
    print(f"  capture path offset (calibrated): {m.capture_offset_us:.0f} µs; the calibration "
          f"stream underran {m.calibration_underruns} times", flush=True)
    cluster.figure("capture path offset", m.capture_offset_us, "µs")
    p = check_offset(cluster, m.run, "P", m.t0_us, m.t1_us, "pulse")
    check_offset(cluster, m.run, "A", m.t0_us, m.t1_us, "alsa (pulse plugin)", PLUGIN_LIMIT_US)
    s_offsets = m.offsets("S")
    if s_offsets:
        print(f"  sdl: S - F {fmt_us(s_offsets)}", flush=True)
        cluster.figure("sdl: median offset of S from F", percentile(s_offsets, 0.5), "µs")
    if p is not None:
        shift = percentile(m.offsets("L"), 0.5) - p
        cluster.figure("method check: L (--latency-ms 5) - P", shift, "µs")
        if abs(shift + 5000.0) > METHOD_TOLERANCE_US:
            raise HarnessError(f"a node claiming 5 ms of speaker latency came out {shift:.0f} µs "
                               f"from its twin, not -5000 ± {METHOD_TOLERANCE_US:.0f}")
    for names in (["F", "P"], ["F", "P", "A"]):
        label = f"skew p95 of {', '.join(names)}"
        if not judge_outside_stalls(cluster, label, m.run, names, m.t0_us, m.t1_us, MIN_BUCKETS):
            continue
        skews = m.skews(names)
        print(f"  {label}: {fmt_us(skews)}", flush=True)
        if names == ["F", "P"]:
            cluster.check_limit(label, percentile(skews, 0.95), SKEW_P95_LIMIT_US, "µs")
        else:
            # Reported, not judged: ALSA's pulse plugin times the PCM with libpulse's
            # interpolated latency, whose smoother wanders by up to about 2 ms for seconds at a
            # time (measured: A's offset from F per second -0.1 .. +1.7 ms in some runs, while P,
            # timed from the server's raw updates, stays within ±0.2 ms). A's median is judged
            # above; bench/real_outputs.py reports this figure against its target.
            cluster.figure(label, percentile(skews, 0.95), "µs")
    for name in DEVICE_NODES:
        timing = m.timing[name]
        print(f"  {name}: {m.outputs[name]}; latency {timing.get('latency_us')} µs ± "
              f"{timing.get('latency_jitter_us', 0):.0f}, device {timing.get('device_rate_ppm', 0):+.1f} "
              f"ppm, xruns {timing.get('xruns')}", flush=True)
        if name != "S" and not timing.get("latency_measured"):
            raise HarnessError(f"{name} reports no measured latency: {timing}")
    for name in ("P", "A"):
        if m.jumps(name):
            raise HarnessError(f"{name} jumped after the settling time: {m.jumps(name)[:5]}")


def measure_back_in_sync(cluster: Cluster, rig: SyncRig, server: SoundServer, names: "list[str]",
                         label: str) -> None:
    """Probes F and the named recorded nodes for BACK_MEASURE_S and checks each offset."""
    rig.start_probe(["F"], BACK_MEASURE_S, monitors={n: f"room_{n.lower()}" for n in names},
                    calibrate="calibration", env=server.env())
    t0 = now()
    run = rig.finish_probe()
    for name in names:
        # the probe's first second is its own settling time (tools/pulse_capture.cpp)
        check_offset(cluster, run, name, mono_to_us(t0 + 1.0), math.inf, label,
                     PLUGIN_LIMIT_US if name == "A" else OFFSET_LIMIT_US)


def wait_for_log(node: SyncNode, text: str, timeout: float) -> None:
    wait_until(lambda: text in node.stderr_text() or f"no '{text}' in {node.name}'s log yet",
               timeout, what=f"{node.name} to log '{text}'")


def scenario_device_faults(cluster: Cluster) -> None:
    """2. A sink that vanishes and returns, a server restart, an underrun, a missing device."""
    server = SoundServer(Path(cluster.workdir), ["calibration", "room_p", "room_a"])
    try:
        with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
            rig.make_track()
            rig.fifo("F")
            f = rig.add_node("F", leader=True)
            p, a = add_device_nodes(rig, server, f)
            x = rig.add_node("X", bootstrap=f, output="alsa:hw:99")
            # ALSA's a52 plugin fixed at 44.1 kHz: a device that refuses 48 kHz
            alsa_conf = Path(cluster.workdir) / "alsa.conf"
            alsa_conf.write_text("</usr/share/alsa/alsa.conf>\npcm.only_44100 { type a52 rate 44100 "
                                 "slavepcm \"null\" }\n")
            r = rig.add_node("R", bootstrap=f, output="alsa:only_44100",
                             env_prefix=["env", f"ALSA_CONFIG_PATH={alsa_conf}"])
            everyone = [f, p, a, x, r]
            cluster.wait_mesh(everyone, timeout=5.0)
            wait_until(synced([p, a, x, r]), 10.0, what="followers synced", describe=cluster.describe)
            require_ok(f, "play 1")
            wait_until(all_playing(everyone), 3.0, what="all playing", describe=cluster.describe)

            # A device that does not exist, one that refuses 48 kHz: one clear line each, the
            # schedule kept.
            for node, device, why in ((x, "hw:99", "cannot be opened"), (r, "only_44100", "refuses 48000 Hz")):
                wait_for_log(node, "retries every second", 5.0)
                print(f"  {node.name}: {node.status().get('output')}", flush=True)
                lines = [l for l in node.stderr_text().splitlines() if device in l and "warn" in l]
                if len(lines) != 1 or why not in lines[0]:
                    raise HarnessError(f"{node.name} logged its device's failure {len(lines)} times, "
                                       f"expected once with '{why}': {lines[:3]}")

            # The sink vanishes mid-track and comes back.
            server.unload_sink("room_p")
            wait_for_log(p, "went away", 5.0)
            view = p.status()
            if view.get("state") != "playing":
                raise HarnessError(f"P stopped its schedule when its sink went away: {view.get('state')}")
            print(f"  P without its sink: {view.get('output')}", flush=True)
            time.sleep(1.0)  # timeline: the room stays without its sink for a second
            server.load_sink("room_p")
            wait_until(lambda: p.status().get("output_timing", {}).get("latency_measured") is True
                       or "P has not reopened its sink", 5.0, what="P to reopen its sink")
            measure_back_in_sync(cluster, rig, server, ["P"], "after the sink returned")

            # The server is killed and started again.
            server.restart()
            for node in (p, a):
                wait_until(lambda n=node: n.status().get("output_timing", {}).get("device_lost", 0) >= 1
                           and n.status().get("output_timing", {}).get("latency_measured") is True
                           or f"{n.name} has not reopened", 10.0, what="P and A to reopen after the restart")
            measure_back_in_sync(cluster, rig, server, ["P", "A"], "after the server restart")

            # An underrun: P frozen long enough for its stream to run dry.
            before = p.status()["output_timing"]["xruns"]
            p.sigstop()
            time.sleep(0.3)  # timeline: the freeze itself
            p.sigcont()
            wait_until(lambda: p.status()["output_timing"]["xruns"] > before
                       or "no underrun counted yet", 5.0, what="P to count an underrun")
            measure_back_in_sync(cluster, rig, server, ["P"], "after an underrun")
            for node in everyone:
                if node.status().get("state") != "playing":
                    raise HarnessError(f"{node.name} is no longer playing\n{cluster.describe()}")
    finally:
        server.close()


if __name__ == "__main__":
    sys.exit(run_main("real outputs", [("unlike outputs", scenario_unlike_outputs),
                                       ("device faults", scenario_device_faults)]))
