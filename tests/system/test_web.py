#!/usr/bin/env python3
"""System test of the web page and /metrics: real `node` processes with `--http-port`, the page
in headless Chromium (tests/system/browser.py, through the DevTools protocol).

    python3 tests/system/test_web.py --node BUILD/apps/node [--only NAME] [--keep-logs]

Needs Debian's `chromium` and python3-websocket (exit 77 = skipped without them) and
BUILD/tools/skew_probe. Exit 0 = passed, 1 = failed.

Scenarios:
  1 page: three nodes A (leader), B, C play the counting track (skew_probe make-track) into FIFOs
    (--output file:FIFO, each block written when it is audible; skew_probe stamps them, see
    sync_rig.py); a fourth node D plays to --output null. The page of follower B is opened in the
    browser: it shows the four rooms, up, one of them the leader. The track is added from the
    page's library if the queue lacks it and played by tapping its queue item; every node plays. Pause is clicked: every node's status says
    paused, and every node's output stops on the same frame (+-1); play (resume) is clicked
    later: each output goes on from the frame after (+-1). D's volume slider is dragged (D's, so
    that no measured output is scaled): D's room shows the new volume on the page and in /metrics
    (on every node). Last, a new file is put into the music folder (every node runs with
    --no-watch, so nothing else looks) and the page's update button is clicked: the page's
    library lists it. A screenshot of the page is
    kept in the test's log directory (page.png; kept on a failure or with --keep-logs) and copied
    to $CHORUS_ARTEFACT_DIR when that is set. /metrics of every node parses as Prometheus'
    text format: exactly one leader, the same epoch, paused then playing, one web client on B.
  2 token: a node started with a cluster key (--key-file) serves nothing without the token
    (401 for /, /metrics and the WebSocket); with ?token= or a Bearer header it does. The token is
    read from the page's address `access` prints; the node's log never holds it.
"""

from __future__ import annotations

import json
import os
import wave
import re
import shutil
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import browser  # noqa: E402
from harness import Cluster, HarnessError, Skip, now, run_main, wait_until  # noqa: E402
from sync_rig import SyncRig, all_playing, free_port, mono_to_us, pace_until, synced  # noqa: E402

TRACK_S = 40.0
PLAYING_BEFORE_PAUSE_S = 3.0
PAUSE_HOLD_S = 1.5
AFTER_RESUME_S = 2.0
PROBE_S = 30.0

_HELP = re.compile(r"# HELP (chorus_[a-z_]+) .+")
_TYPE = re.compile(r"# TYPE (chorus_[a-z_]+) (counter|gauge)")
_SAMPLE = re.compile(r'(chorus_[a-z_]+)(\{[a-z_]+="(?:[^"\\\n]|\\["\\n])*"\})? (\S+)')


def http_get(url: str, headers: "dict[str, str] | None" = None) -> "tuple[int, str]":
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(errors="replace")
    except (urllib.error.URLError, ConnectionError) as error:
        return 0, str(error)


def parse_metrics(text: str) -> "dict[str, float]":
    """The samples of a /metrics text ('name{labels}' -> value), checking the format line by
    line: HELP, then TYPE, then the family's samples; each family once."""
    samples: "dict[str, float]" = {}
    seen: "set[str]" = set()
    helped = current = None
    for line in text.splitlines():
        if m := _HELP.fullmatch(line):
            if m[1] in seen:
                raise HarnessError(f"/metrics: family {m[1]} twice")
            helped = m[1]
        elif m := _TYPE.fullmatch(line):
            if m[1] != helped:
                raise HarnessError(f"/metrics: TYPE {m[1]} not right after its HELP")
            current = m[1]
            seen.add(current)
        elif m := _SAMPLE.fullmatch(line):
            if m[1] != current:
                raise HarnessError(f"/metrics: sample {line!r} outside its family")
            samples[m[1] + (m[2] or "")] = float(m[3])
        else:
            raise HarnessError(f"/metrics: not a line of the text format: {line!r}")
    if not text.endswith("\n"):
        raise HarnessError("/metrics: no final newline")
    return samples


def metrics_of(port: int) -> "dict[str, float]":
    status, text = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        raise HarnessError(f"/metrics on port {port}: {status} {text[:200]}")
    return parse_metrics(text)


def node_status(node) -> str:
    return node.status(timeout=2.0).get("state")


def scenario_page(cluster: Cluster) -> None:
    """1. The page drives four nodes: pause on the same frame everywhere, a volume slider."""
    if browser.chromium_binary() is None:
        raise Skip("no chromium")
    with SyncRig(cluster, track_seconds=TRACK_S, use_proxies=False) as rig:
        rig.make_track()
        names = ["A", "B", "C"]
        for name in names:
            rig.fifo(name)
        rig.start_probe(names, PROBE_S)
        http = {name: free_port() for name in names + ["D"]}
        a = rig.add_node("A", leader=True, extra_args=["--http-port", str(http["A"]), "--no-watch"])
        b = rig.add_node("B", bootstrap=a, extra_args=["--http-port", str(http["B"]), "--no-watch"])
        c = rig.add_node("C", bootstrap=a, extra_args=["--http-port", str(http["C"]), "--no-watch"])
        # D plays to --output null: its volume is the one changed, so that no measured output is
        # scaled (the probe reads frame numbers from the samples).
        d = rig.add_node("D", bootstrap=a, extra_args=["--http-port", str(http["D"]), "--no-watch"])
        nodes = [a, b, c, d]
        cluster.wait_mesh(nodes, timeout=5.0)
        wait_until(synced([b, c, d]), 5.0, what="B, C and D synced", describe=cluster.describe)

        try:
            chromium_context = browser.Browser(cluster.workdir)
        except browser.Unavailable as why:
            raise Skip(str(why))
        with chromium_context as chromium:
            page = chromium.open(f"http://127.0.0.1:{http['B']}/")
            try:
                drive_page(cluster, rig, page, nodes, http)
            finally:
                try:
                    keep_screenshot(cluster, page)
                except Exception as error:  # noqa: BLE001 - never hide the failure behind it
                    print(f"  no screenshot: {error}", flush=True)


def keep_screenshot(cluster: Cluster, page: "browser.Page") -> None:
    """page.png in the test's log directory (kept on a failure or with --keep-logs), and a copy in
    $CHORUS_ARTEFACT_DIR when it is set (for CI to keep on success too)."""
    page.evaluate("window.scrollTo(0, 0)")
    shot = page.screenshot(Path(cluster.workdir) / "page.png")
    print(f"  screenshot: {shot}", flush=True)
    artefacts = os.environ.get("CHORUS_ARTEFACT_DIR")
    if artefacts:
        Path(artefacts).mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, Path(artefacts) / "test_web-page.png")


def drive_page(cluster: Cluster, rig: SyncRig, page: "browser.Page", nodes, http) -> None:
    d = nodes[3]
    page.wait_for("window.chorus.connected && window.chorus.view", what="the first view")
    ids = [n.id for n in nodes]
    page.wait_for("(() => { const rooms = window.chorus.view.rooms;"
                  f" return rooms.length === 4 && rooms.every(r => r.up) && rooms.filter(r => r.leader).length === 1"
                  f" && {json.dumps(ids)}.every(id => document.querySelector(`#rooms [data-room='${{id}}']`)); }})()",
                  timeout=10.0, what="four rooms up, one leader")
    print(f"  rooms on the page: {page.evaluate('window.chorus.view.rooms.map(r => r.id)')}", flush=True)

    # The track into the queue (from the page's library) and played by tapping its item.
    page.wait_for("document.querySelector(\"#library-results li[data-path='count.wav']\")", timeout=10.0,
                  what="count.wav in the library")
    if not page.evaluate("!!document.querySelector(\"#queue li[data-path='count.wav']\")"):
        page.click("#library-results li[data-path='count.wav'] .lib-add")
        page.wait_for("document.querySelector(\"#queue li[data-path='count.wav']\")", what="count.wav queued")
    page.click("#queue li[data-path='count.wav'] .label")
    wait_until(all_playing(nodes), 5.0, what="every node playing", describe=cluster.describe)
    page.wait_for("document.body.dataset.status === 'playing'", what="the page to show playing")
    t_play = now()

    # Pause from the page.
    pace_until(t_play + PLAYING_BEFORE_PAUSE_S)
    t_pause = now()
    page.click("#pause")
    wait_until(lambda: all(node_status(n) == "paused" for n in nodes) or
               {n.name: node_status(n) for n in nodes}, 3.0, what="every node paused",
               describe=cluster.describe)
    page.wait_for("document.body.dataset.status === 'paused'", what="the page to show paused")
    for name, port in http.items():
        samples = metrics_of(port)
        if samples.get('chorus_playback_state{state="paused"}') != 1:
            raise HarnessError(f"{name}'s /metrics does not say paused")

    # A volume slider: D's room.
    room = d.id
    slider = f"#rooms [data-room='{room}'] input.volume"
    volume = page.drag_range(slider, 30)
    print(f"  D's slider dragged to {volume}", flush=True)
    page.wait_for(f"window.chorus.view.rooms.find(r => r.id === {json.dumps(room)}).volume === {volume}",
                  what=f"D's room at volume {volume} on the page")
    label = 'chorus_room_volume{room="' + room + '"}'
    wait_until(lambda: all(metrics_of(p).get(label) == volume for p in http.values()) or
               {name: metrics_of(p).get(label) for name, p in http.items()}, 3.0,
               what=f"every node's /metrics at volume {volume} for D")

    # Resume from the page (its play button resumes a paused track).
    pace_until(t_pause + PAUSE_HOLD_S)
    page.click("#play")
    wait_until(all_playing(nodes), 3.0, what="every node playing again", describe=cluster.describe)
    t_resume = now()

    # /metrics: the format, one leader, one epoch, B's web client.
    samples = {name: metrics_of(port) for name, port in http.items()}
    leaders = sum(s["chorus_leader"] for s in samples.values())
    epochs = {s["chorus_epoch"] for s in samples.values()}
    if leaders != 1 or len(epochs) != 1:
        raise HarnessError(f"/metrics: {leaders} leaders, epochs {epochs}")
    if samples["B"]["chorus_control_clients"] < 1:
        raise HarnessError("B's /metrics counts no control client while its page is open")
    for name, s in samples.items():
        if s.get('chorus_playback_state{state="playing"}') != 1:
            raise HarnessError(f"{name}'s /metrics does not say playing after the resume")

    # The outputs: one silence after the pause, on the same frame everywhere.
    pace_until(t_resume + AFTER_RESUME_S)
    run = rig.finish_probe()
    edges = {}
    for name in ["A", "B", "C"]:
        gaps = [g for g in run.gaps(name) if g.start_us >= mono_to_us(t_pause)]
        if len(gaps) != 1:
            raise HarnessError(f"{name}: expected one silence after the pause click, found {len(gaps)}: {gaps}")
        edges[name] = gaps[0]
        print(f"  {name}: last frame before the pause {gaps[0].last_before}, first after the resume "
              f"{gaps[0].first_after}", flush=True)
    lasts = [g.last_before for g in edges.values()]
    if max(lasts) - min(lasts) > 1:
        raise HarnessError(f"the outputs stopped on different frames: {lasts}")
    for name, gap in edges.items():
        if abs(gap.first_after - (gap.last_before + 1)) > 1:
            raise HarnessError(f"{name} resumed at {gap.first_after}, not after {gap.last_before}")
    cluster.figure("pause: spread of the last frame across nodes", max(lasts) - min(lasts), "frames")
    update_from_page(cluster, rig, page)


def update_from_page(cluster: Cluster, rig: SyncRig, page: "browser.Page") -> None:
    """A file copied in is listed once the page's update button is clicked (nothing watches)."""
    fresh = "fresh.wav"
    with wave.open(str(rig.tracks / fresh), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(bytes(4 * 4_800))
    listed = f"!!document.querySelector(\"#library-results li[data-path='{fresh}']\")"
    if page.evaluate(listed):
        raise HarnessError(f"{fresh} was listed before update was clicked")
    clicked = now()
    page.click("#lib-update")
    page.wait_for(listed, timeout=5.0, what=f"{fresh} in the page's library after update")
    cluster.figure("update clicked to the new file on the page", now() - clicked)


def scenario_token(cluster: Cluster) -> None:
    """2. A keyed cluster's node needs the token for the page, /metrics and the WebSocket."""
    key_file = Path(cluster.workdir) / "cluster.key"
    made = subprocess.run([cluster.binary, "--gen-key", str(key_file)], capture_output=True, timeout=10)
    if made.returncode != 0 or not key_file.exists():
        raise HarnessError(f"--gen-key failed: {made.stderr.decode(errors='replace')[:200]}")
    port = free_port()
    node = cluster.node("K", leader=True, extra_args=["--key-file", str(key_file), "--http-port", str(port)])
    wait_until(lambda: http_get(f"http://127.0.0.1:{port}/")[0] != 0, 5.0, what="the web port")
    for path in ("/", "/metrics", "/ws"):
        status, _ = http_get(f"http://127.0.0.1:{port}{path}")
        if status != 401:
            raise HarnessError(f"{path} without the token: {status}, not 401")
    # `access` at the prompt prints the page's address with its token (docs/web.md, "Access");
    # the log names the address only.
    node.send("access")
    found: "list[str]" = []

    def token_printed() -> object:
        node.command_json("peers --json")  # drains what `access` printed into other_output
        for line in node.other_output:
            match = re.search(r"web: \S+/\?token=([^\s&]+)", line)
            if match:
                found.append(urllib.parse.unquote(match[1]))
                return True
        return f"no 'web: ...?token=' line in {node.other_output[-5:]!r}"

    wait_until(token_printed, 5.0, what="`access` to print the page's address with its token")
    token = found[0]
    if token in node.stderr_text():
        raise HarnessError("the node logged its web token")
    if http_get(f"http://127.0.0.1:{port}/?token={token}")[0] != 200:
        raise HarnessError("the page with ?token= was refused")
    status, text = http_get(f"http://127.0.0.1:{port}/metrics", {"Authorization": f"Bearer {token}"})
    if status != 200:
        raise HarnessError(f"/metrics with the bearer token: {status}")
    parse_metrics(text)


SCENARIOS = [
    ("1 page: rooms, pause on the same frame, a volume slider, /metrics", scenario_page),
    ("2 token: a keyed node's web server needs the token", scenario_token),
]

if __name__ == "__main__":
    sys.exit(run_main("web page and /metrics", SCENARIOS))
