#!/usr/bin/env python3
"""Fan-out benchmark: one leader, 16 followers on loopback.

    python3 bench/fanout.py [--node PATH] [--probe PATH] [--followers 16] [--quick]

All 17 nodes write their output to FIFOs read by skew_probe and play a self-numbering track.

1. Broadcast reach (--broadcasts, 20): `pause` and `resume` alternately typed on the leader,
   0.4 s apart. For each command:
   - status polling: right after the leader's reply, rounds of `status --json` to every
     follower (all 16 written, then all 16 read) until each one's (epoch, seq) shows the
     command; a follower's time is the reply time of its first round showing it (an upper bound;
     the resolution is one round of 16 prompt round trips), the figure the last follower's;
   - output: each node's first changed frame (skew_probe --raw); the figure is the last node's
     change minus the typing instant, and the spread of the 17 change instants.
2. Command rate (--commands, 1000): pause/resume alternations typed as fast as the prompt
   allows (the next line once the previous one is answered), on the leader and then through a
   follower (forwarded to the leader); then status polling until every follower reports the final
   (epoch, seq). Rate = commands / (last follower at the final seq - first command typed). The
   followers' `ignored_commands` counters tell whether any command was refused.

Writes bench/results/fanout.json.
"""

from __future__ import annotations

import re
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import rig
from rig import Node, Rig, ask_all, command_text, mono_us, summary

SPACING_S = 0.4


def seqs(nodes: "list[Node]") -> "list[tuple[int, int]]":
    return [tuple(s["epoch_seq"]) for s in ask_all(nodes, "status --json")]


def poll_until(followers: "list[Node]", target: "tuple[int, int]",
               timeout: float = 10.0) -> "tuple[dict[str, int], int]":
    """Rounds of status to every follower until all reach `target`; returns each follower's
    first reply time (µs) showing it and the number of rounds."""
    seen: "dict[str, int]" = {}
    rounds = 0
    deadline = time.monotonic() + timeout
    pending = list(followers)
    while pending:
        if time.monotonic() > deadline:
            raise rig.HarnessError(f"followers never reached {target}: "
                                   f"{[n.name for n in pending]}")
        for n in pending:
            n.send("status --json")
        still = []
        for n in pending:
            answer = rig.read_line(n, 3.0, json_only=True)
            if tuple(answer["epoch_seq"]) >= target:
                seen[n.name] = mono_us()
            else:
                still.append(n)
        pending = still
        rounds += 1
    return seen, rounds


def burst(issuer: Node, leader: Node, followers: "list[Node]", count: int,
          paused_first: bool) -> "dict[str, Any]":
    """`count` pause/resume alternations typed on `issuer` as fast as it answers."""
    start_seq = tuple(leader.status()["epoch_seq"])
    ignored_before = {s["id"]: s.get("ignored_commands", 0)
                      for s in ask_all(followers, "status --json")}
    leader_ticks = rig.cpu_ticks(leader.pid)
    kinds = ["resume", "pause"] if paused_first else ["pause", "resume"]
    errors = 0
    t_first = mono_us()
    for i in range(count):
        if not command_text(issuer, kinds[i % 2], timeout=5.0).startswith("ok"):
            errors += 1
    t_typed = mono_us()
    final = tuple(leader.status()["epoch_seq"])
    seen, rounds = poll_until(followers, final)
    t_all = max(seen.values())
    leader_cpu = (rig.cpu_ticks(leader.pid) - leader_ticks) / rig.CLK_TCK
    answers = ask_all(followers + [leader], "status --json")
    states = {a["state"] for a in answers}
    ignored = {a["id"]: a.get("ignored_commands", 0) - ignored_before.get(a["id"], 0)
               for a in answers[:-1]}
    applied = final[1] - start_seq[1] if final[0] == start_seq[0] else None
    return {"issuer": issuer.name, "commands": count, "errors": errors, "applied_seqs": applied,
            "typing_s": round((t_typed - t_first) / 1e6, 3),
            "all_followers_s": round((t_all - t_first) / 1e6, 3),
            "typed_per_s": round(count / ((t_typed - t_first) / 1e6), 1),
            "applied_per_s": round(count / ((t_all - t_first) / 1e6), 1),
            "after_last_typed_ms": round((t_all - t_typed) / 1000, 1),
            "leader_cpu_s": round(leader_cpu, 2), "final_states": sorted(states),
            "ignored_commands_total": sum(ignored.values()), "poll_rounds": rounds}


def main() -> int:
    parser = rig.bench_parser(__doc__, "fanout")
    parser.add_argument("--followers", type=int, default=16)
    parser.add_argument("--broadcasts", type=int, default=20)
    parser.add_argument("--commands", type=int, default=1000)
    args = rig.parse_bench_args(parser)
    broadcasts = 6 if args.quick else args.broadcasts
    commands = 40 if args.quick else args.commands
    tracks = rig.track_dir(args.probe, 60)
    names = ["L"] + [f"F{i + 1:02}" for i in range(args.followers)]

    with Rig("fanout", args.node, args.probe, args.keep_logs) as r:
        fifos = {n: r.fifo(n) for n in names}
        t = time.monotonic()
        nodes = r.start_cluster(names, tracks, fifos, timeout=30)
        leader, followers = nodes[0], nodes[1:]
        print(f"-- fanout: 1 + {args.followers} nodes meshed and synced in "
              f"{time.monotonic() - t:.1f} s", flush=True)
        r.play_first_track(nodes, timeout=30)
        time.sleep(1.0)

        # 1. broadcast reach
        seconds = 0.5 + broadcasts * SPACING_S + 0.5
        probe = r.probe("fanout", fifos, seconds)
        start = time.monotonic() + 0.5
        sent = []
        for i in range(broadcasts):
            delay = start + i * SPACING_S - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            kind = "pause" if i % 2 == 0 else "resume"
            t_cmd = mono_us()
            reply = command_text(leader, kind)
            t_reply = mono_us()
            target = tuple(leader.status()["epoch_seq"])
            t_poll = mono_us()
            seen, rounds = poll_until(followers, target)
            sent.append({"kind": kind, "t_us": t_cmd, "reply": reply,
                         "reply_ms": round((t_reply - t_cmd) / 1000, 2),
                         "last_follower_status_ms": round((max(seen.values()) - t_cmd) / 1000, 2),
                         "first_poll_sent_ms": round((t_poll - t_cmd) / 1000, 2),
                         "poll_rounds": rounds})
        probe.finish()
        (rig.RESULTS / "raw").mkdir(parents=True, exist_ok=True)
        shutil.copy(probe.raw_path, rig.RESULTS / "raw" / "fanout.csv")
        blocks = rig.by_node(probe.rows)
        for i, cmd in enumerate(sent):
            t_next = sent[i + 1]["t_us"] if i + 1 < len(sent) else 10**18
            changes = {}
            for n in names:
                window = [b for b in blocks.get(n, []) if cmd["t_us"] <= b[0] < t_next]
                c = rig.first_change(window, cmd["t_us"], cmd["kind"] == "pause")
                if c is not None:
                    changes[n] = c
            cmd["nodes_changed"] = len(changes)
            if changes:
                cmd["last_node_output_ms"] = round((max(changes.values()) - cmd["t_us"]) / 1000, 3)
                cmd["output_spread_us"] = round(max(changes.values()) - min(changes.values()), 1)
        print(f"   broadcast: last follower's status shows it "
              f"{summary(c['last_follower_status_ms'] for c in sent)} ms; last node's output "
              f"changes {summary(c.get('last_node_output_ms') for c in sent)} ms; spread "
              f"{summary(c.get('output_spread_us') for c in sent)} us", flush=True)

        # 2. command rate
        paused = leader.status()["state"] == "paused"
        on_leader = burst(leader, leader, followers, commands, paused)
        print(f"   {commands} commands on the leader: typed at {on_leader['typed_per_s']}/s, "
              f"all followers applied at {on_leader['applied_per_s']}/s "
              f"(+{on_leader['after_last_typed_ms']} ms after the last), ignored "
              f"{on_leader['ignored_commands_total']}, states {on_leader['final_states']}",
              flush=True)
        paused = leader.status()["state"] == "paused"
        via_follower = burst(followers[0], leader, followers, commands // 2, paused)
        print(f"   {commands // 2} commands through a follower: typed at "
              f"{via_follower['typed_per_s']}/s, all applied at {via_follower['applied_per_s']}/s, "
              f"ignored {via_follower['ignored_commands_total']}, states "
              f"{via_follower['final_states']}", flush=True)
        final_status = {n.name: rig.node_report(n) for n in nodes}

    results = {"machine": rig.machine_info(), "followers": args.followers, "track_s": 60,
               "broadcast": {
                   "commands": len(sent),
                   "last_follower_status_ms": summary(c["last_follower_status_ms"] for c in sent),
                   "last_node_output_ms": summary(c.get("last_node_output_ms") for c in sent),
                   "output_spread_us": summary(c.get("output_spread_us") for c in sent),
                   "nodes_changed_min": min(c["nodes_changed"] for c in sent),
                   "reply_ms": summary((c["reply_ms"] for c in sent), 2),
                   "lead_ms": summary(int(m.group(1)) for c in sent
                                      if (m := re.search(r"in (\d+) ms", c["reply"]))),
                   "first_poll_sent_ms": summary((c["first_poll_sent_ms"] for c in sent), 2),
                   "poll_rounds_max": max(c["poll_rounds"] for c in sent),
                   "records": sent},
               "rate": {"leader": on_leader, "follower": via_follower},
               "final_status": final_status}
    rig.write_json(Path(args.out), results)
    print(f"written: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
