#!/usr/bin/env python3
"""System test: a node never takes over playback with a state it does not hold.

    python3 tests/system/test_takeover.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Exit 0 = passed, 1 = failed. Every node plays the same track into `--output null`, with no delay
proxy and no faketime, so each node's `status --json` position (frame, local steady µs) is on
this machine's CLOCK_MONOTONIC and positions of different nodes can be compared directly.

Scenarios (docs/election.md "Eligibility", docs/playback.md "Takeover"):
  2a  A (--leader) and B play; H (--priority 100) joins and A is killed the moment H follows it,
      before H holds the state. The survivors must keep playing: the new leader is playing, at
      the position the track had reached, and nobody falls silent.
  2b  A (--leader) and B play; P (--priority 100 --preempt) joins mid-track. P may take over only
      once it holds the state: A and B never stop playing, and once P leads it plays at the
      position the track had reached.
  3   A (--leader), B and F (--priority 100) play; F is SIGSTOPped for 6 s, `pause` is typed on A
      while F is frozen, then F gets SIGCONT. The pause must hold on A and B throughout, F must
      never lead with its stale state and must pause once resynced, and after settling exactly
      one node leads and all three stay paused.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (HarnessError, agreement, hold_for, leader_claims, now,  # noqa: E402
                     one_agreed_leader, run_main, statuses, wait_until)
from sync_rig import RATE, SyncNode, SyncRig, require_ok  # noqa: E402

TRACK_S = 60.0
HIGH_PRIORITY = 100
POSITION_TOLERANCE_FRAMES = RATE // 100  # 10 ms: a takeover moves no frame (tens of µs)
AGREE_LIMIT_S = 5.0
HOLD_S = 2.0
FROZEN_S = 6.0                           # longer than the peers' failure detection (~650 ms)


class Violation(AssertionError):
    """Fails the scenario at once: wait_until keeps polling through a HarnessError (a node that
    answered late), but not through this."""


def now_us() -> float:
    return time.monotonic() * 1e6


def frame_at(view: dict, t_us: float) -> float:
    """The frame a playing node's engine reaches at local instant t_us (CLOCK_MONOTONIC µs)."""
    return view["position_frames"] + (t_us - view["position_local_us"]) * RATE / 1e6


def playing_views(nodes: "list[SyncNode]"):
    """Predicate: every node plays; returns their views through `out`."""
    def check() -> object:
        views = statuses(nodes)
        bad = [f"{name}: {v.get('state')} (role {v.get('role')}, epoch_seq {v.get('epoch_seq')})"
               for name, v in views.items() if v.get("state") != "playing"]
        return True if not bad else "; ".join(bad)
    return check


def start_playing(rig: SyncRig, cluster, extra: "list[tuple[str, dict]]" = ()) -> "list[SyncNode]":
    """A (--leader) and B, then any extra nodes; all synced; `play 1` on A; all playing."""
    a = rig.add_node("A", leader=True)
    nodes = [a, rig.add_node("B", bootstrap=a)]
    for name, options in extra:
        nodes.append(rig.add_node(name, bootstrap=a, **options))
    cluster.wait_mesh(nodes, timeout=5.0)
    wait_until(lambda: all(v.get("state_synced") for v in statuses(nodes).values()) or
               "not every node holds the state yet", 5.0, what="every node synced",
               describe=cluster.describe)
    require_ok(a, "play 1")
    wait_until(playing_views(nodes), 3.0, what="every node playing", describe=cluster.describe)
    # The command takes effect `lead` ms after it is issued: wait until the track is audible.
    wait_until(lambda: all(v["position_frames"] > RATE // 10 for v in statuses(nodes).values())
               or "not audible everywhere yet", 3.0, what="the track audible everywhere",
               describe=cluster.describe)
    return nodes


class TrackClock:
    """Where the track should be: one playing node's position, extrapolated at 48 kHz."""

    def __init__(self, reference: SyncNode):
        view = reference.status()
        if view.get("state") != "playing":
            raise HarnessError(f"{reference.name} is not playing: {view.get('state')}")
        self.view = view

    def expected(self, t_us: float) -> float:
        return frame_at(self.view, t_us)


def check_position(node: SyncNode, track: TrackClock, timeout: float = 3.0) -> None:
    """`node` plays at the position the track has reached (within the tolerance). A node that
    joined a moment ago may still be opening the track (silent, position 0): the wait covers
    that; a wrong position stays wrong, since nobody corrects the leader."""
    errors: "list[float]" = []

    def at_position() -> object:
        view = node.status()
        if view.get("state") != "playing":
            raise Violation(f"{node.name} is {view.get('state')} (role {view.get('role')}, "
                            f"epoch_seq {view.get('epoch_seq')}), not playing")
        t = now_us()
        errors.append(frame_at(view, t) - track.expected(t))
        return abs(errors[-1]) <= POSITION_TOLERANCE_FRAMES or \
            f"{node.name} plays {errors[-1]:+.0f} frames away from where the track should be"

    wait_until(at_position, timeout, poll=0.05, what=f"{node.name} at the track's position",
               describe=lambda: f"tolerance {POSITION_TOLERANCE_FRAMES} frames")
    print(f"  {node.name}: {errors[-1]:+.0f} frames from where the track should be "
          f"({len(errors)} samples)", flush=True)


def scenario_leader_killed_before_joiner_has_state(cluster) -> None:
    """2a. Leader killed right after a higher-ranked node joined mid-track."""
    with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
        rig.make_track()
        a, b = start_playing(rig, cluster)
        h = rig.add_node("H", bootstrap=a, priority=HIGH_PRIORITY)
        wait_until(lambda: h.status().get("leader") == a.id or "H does not follow A yet", 5.0,
                   poll=0.005, what="H to follow A", describe=cluster.describe)
        before = h.status()
        track = TrackClock(b)
        a.kill9()
        print(f"  kill -9 A while H {'holds' if before.get('state_synced') else 'lacks'} the "
              f"state", flush=True)
        if before.get("state_synced"):
            raise HarnessError("H already held the state when A died: the scenario needs the "
                               "kill to land before H's state sync")
        survivors = [b, h]
        agreed: list = []
        wait_until(one_agreed_leader(survivors, agreed), AGREE_LIMIT_S, what="B and H to agree",
                   describe=cluster.describe)
        print(f"  survivors follow {agreed[-1].name}", flush=True)
        check_position(agreed[-1], track)
        wait_until(playing_views(survivors), 3.0, what="both survivors playing",
                   describe=cluster.describe)
        hold_for(playing_views(survivors), HOLD_S, what="both survivors playing",
                 describe=cluster.describe)
        for node in survivors:
            check_position(node, track)


def scenario_preempting_joiner(cluster) -> None:
    """2b. A --priority 100 --preempt node joins mid-track."""
    with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
        rig.make_track()
        a, b = start_playing(rig, cluster)
        track = TrackClock(b)
        p = rig.add_node("P", bootstrap=a, priority=HIGH_PRIORITY, extra_args=["--preempt"])
        everyone = [a, b, p]
        first_lead: "list[dict]" = []

        def p_leads_and_music_plays() -> object:
            views = statuses(everyone)
            stopped = [f"{n}: {v.get('state')}" for n, v in views.items()
                       if n != "P" and v.get("state") != "playing"]
            if stopped:
                raise Violation(f"the music stopped while P joined: {'; '.join(stopped)}")
            if views["P"].get("role") != "leader":
                return f"P is {views['P'].get('role')}"
            first_lead.append(views["P"])
            return True

        wait_until(p_leads_and_music_plays, AGREE_LIMIT_S, poll=0.01, what="P to take over",
                   describe=cluster.describe)
        seen = first_lead[-1]
        print(f"  P leads, first seen {seen.get('state')} (epoch_seq {seen.get('epoch_seq')})",
              flush=True)
        if seen.get("state") != "playing":
            raise HarnessError(f"P took over with state {seen.get('state')}, not playing")
        agreed: list = []
        wait_until(one_agreed_leader(everyone, agreed), AGREE_LIMIT_S,
                   what="everyone to follow P", describe=cluster.describe)
        if agreed[-1] is not p:
            raise HarnessError(f"{agreed[-1].name} leads, not the preempting P")
        hold_for(playing_views(everyone), HOLD_S, what="everyone playing",
                 describe=cluster.describe)
        for node in everyone:
            check_position(node, track)


def scenario_frozen_follower_misses_pause(cluster) -> None:
    """3. The highest-ranked follower frozen while `pause` is typed on the leader."""
    with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
        rig.make_track()
        a, b, f = start_playing(rig, cluster, [("F", {"priority": HIGH_PRIORITY})])
        everyone = [a, b, f]
        leader, why = agreement(statuses(everyone), everyone)
        if leader is not a:
            raise HarnessError(f"A should lead before the freeze: {why or leader.name}")
        f.sigstop()
        frozen_at = now()
        print("  SIGSTOP F", flush=True)
        # The pause goes out once A and B have given up on F, as in the reported case.
        wait_until(cluster.states_are([a, b], [f], "down"), 5.0, what="A and B to see F down",
                   describe=cluster.describe)
        require_ok(a, "pause")
        wait_until(lambda: all(v.get("state") == "paused" for v in statuses([a, b]).values())
                   or "A and B not paused yet", 3.0, what="A and B paused",
                   describe=cluster.describe)
        paused_at: "dict[str, int]" = {}

        def pause_took_effect() -> object:
            # A paused state's position stops moving once its instant has passed.
            views = statuses([a, b])
            moved = {n: v["position_frames"] for n, v in views.items()
                     if paused_at.get(n) != v["position_frames"]}
            paused_at.update(moved)
            return True if not moved else f"still moving: {moved}"

        wait_until(pause_took_effect, 3.0, poll=0.05, what="the pause to take effect",
                   describe=cluster.describe)
        time.sleep(max(0.0, frozen_at + FROZEN_S - now()))  # F stays frozen for a set time
        f.sigcont()
        print(f"  SIGCONT F after {now() - frozen_at:.1f} s", flush=True)

        def settled_paused() -> object:
            # F plays on its stale schedule until its leader's state is back (it cannot know of
            # the pause before); it must not lead meanwhile, and A and B must stay paused.
            views = statuses(everyone)
            if views["F"].get("role") == "leader":
                raise Violation(f"F leads with its stale state {views['F'].get('state')} "
                                f"(epoch_seq {views['F'].get('epoch_seq')})")
            lost = [f"{n}: {views[n].get('state')} ({views[n].get('role')})" for n in ("A", "B")
                    if views[n].get("state") != "paused"]
            if lost:
                raise Violation(f"the pause was lost: {'; '.join(lost)}")
            if views["F"].get("state") != "paused":
                return f"F not resynced yet: {views['F'].get('state')}"
            leader, why = agreement(views, everyone)
            return True if leader is not None else why

        wait_until(settled_paused, AGREE_LIMIT_S, poll=0.01, what="one leader, all paused",
                   describe=cluster.describe)

        def still_paused() -> object:
            views = statuses(everyone)
            claims = leader_claims(views)
            if len(claims) != 1:
                return f"{len(claims)} leaders: {claims}"
            bad = [f"{n}: {v.get('state')}" for n, v in views.items() if v.get("state") != "paused"]
            return True if not bad else "; ".join(bad)

        hold_for(still_paused, HOLD_S, what="one leader, the pause held",
                 describe=cluster.describe)
        views = statuses(everyone)
        for name, view in views.items():
            moved = abs(view["position_frames"] - paused_at["A"])
            print(f"  {name}: {view.get('role')} paused at frame {view['position_frames']} "
                  f"({moved} frames from A/B's pause point)", flush=True)
            if moved > POSITION_TOLERANCE_FRAMES:
                raise HarnessError(f"{name} is paused {moved} frames away from the pause point")


SCENARIOS = [
    ("2a leader killed before a higher-ranked joiner has the state",
     scenario_leader_killed_before_joiner_has_state),
    ("2b preempting joiner takes over only with the state", scenario_preempting_joiner),
    ("3 frozen follower resumes after a pause", scenario_frozen_follower_misses_pause),
]

if __name__ == "__main__":
    sys.exit(run_main("takeover", SCENARIOS))
