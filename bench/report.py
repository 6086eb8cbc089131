#!/usr/bin/env python3
"""Builds the benchmark report from the results of the individual benchmarks.

    python3 bench/report.py [--results bench/results] [--command "bench/run.sh"]
                            [--duration-s N] [--docs docs/benchmarks.md]

Reads skew.json, reaction.json, join.json, failover.json, cost.json, fanout.json,
real_outputs.json, security.json, library.json, control.json and lan.json from the
results directory (a missing one is reported as not run), writes report.md and report.json
there, and copies the Markdown to --docs when given. Each figure is printed beside its target
with met / missed; benchmarks do not fail.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, Optional

import rig


def stalls_cell(s: "dict") -> str:
    st = s.get("platform_stalls")
    if not st:
        return "–"
    return f"{st['buckets_left_out']} ({st['worst_us'] / 1000:.1f} ms)" if st["count"] else "0"


def outside_cell(s: "dict") -> str:
    o = s.get("skew_outside_stalls_us")
    return "–" if not o else f"{num(o['p95'], 'µs')} / {num(o['max'], 'µs')}"


def at_write_cell(s: "dict") -> str:
    o = s.get("skew_at_write_outside_stalls_us")
    return f"not stamped ({s.get('write_stamps', 'not run')})" if not o else \
        f"{num(o['p95'], 'µs')} / {num(o['max'], 'µs')}"


def judged_skew(s: "dict") -> "dict":
    """The figures a skew scenario's target is judged by: outside platform stalls, at the
    writes' kernel-stamped instants when the run could stamp them, else at the probe's reads."""
    if s.get("judged_at") == "write":
        return s["skew_at_write_outside_stalls_us"]
    return s.get("skew_outside_stalls_us", s["skew_us"])


def judged_note(s: "dict") -> str:
    if s.get("judged_at") == "write":
        o = s["skew_outside_stalls_us"]
        return (f"at the writes' instants (kernel-stamped); at the probe's reads: p95 "
                f"{num(o['p95'], 'µs')}, max {num(o['max'], 'µs')}")
    return f"at the probe's reads (writes not stamped: {s.get('write_stamps', 'not run')})"


def load(folder: Path, name: str) -> Optional[dict]:
    path = folder / f"{name}.json"
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except ValueError:
        return None


def num(value: Any, unit: str = "", digits: int = 1) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:.{digits}f}"
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def met(flag: Optional[bool]) -> str:
    return "–" if flag is None else ("met" if flag else "**missed**")


class Report:
    def __init__(self) -> None:
        self.rows: "list[dict[str, Any]]" = []
        self.md: "list[str]" = []

    def row(self, section: str, what: str, p50: str, p95: str, mx: str, target: str,
            ok: Optional[bool], note: str = "") -> None:
        self.rows.append({"section": section, "measurement": what, "p50": p50, "p95": p95,
                          "max": mx, "target": target, "met": ok, "note": note})

    def add(self, *lines: str) -> None:
        self.md.extend(lines)


# ---- sections -------------------------------------------------------------------------------


def skew_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 1. Inter-node skew of the actual output", "")
    r.add("**Method.** Every node writes its output with `--output file:FIFO`: raw PCM, each "
          "480-frame block written at its audible instant. The track is a self-numbering WAV "
          "(`skew_probe make-track`: every frame holds its own number), 4 minutes long. "
          "`skew_probe measure` (run without libfaketime) reads all FIFOs with epoll and stamps "
          "each read on the real steady clock, at real-time priority (SCHED_FIFO 20, above the "
          "nodes' output threads at 10) with no timer slack, which keeps its own wake-up short but "
          "not nil (see *At the writes* below; run as an ordinary user it says so and stamps up "
          "to ~50 µs later still); "
          "for the newest block of a read, "
          "*frame-zero instant* = arrival − first frame / 48 kHz is the same on every node that is "
          "in sync. Skew = spread (max − min) of the nodes' median frame-zero instants per 100 ms "
          "bucket; p50 / p95 / max over all buckets of the measurement. The probe also counts, per "
          "node, repeated frames (a frame played twice: duplicated), skipped frames (one frame left "
          "out: dropped), other jumps, and the node's median offset from the first node (the "
          "leader, A). The clocks settle before measuring: the benchmark waits until every "
          "follower reports `clock.synced` and playing, then the scenario's settle time; only "
          "then does the probe start. *Platform stalls*: a real-time thread of the probe's, "
          "pinned to each CPU below the nodes' output threads (priority 1, so it never delays a "
          "write), wakes every millisecond and records every wake-up more than 1 ms late; on a "
          "virtual machine the host holds a CPU for milliseconds now and then, and no output "
          "thread on it can write on time (a node's late "
          "writes and an unrelated real-time process's late wake-ups were seen at the same "
          "instants). The buckets such a stall touches are counted and left out of the "
          "\"outside stalls\" figures; the all-bucket figures stay beside them. "
          "*At the writes*: the probe's stamp is the write plus the probe's own wake-up, which "
          "on this virtual machine is 40–80 µs at the median and differs from writer to writer "
          "with the CPU each ran on (metronomes in sync by construction showed 55–125 µs p95 by "
          "the probe's stamps and a few µs by the kernel's). So while the probe runs, `perf` "
          "records every node's block writes (`syscalls:sys_enter_write` of 1920 bytes, on "
          "CLOCK_MONOTONIC, the probe's clock; bench/rig.py `WriteStamps`), and each block the "
          "probe timed gets the instant of the write that put it in the FIFO, the instant its "
          "frames became audible to the reader. The same skew computed from those instants, "
          "outside stalls, is what the targets are judged by; the probe-read figures stay in "
          "the table. Without root or perf the run says so and judges by the probe's reads.", "")
    r.add("Scenarios: (a) 3 nodes, loopback; (b) 8 nodes, loopback; (c) 3 nodes under "
          "libfaketime, A `+2.5s`, B `-4s`, C `+1s x1.0001` (C's clocks, steady clock included, "
          "run 100 ppm fast); (d) the leader behind `tools/delay_proxy.py` with 10 ms ± 5 ms "
          "(uniform) on each direction; followers get smaller ids so the connection kept for "
          "each follower–leader pair is the one they dial through the proxy (docs/network.md); "
          "measured after 30 s of settling, since with 10 ms of jitter the estimator needs "
          "~30 s to reach its best (docs/clock.md); (e) the same with an asymmetric path, 20 ms "
          "follower → leader and 5 ms back; (f) method check: C started with `--latency-ms 5`; "
          "(g) 8 nodes under libfaketime, clocks up to 6 s apart, one 100 ppm fast and one "
          "100 ppm slow, measured after 20 s of settling (the drift fit); (h) 12 nodes, loopback. "
          "Platform floor (information, no target): (i3), (i8), (i12) 3, 8, 12 metronomes "
          "(`tools/metronome`: writers in sync by construction, see below) while as many nodes "
          "play the same track on `--output null`; (j3), (j8), (j12) the metronomes alone.",
          "")
    if not data:
        r.add("*Not run.*", "")
        return
    scen = data["scenarios"]
    r.add("| scenario | settle / measured | buckets | skew p50 | p95 | max | platform stalls: "
          "buckets left out (worst) | outside stalls p95 / max | at the writes, outside "
          "stalls: p95 / max | target | "
          "dropped / duplicated frames per min (worst node) | jumps | block jitter p95 | "
          "write lateness p50 / p95 | clock estimate error (max) |",
          "|---|---|---:|---:|---:|---:|---|---|---|---|---|---:|---:|---|---:|")
    for key in "abcdefgh":
        s = scen.get(key)
        if not s:
            continue
        if "error" in s:
            r.add(f"| ({key}) {s['title']} | failed: {s['error'][:200]} |||||||||")
            r.row("1 skew", f"({key}) {s['title']}", "–", "–", "–", "", None, "failed")
            continue
        t = s.get("target")
        target = ("–" if not t else f"p95 ≤ {t['p95_us']} µs" +
                  (f", max ≤ {t['max_us']} µs" if "max_us" in t else ""))
        clock = s.get("clock_offset_estimate_abs_us", {})
        r.add(f"| ({key}) {s['title']} | {s['settle_s']} s / {s['measure_s']} s | {s['buckets']} "
              f"| {num(s['skew_us']['p50'], 'µs')} | {num(s['skew_us']['p95'], 'µs')} | "
              f"{num(s['skew_us']['max'], 'µs')} | {stalls_cell(s)} | {outside_cell(s)} | "
              f"{at_write_cell(s)} | {target} "
              f"{'(' + met(s.get('met')) + ')' if t else ''} | {s['dropped_per_min_max']} / "
              f"{s['duplicated_per_min_max']} | {s['jumps_total']} | "
              f"{num(s['block_jitter_us']['p95'], 'µs')} | "
              + (f"{num(s['write_lateness_us']['p50'], 'µs')} / "
                 f"{num(s['write_lateness_us']['p95'], 'µs')} | "
                 if "write_lateness_us" in s else "n/a (faked rate) | ")
              + f"{num(clock.get('max'), 'µs') if clock else 'n/a (faked clocks)'} |")
        if key in "abcdgh":
            judged = judged_skew(s)
            r.row("1 skew", f"({key}) {s['title']}", num(judged["p50"], "µs"),
                  num(judged["p95"], "µs"), num(judged["max"], "µs"), target,
                  s.get("met"), f"{s['measure_s']} s after {s['settle_s']} s of settling; "
                  f"outside platform stalls ({stalls_cell(s)} buckets left out), "
                  f"{judged_note(s)}; all buckets, probe's reads: "
                  f"p95 {num(s['skew_us']['p95'], 'µs')}, max {num(s['skew_us']['max'], 'µs')}; "
                  f"dropped / duplicated frames per minute, worst node: "
                  f"{s['dropped_per_min_max']} / {s['duplicated_per_min_max']}; "
                  f"jumps: {s['jumps_total']}")
    floor_rows(r, scen)
    r.add("")
    r.add("*Block jitter*: |a block's frame-zero instant − its node's median in the bucket|. "
          "*Write lateness*: a paced output writes block n at exactly t0 + n · 10 ms, so each "
          "node's writes share one phase of the 10 ms period; lateness = how much later than the "
          "node's earliest phase (its 1st percentile) a write reached the probe (the output "
          "thread or the probe woken late; not computed under a faked clock rate, where the phase "
          "drifts). The frames of a block are chosen for its deadline, so lateness moves the "
          "block, not its content: it is part of what the probe calls skew, and differs from "
          "node to node and from second to second.", "")
    r.add("Per node (offset from A = median difference of frame-zero instants, by the probe's "
          "reads and at the writes; the clock "
          "estimate is the follower's own `status` at the end; slews = the engine's inserted / "
          "dropped frames):", "")
    r.add("| scenario | node | offset from A (reads) | at the writes | repeated | skipped | jumps | "
          "longest silence | clock offset estimate | error bound | drift | "
          "engine inserted / dropped |",
          "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for key in "abcdefgh":
        s = scen.get(key)
        if not s or "per_node" not in s:
            continue
        for name, p in s["per_node"].items():
            c = p["status"]["clock"]
            e = p["status"]["engine"] or {}
            following = c.get("following")
            r.add(f"| ({key}) | {name}{' (leader)' if not following else ''} | "
                  f"{num(round(p['offset_from_first_us'], 1), 'µs')} | "
                  f"{num(p.get('offset_from_first_at_write_us'), 'µs')} | {p['repeated']} | "
                  f"{p['skipped']} | {p['jumps']} | "
                  f"{num(round(p['longest_silence_frames'] / 48, 2), 'ms')} | "
                  f"{num(round(c['offset_us'], 1), 'µs') if following else '–'} | "
                  f"{num(round(c['error_us'], 1), 'µs') if following else '–'} | "
                  f"{num(round(c['drift_ppm'], 2), 'ppm') if following else '–'} | "
                  f"{e.get('frames_inserted')} / {e.get('frames_dropped')} |")
    r.add("")
    e = scen.get("e")
    if e and "follower_offsets_us" in e:
        offs = ", ".join(f"{k} {v} µs" for k, v in e["follower_offsets_us"].items())
        r.add(f"**Asymmetric path (e).** Followers' offsets from the leader: {offs}; predicted "
              "−7500 µs = −(20 ms − 5 ms) / 2, the bias no two-way time transfer can see "
              "(docs/clock.md, \"The asymmetric-path limit\"). Between the two followers (same "
              f"bias): skew p50 {e['skew_between_followers_us']['p50']} / p95 "
              f"{e['skew_between_followers_us']['p95']} / max "
              f"{e['skew_between_followers_us']['max']} µs.", "")
        r.row("1 skew", "(e) asymmetric 20 / 5 ms: followers' offset from leader", "", "",
              offs, "= −7500 µs (theory, no target)", None)
    f = scen.get("f")
    if f and "latency_node_offset_us" in f:
        ok = abs(f["latency_node_offset_us"] - f["expected_offset_us"]) <= 100
        r.add(f"**Method check (f).** C, started with `--latency-ms 5`, shows up "
              f"**{f['latency_node_offset_us']} µs** from A (expected −5000 µs: the node "
              "renders each block for 5 ms after it hands it over, so its output runs 5 ms ahead "
              "of the others' and its frame-zero instant is 5 ms earlier). A and B alone: skew "
              f"p50 {f['skew_without_latency_node_us']['p50']} / p95 "
              f"{f['skew_without_latency_node_us']['p95']} / max "
              f"{f['skew_without_latency_node_us']['max']} µs. The probe sees a known offset at "
              "its true size and sign.", "")
        r.row("1 skew", "(f) method check: node with --latency-ms 5, offset from A", "", "",
              num(f["latency_node_offset_us"], "µs"), "≈ −5000 µs", ok)
    floor_paragraph(r, data)
    c = scen.get("c")
    if c and "per_node" in c:
        cn = c["per_node"]["C"]
        r.add(f"**Drift (c).** C's clock runs 100 ppm fast, so its paced output consumes 4.8 "
              "frames/s more than real time: it must repeat one frame every ~10 000 (288 per "
              f"minute). Measured: C repeated {cn['repeated']} frames in {c['measure_s']} s "
              f"({cn['duplicated_per_min']} per minute), its estimate shows "
              f"{round(cn['status']['clock']['drift_ppm'], 2)} ppm. These repeats are the "
              "correction working, not errors. B's estimate of the leader's offset is "
              f"{round(c['per_node']['B']['status']['clock']['offset_us'], 1)} µs against the "
              "faked +2.5 s − (−4 s) = 6 500 000 µs.", "")


FLOOR_KEYS = ("i3", "i8", "i12", "j3", "j8", "j12")


def floor_rows(r: Report, scen: "dict[str, Any]") -> None:
    """The platform floors' lines of section 1's table, and their summary rows (information)."""
    for key in FLOOR_KEYS:
        s = scen.get(key)
        if not s:
            continue
        if "error" in s:
            r.add(f"| ({key}) {s['title']} | failed: {s['error'][:200]} |||||||||")
            r.row("1 skew", f"({key}) {s['title']}", "–", "–", "–", "– (information)", None,
                  "failed")
            continue
        late = s["write_lateness_us"]
        r.add(f"| ({key}) {s['title']} | {s['settle_s']} s / {s['measure_s']} s | {s['buckets']} "
              f"| {num(s['skew_us']['p50'], 'µs')} | {num(s['skew_us']['p95'], 'µs')} | "
              f"{num(s['skew_us']['max'], 'µs')} | {stalls_cell(s)} | {outside_cell(s)} | "
              f"{at_write_cell(s)} | – (information) | {s['dropped_per_min_max']} / {s['duplicated_per_min_max']} | "
              f"{s['jumps_total']} | {num(s['block_jitter_us']['p95'], 'µs')} | "
              f"{num(late['p50'], 'µs')} / {num(late['p95'], 'µs')} | n/a (one clock, none "
              "estimated) |")
        judged = judged_skew(s)
        r.row("1 skew", f"({key}) {s['title']}", num(judged["p50"], "µs"),
              num(judged["p95"], "µs"), num(judged["max"], "µs"), "– (information)", None,
              f"{s['measure_s']} s after {s['settle_s']} s of settling; outside platform stalls "
              f"({stalls_cell(s)} buckets left out), {judged_note(s)}; all buckets, probe's "
              "reads: p95 "
              f"{num(s['skew_us']['p95'], 'µs')}, max {num(s['skew_us']['max'], 'µs')}; write "
              f"lateness p50 / p95 {num(late['p50'], 'µs')} / {num(late['p95'], 'µs')}")


def floor_paragraph(r: Report, data: "dict[str, Any]") -> None:
    """What the platform floor is, and each node scenario's excess over its floors."""
    scen = data["scenarios"]
    floors = [scen[k] for k in FLOOR_KEYS if k in scen and "error" not in scen[k]]
    if not floors:
        return
    seen = [p["frame_zero_after_t0_us"]["p50"] for s in floors for p in s["per_node"].values()]
    lags = [p["phase_error_us"] for s in floors for p in s["per_node"].values()
            if p.get("phase_error_us") is not None and s.get("phases_from", "").startswith("the")]
    lag = (f" Each metronome wrote {min(lags)}–{max(lags)} µs later in the period than the node "
           "whose phase it was given (its output thread's start-up)."
           if lags else "")
    r.add("**Platform floor (i, j).** A metronome (`tools/metronome`) plays the counting track "
          "as if it had started at one steady-clock instant T0, given on its command line: the "
          "block due at instant D holds the frames from (D − T0) · 48 kHz on. It writes through "
          "the product's own output, made from the same `file:FIFO` spec as a node's `--output` "
          "(same paced thread, real-time priority, timer slack, relative sleeps, steering onto "
          "the frame grid). Each starts its output at the phase of the 10 ms period at which "
          "a node of the scenario it is compared with wrote (`--phase-us`; random phases if that "
          "scenario did not run), since how often writers wake together matters on 2 cores. "
          "N metronomes are in sync by construction: "
          "no network, no clock estimate, one kernel clock. What the same probe reports for them "
          "is when the platform let the writers write and the probe read: a floor no "
          "synchronisation can go under on this machine. The (i) floors carry the load of N "
          "nodes playing the same track on null outputs (their io threads, decoders and output "
          "pacers: N more real-time wake-ups every 10 ms than a node scenario has); the (j) "
          "floors are the metronomes alone (see Limits: an idle virtual CPU wakes more slowly, "
          "so alone is not lower). Frame 0 reached the "
          f"probe {min(seen)}–{max(seen)} µs after T0 (median per metronome).{lag}",
          "")
    comparison = data.get("floor_comparison") or {}
    if not comparison:
        return
    r.add("| node scenario | node p95 / max (judged as the targets) | floor | floor p95 / max | "
          "node − floor: p95 / max |", "|---|---|---|---|---|")
    for key in "abgh":
        c = comparison.get(key)
        if not c:
            continue
        for fkey in FLOOR_KEYS:
            f = c.get(fkey)
            if not f:
                continue
            r.add(f"| ({key}) {scen[key]['title']} | {num(c['node_p95_us'], 'µs')} / "
                  f"{num(c['node_max_us'], 'µs')} | ({fkey}) | {num(f['floor_p95_us'], 'µs')} / "
                  f"{num(f['floor_max_us'], 'µs')} | {num(f['excess_p95_us'], 'µs')} / "
                  f"{num(f['excess_max_us'], 'µs')} |")
    r.add("")


def floor_sentence(results: "dict[str, Any]", key: str) -> str:
    """For a missed skew row: the node p95 against its floor's under the same load."""
    skew = results.get("skew") or {}
    c = (skew.get("floor_comparison") or {}).get(key)
    if not c:
        return ""
    loaded = next((k for k in FLOOR_KEYS if k.startswith("i") and k in c), None)
    alone = next((k for k in FLOOR_KEYS if k.startswith("j") and k in c), None)
    if not loaded and not alone:
        return ""
    fkey = loaded or alone
    f = c[fkey]
    writers = skew["scenarios"][fkey]["writers"]
    where = f"under the same load, ({fkey})" if loaded else f"alone, ({fkey})"
    text = (f" Platform floor: {writers} metronomes, in sync by construction and written "
            f"through the same output, showed p95 {f['floor_p95_us']} µs outside platform stalls "
            f"({where}) against the nodes' {c['node_p95_us']} µs: node − floor = "
            f"{f['excess_p95_us']} µs at p95")
    if loaded and alone:
        text += f" (alone, ({alone}), the metronomes showed {c[alone]['floor_p95_us']} µs)"
    return text + "."


def reaction_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 2. Reaction to a command", "")
    r.add("**Method.** 3 nodes on loopback, FIFO outputs, `skew_probe --raw` (arrival on the "
          "steady clock = Python `time.monotonic_ns() // 1000`, first frame, audible frame count "
          "of every block). While the track plays, commands are typed 0.25 s apart: on the "
          "leader, then on a follower (forwarded to the leader): pause/resume alternations, "
          "then stop/`play 1` alternations. Figure per command and node: audible instant of the "
          "first changed frame (first silent frame for pause/stop, first audible frame for "
          "resume/play; within a block split at the command instant, the frame where it "
          "changes) − the instant the line was written to the prompt's stdin.", "")
    if not data:
        r.add("*Not run.*", "")
        return
    r.add(f"The leader schedules each command `lead` ahead (max RTT + output fill-ahead + 15 ms, "
          f"at least 20 ms): measured lead p50 {data['lead_ms']['p50']} ms.", "")
    r.add("| typed on | command | samples (commands × 3 nodes) | p50 | p95 | max | last node p95 | "
          "spread of the 3 nodes' change, p50 / max | prompt reply p50 | target |",
          "|---|---|---:|---:|---:|---:|---:|---|---:|---|")
    for key, g in data["groups"].items():
        role, kind = key.split("/")
        s = g["reaction_ms"]
        r.add(f"| {role} | {kind} | {s['n']}{' (' + str(g['missing']) + ' missing)' if g['missing'] else ''} "
              f"| {num(s['p50'], 'ms')} | {num(s['p95'], 'ms')} | {num(s['max'], 'ms')} | "
              f"{num(g['last_node_ms']['p95'], 'ms')} | {num(g['spread_us']['p50'], 'µs')} / "
              f"{num(g['spread_us']['max'], 'µs')} | {num(g['reply_ms']['p50'], 'ms')} | "
              f"≤ {data['target_ms']:.0f} ms ({met(g['met'])}) |")
    r.add("")
    for role in ("leader", "follower"):
        mine = [g for k, g in data["groups"].items() if k.startswith(role)]
        values = [v for x in data["commands"] if x["role"] == role
                  for v in x["reaction_ms"].values() if v is not None]
        s = rig.summary(values)
        ok = all(g["met"] for g in mine) if mine else None
        r.row("2 reaction", f"command typed on the {role} → first changed frame, every node "
              f"({s['n']} samples)", num(s["p50"], "ms"), num(s["p95"], "ms"),
              num(s["max"], "ms"), f"≤ {data['target_ms']:.0f} ms", ok)


def join_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 3. Join", "")
    r.add("**Method.** A, B, C play the 4-minute self-numbering track (a 46 MB WAV) on loopback. "
          "Each trial starts skew_probe over their FIFOs and a joiner's, then spawns a new node J "
          "(`--bootstrap` A, same track directory, its own FIFO). t0 = just before the spawn "
          "(monotonic clock). *Audible*: J's first audible frame − t0. *In sync*: the first of J's "
          "blocks whose frame-zero instant is within 1 ms of A's (median over the trial) − t0. J "
          "then types `exit`. The phases come from J's log (wall clock, 1 ms resolution).", "")
    if not data:
        r.add("*Not run.*", "")
        return
    a, s = data["audible_ms"], data["in_sync_ms"]
    r.add("| figure | trials | p50 | p95 | max | target |", "|---|---:|---:|---:|---:|---|")
    r.add(f"| start → audible | {a['n']} | {num(a['p50'], 'ms')} | {num(a['p95'], 'ms')} | "
          f"{num(a['max'], 'ms')} | |")
    r.add(f"| start → audible and within 1 ms of the others | {s['n']} | {num(s['p50'], 'ms')} | "
          f"{num(s['p95'], 'ms')} | {num(s['max'], 'ms')} | ≤ {data['target_ms']:.0f} ms "
          f"({met(data['met'])}) |")
    after = data["max_offset_after_sync_us"]
    r.add(f"| largest offset from A after that (median per 100 ms, rest of the "
          f"{data['window_s']} s window) | "
          f"{after['n']} | {num(after['p50'], 'µs')} | {num(after['p95'], 'µs')} | "
          f"{num(after['max'], 'µs')} | |")
    for key, label in (("listening", "log: listening"), ("tracks_scanned",
                       "log: tracks scanned (SHA-256 of the 46 MB file)"),
                       ("following", "log: following the leader"),
                       ("state_applied", "log: leader's state applied (clock synced)")):
        v = data["log_ms"].get(key, {})
        r.add(f"| {label} | {v.get('n')} | {num(v.get('p50'), 'ms')} | {num(v.get('p95'), 'ms')} "
              f"| {num(v.get('max'), 'ms')} | |")
    r.add("")
    if data["missing"]:
        r.add(f"{data['missing']} trial(s) never came within 1 ms in the window.", "")
    r.row("3 join", f"process start → audible and within 1 ms ({s['n']} trials)",
          num(s["p50"], "ms"), num(s["p95"], "ms"), num(s["max"], "ms"),
          f"≤ {data['target_ms']:.0f} ms", data["met"])


def lan_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 11. LAN discovery (mDNS through avahi-daemon)", "")
    r.add("**Method.** Hosts are network namespaces on one bridge, each with its own avahi-daemon "
          "(tests/system/lan.py); every node writes to a FIFO read by skew_probe. *Power-on*: 5 "
          "nodes spawned at once with no address given, `play 1` typed on one of them every 20 ms "
          "until accepted; the figure is spawn → every output within 1 ms of the others for a "
          "whole second (20 ms buckets, median per node; buckets of a probe stall left out). "
          "*Flap* (`bench/lan.py`): 3 nodes playing; the lowest-ranked one's veth is down 10 s, "
          "then up; from link-up until it and the others see each other up (*rejoined*) and "
          "until its output is within 1 ms of the others' for a second (*in sync*: an isolated "
          "node plays on its last schedule, so it may never have left).", "")
    if not data:
        r.add("*Not run.*", "")
        return
    s = data["power_on_summary_s"]
    target = data["power_on_target_s"]
    power_met = s["p95"] is not None and s["p95"] <= target and not data["power_on_missing"]
    r.add("| figure | trials | p50 | p95 | max | target |", "|---|---:|---:|---:|---:|---|")
    r.add(f"| power-on (5 nodes, no address) → all in sync | {s['n']} | {num(s['p50'], 's', 2)} | "
          f"{num(s['p95'], 's', 2)} | {num(s['max'], 's', 2)} | ≤ {target:.0f} s ({met(power_met)}) |")
    flap = data["flap"]
    flap_s = flap.get("in_sync_s")
    rejoined = flap.get("rejoined_s")
    flap_met = rejoined is not None and flap_s is not None and max(rejoined, flap_s) <= data["flap_target_s"]
    flaps = len(data.get("flap_trials", [flap]))
    r.add(f"| link up after {flap['down_s']:.0f} s down → rejoined | {flaps} | | | {num(rejoined, 's', 2)} | "
          f"≤ {data['flap_target_s']:.0f} s |")
    r.add(f"| link up → its output in sync | {flaps} | | | {num(flap_s, 's', 2)} | "
          f"≤ {data['flap_target_s']:.0f} s ({met(flap_met)}) |", "")
    worst = max((t.get("worst_after_us") or 0 for t in data["power_on"]), default=0)
    late = sum(t.get("out_of_sync_after") or 0 for t in data["power_on"])
    r.add(f"After the power-on figure, to the end of each 9 s recording: {late} bucket(s) of "
          f"20 ms out of sync over all the trials, worst spread {worst:.0f} µs.", "")
    if flap.get("marked_down_s") is not None:
        r.add(f"During the flap the others marked the cut-off node down "
              f"{flap['marked_down_s']:.2f} s after its link went down.", "")
    if data["power_on_missing"]:
        r.add(f"{data['power_on_missing']} power-on trial(s) never came within 1 ms.", "")
    r.row("11 lan", f"power-on of 5 nodes, no address → all within 1 ms ({s['n']} trials)",
          num(s["p50"], "s", 2), num(s["p95"], "s", 2), num(s["max"], "s", 2),
          f"≤ {target:.0f} s", power_met)
    r.row("11 lan", f"veth down {flap['down_s']:.0f} s, up → rejoined / output in sync", "", "",
          f"{num(rejoined, 's', 2)} / {num(flap_s, 's', 2)}", f"≤ {data['flap_target_s']:.0f} s",
          flap_met)


def failover_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 4. Failover", "")
    r.add("**Method** (`bench/failover.py --audio`). 5 nodes on loopback playing the track into "
          "FIFOs. Each trial: one thread per survivor polls `status --json` every 5 ms; the "
          "leader gets SIGKILL (kill trials; restarted afterwards, it must rejoin as a follower) "
          "or SIGSTOP (frozen ≥ 1 s, then SIGCONT; it must step down and follow). Figure: fault → "
          "every survivor reports the same new leader at the same epoch, that leader saying "
          "`leader` (upper bound: reply time of each survivor's first sample of its final run "
          "naming it). Around each fault skew_probe reads every FIFO (0.7 s before to ~2.5 s "
          "after, SIGCONT included for stop trials): per survivor the longest silence after audio "
          "started; jumps: any frame-to-frame step other than +1, a repeated or a skipped frame "
          "(the probe's count; single repeats and skips are the engine's slews); the largest "
          "block-to-block correction (several slews can fall in one block, at most 5 % of it); "
          "and the skew between survivors.", "")
    if not data:
        r.add("*Not run.*", "")
        return
    res = data["results"]
    r.add("| fault | trials | p50 | p95 | max | target |", "|---|---:|---:|---:|---:|---|")
    for key, label in (("kill", "kill -9 → all survivors agree"),
                       ("stop", "SIGSTOP → all survivors agree")):
        s = res.get(key)
        if not s or not s["trials"]:
            continue
        ok = s["p95_ms"] <= data["target"]["p95_ms_max"]
        r.add(f"| {label} | {s['trials']} | {s['p50_ms']} ms | {s['p95_ms']} ms | {s['max_ms']} ms "
              f"| p95 ≤ 1000 ms ({met(ok)}) |")
        r.row("4 failover", label, f"{s['p50_ms']} ms", f"{s['p95_ms']} ms",
              f"{s['max_ms']} ms", "p95 ≤ 1000 ms", ok)
    for key, label in (("rejoin", "killed node restarted → all agree"),
                       ("cont", "SIGCONT → all agree, old leader follows")):
        s = res.get(key)
        if s and s["trials"]:
            r.add(f"| {label} | {s['trials']} | {s['p50_ms']} ms | {s['p95_ms']} ms | "
                  f"{s['max_ms']} ms | |")
    r.add("")
    audio = data.get("audio") or {}
    if audio:
        r.add("| fault | trials × survivors | longest silence p50 / max | trials with a gap / a "
              "jump (frame to frame, probe) | largest jump | largest correction within one block "
              "| 1-frame slews per trial p50 / max | survivors' skew p95 before → after (median "
              "of trials) | survivors' skew max from the fault on (worst trial) | target |",
              "|---|---:|---|---|---:|---:|---|---|---:|---|")
        for key, label in (("kill", "kill -9"), ("stop", "SIGSTOP")):
            a = audio.get(key)
            if not a:
                continue
            ok = a["trials_with_gap"] == 0 and a["trials_with_jump"] == 0
            corr = a.get("largest_block_correction_frames", {}).get("max")
            r.add(f"| {label} | {a['trials']} × 4 | {a['longest_silence_ms']['p50']} / "
                  f"{a['longest_silence_ms']['max']} ms | {a['trials_with_gap']} / "
                  f"{a['trials_with_jump']} | {a['largest_jump_frames']['max']} frames | "
                  f"{num(corr, 'frames')} | "
                  f"{a['slews_per_trial']['p50']} / {a['slews_per_trial']['max']} | "
                  f"{a['skew_before_p95_us']['p50']} → {a['skew_after_p95_us']['p50']} µs | "
                  f"{num(a.get('skew_from_fault_max_us', {}).get('max'), 'µs')} | "
                  f"no gap, no jump ({met(ok)}) |")
            r.row("4 failover", f"{label}: survivors' longest gap / trials with a jump",
                  "", "", f"{a['longest_silence_ms']['max']} ms / {a['trials_with_jump']} of "
                  f"{a['trials']}", "none (single-frame slews allowed)", ok,
                  f"largest correction within one block: {corr} frames")
        r.add("")
    excursions = []
    for t in data.get("trials", []):
        a = t.get("audio")
        if not a:
            continue
        worst = (a.get("skew_from_fault_us") or {}).get("max")
        if worst is not None and worst > 200 and a.get("jumps", 0) == 0:
            excursions.append(f"{t['kind']} #{t['trial']} ({worst} µs)")
    if excursions:
        r.add(f"Trials where one 100 ms bucket of a survivor's output was more than 200 µs off "
              f"the others while no frame jumped: "
              f"{', '.join(excursions)}. Such excursions last a few buckets and come back by "
              "themselves; the frames were rendered for the right instants but written late. "
              "The one examined while writing this benchmark (a ~100 µs excursion of one "
              "survivor, all others agreeing) fell 0.3–0.6 s after a kill, while the restarted "
              "node hashed its 46 MB track on the same 2 cores: CPU contention "
              "delaying that survivor's output thread. Raw CSVs of every trial: "
              "bench/results/raw/failover-*.csv.", "")
    if data.get("anomalies"):
        r.add("Anomalies: " + "; ".join(data["anomalies"]), "")


def cost_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 5. Cost", "")
    r.add("**Method.** Fresh clusters on loopback with `--output null`. After the cluster is "
          "synced: an idle window (nothing playing — the null output still renders a block of "
          "silence every 10 ms), then `play 1`, 2 s, a playing window. Per node from /proc: "
          "CPU = Δ(utime + stime) of /proc/PID/stat over the window, in % of one core (resolution "
          "1 clock tick per window; the target is judged on this figure), cross-checked with the "
          "exact run time (ns) of /proc/PID/task/*/schedstat, which also splits it by thread; "
          "VmRSS from /proc/PID/status at the end of the window, VmHWM, and context switches per "
          "second summed over /proc/PID/task/*/status.", "")
    if not data:
        r.add("*Not run.*", "")
        return
    t = data["target"]
    r.add("| run | phase | CPU per node mean / max (leader), /proc/PID/stat | same from schedstat "
          "(exact) | RSS per node mean / max | peak RSS (VmHWM) | context switches/s per node "
          "| target |",
          "|---|---|---|---|---|---:|---:|---|")
    for run in data["runs"]:
        label = f"{run['nodes']} nodes, {run['track_s']} s track ({run['pcm_mib']} MiB of PCM if decoded whole)"
        for phase in ("idle", "playing"):
            d = run[phase]
            target = ""
            if phase == "playing":
                target = (f"≤ {t['cpu_pct']} % ({met(d['cpu_pct']['max'] <= t['cpu_pct'])}), "
                          f"≤ {t['rss_mib']:.0f} MiB ({met(d['rss_mib']['max'] <= t['rss_mib'])})")
            x = d.get("cpu_pct_schedstat", {})
            r.add(f"| {label} | {phase} | {d['cpu_pct']['mean']} / {d['cpu_pct']['max']} % "
                  f"({d['cpu_pct']['leader']} %) | {x.get('mean')} / {x.get('max')} % "
                  f"({x.get('leader')} %) | {d['rss_mib']['mean']} / {d['rss_mib']['max']} "
                  f"MiB | {d['hwm_mib_max']} MiB | {d['ctxt_per_s_mean']} | {target} |")
        p = run["playing"]
        r.row("5 cost", f"CPU per node while playing, {label}", "",
              f"mean {p['cpu_pct']['mean']} %", f"{p['cpu_pct']['max']} %",
              f"≤ {t['cpu_pct']} %", p["cpu_pct"]["max"] <= t["cpu_pct"])
        r.row("5 cost", f"RSS per node while playing, {label}", "",
              f"mean {p['rss_mib']['mean']} MiB", f"{p['rss_mib']['max']} MiB",
              f"≤ {t['rss_mib']:.0f} MiB", p["rss_mib"]["max"] <= t["rss_mib"])
    r.add("")
    first = data["runs"][0]
    b = first["per_node"]["playing"].get("B")
    if b and isinstance(next(iter(b.get("threads", {}).values()), None), dict):
        threads = "; ".join(f"thread {k}{' (main: the io loop)' if k.split()[0] == '#0' else ''}: "
                            f"{v['cpu_pct']} %, {v['wakeups_per_s']} context switches/s"
                            for k, v in b["threads"].items())
        mem = (f"RssAnon {b['rss_anon_mib']} MiB, RssFile {b['rss_file_mib']} MiB")
        r.add(f"Where it goes (follower B of the first run, playing; threads by creation "
              f"order, with the names the node gives them): {threads}. chorus-output paces the "
              f"output (one block every 10 ms); chorus-decoder, the library's decoder, wakes when "
              f"a read position enters the next one-second chunk, or a seek is announced; the io "
              f"loop wakes for each peer's heartbeats "
              f"(answered in the same wake-up), its own heartbeat rounds (5 a second, which the "
              f"election shell's freeze watch and its clock-sync requests share), the answers to "
              f"those requests (5 a second each for the first 48 s, then 1) and the 1 s refresh of the status "
              f"view; bench/wake_sources.py counts them. "
              f"Memory: {mem}. A node keeps open only the tracks its schedule can reach "
              f"(previous, current, next), each streamed: about 11 s of decoded PCM (2 MiB) "
              f"around where it is read, whatever the track's length ({first['pcm_mib']} MiB "
              f"if this one were decoded whole). Idle: {first['idle']['rss_mib']['mean']} MiB; "
              f"peak (VmHWM) {first['playing']['hwm_mib_max']} MiB.", "")


def real_outputs_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 7. Real outputs: pulse, ALSA and sdl against a file output", "")
    r.add("**Method.** `bench/real_outputs.py`, the measurement of tests/system/unlike_outputs.py: "
          "a private PulseAudio server (Debian's `pulseaudio`, no sound card) with one null sink per "
          "room at 48 kHz; F plays into a FIFO (`file:`, its audible instants known by construction, "
          "the leader), P on `pulse:`, A on `alsa:pulse:` (ALSA through its pulse plugin), S on `sdl` "
          "(SDL's pulseaudio driver), L on `pulse:` with `--latency-ms 5`; no node has a latency of "
          "its own set. skew_probe reads F's FIFO and records the other sinks' monitors, each "
          "fragment stamped from the server's timing updates with when its sink played it. The "
          "capture path is calibrated in every trial: the probe plays its own counting track into a "
          "sink of its own, noting when the server says each block will be heard, records that "
          "sink's monitor the same way, and subtracts the difference (the capture offset) from "
          "every recorded node. L, claiming 5 ms of speaker latency, checks the method: it must "
          "come out 5 ms early.", "")
    if not data:
        r.add("*Not run.*", "")
        return
    r.add(f"{data['trials']} trials, each {data['settle_s']:g} s to settle and "
          f"{data['measure_s']:g} s measured. Medians over the trials, and the worst trial.", "")
    r.add("| output | median offset from the file node | measured latency (status) | scatter of "
          "single measurements | target |", "|---|---:|---:|---:|---|")
    first = data["records"][0]["latency"] if data["records"] else {}
    for key, title, target in (("P", "pulse", True), ("A", "alsa (through the pulse plugin)", True),
                               ("S", "sdl (pulseaudio driver: the server's latency for its stream, "
                                     "sampled twice a second)", False)):
        lat = first.get(key, {})
        latency = (f"{lat['latency_us'] / 1000:.1f} ms" if lat.get("latency_measured") else
                   "not measured")
        jitter = f"{lat.get('latency_jitter_us', 0):.0f} µs" if lat.get("latency_measured") else "–"
        tgt = f"≤ {data['offset_target_us']:.0f} µs" if target else "–"
        r.add(f"| {title} | {num(data['offset_from_file_us'][key], 'µs')} "
              f"(worst trial ±{num(data['worst_abs_offset_us'][key], 'µs')}) | {latency} | "
              f"{jitter} | {tgt} |")
    r.add("")
    r.add("| outputs together | skew p95 (median of trials) | worst trial | target |",
          "|---|---:|---:|---|")
    for key, title in (("F,P", "file + pulse"), ("F,A", "file + alsa"),
                       ("F,P,A", "file + pulse + alsa (unlike outputs)"),
                       ("F,P,A,S", "… + sdl")):
        tgt = f"≤ {data['skew_target_us']:.0f} µs" if key == "F,P,A" else "–"
        r.add(f"| {title} | {num(data['skew_p95_us'][key], 'µs')} | "
              f"{num(data['worst_skew_p95_us'][key], 'µs')} | {tgt} |")
    r.add("")
    r.add(f"Method check: L − P = {num(data['method_check_us'], 'µs')} (expected −5000 µs). "
          f"Capture offset (calibrated, median): {num(data['capture_offset_us'], 'µs')}.", "")
    r.row("7 real outputs", "pulse: median offset from a file node, worst trial (absolute)",
          num(data["worst_abs_offset_us"]["P"], "µs"), "", "", f"≤ {data['offset_target_us']:.0f} µs",
          data["met"]["pulse_offset"])
    r.row("7 real outputs", "alsa (pulse plugin): median offset from a file node, worst trial (absolute)",
          num(data["worst_abs_offset_us"]["A"], "µs"), "", "", f"≤ {data['offset_target_us']:.0f} µs",
          data["met"]["alsa_offset"])
    r.row("7 real outputs", "skew of file + pulse + alsa (median of trials; worst trial in note)", "",
          num(data["skew_p95_us"]["F,P,A"], "µs"), "", f"p95 ≤ {data['skew_target_us']:.0f} µs",
          data["met"]["skew_F,P,A"], f"worst trial {num(data['worst_skew_p95_us']['F,P,A'], 'µs')}")
    r.row("7 real outputs", "sdl: median offset from a file node (the server's sampled latency)",
          num(data["offset_from_file_us"]["S"], "µs"), "", "", "–", None)


def fanout_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 6. Fan-out: 1 leader, 16 followers", "")
    r.add("**Method.** 17 nodes on loopback, FIFO outputs read by one skew_probe. *Broadcast "
          "reach*: pause / resume typed on the leader 0.4 s apart; right after the leader's reply, "
          "rounds of `status --json` to all 16 followers (16 lines written, then 16 answers read) "
          "until each shows the new (epoch, seq); the figure is the reply time of the round in "
          "which the last follower showed it (an upper bound, resolution one round). The probe "
          "gives each node's first changed frame. *Command rate*: pause/resume typed as fast as "
          "the prompt answers (the next line after the previous answer), on the leader and then "
          "on a follower (each forwarded to the leader), then status rounds until every follower "
          "shows the final (epoch, seq); rate = commands / (that moment − first command typed).",
          "")
    if not data:
        r.add("*Not run.*", "")
        return
    b = data["broadcast"]
    r.add("| figure | samples | p50 | p95 | max |", "|---|---:|---:|---:|---:|")
    r.add(f"| typed on the leader → the last follower's `status` shows it (upper bound) | "
          f"{b['last_follower_status_ms']['n']} | {num(b['last_follower_status_ms']['p50'], 'ms')} "
          f"| {num(b['last_follower_status_ms']['p95'], 'ms')} | "
          f"{num(b['last_follower_status_ms']['max'], 'ms')} |")
    r.add(f"| of which: leader's prompt reply + one leader `status` before the first round | "
          f"{b['first_poll_sent_ms']['n']} | {num(b['first_poll_sent_ms']['p50'], 'ms')} | "
          f"{num(b['first_poll_sent_ms']['p95'], 'ms')} | {num(b['first_poll_sent_ms']['max'], 'ms')} |")
    r.add(f"| typed → the last of 17 nodes' output changes | {b['last_node_output_ms']['n']} | "
          f"{num(b['last_node_output_ms']['p50'], 'ms')} | "
          f"{num(b['last_node_output_ms']['p95'], 'ms')} | "
          f"{num(b['last_node_output_ms']['max'], 'ms')} |")
    if b.get("lead_ms"):
        r.add(f"| of which: the lead the leader scheduled (max RTT + fill-ahead + 15 ms, from its "
              f"reply) | {b['lead_ms']['n']} | {num(b['lead_ms']['p50'], 'ms')} | "
              f"{num(b['lead_ms']['p95'], 'ms')} | {num(b['lead_ms']['max'], 'ms')} |")
    r.add(f"| spread of the 17 nodes' change instants | {b['output_spread_us']['n']} | "
          f"{num(b['output_spread_us']['p50'], 'µs')} | {num(b['output_spread_us']['p95'], 'µs')} "
          f"| {num(b['output_spread_us']['max'], 'µs')} |")
    r.add("")
    r.add(f"Status rounds needed: at most {b['poll_rounds_max']} (1 = every follower already had "
          f"the command at the first round). Nodes whose output changed for every command: at "
          f"least {b['nodes_changed_min']} of 17.", "")
    r.add("| commands typed on | commands | typed per s | applied by all 16 per s | last "
          "follower after the last typed | ignored by followers | leader CPU during the burst | "
          "final states |", "|---|---:|---:|---:|---:|---:|---:|---|")
    for key in ("leader", "follower"):
        x = data["rate"][key]
        r.add(f"| {key} ({x['issuer']}) | {x['commands']} ({x['errors']} errors) | "
              f"{x['typed_per_s']} | {x['applied_per_s']} | {x['after_last_typed_ms']} ms | "
              f"{x['ignored_commands_total']} | {x['leader_cpu_s']} s | "
              f"{', '.join(x['final_states'])} |")
    r.add("")
    lead = data["rate"]["leader"]
    r.row("6 fan-out", "commands/s typed on the leader and applied by all 16 followers", "", "",
          f"{lead['applied_per_s']}/s", "(no target)", None,
          f"{lead['commands']} commands, {lead['ignored_commands_total']} ignored")
    r.row("6 fan-out", "broadcast → last of 16 followers (status, upper bound)",
          num(b["last_follower_status_ms"]["p50"], "ms"),
          num(b["last_follower_status_ms"]["p95"], "ms"),
          num(b["last_follower_status_ms"]["max"], "ms"), "(no target)", None)
    r.row("6 fan-out", "typed → last of 17 nodes' output changes",
          num(b["last_node_output_ms"]["p50"], "ms"), num(b["last_node_output_ms"]["p95"], "ms"),
          num(b["last_node_output_ms"]["max"], "ms"), "(≤ 100 ms as for 2)",
          b["last_node_output_ms"]["max"] is not None and b["last_node_output_ms"]["p95"] <= 100)


def security_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 8. Cluster key: keyed versus open", "")
    r.add("**Method** (`bench/security.py`). One run, rounds alternating open and keyed (open, "
          "keyed, open, keyed, …), so that whatever else the machine does falls on both alike. "
          "Each round is a fresh cluster of 3 nodes on loopback playing the 4-minute track into "
          "FIFOs; in a keyed round every node holds a key made for the round by `node --gen-key` "
          "(`--key-file`), so every link runs the keyed handshake and seals every frame. Per "
          "round, with the other benchmarks' code: skew_probe over the 3 FIFOs (skew per 100 ms "
          "bucket as in section 1, judged outside platform stalls at the writes' kernel-stamped "
          "instants, the probe's reads shown beside); then CPU and RSS of each node read from "
          "/proc over a window of their own (as in section 5, but with file outputs; apart from "
          "the skew window because perf's recording of the writes costs the nodes 0.2-0.3 % of "
          "a core); the "
          "reaction plan of section 2 (pause/resume and stop/`play 1` typed on the leader, then "
          "on a follower); `tools/handshake_probe` opening connections to a follower one after "
          "another (TCP connect, then in a keyed round the handshake until the dialer holds the "
          "node's proof and has sent its own; the "
          "follower's CPU over the loop, less its CPU rate while playing, per connection; the "
          "dialer's own CPU per connection); new nodes joining and leaving (from the logs, ms "
          "stamps: process start → the leader logs the newcomer up; the newcomer's `listening` → "
          "it logs the leader up: dial, handshake, HELLO and its answer); and failover trials as "
          "in section 4 (kill -9 of the leader, then SIGSTOP) on the 3 nodes. Figures pool every "
          "round of a mode; the per-round figures show the run-to-run spread.", "")
    if not data:
        r.add("*Not run.*", "")
        return
    f, met_ = data["figures"], data["met"]
    if "open" not in f or "keyed" not in f:
        r.add(f"*Incomplete:* {'; '.join(data.get('errors', []))}", "")
        return
    o, k = f["open"], f["keyed"]
    rules = data["rules"]
    skew_margin = f"{data['margins']['skew_p95_us']:g}"
    reaction_margin = f"{data['margins']['reaction_p50_ms']:g}"

    def pr(x: dict, key: str, unit: str) -> str:
        return ", ".join(num(v, unit) for v in x[key])

    def p95max(s: dict, unit: str) -> str:
        return f"{num(s['p95'], unit)} / {num(s['max'], unit)}"

    judged_at = " and ".join(k.get("skew_judged_at", ["probe's reads"]))
    rows = [
        (f"skew p95, outside platform stalls, at the {judged_at} (per round)",
         f"{num(o['skew_outside_stalls_us']['p95'], 'µs')} ({pr(o, 'skew_p95_per_round_us', 'µs')})",
         f"{num(k['skew_outside_stalls_us']['p95'], 'µs')} ({pr(k, 'skew_p95_per_round_us', 'µs')})",
         rules["skew_p95"], met_.get("skew_p95")),
        ("skew max, outside platform stalls", num(o["skew_outside_stalls_us"]["max"], "µs"),
         num(k["skew_outside_stalls_us"]["max"], "µs"), rules["skew_max"], met_.get("skew_max")),
        ("skew p95 / max, all buckets (platform stalls)",
         f"{p95max(o['skew_us'], 'µs')} ({o['platform_stalls']})",
         f"{p95max(k['skew_us'], 'µs')} ({k['platform_stalls']})", "–", None),
        ("reaction p50, every command × node (per round)",
         f"{num(o['reaction_ms']['p50'], 'ms')} ({pr(o, 'reaction_p50_per_round_ms', 'ms')})",
         f"{num(k['reaction_ms']['p50'], 'ms')} ({pr(k, 'reaction_p50_per_round_ms', 'ms')})",
         rules["reaction_p50"], met_.get("reaction_p50")),
        ("reaction p95 / max (changes missed)",
         f"{p95max(o['reaction_ms'], 'ms')} ({o['reaction_missing']})",
         f"{p95max(k['reaction_ms'], 'ms')} ({k['reaction_missing']})", "–", None),
        ("lead the leader scheduled, p50", num(o["lead_ms"]["p50"], "ms"),
         num(k["lead_ms"]["p50"], "ms"), "–", None),
    ]
    for kind, label in (("kill", "kill -9"), ("stop", "SIGSTOP")):
        if f"failover_{kind}_ms" not in k or f"failover_{kind}_ms" not in o:
            continue
        rows.append((f"failover, {label} → survivors agree: p50 / max (trials)",
                     f"{num(o[f'failover_{kind}_ms']['p50'], 'ms')} / "
                     f"{num(o[f'failover_{kind}_ms']['max'], 'ms')} ({o[f'failover_{kind}_ms']['n']})",
                     f"{num(k[f'failover_{kind}_ms']['p50'], 'ms')} / "
                     f"{num(k[f'failover_{kind}_ms']['max'], 'ms')} ({k[f'failover_{kind}_ms']['n']})",
                     rules["failover"], met_.get(f"failover_{kind}")))
        rows.append((f"failover, {label}: survivors' longest silence / trials with a jump",
                     f"{num(o[f'failover_{kind}_longest_silence_ms'], 'ms')} / "
                     f"{o[f'failover_{kind}_trials_with_jump']}",
                     f"{num(k[f'failover_{kind}_longest_silence_ms'], 'ms')} / "
                     f"{k[f'failover_{kind}_trials_with_jump']}", "–", None))
    rows += [
        ("CPU per playing node, max (mean; mean from schedstat)",
         f"{o['cpu_pct_max']} % ({o['cpu_pct_mean']} %; {o['cpu_pct_schedstat_mean']} %)",
         f"{k['cpu_pct_max']} % ({k['cpu_pct_mean']} %; {k['cpu_pct_schedstat_mean']} %)",
         rules["cpu"], met_.get("cpu")),
        ("RSS per playing node, max (mean)", f"{o['rss_mib_max']} MiB ({o['rss_mib_mean']} MiB)",
         f"{k['rss_mib_max']} MiB ({k['rss_mib_mean']} MiB)", "–", None),
        ("connection: TCP connect, p50 / p95", f"{num(o['connect_us']['p50'], 'µs')} / "
         f"{num(o['connect_us']['p95'], 'µs')}", f"{num(k['connect_us']['p50'], 'µs')} / "
         f"{num(k['connect_us']['p95'], 'µs')}", "–", None),
        ("connection: handshake after the connect, p50 / p95", "none",
         f"{num(k['handshake_us']['p50'], 'µs')} / {num(k['handshake_us']['p95'], 'µs')}", "–",
         None),
        ("connection set-up in all, p50 / p95 / max", f"{num(o['setup_us']['p50'], 'µs')} / "
         f"{p95max(o['setup_us'], 'µs')}", f"{num(k['setup_us']['p50'], 'µs')} / "
         f"{p95max(k['setup_us'], 'µs')}", "–", None),
        ("CPU per connection: the node accepting it (the dialer)",
         f"{num(o['node_cpu_us_per_connection']['p50'], 'µs')} "
         f"({num(o['dialer_cpu_us_per_connection']['p50'], 'µs')})",
         f"{num(k['node_cpu_us_per_connection']['p50'], 'µs')} "
         f"({num(k['dialer_cpu_us_per_connection']['p50'], 'µs')})", "–", None),
        ("join: process start → the leader logs it up, p50 / max (joins)",
         f"{num(o['join_start_to_member_sees_it_ms']['p50'], 'ms')} / "
         f"{num(o['join_start_to_member_sees_it_ms']['max'], 'ms')} "
         f"({o['join_start_to_member_sees_it_ms']['n']})",
         f"{num(k['join_start_to_member_sees_it_ms']['p50'], 'ms')} / "
         f"{num(k['join_start_to_member_sees_it_ms']['max'], 'ms')} "
         f"({k['join_start_to_member_sees_it_ms']['n']})", "–", None),
        ("join: listening → link to the leader up (dial, handshake, HELLO), p50 / max",
         f"{num(o['join_listening_to_link_up_ms']['p50'], 'ms')} / "
         f"{num(o['join_listening_to_link_up_ms']['max'], 'ms')}",
         f"{num(k['join_listening_to_link_up_ms']['p50'], 'ms')} / "
         f"{num(k['join_listening_to_link_up_ms']['max'], 'ms')}", "–", None),
    ]
    p = data["parameters"]
    r.add(f"{p['rounds']} round(s) of each mode; per round {p['window']:g} s of skew after "
          f"{p['settle']:g} s of playing, then {p['window'] - 1:g} s of CPU, "
          f"{p['cycles']} reaction cycle(s) per origin, "
          f"{p['connections']} connections, {p['joins']} joins, faults: "
          f"{', '.join(p['faults'])}.", "")
    r.add("| metric | open | keyed | target | met? |", "|---|---:|---:|---|---|")
    for what, ov, kv, target, ok in rows:
        r.add(f"| {what} | {ov} | {kv} | {target} | {met(ok) if target not in ('–', '') else '–'} |")
    r.add("")
    r.add("**Rules.** *Unchanged* is judged on the pooled figures of one run, open against "
          f"keyed. Skew: keyed p95 ≤ open p95 + {skew_margin} µs (half a frame), or + the "
          "spread of open's own per-round p95s when that is larger (what two runs of the same "
          "thing differ by on this machine); the largest bucket is a single sample that wake-up "
          "stalls decide (see Limits), so keyed's max is judged against the loopback target of "
          "section 1 (≤ 200 µs), or open's own max if that is larger. Reaction: keyed p50 ≤ "
          f"open p50 + {reaction_margin} ms, with no change missed; a command is scheduled a "
          "whole number of ms ahead (max RTT + fill-ahead + 15 ms), so a key that slowed the "
          "links would move the p50 by a step of a ms, while the p95 of a few dozen commands is "
          "their second-worst, decided by when the prompt's thread ran (shown, not judged). "
          "CPU: keyed, every playing node ≤ 1 % of a core. Failover: keyed, section 4's target "
          "(p95 ≤ 1000 ms, no gap, no jump).", "")
    if data.get("errors"):
        r.add("Rounds that broke: " + "; ".join(data["errors"]), "")
    r.row("8 cluster key", f"skew outside platform stalls, at the {judged_at}, keyed (open in note)", "",
          num(k["skew_outside_stalls_us"]["p95"], "µs"), num(k["skew_outside_stalls_us"]["max"], "µs"),
          f"p95: {rules['skew_p95']}; max: {rules['skew_max']}",
          met_.get("skew_p95") and met_.get("skew_max"),
          f"open: p95 {num(o['skew_outside_stalls_us']['p95'], 'µs')}, max "
          f"{num(o['skew_outside_stalls_us']['max'], 'µs')}; p95 per round, open: "
          f"{pr(o, 'skew_p95_per_round_us', 'µs')}, keyed: {pr(k, 'skew_p95_per_round_us', 'µs')}"
          + (f"; at the probe's reads, p95 per round, open: {pr(o, 'skew_at_reads_p95_per_round_us', 'µs')}, "
             f"keyed: {pr(k, 'skew_at_reads_p95_per_round_us', 'µs')}"
             if "skew_at_reads_p95_per_round_us" in k and "skew_at_reads_p95_per_round_us" in o else ""))
    r.row("8 cluster key", "reaction, every command × node, keyed (open in note)",
          num(k["reaction_ms"]["p50"], "ms"), num(k["reaction_ms"]["p95"], "ms"),
          num(k["reaction_ms"]["max"], "ms"), "p50: " + rules["reaction_p50"],
          met_.get("reaction_p50"),
          f"open: p50 {num(o['reaction_ms']['p50'], 'ms')}, p95 "
          f"{num(o['reaction_ms']['p95'], 'ms')}; p50 per round, open: "
          f"{pr(o, 'reaction_p50_per_round_ms', 'ms')}, keyed: "
          f"{pr(k, 'reaction_p50_per_round_ms', 'ms')}")
    r.row("8 cluster key", "CPU per playing node, keyed (open in note)", "",
          f"mean {k['cpu_pct_mean']} %", f"{k['cpu_pct_max']} %", rules["cpu"], met_.get("cpu"),
          f"open: mean {o['cpu_pct_mean']} %, max {o['cpu_pct_max']} %")
    if "failover_kill" in met_ and "failover_kill_ms" in o:
        r.row("8 cluster key", "failover kill -9 → survivors agree, keyed (open in note)",
              num(k["failover_kill_ms"]["p50"], "ms"), num(k["failover_kill_ms"]["p95"], "ms"),
              num(k["failover_kill_ms"]["max"], "ms"), rules["failover"],
              met_["failover_kill"] and met_.get("failover_stop", True),
              f"open: p50 {num(o['failover_kill_ms']['p50'], 'ms')}, max "
              f"{num(o['failover_kill_ms']['max'], 'ms')}")


def library_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 9. Library: tracks fetched from peers", "")
    r.add("**Method** (`bench/library.py`). The track is a 5-minute FLAC only the leader has: the "
          "self-numbering track at 24 bits, each sample's top 16 bits the counting track's and "
          "its low 7 bits noise, so it compresses like music and still decodes to the numbered "
          "frames skew_probe reads. Every other node starts with an empty `--tracks` directory "
          "and a fresh cache, and fetches the track in 256 KiB chunks over its content links "
          "while it plays. *Play*: `play 1` typed on the leader → the last of 3 nodes to write a "
          "block whose frame-zero instant is within 1 ms of the leader's (the leader included), "
          "a fresh cluster each trial, on loopback and with both ports of every node (cluster, "
          "`--advertise-port`; content, `--advertise-content-port`) behind "
          "`tools/delay_proxy.py` at 10 ms ± 5 ms each way. *Transfer*: 8 nodes (1 with the "
          "track), uploads capped with `--upload-limit-mb` so the fetches run through the "
          "window; once every output is audible, skew as in section 1 (outside platform stalls) "
          "over the window, then pause / resume typed on the leader, reaction as in section 2. "
          "*Upload*: the leader + 8 empty nodes, default upload limit, until every node holds "
          "the file. *Kill*: the leader + 4 empty nodes playing, uploads ≤ 3 MB/s; each "
          "survivor's `status --json` polled every 0.1 s from play, and kill -9 of the leader the "
          "moment the chunks the survivors hold between them (their fetches' `held_ranges`) are "
          "the whole file; play → that moment, the leader's chunks served by then, the longest "
          "silence per survivor (as section 4, from 0.4 s before the kill to 2.5 s after), "
          "whether the survivors finish their fetches from each other and how long after the "
          "kill. (Until the fetch status named the chunks held, the leader was killed once a "
          "follower held 90 % of them: the survivors then lacked the file's last ~10 chunks "
          "between them, and 0 of 12 could finish.) *Index*: a node with "
          "10,000 tiny WAVs (`bench/make_library.py`): launch → `status` lists every track, "
          "without an index (first start) and with the first start's (second start).", "")
    if not data:
        r.add("*Not run.*", "")
        return
    parts = data.get("parts", {})
    t = data.get("track", {})
    r.add(f"Track: {t.get('name')}, {t.get('format')}, {t.get('bytes', 0) / 1e6:.1f} MB.", "")
    r.add("| figure | samples | p50 | p95 | max | target | |", "|---|---:|---:|---:|---:|---|---|")
    for key, label in (("play", "play"), ("transfer", "transfer"), ("upload", "upload"),
                       ("kill", "kill"), ("index", "index")):
        part = parts.get(key)
        if part and "error" in part:
            r.add(f"| {label}: failed: {part['error'][:300]} | | | | | | |")
            r.row("9 library", f"{label}", "–", "–", "–", "", None, "failed")
    play = parts.get("play") or {}
    for mode, title in (("loopback", "3 nodes, loopback"),
                        ("proxy", "3 nodes, both ports behind 10 ± 5 ms proxies")):
        p = play.get(mode)
        if not p:
            continue
        s = p["all_in_sync_ms"]
        target = f"≤ {p['target_ms']:.0f} ms"
        r.add(f"| play of a track no follower has → every node audible and in sync, {title} | "
              f"{s['n']} | {num(s['p50'], 'ms')} | {num(s['p95'], 'ms')} | {num(s['max'], 'ms')} "
              f"| {target} | {met(p['met'])} |")
        r.row("9 library", f"play of a track no follower has → all audible and in sync, {title} "
              f"({p['trials']} trials)", num(s["p50"], "ms"), "–", num(s["max"], "ms"), target,
              p["met"], f"{p['missing']} never in sync" if p["missing"] else "")
    tr = parts.get("transfer")
    if tr and "error" not in tr:
        j = tr.get("skew_judged_us", tr["skew_outside_stalls_us"])
        st = tr["platform_stalls"]
        at = ("at the writes' instants (as section 1); at the probe's reads p95 "
              f"{num(tr['skew_outside_stalls_us']['p95'], 'µs')}"
              if tr.get("judged_at") == "write" else "at the probe's reads")
        note = (f"{tr['window_s']} s window, {tr['fetching_at_window_end']} of 7 still fetching "
                f"at its end; uploads ≤ {tr['leader_upload_limit_mb']} MB/s (leader), "
                f"{tr['upload_limit_mb']} MB/s (others); {st['buckets_left_out']} stalled "
                f"buckets left out; {at}; all buckets p95 {num(tr['skew_us']['p95'], 'µs')}")
        r.add(f"| skew while 7 nodes fetch, 8 nodes ({note}) | {j['n']} | {num(j['p50'], 'µs')} "
              f"| {num(j['p95'], 'µs')} | {num(j['max'], 'µs')} | p95 ≤ "
              f"{tr['target_p95_us']:.0f} µs | {met(tr['skew_met'])} |")
        r.row("9 library", "skew while 7 of 8 nodes fetch", num(j["p50"], "µs"),
              num(j["p95"], "µs"), num(j["max"], "µs"), f"p95 ≤ {tr['target_p95_us']:.0f} µs",
              tr["skew_met"], note)
        for kind in ("pause", "resume"):
            g = tr["reaction"][kind]
            s = g["reaction_ms"]
            judged = kind == "pause"
            r.add(f"| {kind} typed on the leader → every node's output changes, while fetching "
                  f"| {s['n']} | {num(s['p50'], 'ms')} | {num(s['p95'], 'ms')} | "
                  f"{num(s['max'], 'ms')} | {'≤ 100 ms' if judged else '–'} | "
                  f"{met(g['met']) if judged else ''} |")
        g = tr["reaction"]["pause"]
        r.row("9 library", "pause → all stopped, while 7 of 8 nodes fetch",
              num(g["reaction_ms"]["p50"], "ms"), num(g["reaction_ms"]["p95"], "ms"),
              num(g["reaction_ms"]["max"], "ms"), f"≤ {tr['reaction_target_ms']:.0f} ms",
              g["met"], f"{g['missing']} missing" if g["missing"] else "")
        r.add(f"| longest silence / discontinuities in the window (all nodes) | | | | "
              f"{tr['longest_silence_ms']} ms / {tr['discontinuities']} | | |")
        r.add(f"| play → every output audible (transfer part) | 1 | | | "
              f"{tr['all_audible_after_s']} s | | |")
    up = parts.get("upload")
    if up and "error" not in up:
        r.add(f"| leader's upload / file size, 8 empty nodes play the track | 1 | | | "
              f"{up['ratio']}× | ≤ {up['target_ratio']:.0f}× | {met(up['met'])} |")
        r.row("9 library", "leader's upload / file size when 8 empty nodes play a track", "", "",
              f"{up['ratio']}×", f"≤ {up['target_ratio']:.0f}×", up["met"],
              f"all complete after {up['all_complete_after_s']} s")
        fl, fp = up["chunks_from_leader"], up["chunks_from_peers"]
        r.add(f"| chunks per node from the leader (of {up['chunks']}) | {fl['n']} | "
              f"{num(fl['p50'])} | {num(fl['p95'])} | {num(fl['max'])} | | |")
        r.add(f"| chunks per node from other fetchers | {fp['n']} | {num(fp['p50'])} | "
              f"{num(fp['p95'])} | {num(fp['max'])} | | |")
    k = parts.get("kill")
    if k and "error" not in k:
        s = k["longest_silence_ms"]
        c = k["covered_after_play_s"]
        r.add(f"| play → the survivors hold every chunk between them (the leader killed then; "
              f"{k['not_covered']} trials never did) | {c['n']} | {num(c['p50'], 's', 2)} | "
              f"{num(c['p95'], 's', 2)} | {num(c['max'], 's', 2)} | | |")
        sv = k["leader_chunks_served_at_kill"]
        r.add(f"| leader's chunks served by then (the file has {k.get('chunks')}) | "
              f"{sv['n']} | {num(sv['p50'])} | {num(sv['p95'])} | {num(sv['max'])} | | |")
        r.add(f"| leader killed mid-fetch: survivors' longest silence ({k['trials']} trials, "
              f"{k['trials_with_jump']} with a jump) | {s['n']} | {num(s['p50'], 'ms', 2)} | "
              f"{num(s['p95'], 'ms', 2)} | {num(s['max'], 'ms', 2)} | 0 | "
              f"{met(k['silence_met'])} |")
        r.row("9 library", "leader killed while followers fetch: survivors' longest silence",
              num(s["p50"], "ms", 2), num(s["p95"], "ms", 2), num(s["max"], "ms", 2), "0 ms",
              k["silence_met"], f"{k['trials']} trials, {k['trials_with_jump']} with a jump")
        r.add(f"| survivors that completed their fetch from each other | "
              f"{k['survivors']} | | | {k['survivors_complete']} of {k['survivors']} | all | "
              f"{met(k['complete_met'])} |")
        ca = k["complete_after_kill_s"]
        r.add(f"| kill → every survivor's fetch complete | {ca['n']} | {num(ca['p50'], 's', 2)} "
              f"| {num(ca['p95'], 's', 2)} | {num(ca['max'], 's', 2)} | | |")
        r.row("9 library", "survivors complete their fetches from each other", "", "",
              f"{k['survivors_complete']} of {k['survivors']}", "all", k["complete_met"],
              "leader killed once the survivors held every chunk between them, "
              f"{num(c['p50'], 's', 1)} after play (max {num(c['max'], 's', 1)})")
    ix = parts.get("index")
    if ix and "error" not in ix:
        for key, label in (("first", "first start (no index)"),
                           ("second", "second start (index)")):
            x = ix[key]
            judged = key == "second"
            for fig, what in (("listed_s", "→ `status` lists every track"),
                              ("listening_s", "→ listening (log)")):
                s = x[fig]
                on = judged and fig == "listed_s"
                r.add(f"| {ix['files']} files, {label} {what} | {s['n']} | {num(s['p50'], 's', 2)} "
                      f"| {num(s['p95'], 's', 2)} | {num(s['max'], 's', 2)} | "
                      f"{'≤ 2 s' if on else ''} | {met(ix['met']) if on else ''} |")
            r.add(f"| {ix['files']} files, {label}: RSS after start | {x['rss_mib']['n']} | "
                  f"{num(x['rss_mib']['p50'], 'MiB')} | | {num(x['rss_mib']['max'], 'MiB')} | | |")
        r.add(f"| index file size | 1 | | | {ix['index_bytes'] / 1e6:.1f} MB | | |")
        f, s2 = ix["first"]["listed_s"], ix["second"]["listed_s"]
        r.row("9 library", f"{ix['files']} files, second start → `status` lists every track",
              num(s2["p50"], "s", 2), "–", num(s2["max"], "s", 2),
              f"≤ {ix['target_second_s']:.0f} s", ix["met"],
              f"first start {num(f['max'], 's', 2)}; RSS {num(ix['second']['rss_mib']['max'], 'MiB')}"
              f"; index {ix['index_bytes'] / 1e6:.1f} MB")
    r.add("")


def control_section(r: Report, data: Optional[dict]) -> None:
    r.add("## 10. Control: MPD clients and the web page", "")
    r.add("**Method** (`bench/control.py`). 3 nodes on loopback play the counting track, outputs "
          "read by skew_probe as in section 2. *mpc*: `mpc pause` and `mpc play` run against the "
          "MPD port of follower B, 0.25 s apart; per command and node, the audible instant of "
          "the first changed frame minus the instant mpc was started. *Web*: the pause and play "
          "buttons of B's page clicked in headless Chromium through the DevTools protocol, timed "
          "from the click. *Idle*: 100 MPD clients wait in `idle` on B; `volume` and "
          "`pause`/`resume` typed on A's prompt → each client's `changed:` line; B's CPU and RSS "
          "over 10 s with the 100 clients connected, against 10 s without.", "")
    if not data:
        r.add("*Not run.*", "")
        return
    r.add("| figure | samples | p50 | p95 | max | target | |", "|---|---:|---:|---:|---:|---|---|")
    for part, title in (("mpc", "`mpc` on a follower's MPD port"), ("web", "click on a follower's web page")):
        groups = data.get(part)
        if not groups:
            continue
        for kind, verb in (("pause", "output stops"), ("resume", "output resumes")):
            g = groups[kind]
            s = g["reaction_ms"]
            target = f"≤ {data['reaction_target_ms']:.0f} ms"
            r.add(f"| {title}: {kind} → every node's {verb} | {s['n']} | {num(s['p50'], 'ms')} | "
                  f"{num(s['p95'], 'ms')} | {num(s['max'], 'ms')} | {target} | {met(g['met'])} |")
            r.row("10 control", f"{title}: {kind} → every node's {verb}", num(s["p50"], "ms"),
                  num(s["p95"], "ms"), num(s["max"], "ms"), target, g["met"],
                  f"{g['missing']} missing" if g["missing"] else "")
    idle = data.get("idle")
    if idle:
        s = idle["changed_ms"]
        target = f"≤ {data['idle_target_ms']:.0f} ms (all)"
        r.add(f"| {idle['clients']} MPD clients in idle: a change → each `changed:` | {s['n']} | "
              f"{num(s['p50'], 'ms')} | {num(s['p95'], 'ms')} | {num(s['max'], 'ms')} | {target} | "
              f"{met(idle['met'])} |")
        r.row("10 control", f"{idle['clients']} MPD clients in idle: a change → every client told",
              num(s["p50"], "ms"), num(s["p95"], "ms"), num(s["max"], "ms"), target, idle["met"],
              f"{idle['missing']} missing" if idle["missing"] else "")
        w, wo = idle["with_clients"], idle["without_clients"]
        r.add("", f"B with the {idle['clients']} idle clients: CPU {w['cpu_percent']} % "
              f"(without: {wo['cpu_percent']} %), RSS {w['VmRSS'] / 1024:.1f} MiB "
              f"(without: {wo['VmRSS'] / 1024:.1f} MiB).")
    r.add("")


def limits_section(r: Report) -> None:
    r.add("## Limits of the method", "",
          "- **Probe wake-up jitter.** The probe knows a block only when epoll has woken it; "
          "on this virtual machine that is 40–80 µs after the write at the median, more when its "
          "CPU was idle, and it differs from writer to writer with the CPU each one ran on. "
          "Measured by hand (3 metronomes sleeping to each deadline, 12 runs of 8–10 s while "
          "builds ran beside them, the writes stamped by perf as in section 1): skew p95 "
          "20–152 µs by the probe's stamps, 16–163 µs by the kernel's stamps of the same writes; "
          "the probe's stamps added a median of 16 µs to the p95, up to 60 µs (and 9–11 µs less "
          "in 2 runs: one wake-up for several writers stamps them alike). So the targets are "
          "judged at the writes' instants (section 1, *At the writes*); the probe's figures stay "
          "beside them. The per-bucket median removes most of the rest of single blocks' noise "
          "(column *block jitter*: |block − its node's bucket median|).",
          "- **A FIFO is not a sound card.** The file output writes each block at its deadline "
          "from a sleeping thread; a DAC consumes samples at exact instants. Skew here includes "
          "the output thread's wake-up latency (measured with the kernel's write stamps: a "
          "metronome wrote 52–170 µs after its deadline at the median, differing between "
          "writers), which real hardware would not add (and excludes the driver and DAC "
          "latency, which `--latency-ms` must cover). Waking a learnt margin early and polling "
          "the clock for the rest was tried: 3 metronomes then wrote 1–6 µs after their "
          "deadlines at the median (skew at the writes p95 28–37 µs against 12–180 µs sleeping, "
          "alternating runs), but in a playing cluster the output threads' polls, at one "
          "real-time priority on 2 cores, delayed each other's wake-ups, the learnt margins grew "
          "to 85–154 µs and the output thread cost 1.0–1.7 % of a core instead of ~0.5 % (and "
          "the key benchmark's CPU per node 1.96 % instead of 0.98 %): not kept. What is kept "
          "wakes early by the median of the thread's own wake-up latency and writes at once, "
          "without polling (docs/audio.md, *Waking early by the learnt latency*): no extra CPU, "
          "and in alternating runs 3 nodes' skew at the writes p95 44.5–62.2 → 32.3–40.2 µs, "
          "the metronomes' (j3) 80.7–113.5 → 40.9–55.6 µs.",
          "- **Platform floor.** Part of what the probe calls skew belongs to the platform: the "
          "output threads and the probe wake late by tens of µs, in stretches, and with N "
          "writers on 2 cores they take turns. Scenarios (i) and (j) measure that part on its "
          "own: metronomes write the counting track through the same file output from one T0 on "
          "one kernel clock, at the nodes' phases, so whatever skew the probe sees between them "
          "is wake-up and scheduling latency, none of it synchronisation. A node scenario's skew "
          "minus its floor (as many writers, same settle and measure lengths, same stall "
          "accounting) is what the product adds. A floor is measured in another window than its "
          "node scenario, so the run-to-run spread (below) applies to the difference too: in "
          "the two runs with floors before this report's, node − floor at p95 ranged from −33 to "
          "+56 µs (the +56 µs in a window with 223 platform stalls). On this virtual machine "
          "the floor is mostly how fast a virtual CPU wakes. Measured by hand (two metronomes "
          "and the probe pinned with `taskset`, 10 s, twice): a metronome on the probe's CPU "
          "reached the probe 36–61 µs after its frames' instant (median), one on the other CPU "
          "60–96 µs, so writers that the scheduler keeps on different CPUs stay tens of µs "
          "apart. And an idle CPU wakes more slowly: the metronomes alone (j) did no better than "
          "beside a playing cluster (i), 3 of them clearly worse (p95 75–76 µs against 38–58 µs "
          "in three of four runs); with two SCHED_IDLE busy loops keeping both CPUs awake, (j3) "
          "gave p95 37 and 29 µs, against 71 and 36 µs without, in alternating runs.",
          "- **Frame quantisation.** The file output moves each block by the part of a frame "
          "the schedule falls between two output slots (docs/playback.md), so the frames "
          "are written on the schedule's grid; a device output cannot, and there each node is "
          "off by up to half a frame (±10.4 µs).",
          "- **One host.** Every node shares the same kernel clock; libfaketime fakes clocks in "
          "user space only (offsets and rates, not the oscillator noise of real machines); the "
          "delay proxy is user space (asyncio timers, ~1 ms resolution, order preserving).",
          "- **Status polling** gives upper bounds with the resolution of one prompt round trip; "
          "log timestamps have 1 ms resolution.",
          "- **Run-to-run spread.** Write lateness comes in stretches of seconds, so the loopback "
          "skew p95 of one run depends on when they fall. Before the output threads and the "
          "probe ran at real-time priority without timer slack, six full runs on this machine "
          "gave p95 33–82 µs for (a) and 43–95 µs for (b), mostly the 50 µs default timer slack "
          "of the sleeping threads; since then, runs gave 25–30 µs for (a) and 38–45 µs for "
          "(b), each run's clock estimates staying within ~2–9 µs of the true offset of 0. One "
          "run against the 50 µs target is a sample, not a verdict.",
          "- **Shared machine.** Other processes (builds, test suites) running at the same time "
          "show up in the tails: the load average at the start of each benchmark is in "
          "report.json.",
          "- **Null sinks are not sound cards (section 7).** A null sink plays on the server's "
          "timer, and its monitor says when by the server's own account: the figures check that "
          "each output turns the device's report into the right instant, not a DAC's analogue "
          "latency. The ALSA figures are ALSA through its pulse plugin, whose delay is libpulse's "
          "interpolated latency; a real `hw:` device reports the kernel's pointer instead, which "
          "no machine here has.", "")


def reading_section(r: Report, results: "dict[str, Any]") -> None:
    missed = [row for row in r.rows if row["met"] is False]
    r.add("## Reading", "")
    if not missed:
        r.add("Every figure with a target met it in this run.", "")
        return
    r.add("Missed in this run, and why (from the data above):", "")
    bullets: "dict[str, list[str]]" = {}
    for row in missed:
        why = ""
        text = row["measurement"]
        figure = f"{row['max']} against {row['target']}"
        if text.startswith("RSS"):
            cost = results.get("cost") or {}
            small = [x for x in cost.get("runs", []) if x["track_s"] < 60]
            base = (f" With a {small[0]['track_s']} s track the same node takes "
                    f"{small[0]['playing']['rss_mib']['max']} MiB.") if small else ""
            big = [x for x in cost.get("runs", []) if x["track_s"] >= 60]
            idle = (f" Idle (nothing open) the same nodes take "
                    f"{big[0]['idle']['rss_mib']['max']} MiB, and the peak while decoding is "
                    f"{big[0]['playing']['hwm_mib_max']} MiB.") if big else ""
            why = ("a playing node holds up to three open tracks, each a window of about 11 s "
                   "of decoded PCM, on top of a baseline of code, heap and thread stacks."
                   f"{idle}{base}")
        elif text.startswith("(") and "skew" in row["section"]:
            skew = (results.get("skew") or {}).get("scenarios", {})
            key = text[1]
            s = skew.get(key, {})
            clock = s.get("clock_offset_estimate_abs_us", {})
            offsets = [abs(p["offset_from_first_us"]) for p in s.get("per_node", {}).values()]
            sk = s.get("skew_us", {})
            budget = ""
            if clock:
                budget = (f"What the synchronisation itself can explain between two nodes is about "
                          f"2 × {clock.get('max')} µs of clock estimate error (the largest "
                          f"follower's `status` showed at the end: on one host the true offset "
                          f"is 0) = {round(2 * clock.get('max'), 1)} µs. ")
            elif key in ("c", "g"):
                budget = ("Under libfaketime the clock error cannot be read off `status` (the "
                          "true offsets are the faked ones); the drifting nodes follow their "
                          "100 ppm by moving their pace, not by repeating or dropping frames. ")
            moved = ("No node jumped: the engines only slewed single frames (counts above)."
                     if s.get("jumps_total") == 0 else f"Jumps: {s.get('jumps_total')}.")
            figure = f"p95 {sk.get('p95')} µs, max {sk.get('max')} µs against {row['target']}"
            late = s.get("write_lateness_us")
            split = ""
            if late:
                split = (f"The writes reached the probe {late['p50']} µs (p50) / {late['p95']} µs "
                         "(p95) after their node's earliest phase, in stretches of up to seconds "
                         "that differ from node to node (output thread or probe woken late on 2 "
                         "shared cores): that timing, not the frames chosen, is what exceeds the "
                         "budget above. ")
            why = (f"{budget}{split}"
                   f"The nodes' median offsets from A were up to {round(max(offsets), 1)} µs "
                   f"and single blocks scatter by {s.get('block_jitter_us', {}).get('p95')} µs "
                   f"(p95) around their node's median (see Limits). {moved}"
                   f"{floor_sentence(results, key)}")
            if key == "d":
                why = (f"with 10 ms ± 5 ms jitter the followers' clock "
                       f"estimates were {clock.get('max')} µs off at the end (true offset 0): "
                       "the estimate error itself, which falls like jitter / samples "
                       "(docs/clock.md).")
        elif "survivors' longest gap" in text and row["max"].startswith("0.0 ms"):
            fo = results.get("failover") or {}
            kind = "kill" if text.startswith("kill") else "stop"
            bad = [t for t in fo.get("trials", []) if t["kind"] == kind and t.get("audio")
                   and t["audio"].get("jumps", 0) > 0]
            why = ("jumps (probe, frame to frame) in " + "; ".join(
                f"{kind} #{t['trial']}: " + ", ".join(
                    f"{n} {p.get('probe_jumps')} (largest {p.get('probe_longest_jump_frames')} "
                    f"frames)" for n, p in t["audio"]["per_survivor"].items()
                    if p.get("probe_jumps")) for t in bad) + ".")
        elif "survivors' longest gap" in text:
            fo = results.get("failover") or {}
            kind = "kill" if text.startswith("kill") else "stop"
            gaps = [t for t in fo.get("trials", []) if t["kind"] == kind and t.get("audio")
                    and t["audio"]["longest_silence_ms"] > 0]
            parts = []
            trials = [t for t in fo.get("trials", []) if t["kind"] == kind]
            for t in gaps:
                silent = [n for n, p in t["audio"]["per_survivor"].items()
                          if p["longest_silence_ms"] > 0]
                before = [x for x in trials if x["trial"] == t["trial"] - 1]
                history = ""
                if before and before[0]["old"] == t["new"]:
                    history = (f"; {t['new']} was the leader frozen in the trial before, which "
                               f"after its SIGCONT followed {before[0]['new']}")
                parts.append(f"{kind} #{t['trial']} ({t['old']} stopped, {t['new']} took over "
                             f"{'playback: ' + t['takeover'] if t.get('takeover') else ''}; "
                             f"silent: {', '.join(silent)}{history})")
            why = ("; ".join(parts) + ". Every survivor went silent at once because the new "
                   "leader took over a stopped state: a node takes over \"stopped\" when it "
                   "holds no synced state of the previous leader (docs/playback.md, Takeover). "
                   "In the reproductions examined while writing this benchmark (commit 7b43781), "
                   "that node had followed the new leader after its own SIGCONT but never "
                   "applied its state (no \"synced with the leader\" line in its log after "
                   "\"following\"): its one state request was lost and not retried (commit "
                   "99b55c7 makes followers retry it). A node bug, not a measurement artefact; "
                   "`play 1` was typed again before the next trial (Anomalies).")
        elif row["section"] == "7 real outputs":
            ro = results.get("real_outputs") or {}
            worst = ro.get("worst_skew_p95_us", {})
            figure = (f"p95 {row['p95']} (median of {ro.get('trials')} trials), worst trial "
                      f"{worst.get('F,P,A')} µs, against {row['target']}")
            why = (f"file + pulse alone: worst trial {worst.get('F,P')} µs; file + alsa: "
                   f"{worst.get('F,A')} µs. The alsa node plays through ALSA's pulse plugin, which "
                   "times the PCM with libpulse's interpolated latency; its smoother wanders by up "
                   "to about 2 ms for seconds at a time (the pulse output, timed from the server's "
                   "raw updates, does not). Its median offset met the target (rows above). On a "
                   "real ALSA device the kernel's pointer would be read instead (not available "
                   "here: see Limits).")
        elif row["section"] == "8 cluster key":
            figure = (f"{', '.join(f'{k} {row[k]}' for k in ('p50', 'p95', 'max') if row[k])} "
                      f"against {row['target']}")
            why = (f"open and keyed rounds alternate in one run ({row['note']}); section 8 "
                   "states the rule, and the per-round figures there show the run-to-run spread.")
        elif text.startswith("CPU"):
            why = "see the per-thread split above."
        elif row["section"] == "9 library":
            why = ("section 9 gives the parts' figures; report.json holds every trial, with each "
                   "node's fetch (chunks held, where they came from, chunks no live peer held).")
        bullets.setdefault(why, []).append(f"{row['section']}: {text}** — {figure}")
    for why, whats in bullets.items():
        r.add(f"- **{'; **'.join(whats)}: {why}")
    r.add("")


# ---- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", default=str(rig.RESULTS))
    parser.add_argument("--command", default="bench/run.sh")
    parser.add_argument("--duration-s", type=float, default=None)
    parser.add_argument("--docs", default=None, help="also write the Markdown here")
    parser.add_argument("--commit", default=None,
                        help="the commit the binaries were built from (default: HEAD now)")
    parser.add_argument("--dirty", choices=("yes", "no"), default=None,
                        help="whether the tree had uncommitted changes at build time")
    args = parser.parse_args()
    folder = Path(args.results)
    names = ("skew", "reaction", "join", "failover", "cost", "fanout", "real_outputs", "security",
             "library", "control", "lan")
    results = {name: load(folder, name) for name in names}
    machine = rig.machine_info()
    if args.commit:
        machine["git_head"] = args.commit
    if args.dirty:
        machine["dirty"] = args.dirty == "yes"
    rep = Report()
    body = Report()
    body.rows = rep.rows
    skew_section(body, results["skew"])
    reaction_section(body, results["reaction"])
    join_section(body, results["join"])
    failover_section(body, results["failover"])
    cost_section(body, results["cost"])
    fanout_section(body, results["fanout"])
    real_outputs_section(body, results["real_outputs"])
    security_section(body, results["security"])
    library_section(body, results["library"])
    control_section(body, results["control"])
    lan_section(body, results["lan"])
    limits_section(body)
    reading_section(body, results)

    loads = {name: (data or {}).get("machine", {}).get("loadavg") for name, data in
             results.items()}
    duration = f", {args.duration_s / 60:.1f} min" if args.duration_s else ""
    head = [
        "# Benchmarks",
        "",
        "Benchmarks measure; they do not pass or fail (the system tests assert limits). Every "
        "figure below comes from real `node` processes on 127.0.0.1, driven through their "
        "prompt and measured on their actual output.",
        "",
        f"- **Command:** `{args.command}` (builds Release into `build-bench/` through "
        f"`scripts/build.sh`, runs every benchmark, writes `bench/results/report.{{md,json}}` "
        f"and copies the Markdown here{duration})",
        f"- **Commit:** `{machine['git_head']}`"
        f"{' (with uncommitted changes)' if machine['dirty'] else ''}, as built by the "
        "command",
        f"- **Date:** {machine['date']}",
        f"- **Machine:** {machine['cpu'] or 'unknown CPU'}, {machine['nproc']} CPUs, "
        f"`{machine['uname']}`, Python {machine['python']}",
        "- **Load average at the start of each benchmark:** "
        + ", ".join(f"{k} {v}" for k, v in loads.items() if v),
        "",
        "## Summary",
        "",
        "| # | measurement | p50 | p95 | max | target | |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for row in rep.rows:
        note = f" ({row['note']})" if row["note"] else ""
        head.append(f"| {row['section']} | {row['measurement']}{note} | {row['p50']} | "
                    f"{row['p95']} | {row['max']} | {row['target']} | {met(row['met'])} |")
    head += ["", "Details, methods and every figure per node follow; the JSON "
             "(`bench/results/report.json`) holds every sample.", ""]
    markdown = "\n".join(head + body.md).rstrip() + "\n"
    (folder / "report.md").write_text(markdown)
    report = {"machine": machine, "command": args.command, "duration_s": args.duration_s,
              "summary": rep.rows, "results": results}
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    if args.docs:
        Path(args.docs).write_text(markdown)
    print(markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
