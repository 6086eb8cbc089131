#!/usr/bin/env python3
"""Library benchmark: tracks fetched from peers (docs/library.md).

    python3 bench/library.py [--node PATH] [--probe PATH] [--only play,transfer,upload,kill,index]
                             [--quick]

Nodes that lack a track fetch it in 256 KiB chunks over their content links while they play
it. The track is a 5-minute FLAC made once into bench/results/tracks/flac-300s/: the
self-numbering track of skew_probe at 24 bits, each sample's top 16 bits the counting track's
and its low 7 bits noise, so that it compresses like music (~28 MB) and still decodes to the
counting track exactly (a 24-bit FLAC is read as 16 bits by dropping the low 8). Only the
leader has it; every other node starts with an empty `--tracks` directory and a fresh cache.
Parts:

  play      `play 1` typed on the leader -> every node audible and within 1 ms of the leader
            (the first such block of each node; the figure of a trial is the last node's),
            3 nodes on loopback and 3 nodes with BOTH ports of every node (cluster and content)
            behind tools/delay_proxy.py, 10 ms +- 5 ms each way; a fresh cluster (fresh caches)
            each trial. Targets: <= 500 ms loopback, <= 1 s through the proxies (median and max).
  transfer  8 nodes (leader + 7 empty), every node's upload capped (--upload-limit-mb) so the
            fetches last through the window: skew over the window as bench/skew.py measures it
            (target p95 <= 50 us, outside platform stalls), then pause / resume typed on the
            leader, reaction as bench/reaction.py measures it (target <= 100 ms).
  upload    leader + 8 empty nodes play the track (default upload limit): leader's bytes_served
            / file size once every node has the whole file (target <= 2x); where each node's
            chunks came from.
  kill      leader + 4 empty nodes playing while fetching; the leader gets kill -9 as soon as
            the survivors hold every chunk between them (the union of their fetches'
            `held_ranges` in `status --json`, polled every 0.1 s from play): play -> that
            moment, the longest silence in each survivor's output (target 0, as
            bench/failover.py), whether the survivors complete their fetches from each other
            (target: all) and how long after the kill.
  index     a library of 10,000 tiny WAVs (bench/make_library.py, made once): first start (no
            index) and second start (index from the first) of a node: launch -> `status` lists
            every track, launch -> `listening` (log), RSS after start, index file size.
            Target: second start <= 2 s.

Writes bench/results/library.json.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Optional

import rig
from rig import HOST, Rig, command_text, mono_us, summary
from join import log_times
from reaction import reactions, SPACING_S
from sync_rig import free_port, stalled_buckets  # on sys.path once rig is imported

TRACK_S = 300
PLAY_TARGET_MS = {"loopback": 500.0, "proxy": 1000.0}
SKEW_TARGET_P95_US = 50.0
REACTION_TARGET_MS = 100.0
UPLOAD_TARGET_RATIO = 2.0
SECOND_START_TARGET_S = 2.0
LIBRARY_FILES = 10_000
PROXY = {"delay_ms": 10, "jitter_ms": 5}
IN_SYNC_US = 1000
PARTS = ("play", "transfer", "upload", "kill", "index")


# ---- the track and the library --------------------------------------------------------------


def flac_track(probe: str, seconds: int = TRACK_S) -> Path:
    """A directory holding exactly one FLAC: the counting track at 24 bits with 7 bits of noise
    under every sample (made once, cached; deterministic)."""
    folder = rig.RESULTS / "tracks" / f"flac-{seconds}s"
    path = folder / f"count-{seconds}s.flac"
    if path.exists():
        return folder
    wav = rig.track_dir(probe, seconds) / f"count-{seconds}s.wav"
    tmp = folder.parent / f".count-{seconds}s.flac.tmp"
    print(f"-- making {path} from {wav.name}", flush=True)
    proc = subprocess.Popen(["flac", "--silent", "--force", "--force-raw-format",
                             "--endian=little", "--sign=signed", "--channels=2", "--bps=24",
                             "--sample-rate=48000", "-5", "-o", str(tmp), "-"],
                            stdin=subprocess.PIPE)
    assert proc.stdin is not None
    rng = random.Random(seconds)
    low7 = bytes(b & 0x7F for b in range(256))
    with open(wav, "rb") as src:
        src.seek(44)
        while True:
            data = src.read(rig.RATE * 4 * 10)
            if not data:
                break
            n = len(data) // 2  # 16-bit samples -> 24-bit: noise, low byte, high byte
            out = bytearray(3 * n)
            out[0::3] = rng.randbytes(n).translate(low7)
            out[1::3] = data[0::2]
            out[2::3] = data[1::2]
            proc.stdin.write(out)
    proc.stdin.close()
    if proc.wait() != 0:
        raise rig.HarnessError("flac could not encode the track")
    folder.mkdir(parents=True, exist_ok=True)
    tmp.rename(path)
    return folder


def track_file(folder: Path) -> Path:
    return next(folder.glob("*.flac"))


def big_library(files: int) -> Path:
    """bench/make_library.py's N tiny WAVs, made once into bench/results/library-N/."""
    folder = rig.RESULTS / f"library-{files}"
    done = rig.RESULTS / f"library-{files}.done"
    if not done.exists():
        print(f"-- making {files} files in {folder}", flush=True)
        subprocess.run([sys.executable, str(rig.REPO / "bench" / "make_library.py"), str(folder),
                        str(files)], check=True, stdout=subprocess.DEVNULL)
        done.write_text(f"{files}\n")
    return folder


# ---- status helpers -------------------------------------------------------------------------


def library_of(node: rig.Node) -> "dict[str, Any]":
    return node.status(timeout=5.0)["library"]


def fetch_of(lib: "dict[str, Any]", name: str) -> Optional[dict]:
    for f in lib.get("fetches", []):
        if f.get("name") == name:
            return f
    return None


def fetch_done(lib: "dict[str, Any]", name: str, size: int) -> bool:
    """The node holds the whole file: its fetch says complete, or it has no fetch left for it
    and fetched at least the file's size."""
    f = fetch_of(lib, name)
    if f is not None:
        return bool(f.get("complete")) or f.get("held") == f.get("chunks")
    return lib.get("bytes_fetched", 0) >= size


def wait_catalog(nodes: "list[rig.Node]", tracks: int = 1, timeout: float = 20.0) -> float:
    """Until every node lists the cluster's tracks (the followers have pulled the catalog)."""
    def check() -> Any:
        short = [f"{n.name}: {lib['cluster_tracks']}" for n in nodes
                 if (lib := library_of(n))["cluster_tracks"] < tracks]
        return True if not short else "; ".join(short)
    return rig.wait_until(check, timeout, poll=0.05, what="catalog everywhere")


def fetch_view(lib: "dict[str, Any]", name: str, names_by_id: "dict[str, str]") -> "dict":
    f = fetch_of(lib, name) or {}
    return {"held": f.get("held"), "chunks": f.get("chunks"), "complete": f.get("complete"),
            "unavailable": f.get("unavailable"), "problem": f.get("problem") or None,
            "received_from": {names_by_id.get(k, k): v
                              for k, v in (f.get("received_from") or {}).items()},
            "bytes_fetched": lib.get("bytes_fetched"), "bytes_served": lib.get("bytes_served"),
            "chunks_served": lib.get("chunks_served"), "corrupt_chunks": lib.get("corrupt_chunks")}


def start_nodes(r: Rig, names: "list[str]", tracks: Path, *, fifos: "dict[str, Path] | None",
                upload_mb: Optional[float] = None, leader_upload_mb: Optional[float] = None,
                proxied: bool = False, log_level: str = "info") -> "list[rig.Node]":
    """names[0] leads with the track; the others bootstrap from it with an empty --tracks
    directory and their own fresh cache; upload_mb caps the followers' uploads, leader_upload_mb
    the leader's (default: upload_mb; None: the node's default). proxied: every node's cluster port and content port
    are reached through a delay proxy of their own (--advertise-port, --advertise-content-port)."""
    empty = r.workdir / "empty-tracks"
    empty.mkdir(exist_ok=True)
    nodes: "list[rig.Node]" = []
    bootstrap: Any = None
    for i, name in enumerate(names):
        extra = ["--cache-dir", str(r.workdir / f"{name}.cache")]
        limit = (leader_upload_mb if leader_upload_mb is not None else upload_mb) if i == 0 \
            else upload_mb
        if limit is not None:
            extra += ["--upload-limit-mb", str(limit)]
        common: "dict[str, Any]" = {
            "tracks": tracks if i == 0 else empty,
            "output": f"file:{fifos[name]}" if fifos else "null"}
        if proxied:
            port, content = free_port(), free_port()
            pport = r.proxy(port, seed=11 + 2 * i, **PROXY)
            pcontent = r.proxy(content, seed=12 + 2 * i, **PROXY)
            extra += ["--content-port", str(content), "--advertise-content-port", str(pcontent)]
            node = r.node(name, leader=i == 0, bootstrap=bootstrap, port=port,
                          advertise_port=pport, extra=extra, log_level=log_level, **common)
            if i == 0:
                bootstrap = (HOST, pport)
        else:
            node = r.node(name, leader=i == 0, bootstrap=bootstrap, extra=extra,
                          log_level=log_level, **common)
            if i == 0:
                bootstrap = node
        nodes.append(node)
    r.wait_mesh(nodes, timeout=30)
    r.wait_synced(nodes, timeout=30)
    wait_catalog(nodes)
    return nodes


def wait_audible(r: Rig, fifos: "dict[str, Path]", tag: str, timeout: float = 60.0) -> float:
    """Until every node's output is audible: short probes (1.2 s) one after another, until one
    saw every node write only audible blocks over its last 0.5 s; returns the time it took."""
    t0 = time.monotonic()
    for attempt in range(1000):
        probe = r.probe(f"{tag}-audible{attempt}", fifos, 1.2)
        probe.finish()
        end = max((a for _, a, _, _ in probe.rows), default=0)
        blocks = rig.by_node(probe.rows)
        quiet = [n for n in fifos
                 if not (tail := [b for b in blocks.get(n, []) if b[0] >= end - 500_000])
                 or any(b[2] < rig.BLOCK for b in tail)]
        if not quiet:
            return time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            raise rig.HarnessError(f"not audible within {timeout} s: {', '.join(quiet)}")
    raise rig.HarnessError("not audible")


def play(leader: rig.Node) -> "tuple[int, str]":
    t0 = mono_us()
    answer = command_text(leader, "play 1", timeout=5.0)
    if not answer.startswith("ok"):
        raise rig.HarnessError(f"play 1 on {leader.name}: {answer}")
    return t0, answer


def lead_ms(answer: str) -> Optional[int]:
    m = re.search(r"in (\d+) ms", answer)
    return int(m.group(1)) if m else None


# ---- 1. play of a track no follower has -----------------------------------------------------


def in_sync_instants(rows: "list[tuple[str, int, int, int]]", names: "list[str]", t0: int,
                     ref_name: str) -> "dict[str, dict[str, Any]]":
    """Per node: first audible frame after t0, and the first block whose frame-zero instant is
    within IN_SYNC_US of the reference node's (its median over the window), both − t0 in ms;
    and the largest offset after that (median per 100 ms bucket)."""
    blocks = rig.by_node(rows)
    ref_zeros = sorted(z for b in rig.exact(blocks.get(ref_name, []))
                       if b[0] >= t0 and (z := rig.zero_instant(b)) is not None)
    ref = ref_zeros[len(ref_zeros) // 2] if ref_zeros else None
    out = {}
    for name in names:
        mine = [b for b in blocks.get(name, []) if b[0] >= t0]
        audible = rig.first_change(mine, t0, to_silence=False)
        in_sync = None
        after: "dict[int, list[float]]" = {}
        for b in rig.exact(mine):
            z = rig.zero_instant(b)
            if z is None or ref is None:
                continue
            if in_sync is None:
                if abs(z - ref) <= IN_SYNC_US:
                    in_sync = b[0] + (rig.BLOCK - b[2]) * 1e6 / rig.RATE
            else:
                after.setdefault(b[0] // 100_000, []).append(z - ref)
        out[name] = {
            "audible_ms": None if audible is None else round((audible - t0) / 1000, 1),
            "in_sync_ms": None if in_sync is None else round((in_sync - t0) / 1000, 1),
            "max_offset_after_us": round(max((abs(sorted(v)[len(v) // 2])
                                              for v in after.values()), default=0.0), 1)}
    return out


def play_trial(args: argparse.Namespace, tracks: Path, mode: str, trial: int,
               window_s: float) -> "dict[str, Any]":
    names = ["A", "B", "C"]
    name = track_file(tracks).name
    with Rig(f"library-play-{mode}{trial}", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        nodes = start_nodes(r, names, tracks, fifos=fifos, proxied=mode == "proxy",
                            log_level=args.log_level)
        ids = {n.id: n.name for n in nodes}
        probe = r.probe(f"play-{mode}{trial}", fifos, window_s)
        time.sleep(0.3)  # the nodes reopen their FIFOs (they retry every 100 ms)
        t0, answer = play(nodes[0])
        probe.finish()
        libs = rig.ask_all(nodes, "status --json", timeout=5.0)
    per = in_sync_instants(probe.rows, names, t0, "A")
    values = [p["in_sync_ms"] for p in per.values()]
    return {"trial": trial, "lead_ms": lead_ms(answer), "per_node": per,
            "all_in_sync_ms": None if None in values else max(values),
            "all_audible_ms": None if any(p["audible_ms"] is None for p in per.values())
            else max(p["audible_ms"] for p in per.values()),
            "fetch_after_window": {n.name: fetch_view(s["library"], name, ids)
                                   for n, s in zip(nodes[1:], libs[1:])}}


def part_play(args: argparse.Namespace, tracks: Path) -> "dict[str, Any]":
    out: "dict[str, Any]" = {}
    trials = 1 if args.quick else args.trials
    window = 3.0 if args.quick else 4.0
    for mode in ("loopback", "proxy"):
        print(f"-- library play, {mode}: {trials} trials, {window} s windows", flush=True)
        records = []
        for trial in range(1, trials + 1):
            try:
                rec = play_trial(args, tracks, mode, trial, window)
            except rig.HarnessError as error:
                rec = {"trial": trial, "error": str(error)[:2000], "all_in_sync_ms": None}
            records.append(rec)
            print(f"   #{trial}: all in sync {rec.get('all_in_sync_ms')} ms "
                  f"(lead {rec.get('lead_ms')} ms; per node "
                  f"{ {n: p['in_sync_ms'] for n, p in rec.get('per_node', {}).items()} })"
                  + (f" FAILED: {rec['error'][:300]}" if "error" in rec else ""), flush=True)
        values = [x["all_in_sync_ms"] for x in records]
        got = [v for v in values if v is not None]
        s = summary(got)
        missing = len(values) - len(got)
        target = PLAY_TARGET_MS[mode]
        out[mode] = {"nodes": 3, "trials": trials, "window_s": window, "target_ms": target,
                     "proxy": PROXY if mode == "proxy" else None,
                     "all_in_sync_ms": s, "missing": missing,
                     "all_audible_ms": summary([x.get("all_audible_ms") for x in records]),
                     "lead_ms": summary([x.get("lead_ms") for x in records]),
                     "met": missing == 0 and s["n"] > 0 and s["max"] <= target,
                     "records": records}
    return out


# ---- 2. skew and reaction while transfers run -----------------------------------------------


def part_transfer(args: argparse.Namespace, tracks: Path) -> "dict[str, Any]":
    names = [chr(ord("A") + i) for i in range(8)]
    name = track_file(tracks).name
    skew_s = 6.0 if args.quick else 12.0
    cycles = 3 if args.quick else 8
    settle_s = 2.0
    upload, leader_upload = args.transfer_upload_mb, args.transfer_leader_upload_mb
    print(f"-- library transfer: 8 nodes, upload limit {leader_upload} MB/s (leader) / {upload} "
          f"MB/s (followers), skew {skew_s} s, "
          f"{cycles} pause/resume cycles", flush=True)
    with Rig("library-transfer", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        nodes = start_nodes(r, names, tracks, fifos=fifos, upload_mb=upload,
                            leader_upload_mb=leader_upload, log_level=args.log_level)
        ids = {n.id: n.name for n in nodes}
        play(nodes[0])
        r.wait_playing(nodes, timeout=20)
        audible_s = wait_audible(r, fifos, "transfer")
        time.sleep(settle_s)
        before = rig.ask_all(nodes, "status --json", timeout=5.0)
        seconds = skew_s + 2 * cycles * SPACING_S + 1.0
        stamps = rig.WriteStamps({n.name: n.proc.pid for n in nodes}, r.workdir)
        with stamps:
            probe = r.probe("transfer", fifos, seconds)
            t_probe = mono_us()
            time.sleep(skew_s)
            t_cmd0 = mono_us()
            at_end = rig.ask_all(nodes, "status --json", timeout=5.0)
            sent = []
            start = time.monotonic() + 0.2
            for i, kind in enumerate(k for _ in range(cycles) for k in ("pause", "resume")):
                delay = start + i * SPACING_S - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                t_cmd = mono_us()
                reply = command_text(nodes[0], kind, timeout=2.0)
                sent.append({"origin": "A", "role": "leader", "kind": kind, "t_us": t_cmd,
                             "reply_ms": round((mono_us() - t_cmd) / 1000, 3), "reply": reply})
            probe.finish()
        after = rig.ask_all(nodes, "status --json", timeout=5.0)

    # Skew over the window before the first command, as bench/skew.py: per 100 ms bucket,
    # targets judged outside platform stalls.
    t_from = t_probe + 300_000
    stalled = stalled_buckets((due, late) for due, late, _cpu in probe.stalls)
    every = rig.skew_from_raw(probe.rows, names, t_from, t_cmd0)
    clean = rig.skew_from_raw(probe.rows, names, t_from, t_cmd0, skip=stalled)
    blocks = rig.by_node(probe.rows)
    cont = {n: rig.continuity(blocks.get(n, []), t_from, t_cmd0) for n in names}
    records = reactions(sent, probe.rows, names)
    groups = {}
    for kind in ("pause", "resume"):
        mine = [x for x in records if x["kind"] == kind]
        vals = [v for x in mine for v in x["reaction_ms"].values() if v is not None]
        missing = sum(1 for x in mine for v in x["reaction_ms"].values() if v is None)
        s = summary(vals)
        groups[kind] = {"commands": len(mine), "reaction_ms": s, "missing": missing,
                        "last_node_ms": summary([x["last_node_ms"] for x in mine
                                                 if x["last_node_ms"] is not None]),
                        "met": s["n"] > 0 and missing == 0 and s["p95"] <= REACTION_TARGET_MS}

    size = track_file(tracks).stat().st_size

    def progress(statuses: "list[dict]") -> "dict[str, Any]":
        return {n.name: {**fetch_view(s["library"], name, ids),
                         "done": fetch_done(s["library"], name, size)}
                for n, s in zip(nodes[1:], statuses[1:])}
    during = progress(at_end)
    fetching_at_end = sum(1 for v in during.values() if not v["done"])
    judged = summary(clean)
    judged_at = f"probe arrival (writes not stamped: {stamps.reason})"
    probe_read = judged
    if not stamps.reason:  # as bench/skew.py: judged at the writes' kernel-stamped instants
        judged = summary(rig.skew_from_raw(stamps.stamp(probe.rows), names, t_from, t_cmd0,
                                           skip=stalled))
        judged_at = "write"
    out = {"nodes": 8, "upload_limit_mb": upload, "leader_upload_limit_mb": leader_upload, "all_audible_after_s": round(audible_s, 1),
           "settle_s": settle_s, "window_s": skew_s,
           "cycles": cycles, "skew_us": summary(every), "skew_outside_stalls_us": probe_read,
           "judged_at": judged_at, "skew_judged_us": judged,
           "platform_stalls": {"count": len(probe.stalls),
                               "worst_us": max((late for _, late, _ in probe.stalls), default=0),
                               "buckets_left_out": len(every) - len(clean)},
           "target_p95_us": SKEW_TARGET_P95_US,
           "skew_met": judged["n"] > 0 and judged["p95"] <= SKEW_TARGET_P95_US,
           "continuity": cont,
           "longest_silence_ms": max(c["longest_silence_ms"] for c in cont.values()),
           "discontinuities": sum(c["discontinuities"] for c in cont.values()),
           "reaction": groups, "reaction_target_ms": REACTION_TARGET_MS,
           "fetching_at_window_end": fetching_at_end,
           "fetch_at_window_start": progress(before), "fetch_at_window_end": during,
           "fetch_at_end": progress(after),
           "leader_bytes_served_at_window_end": at_end[0]["library"]["bytes_served"],
           "commands": records}
    print(f"   skew outside stalls, at the {judged_at}: p50 {judged['p50']} / p95 "
          f"{judged['p95']} / max {judged['max']} us ({len(probe.stalls)} stalls); at the "
          f"probe's reads p95 {probe_read['p95']} us; pause p95 "
          f"{groups['pause']['reaction_ms']['p95']} ms; fetching at window end: "
          f"{fetching_at_end} of 7 (held {[v['held'] for v in during.values()]}); all audible "
          f"{audible_s:.1f} s after play", flush=True)
    return out


# ---- 3. the leader's upload -----------------------------------------------------------------


def part_upload(args: argparse.Namespace, tracks: Path) -> "dict[str, Any]":
    fetchers = 8
    names = ["A"] + [f"F{i}" for i in range(1, fetchers + 1)]
    path = track_file(tracks)
    size = path.stat().st_size
    print(f"-- library upload: leader + {fetchers} empty nodes, default upload limit", flush=True)
    with Rig("library-upload", args.node, args.probe, args.keep_logs) as r:
        nodes = start_nodes(r, names, tracks, fifos=None)
        ids = {n.id: n.name for n in nodes}
        t0 = time.monotonic()
        play(nodes[0])
        # A node's fetch leaves `status` once it is complete: its last view is kept.
        last: "dict[str, dict]" = {}

        def check() -> Any:
            libs = rig.ask_all(nodes[1:], "status --json", timeout=5.0)
            for n, s in zip(nodes[1:], libs):
                if fetch_of(s["library"], path.name) is not None:
                    last[n.name] = fetch_view(s["library"], path.name, ids)
            left = [f"{n.name}: {(fetch_of(s['library'], path.name) or {}).get('held')}"
                    for n, s in zip(nodes[1:], libs) if not fetch_done(s["library"], path.name,
                                                                       size)]
            return True if not left else "; ".join(left)
        rig.wait_until(check, args.upload_timeout, poll=0.1, what="every fetch complete")
        done_s = time.monotonic() - t0
        libs = rig.ask_all(nodes, "status --json", timeout=5.0)
    leader = libs[0]["library"]
    per = {}
    for n, s in zip(nodes[1:], libs[1:]):
        view = fetch_view(s["library"], path.name, ids)
        if view["chunks"] is None and n.name in last:  # the fetch is over: its last view
            view.update({k: last[n.name][k] for k in ("held", "chunks", "received_from")})
            view["complete"] = True
            view["received_from_as_of_held"] = last[n.name]["held"]
        per[n.name] = view
    from_leader = {k: v["received_from"].get("A", 0) for k, v in per.items()}
    from_peers = {k: sum(c for p, c in v["received_from"].items() if p != "A")
                  for k, v in per.items()}
    ratio = leader["bytes_served"] / size
    out = {"fetchers": fetchers, "file_bytes": size, "chunks": next(iter(per.values()))["chunks"],
           "leader_bytes_served": leader["bytes_served"],
           "leader_chunks_served": leader["chunks_served"], "ratio": round(ratio, 2),
           "target_ratio": UPLOAD_TARGET_RATIO, "met": ratio <= UPLOAD_TARGET_RATIO,
           "all_complete_after_s": round(done_s, 1),
           "chunks_from_leader": summary(list(from_leader.values()), 0),
           "chunks_from_peers": summary(list(from_peers.values()), 0),
           "per_node": per,
           "peers_served_bytes": {n.name: s["library"]["bytes_served"]
                                  for n, s in zip(nodes[1:], libs[1:])}}
    print(f"   leader served {leader['bytes_served']} B = {ratio:.2f} x the file "
          f"({size} B); all complete after {done_s:.1f} s; chunks from the leader per node "
          f"{from_leader}", flush=True)
    return out


# ---- 4. the leader killed while followers fetch ---------------------------------------------


def held_chunks(lib: "dict[str, Any]", name: str, size: int, chunks: int) -> "set[int]":
    """The chunks a node holds, from its fetch's `held_ranges` (all of them once it is done).
    A list cut short (`held_ranges_truncated`) counts only what it lists: the union is then a
    lower bound, so the swarm is never judged to hold a chunk it lacks."""
    if fetch_done(lib, name, size):
        return set(range(chunks))
    held: "set[int]" = set()
    for first, last in (fetch_of(lib, name) or {}).get("held_ranges") or []:
        held.update(range(first, last + 1))
    return held


class CoverWatch:
    """Polls the survivors' `status --json` every 0.1 s on its own thread and notes the first
    moment the chunks they hold between them are the whole file (the origin's death would then
    lose nothing); `last` is the latest poll. Only this thread talks to the survivors while it
    runs."""

    def __init__(self, survivors: "list[rig.Node]", name: str, size: int, t0: float):
        self.survivors, self.name, self.size, self.t0 = survivors, name, size, t0
        self.chunks: Optional[int] = None
        self.covered_at: Optional[float] = None  # seconds after t0
        self.at_cover: "dict[str, Any]" = {}
        self.last: "dict[str, Any]" = {}
        self.polls = 0
        self.error: Optional[str] = None
        self.covered = threading.Event()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                self._poll()
                self._stop.wait(0.1)
        except rig.HarnessError as error:
            self.error = str(error)[:500]
            self.covered.set()

    def _poll(self) -> None:
        libs = [s["library"] for s in rig.ask_all(self.survivors, "status --json", timeout=5.0)]
        at = time.monotonic() - self.t0
        self.polls += 1
        if self.chunks is None:
            self.chunks = next((f["chunks"] for lib in libs
                                if (f := fetch_of(lib, self.name)) and f.get("chunks")), None)
        if self.chunks is None:
            return
        held = {n.name: held_chunks(lib, self.name, self.size, self.chunks)
                for n, lib in zip(self.survivors, libs)}
        union = set().union(*held.values())
        self.last = {"after_play_s": round(at, 2), "union": len(union),
                     "held": {k: len(v) for k, v in held.items()},
                     "done": {n.name: fetch_done(lib, self.name, self.size)
                              for n, lib in zip(self.survivors, libs)},
                     "missing_from_union": sorted(set(range(self.chunks)) - union)[:20],
                     "libs": libs}
        if self.covered_at is None and len(union) == self.chunks:
            self.covered_at = at
            self.at_cover = {k: v for k, v in self.last.items() if k != "libs"}
            self.covered.set()


def kill_trial(args: argparse.Namespace, tracks: Path, trial: int) -> "dict[str, Any]":
    names = ["A", "B", "C", "D", "E"]
    path = track_file(tracks)
    size = path.stat().st_size
    with Rig(f"library-kill{trial}", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        nodes = start_nodes(r, names, tracks, fifos=fifos, upload_mb=args.kill_upload_mb,
                            log_level=args.log_level)
        leader, survivors = nodes[0], nodes[1:]
        ids = {n.id: n.name for n in nodes}
        t_play = time.monotonic()
        play(leader)
        r.wait_playing(nodes, timeout=20)
        # From here on only the watch talks to the survivors, until the kill.
        watch = CoverWatch(survivors, path.name, size, t_play)
        try:
            audible_s = wait_audible(r, fifos, f"kill{trial}")
            probe = r.probe(f"kill{trial}", fifos, args.kill_max_wait + 0.7 + args.after_kill)
            t_probe = time.monotonic()
            time.sleep(0.7)  # the survivors' output before the kill
            # Kill the origin once the survivors hold every chunk between them (nothing is lost
            # with it), or at --kill-max-wait after play.
            watch.covered.wait(max(0.0, args.kill_max_wait - (time.monotonic() - t_play)))
        finally:
            watch.stop()
        if watch.error:
            raise rig.HarnessError(f"status of the survivors: {watch.error}")
        reason = "the survivors held every chunk" if watch.covered_at is not None else "max_wait"
        served = library_of(leader)["chunks_served"]
        at_kill = {n.name: {**fetch_view(lib, path.name, ids), "done": fetch_done(lib, path.name, size)}
                   for n, lib in zip(survivors, watch.last.get("libs", [{}] * len(survivors)))}
        t_kill = time.monotonic()
        leader.kill9()
        # The survivors' fetches: finished from each other, or stuck (chunks nobody holds). The
        # probe runs on meanwhile (to --kill-max-wait + --after-kill) and is read afterwards.
        deadline = time.monotonic() + args.complete_timeout
        done_at: "dict[str, float]" = {}
        while True:
            libs = rig.ask_all(survivors, "status --json", timeout=5.0)
            now = time.monotonic()
            done = [fetch_done(s["library"], path.name, size) for s in libs]
            for n, d in zip(survivors, done):
                if d and n.name not in done_at:
                    done_at[n.name] = round(now - t_kill, 2)
            stuck = [(fetch_of(s["library"], path.name) or {}).get("unavailable", 0) > 0
                     for s in libs]
            if all(done) or now > deadline:
                break
            # Chunks no live node holds: the fetch cannot finish (the node says so).
            if now - t_kill > 3.0 and all(d or x for d, x in zip(done, stuck)):
                break
            time.sleep(0.1)
        complete_s = max(done_at.values()) if all(done) else None
        probe.finish()
        final = {n.name: {**fetch_view(s["library"], path.name, ids),
                          "done": fetch_done(s["library"], path.name, size)}
                 for n, s in zip(survivors, libs)}
        leaders = {s.get("leader") for s in libs}
    t_kill_us = int(t_kill * 1e6)
    blocks = rig.by_node(probe.rows)
    per = {n.name: rig.continuity(blocks.get(n.name, []), t_kill_us - 400_000,
                                  t_kill_us + int(args.after_kill * 1e6))
           for n in survivors}
    stats = {n.name: probe.result["nodes"][n.name] for n in survivors}
    last = {k: v for k, v in watch.last.items() if k != "libs"}
    return {"trial": trial, "all_audible_after_s": round(audible_s, 1), "kill_reason": reason,
            "leader_chunks_served": served, "chunks": watch.chunks,
            "covered_after_play_s": None if watch.covered_at is None
            else round(watch.covered_at, 2),
            "at_cover": watch.at_cover, "at_kill": last, "status_polls": watch.polls,
            "kill_after_play_s": round(t_kill - t_play, 2),
            "kill_after_probe_s": round(t_kill - t_probe, 2),
            "longest_silence_ms": max(p["longest_silence_ms"] for p in per.values()),
            "jumps": sum(s["jumps"] for s in stats.values()),
            "per_survivor": {k: {**per[k], "probe_jumps": stats[k]["jumps"],
                                 "probe_longest_silence_ms":
                                     round(stats[k]["longest_silence_frames"] * 1000 / rig.RATE, 2)}
                             for k in per},
            "new_leader": ", ".join(sorted(ids.get(x, str(x)) for x in leaders)),
            "fetch_at_kill": at_kill, "fetch_final": final,
            "survivors_complete": sum(1 for v in done if v), "survivors": len(survivors),
            "complete_after_kill_s": None if complete_s is None else round(complete_s, 2),
            "done_after_kill_s": done_at}


def part_kill(args: argparse.Namespace, tracks: Path) -> "dict[str, Any]":
    trials = 1 if args.quick else args.kill_trials
    print(f"-- library kill: leader + 4 empty nodes, upload limit {args.kill_upload_mb} MB/s, "
          f"{trials} trials; the leader killed once the survivors hold every chunk between "
          f"them", flush=True)
    records = []
    for trial in range(1, trials + 1):
        try:
            rec = kill_trial(args, tracks, trial)
            print(f"   #{trial}: survivors held every chunk {rec['covered_after_play_s']} s "
                  f"after play; killed {rec['kill_after_play_s']} s after play "
                  f"({rec['kill_reason']}; {rec['leader_chunks_served']} chunks served of "
                  f"{rec['chunks']}; held {rec['at_kill'].get('held')}, union "
                  f"{rec['at_kill'].get('union')}); longest silence {rec['longest_silence_ms']} "
                  f"ms, jumps {rec['jumps']}; complete {rec['survivors_complete']}/"
                  f"{rec['survivors']} ({rec['complete_after_kill_s']} s after the kill)",
                  flush=True)
        except rig.HarnessError as error:
            rec = {"trial": trial, "error": str(error)[:2000]}
            print(f"   #{trial}: FAILED: {rec['error'][:300]}", flush=True)
        records.append(rec)
    ok = [x for x in records if "error" not in x]
    silences = [p["longest_silence_ms"] for x in ok for p in x["per_survivor"].values()]
    s = summary(silences, 2)
    completed = sum(x["survivors_complete"] for x in ok)
    total = sum(x["survivors"] for x in ok)
    return {"nodes": 5, "upload_limit_mb": args.kill_upload_mb,
            "chunks": next((x["chunks"] for x in ok if x.get("chunks")), None),
            "kill_when": "the survivors hold every chunk between them (held_ranges), or "
                         f"{args.kill_max_wait} s after play",
            "trials": trials,
            "failed": len(records) - len(ok), "longest_silence_ms": s,
            "trials_with_gap": sum(1 for x in ok if x["longest_silence_ms"] > 0),
            "trials_with_jump": sum(1 for x in ok if x["jumps"] > 0),
            "silence_met": bool(ok) and len(ok) == len(records) and s["max"] == 0,
            "covered_after_play_s": summary([x["covered_after_play_s"] for x in ok], 2),
            "not_covered": sum(1 for x in ok if x["covered_after_play_s"] is None),
            "kill_after_play_s": summary([x["kill_after_play_s"] for x in ok], 2),
            "leader_chunks_served_at_kill": summary([x["leader_chunks_served"] for x in ok], 0),
            "survivors_complete": completed, "survivors": total,
            "complete_met": bool(ok) and completed == total,
            "complete_after_kill_s": summary([x["complete_after_kill_s"] for x in ok], 2),
            "records": records}


# ---- 5. a library of 10,000 files -----------------------------------------------------------


def index_size(cache: Path) -> int:
    return sum(p.stat().st_size for p in cache.glob("library.sqlite*") if p.is_file())


def start_once(r: Rig, name: str, library: Path, cache: Path, files: int,
               timeout: float) -> "dict[str, Any]":
    node = r.node(name, leader=True, tracks=library, extra=["--cache-dir", str(cache)],
                  start=False)
    t0_wall = time.time()
    t0 = time.monotonic()
    node.launch()
    first_answer = None
    listed = None
    last: "dict[str, Any]" = {}
    while time.monotonic() - t0 < timeout:
        try:
            lib = node.status(timeout=max(1.0, timeout - (time.monotonic() - t0)))["library"]
        except rig.NodeTimeout:
            continue
        if first_answer is None:
            first_answer = time.monotonic() - t0
        last = lib
        if (lib["tracks_here"] >= files and lib["cluster_tracks"] >= files
                and not lib.get("files_pending")):
            listed = time.monotonic() - t0
            break
        time.sleep(0.01)
    rss = rig.rss_kib(node.pid)
    time.sleep(1.0)
    rss_later = rig.rss_kib(node.pid)
    node.exit(timeout=10)
    logs = log_times(node.stderr_text(), t0_wall,
                     {"listening": "listening on", "tracks_scanned": "tracks in"})
    return {"listed_s": None if listed is None else round(listed, 3),
            "first_status_s": None if first_answer is None else round(first_answer, 3),
            "listening_s": None if "listening" not in logs else round(logs["listening"] / 1000, 3),
            "log_ms": logs, "tracks_here": last.get("tracks_here"),
            "rss_mib": round(rss["VmRSS"] / 1024, 1),
            "rss_mib_1s_later": round(rss_later["VmRSS"] / 1024, 1),
            "index_bytes": index_size(cache)}


def part_index(args: argparse.Namespace) -> "dict[str, Any]":
    files = args.library_files
    library = big_library(files)
    firsts = 1 if args.quick else 2
    seconds = 1 if args.quick else 3
    print(f"-- library index: {files} files, {firsts} first start(s), {seconds} second "
          f"start(s) each", flush=True)
    first: "list[dict]" = []
    second: "list[dict]" = []
    with Rig("library-index", args.node, args.probe, args.keep_logs) as r:
        for i in range(firsts):
            cache = r.workdir / f"cache{i}"
            rec = start_once(r, f"first{i}", library, cache, files, args.index_timeout)
            first.append(rec)
            print(f"   first start: listed after {rec['listed_s']} s, listening after "
                  f"{rec['listening_s']} s, RSS {rec['rss_mib']} MiB, index "
                  f"{rec['index_bytes']} B", flush=True)
            for j in range(seconds):
                rec = start_once(r, f"second{i}-{j}", library, cache, files, args.index_timeout)
                second.append(rec)
                print(f"   second start: listed after {rec['listed_s']} s, listening after "
                      f"{rec['listening_s']} s, RSS {rec['rss_mib']} MiB", flush=True)

    def pooled(records: "list[dict]") -> "dict[str, Any]":
        return {"runs": len(records),
                "listed_s": summary([x["listed_s"] for x in records], 3),
                "listening_s": summary([x["listening_s"] for x in records], 3),
                "first_status_s": summary([x["first_status_s"] for x in records], 3),
                "rss_mib": summary([x["rss_mib"] for x in records]),
                "missing": sum(1 for x in records if x["listed_s"] is None)}
    s2 = pooled(second)
    return {"files": files, "library_bytes": sum(p.stat().st_size
                                                  for p in library.rglob("*.wav")),
            "first": pooled(first), "second": s2,
            "index_bytes": max((x["index_bytes"] for x in first + second), default=0),
            "target_second_s": SECOND_START_TARGET_S,
            "met": s2["missing"] == 0 and s2["listed_s"]["n"] > 0
            and s2["listed_s"]["max"] <= SECOND_START_TARGET_S,
            "records": {"first": first, "second": second}}


# ---- main -----------------------------------------------------------------------------------


def main() -> int:
    parser = rig.bench_parser(__doc__, "library")
    parser.add_argument("--only", default="", help="comma-separated parts: " + ",".join(PARTS))
    parser.add_argument("--trials", type=int, default=5, help="play trials per mode")
    parser.add_argument("--transfer-upload-mb", type=float, default=0.3,
                        help="the followers' upload limit in the transfer part")
    parser.add_argument("--transfer-leader-upload-mb", type=float, default=3.0)
    parser.add_argument("--upload-timeout", type=float, default=90.0)
    parser.add_argument("--kill-trials", type=int, default=3)
    parser.add_argument("--kill-upload-mb", type=float, default=3.0)
    parser.add_argument("--kill-max-wait", type=float, default=20.0,
                        help="kill the leader at the latest this long after play (s), even if "
                        "the survivors do not hold every chunk between them by then")
    parser.add_argument("--after-kill", type=float, default=2.5)
    parser.add_argument("--complete-timeout", type=float, default=30.0)
    parser.add_argument("--library-files", type=int, default=LIBRARY_FILES)
    parser.add_argument("--index-timeout", type=float, default=120.0)
    parser.add_argument("--log-level", default="info",
                        help="the nodes' log level in the play, transfer and kill parts (with "
                        "--keep-logs, debug logs every chunk asked, served and received)")
    args = rig.parse_bench_args(parser)
    wanted = [k for k in args.only.split(",") if k] or list(PARTS)
    unknown = set(wanted) - set(PARTS)
    if unknown:
        parser.error(f"unknown parts: {', '.join(sorted(unknown))}")
    tracks = flac_track(args.probe)
    path = track_file(tracks)
    results: "dict[str, Any]" = {"machine": rig.machine_info(), "track": {
        "name": path.name, "seconds": TRACK_S, "bytes": path.stat().st_size,
        "format": "FLAC, 48 kHz, 24-bit stereo"}, "parts": {}}
    out = Path(args.out)
    runners = {"play": lambda: part_play(args, tracks),
               "transfer": lambda: part_transfer(args, tracks),
               "upload": lambda: part_upload(args, tracks),
               "kill": lambda: part_kill(args, tracks),
               "index": lambda: part_index(args)}
    for part in PARTS:
        if part not in wanted:
            continue
        started = time.monotonic()
        try:
            results["parts"][part] = runners[part]()
        except (rig.HarnessError, subprocess.CalledProcessError, OSError) as error:
            print(f"   {part} FAILED: {error}", flush=True)
            results["parts"][part] = {"error": str(error)[:2000]}
        results["parts"][part]["duration_s"] = round(time.monotonic() - started, 1)
        rig.write_json(out, results)
    print(f"written: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
