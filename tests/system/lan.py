"""A LAN of network namespaces, each host with its own avahi-daemon, for the discovery tests.

Standard library only; root only (requirements() raises harness.Skip otherwise). Used by
tests/system/test_discovery.py and bench/lan.py, and meant for any test that needs several
hosts that find each other by mDNS without touching the machine's own network or daemons.

    with Lan(workdir) as lan:               # workdir: a directory the test owns (sockets, logs);
                                            # Lan(workdir, ipv6=True): the daemons also use IPv6
                                            # (link-local addresses of the veths)
        host = lan.add_host("h1")           # a namespace, a veth on the bridge, 10.78.0.N/24,
                                            # a private D-Bus system bus and an avahi-daemon on it
        host.address                        # "10.78.0.1"
        host.prefix()                       # ["ip", "netns", "exec", NS, "env",
                                            #  "DBUS_SYSTEM_BUS_ADDRESS=unix:path=..."]: run a
                                            # command in the host, talking to its avahi-daemon
                                            # (harness.Node(prefix=host.prefix()) execs the node)
        host.run(["avahi-browse", ...])     # a short command in the host (CompletedProcess)
        host.link_down(); host.link_up()    # the host's veth, as a cable pulled and put back
        host.stop_avahi(); host.start_avahi()
        lan.add_host("h2", avahi=False)     # a host with a D-Bus address that leads nowhere
    # leaving the block (or lan.cleanup(), idempotent, also run at exit) kills the daemons and
    # deletes the namespaces, their veths and the bridge, even after a failure.

Layout: the bridge lives in a hub namespace of its own; each host namespace has one veth into
it and no other route, so nothing leaves the LAN. Each avahi-daemon runs in its host namespace
and in a private mount namespace with a tmpfs over /run (its pid file is fixed at
/run/avahi-daemon/pid), with --no-chroot --no-drop-root and a configuration of its own allowing
only the host's veth, IPv4 only unless asked, a host name of its own (chorus-NAME). Its D-Bus bus is a
dbus-daemon of its own listening on a socket in workdir, found by clients through
DBUS_SYSTEM_BUS_ADDRESS. Namespaces left by a killed run (the pid in their name is gone) are
deleted at the next one.
"""

from __future__ import annotations

import atexit
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import HarnessError, Skip, wait_until  # noqa: E402

SUBNET = "10.78.0"
NS_PREFIX = "chorus-lan"
DAEMON_READY_S = 10.0

BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
"""

AVAHI_CONFIG = """[server]
host-name=chorus-{name}
use-ipv4=yes
use-ipv6={ipv6}
allow-interfaces={interface}
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000

[wide-area]
enable-wide-area=no

[publish]
publish-hinfo=no
publish-workstation=no
publish-addresses=yes

[reflector]
enable-reflector=no
"""


def run(argv: "list[str]", check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise HarnessError(f"`{' '.join(argv)}` failed ({result.returncode}): "
                           f"{result.stderr.strip() or result.stdout.strip()}")
    return result


def requirements() -> None:
    """Raises Skip unless this machine can build the LAN (Linux, root, the tools)."""
    if sys.platform != "linux":
        raise Skip("network namespaces need Linux")
    if os.geteuid() != 0:
        raise Skip("needs root to create network namespaces and veths")
    missing = [tool for tool in ("ip", "unshare", "mount", "avahi-daemon", "dbus-daemon")
               if shutil.which(tool) is None]
    if missing:
        raise Skip(f"missing {', '.join(missing)} (Debian packages iproute2, util-linux, mount, "
                   "avahi-daemon, dbus; scripts/setup.sh installs them)")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def delete_namespaces(names: "list[str]") -> None:
    """Deletes these namespaces, the last made first, and empties the list; one already gone is
    no error."""
    for name in reversed(names):
        result = run(["ip", "netns", "del", name], check=False)
        if result.returncode != 0 and "No such file" not in result.stderr:
            print(f"  warning: could not delete namespace {name}: {result.stderr.strip()}",
                  flush=True)
    names.clear()


def remove_stale_namespaces(prefix: str = NS_PREFIX) -> None:
    """Deletes namespaces named PREFIX-PID-... whose test process PID no longer exists (left by
    a run that was killed)."""
    for line in run(["ip", "netns", "list"], check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        match = re.fullmatch(rf"{re.escape(prefix)}-(\d+)-[0-9a-f]+-[\w-]+", name)
        if match and not _pid_alive(int(match.group(1))):
            print(f"  removing stale namespace {name} (its test process is gone)", flush=True)
            run(["ip", "netns", "del", name], check=False)


def _pdeathsig() -> "list[str]":
    setpriv = shutil.which("setpriv")
    return [setpriv, "--pdeathsig", "KILL", "--"] if setpriv else []


class LanHost:
    """One host of the LAN: its namespace, address, veth, D-Bus bus and avahi-daemon."""

    def __init__(self, lan: "Lan", name: str, index: int, avahi: bool):
        self.lan = lan
        self.name = name
        self.index = index
        self.ns = f"{lan.tag}-{name}"
        self.address = f"{SUBNET}.{index}"
        self.interface = f"lv{index}{lan.short}"       # host side (15 characters at most)
        self.hub_interface = f"lp{index}{lan.short}"   # bridge side
        self.dir = lan.workdir / f"lan-{name}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.bus_socket = self.dir / "bus"
        # Without avahi: a bus address where nothing listens (no daemon, no bus).
        self.bus_address = f"unix:path={self.bus_socket if avahi else self.dir / 'no-bus'}"
        self.with_avahi = avahi
        self.dbus: Optional[subprocess.Popen] = None
        self.avahi: Optional[subprocess.Popen] = None

    def prefix(self) -> "list[str]":
        """Runs a command (by exec) in this host, with this host's D-Bus system bus."""
        return ["ip", "netns", "exec", self.ns, "env", f"DBUS_SYSTEM_BUS_ADDRESS={self.bus_address}"]

    def run(self, argv: "list[str]", check: bool = True, timeout: float = 20) -> subprocess.CompletedProcess:
        return run(self.prefix() + argv, check=check, timeout=timeout)

    def link_down(self) -> None:
        run(["ip", "-n", self.ns, "link", "set", self.interface, "down"])

    def link_up(self) -> None:
        run(["ip", "-n", self.ns, "link", "set", self.interface, "up"])

    # ---- daemons ----

    def start_bus(self) -> None:
        config = self.dir / "bus.conf"
        config.write_text(BUS_CONFIG.format(socket=self.bus_socket))
        self.bus_socket.unlink(missing_ok=True)
        with open(self.dir / "dbus.log", "ab") as log:
            self.dbus = subprocess.Popen(
                _pdeathsig() + ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
        wait_until(lambda: self.bus_socket.exists() or f"no socket {self.bus_socket} yet",
                   DAEMON_READY_S, what=f"dbus-daemon of {self.name}")

    def start_avahi(self) -> None:
        config = self.dir / "avahi-daemon.conf"
        config.write_text(AVAHI_CONFIG.format(name=self.name, interface=self.interface,
                                              ipv6="yes" if self.lan.ipv6 else "no"))
        log_path = self.dir / "avahi.log"
        start = log_path.stat().st_size if log_path.exists() else 0
        # A private /run: the daemon's fixed pid file and socket are its own.
        script = ('mount -t tmpfs chorus-lan-run /run && mkdir -p /run/avahi-daemon && '
                  'exec avahi-daemon --no-chroot --no-drop-root --no-rlimits -f "$0"')
        with open(log_path, "ab") as log:
            self.avahi = subprocess.Popen(
                _pdeathsig() + self.prefix() + ["unshare", "--mount", "--propagation", "private",
                                                "sh", "-c", script, str(config)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)

        def ready() -> object:
            if self.avahi.poll() is not None:
                raise HarnessError(f"avahi-daemon of {self.name} exited: "
                                   f"{log_path.read_text(errors='replace')[-2000:]}")
            text = log_path.read_bytes()[start:].decode(errors="replace")
            return "Server startup complete" in text or "avahi-daemon not ready yet"
        wait_until(ready, DAEMON_READY_S, what=f"avahi-daemon of {self.name}")

    def stop_avahi(self) -> None:
        _stop(self.avahi)
        self.avahi = None

    def stop(self) -> None:
        self.stop_avahi()
        _stop(self.dbus)
        self.dbus = None


def _stop(proc: Optional[subprocess.Popen]) -> None:
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except OSError:
        pass
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        pass


_LIVE: "set[Lan]" = set()


@atexit.register
def _cleanup_all() -> None:
    for lan in list(_LIVE):
        lan.cleanup()


class Lan:
    """Hosts on one bridge. A context manager; cleanup() is idempotent."""

    def __init__(self, workdir: Path, ipv6: bool = False):
        requirements()
        self.ipv6 = ipv6
        remove_stale_namespaces()
        self.workdir = Path(workdir)
        self.short = secrets.token_hex(3)
        self.tag = f"{NS_PREFIX}-{os.getpid()}-{self.short}"
        self.hub = f"{self.tag}-hub"
        self.hosts: "list[LanHost]" = []
        self.namespaces: "list[str]" = []
        probe = run(["ip", "netns", "add", self.hub], check=False)
        if probe.returncode != 0:
            raise Skip(f"cannot create a network namespace: {probe.stderr.strip()}")
        self.namespaces.append(self.hub)
        _LIVE.add(self)
        run(["ip", "-n", self.hub, "link", "add", "br0", "type", "bridge"])
        run(["ip", "-n", self.hub, "link", "set", "br0", "up"])

    def __enter__(self) -> "Lan":
        return self

    def __exit__(self, *exc: object) -> bool:
        self.cleanup()
        return False

    def add_host(self, name: str, avahi: bool = True) -> LanHost:
        host = LanHost(self, name, len(self.hosts) + 1, avahi)
        run(["ip", "netns", "add", host.ns])
        self.namespaces.append(host.ns)
        self.hosts.append(host)
        run(["ip", "link", "add", host.interface, "netns", host.ns, "type", "veth",
             "peer", "name", host.hub_interface, "netns", self.hub])
        run(["ip", "-n", self.hub, "link", "set", host.hub_interface, "master", "br0"])
        run(["ip", "-n", self.hub, "link", "set", host.hub_interface, "up"])
        run(["ip", "-n", host.ns, "link", "set", "lo", "up"])
        run(["ip", "-n", host.ns, "addr", "add", f"{host.address}/24", "dev", host.interface])
        run(["ip", "-n", host.ns, "link", "set", host.interface, "up"])
        if avahi:
            host.start_bus()
            host.start_avahi()
        return host

    def cleanup(self) -> None:
        for host in self.hosts:
            host.stop()
        delete_namespaces(self.namespaces)
        self.hosts.clear()
        _LIVE.discard(self)

    def leftovers(self) -> "list[str]":
        """Namespaces of this LAN still present (none after cleanup())."""
        listing = run(["ip", "netns", "list"], check=False).stdout
        return [line.split()[0] for line in listing.splitlines()
                if line.split() and line.split()[0].startswith(self.tag)]
