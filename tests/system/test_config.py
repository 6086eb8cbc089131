#!/usr/bin/env python3
"""Configuration file system test: a real node run with --config takes its settings from the file
(the command line winning key by key), and a bad file stops it before it starts, with the file,
line and key in the message and a non-zero exit status (docs/configuration.md).

Run: python3 tests/system/test_config.py --node build/apps/node [--only NAME] [--keep-logs]
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Cluster, HarnessError, Node, hold_for, run_main, wait_until  # noqa: E402
from sync_rig import free_port  # noqa: E402


class ConfiguredNode(Node):
    """A node whose command line is only --config FILE and `overrides` (the harness's own
    defaults, e.g. --http-port 0, would hide the file's values)."""

    def __init__(self, cluster: Cluster, name: str, config: Path, overrides: "list[str]" = ()):
        super().__init__(cluster.binary, name, cluster.workdir)
        self.config = config
        self.overrides = list(overrides)
        cluster.nodes.append(self)  # the cluster kills it on the way out, whatever happens

    def argv(self) -> "list[str]":
        return [self.binary, "--config", str(self.config)] + self.overrides


def write_config(cluster: Cluster, name: str, text: str) -> Path:
    path = cluster.workdir / name
    path.write_text(text)
    return path


def http_answers(port: int):
    def check():
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1) as reply:
                return reply.status == 200 or f"status {reply.status}"
        except OSError as error:
            return f"no answer on {port}: {error}"
    return check


def scenario_file_settings(cluster: Cluster) -> None:
    """1. The file's settings take effect: id, leader, cluster name, web port, a relative cache
    directory (taken from the file's directory); another node joins by the file's cluster name;
    a node given the same file and --id/--http-port on its command line uses those instead."""
    http_port = free_port()
    config = write_config(cluster, "a.toml", f"""
host = "127.0.0.1"
port = 0
id = "from-file"
cluster = "configured"
leader = true
http-port = {http_port}
mpd-port = 0
cache-dir = "a-cache"
log-level = "debug"
""")
    a = ConfiguredNode(cluster, "A", config).start()
    if a.id != "from-file":
        raise HarnessError(f"the file's id was not used: {a.id!r}")
    role = a.command_json("peers --json")["role"]
    if role != "leader":
        raise HarnessError(f"leader = true in the file, but A is {role!r}")
    wait_until(http_answers(http_port), 5.0, what="the web page on the file's http-port")
    if not (cluster.workdir / "a-cache").is_dir():
        raise HarnessError("the relative cache-dir was not made in the file's directory")
    b = cluster.node("B", bootstrap=a, cluster_name="configured")
    wait_until(cluster.states_are([a], [b], "up"), 5.0, what="A to see B (same cluster name) up",
               describe=cluster.describe)

    c = ConfiguredNode(cluster, "C", config, ["--id", "from-cli", "--http-port", "0",
                                              "--cache-dir", str(cluster.workdir / "c-cache")])
    c.start()
    if c.id != "from-cli":
        raise HarnessError(f"--id on the command line did not win over the file: {c.id!r}")


def scenario_service_from_file(cluster: Cluster) -> None:
    """2. no-prompt = true in the file: the node ignores the end of its input and serves its web
    page until SIGTERM, then exits 0."""
    http_port = free_port()
    config = write_config(cluster, "s.toml", f"""
host = "127.0.0.1"
port = 0
no-prompt = true
http-port = {http_port}
mpd-port = 0
cache-dir = "s-cache"
""")
    s = ConfiguredNode(cluster, "S", config)
    s.launch()
    wait_until(http_answers(http_port), 5.0, what="the service node's web page")
    s.proc.stdin.close()
    hold_for(lambda: s.alive() or f"exited with {s.returncode()}", 1.0,
             what="the service node staying up after its input ended")
    s._signal(signal.SIGTERM)
    code = s.wait_exit(timeout=5.0)
    if code != 0:
        raise HarnessError(f"the service node exited with {code}\n{s.stderr_tail()}")


def refused(cluster: Cluster, args: "list[str]", expected: str, env: "dict[str, str]" = None) -> None:
    """Runs the node expecting it to stop at once with a non-zero status and `expected` on stderr."""
    run_env = dict(os.environ, **(env or {}))
    try:
        result = subprocess.run([cluster.binary] + args, stdin=subprocess.DEVNULL,
                                capture_output=True, text=True, timeout=10, env=run_env)
    except subprocess.TimeoutExpired:  # run() has killed it
        raise HarnessError(f"node {args} did not stop at once")
    if result.returncode == 0:
        raise HarnessError(f"node {args} exited 0; stderr: {result.stderr}")
    if expected not in result.stderr:
        raise HarnessError(f"node {args}: expected {expected!r} on stderr, got {result.stderr!r}")


def scenario_bad_files(cluster: Cluster) -> None:
    """3. A bad value, an unknown key, a key that is no setting, a syntax error, a missing --config
    file, and a bad default file (CHORUS_DEFAULT_CONFIG) each stop the node with the file, line
    and key and a non-zero status."""
    bad_value = write_config(cluster, "bad.toml", 'cluster = "x"\n\ncache-mb = 5\n')
    refused(cluster, ["--config", str(bad_value)],
            f'{bad_value}:3: key "cache-mb": Value 5 not in range 16 to 16777216')
    unknown = write_config(cluster, "unknown.toml", 'cache-size = 64\n')
    refused(cluster, ["--config", str(unknown)], f'{unknown}:1: key "cache-size": unknown key')
    action = write_config(cluster, "action.toml", '# keys\ngen-key = "k"\n')
    refused(cluster, ["--config", str(action)], f'{action}:2: key "gen-key": is an action')
    syntax = write_config(cluster, "syntax.toml", 'cluster = "x"\ncluster = "y"\n')
    refused(cluster, ["--config", str(syntax)], f'{syntax}:2:')
    missing = cluster.workdir / "missing.toml"
    refused(cluster, ["--config", str(missing)], str(missing))
    refused(cluster, [], f'{bad_value}:3: key "cache-mb"',
            env={"CHORUS_DEFAULT_CONFIG": str(bad_value)})


SCENARIOS = [
    ("1 settings: the file's values take effect, the command line wins", scenario_file_settings),
    ("2 service: no-prompt from the file", scenario_service_from_file),
    ("3 refused: bad files stop the node with file:line:key", scenario_bad_files),
]

if __name__ == "__main__":
    sys.exit(run_main("configuration file", SCENARIOS))
