#!/usr/bin/env python3
"""The Debian package (docs/service.md): built from the build tree the test runs from
(scripts/package.sh --build-dir), installed with dpkg on this machine, checked, run the way the
unit runs it, removed and purged.

Needs root and dpkg; skipped (77) otherwise, and when a `chorus` package this test did not
install is already there. The package is always purged at the end, even when a step fails.

Steps (each one function of STEPS, run in order):
  build       scripts/package.sh --build-dir BUILD
  install     dpkg -i; the files, the conffile, the user chorus (in group audio), the demo tracks
              linked from the music directory, the dependencies dpkg-shlibdeps found
  man         man -l renders the man page
  unit        systemd-analyze verify passes for the installed unit
  help        /usr/bin/chorus-node --help
  run         the unit's ExecStart as the user chorus with the unit's capability and environment,
              under a NOTIFY_SOCKET: READY=1, the demo tracks in its library, STOPPING=1
  systemd     where systemd-nspawn can boot a container over this machine's /usr: the unit
              under a real systemd: start (until READY), status, a watchdog restart, stop
  lan         two installed nodes in network namespaces, each with its own avahi-daemon
              (tests/system/lan.py), started with no address: they find each other by mDNS
              and play the installed demo tracks in sync
  remove      dpkg -r: the program goes, the configuration stays
  purge       dpkg --purge: nothing is left, not the user either

Run: python3 tests/system/test_package.py --node build/apps/node
"""

from __future__ import annotations

import configparser
import os
import pwd
import grp
import shlex
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import (  # noqa: E402
    HOST, Cluster, HarnessError, Node, Skip, now, one_agreed_leader, reap_node, run_main, wait_until,
)
from sync_rig import free_port  # noqa: E402
from test_discovery import in_sync, require_ok  # noqa: E402
from test_systemd_notify import NotifySocket, status_of  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "chorus"
UNIT = Path("/lib/systemd/system/chorus-node.service")
INSTALLED_NODE = "/usr/bin/chorus-node"
FILES = [
    Path("/usr/bin/chorus-node"),
    UNIT,
    Path("/etc/chorus/chorus.toml"),
    Path("/usr/share/man/man1/chorus-node.1.gz"),
    Path("/usr/share/chorus/demo/03-click-track.ogg"),
    Path("/usr/share/doc/chorus/copyright"),
    Path("/usr/share/doc/chorus/changelog.gz"),
]
LEFT_BY_PURGE = [Path("/etc/chorus"), Path("/var/lib/chorus"), Path("/var/cache/chorus")]
DEMO_TRACKS = 4


def run(argv: "list[str]", timeout: float = 60, check: bool = True, **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, **kwargs)
    if check and result.returncode != 0:
        raise HarnessError(f"`{shlex.join(argv)}` exited with {result.returncode}:\n"
                           f"{result.stdout[-2000:]}\n{result.stderr[-2000:]}")
    return result


def known_to_dpkg() -> bool:
    """Installed, or partly, or removed with its configuration kept: anything purge would undo."""
    result = run(["dpkg-query", "-W", "-f=${db:Status-Status}", PACKAGE], check=False)
    return result.returncode == 0 and result.stdout.strip() not in ("", "not-installed")


def field(name: str) -> str:
    return run(["dpkg-query", "-W", f"-f=${{{name}}}", PACKAGE]).stdout


class Package:
    """The state the steps share: the build tree, the .deb, the work directory."""

    def __init__(self, cluster: Cluster, build_dir: Path):
        self.cluster = cluster
        self.build_dir = build_dir
        self.workdir = Path(tempfile.mkdtemp(prefix="chorus-package-"))
        self.deb: "Path | None" = None

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)


def step_build(p: Package) -> None:
    t0 = now()
    result = run([str(ROOT / "scripts/package.sh"), "--build-dir", str(p.build_dir),
                  "--output-dir", str(p.workdir)], timeout=1200,
                 env={**os.environ, "JOBS": os.environ.get("JOBS", "2")})
    p.cluster.figure("scripts/package.sh", now() - t0)
    p.deb = Path(result.stdout.strip().splitlines()[-1])
    if not p.deb.is_file():
        raise HarnessError(f"package.sh printed {p.deb}, which is not a file")
    print(f"  built {p.deb.name} ({p.deb.stat().st_size // 1024} KiB)", flush=True)


def step_install(p: Package) -> None:
    run(["dpkg", "-i", str(p.deb)], env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
    missing = [str(f) for f in FILES if not f.exists()]
    if missing:
        raise HarnessError(f"not installed: {missing}")
    if not os.access("/usr/bin/chorus-node", os.X_OK):
        raise HarnessError("/usr/bin/chorus-node is not executable")
    if "/etc/chorus/chorus.toml" not in field("Conffiles"):
        raise HarnessError(f"chorus.toml is not a conffile: {field('Conffiles')!r}")
    depends = field("Depends")
    for needed in ("libc6", "libsystemd0", "adduser"):
        if needed not in depends:
            raise HarnessError(f"Depends lacks {needed}: {depends!r}")
    if "avahi-daemon" not in field("Recommends"):
        raise HarnessError(f"Recommends lacks avahi-daemon: {field('Recommends')!r}")
    user = pwd.getpwnam("chorus")
    if user.pw_dir != "/var/lib/chorus" or user.pw_uid >= 1000:
        raise HarnessError(f"the user chorus is not a system user at /var/lib/chorus: {user}")
    if "chorus" not in grp.getgrnam("audio").gr_mem:
        raise HarnessError("the user chorus is not in the group audio")
    for directory in ("/var/lib/chorus/music", "/var/cache/chorus"):
        if Path(directory).stat().st_uid != user.pw_uid:
            raise HarnessError(f"{directory} is not owned by chorus")
    demo = sorted(Path("/var/lib/chorus/music/demo").iterdir())
    if len(demo) != DEMO_TRACKS or not all(f.is_symlink() and f.resolve().is_file() for f in demo):
        raise HarnessError(f"the demo tracks are not linked from the music directory: {demo}")
    print(f"  Depends: {depends}", flush=True)


def step_man(p: Package) -> None:
    result = run(["man", "-P", "cat", "-l", "/usr/share/man/man1/chorus-node.1.gz"],
                 env={**os.environ, "MANWIDTH": "100"})
    if "chorus-node" not in result.stdout or "--no-prompt" not in result.stdout.replace("‐", "-"):
        raise HarnessError(f"the man page does not render as expected:\n{result.stdout[:1000]}")
    if result.stderr.strip():
        raise HarnessError(f"man warns:\n{result.stderr[:1000]}")


def step_unit(p: Package) -> None:
    result = run(["systemd-analyze", "verify", str(UNIT)], check=False)
    if result.returncode != 0 or "chorus-node" in result.stderr:
        raise HarnessError(f"systemd-analyze verify {UNIT}: exit {result.returncode}\n{result.stderr}")


def step_help(p: Package) -> None:
    result = run(["/usr/bin/chorus-node", "--help"])
    if "--no-prompt" not in result.stdout:
        raise HarnessError(f"--help does not list --no-prompt:\n{result.stdout[:500]}")


def unit_service_section() -> configparser.SectionProxy:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # keys are case-sensitive
    parser.read(UNIT)
    return parser["Service"]


def may_have_sys_nice() -> bool:
    CAP_SYS_NICE = 23
    bounding = next(line.split()[1] for line in Path("/proc/self/status").read_text().splitlines()
                    if line.startswith("CapBnd:"))
    return bool(int(bounding, 16) >> CAP_SYS_NICE & 1)


def step_run(p: Package) -> None:
    """The unit's ExecStart, user, capability, directories and environment, without systemd. On
    a machine shared with other nodes the default ports may be taken: the test adds free ones on
    loopback and the null output (no sound card); the music directory comes from the installed
    configuration file, which the node reads by itself."""
    service = unit_service_section()
    exec_start = shlex.split(service["ExecStart"])
    if exec_start[:2] != ["/usr/bin/chorus-node", "--no-prompt"]:
        raise HarnessError(f"unexpected ExecStart: {exec_start}")
    if service["User"] != "chorus" or "CAP_SYS_NICE" not in service["AmbientCapabilities"]:
        raise HarnessError("the unit does not run as chorus with CAP_SYS_NICE")
    http = free_port()
    argv = exec_start + [HOST, str(free_port()), "--content-port", str(free_port()),
                         "--mpd-port", "0", "--http-port", str(http), "--output", "null",
                         "--log-level", "debug"]
    env = {"PATH": "/usr/bin:/bin"}
    for assignment in shlex.split(service["Environment"]):
        key, _, value = assignment.partition("=")
        env[key] = value
    notify = NotifySocket()
    os.chmod(notify.dir.name, 0o755)
    os.chmod(notify.path, 0o777)  # the user chorus sends to it
    env["NOTIFY_SOCKET"] = notify.path
    env["WATCHDOG_USEC"] = "2000000"
    # The unit's one capability, if this machine can give it (a container may not have it).
    can_nice = may_have_sys_nice()
    caps = ["--inh-caps=+sys_nice", "--ambient-caps=+sys_nice"] if can_nice else []
    setpriv = ["setpriv", "--reuid=chorus", "--regid=chorus", "--init-groups", *caps,
               "--pdeathsig=KILL", "--"]
    log = open(p.workdir / "run.log", "wb")
    proc = subprocess.Popen(setpriv + argv, cwd=service["WorkingDirectory"], env=env,
                            stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        t0 = now()
        ready = notify.wait_for("READY=1", 15.0, "the installed node's start")
        p.cluster.figure("installed node: start -> READY=1", now() - t0)
        print(f"  STATUS: {status_of(ready)}", flush=True)
        uid = next(line.split()[1] for line in Path(f"/proc/{proc.pid}/status").read_text().splitlines()
                   if line.startswith("Uid:"))
        if int(uid) != pwd.getpwnam("chorus").pw_uid:
            raise HarnessError(f"the node runs as uid {uid}, not chorus")
        notify.wait_for("WATCHDOG=1", 2.0, "the watchdog's first ping")

        def demo_tracks_listed() -> object:
            with urllib.request.urlopen(f"http://{HOST}:{http}/metrics", timeout=2) as answer:
                text = answer.read().decode()
            line = next((l for l in text.splitlines() if l.startswith("chorus_library_tracks ")), "")
            return line == f"chorus_library_tracks {DEMO_TRACKS}" or f"library: {line!r}"
        wait_until(demo_tracks_listed, 10.0, what="the demo tracks in the installed node's library")
        proc.terminate()
        notify.wait_for("STOPPING=1", 5.0, "SIGTERM")
        code = reap_node(proc, timeout=10)
        if code != 0:
            raise HarnessError(f"the installed node exited with {code}")
        log.flush()
        text = (p.workdir / "run.log").read_text(errors="replace")
        tuning = next((l for l in text.splitlines() if "output thread runs with" in l), "")
        if can_nice and "SCHED_FIFO" not in tuning:
            raise HarnessError(f"CAP_SYS_NICE did not give the output thread SCHED_FIFO: {tuning!r}")
        if not can_nice:
            print("  note: no CAP_SYS_NICE in this machine's bounding set: real-time not checked", flush=True)
    except Exception:
        log.flush()
        print((p.workdir / "run.log").read_text(errors="replace")[-3000:], flush=True)
        raise
    finally:
        if proc.poll() is None:
            proc.kill()
            reap_node(proc, timeout=5)
        log.close()
        notify.close()


class BootedContainer:
    """systemd as PID 1 of a container (systemd-nspawn --boot) over this machine's /usr (read
    only, with the package installed) and a copy of its /etc and of the package's /var
    directories, with a network of its own (loopback only: no port clashes with the host)."""

    def __init__(self, workdir: Path, overrides: str):
        self.root = workdir / "root"
        self.proc: "subprocess.Popen | None" = None
        self.pid1 = 0
        self.mounted = False
        for name in ("bin", "lib", "lib64", "sbin"):
            if Path("/" + name).is_symlink():
                (self.root / name).parent.mkdir(parents=True, exist_ok=True)
                (self.root / name).symlink_to(os.readlink("/" + name))
        for name in ("usr", "proc", "sys", "dev", "run", "tmp", "root", "var/lib", "var/cache"):
            (self.root / name).mkdir(parents=True, exist_ok=True)
        run(["cp", "-a", "/etc", str(self.root)])
        run(["cp", "-a", "/var/lib/chorus", str(self.root / "var/lib")])
        run(["cp", "-a", "/var/cache/chorus", str(self.root / "var/cache")])
        drop_in = self.root / "etc/systemd/system/chorus-node.service.d"
        drop_in.mkdir(parents=True, exist_ok=True)
        (drop_in / "test.conf").write_text(overrides)
        self.log = open(workdir / "container.log", "wb")

    def boot(self) -> bool:
        """False (with a note) where containers cannot be booted here."""
        if run(["mount", "--bind", "/usr", str(self.root / "usr")], check=False).returncode != 0:
            print("  note: cannot bind-mount /usr: no container", flush=True)
            return False
        self.mounted = True
        run(["mount", "-o", "remount,bind,ro", str(self.root / "usr")], check=False)
        self.proc = subprocess.Popen(
            ["systemd-nspawn", "--quiet", "-D", str(self.root), "--boot", "--register=no",
             "--keep-unit", "--private-network", f"--machine=chorus-test-{os.getpid()}",
             "--", "systemd.firstboot=off", "systemd.unit=basic.target"],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log, start_new_session=True)

        def booted() -> object:
            if self.proc.poll() is not None:
                return True  # gave up: seen below
            try:
                children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()
            except OSError as error:  # it has just exited, or the kernel lacks the file
                return f"no PID 1 yet ({error})"
            if not children:
                return "no PID 1 yet"
            self.pid1 = int(children[0])
            state = self.run(["systemctl", "is-system-running"], check=False).stdout.strip()
            return state in ("running", "degraded") or f"system {state!r}"
        try:
            wait_until(booted, 30.0, poll=0.2, what="the container's systemd to boot")
        except HarnessError as error:
            print(f"  note: the container did not boot ({error}); see container.log", flush=True)
            return False
        if self.proc.poll() is not None:
            print(f"  note: systemd-nspawn exited with {self.proc.returncode}: no container", flush=True)
            return False
        return True

    def run(self, argv: "list[str]", check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
        return run(["nsenter", "-t", str(self.pid1), "-a", *argv], check=check, timeout=timeout)

    def show(self, *properties: str) -> "dict[str, str]":
        out = self.run(["systemctl", "show", "chorus-node", *[f"-p{p}" for p in properties]]).stdout
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            if self.pid1:
                self.run(["systemctl", "poweroff"], check=False, timeout=10)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self.mounted:
            if run(["umount", str(self.root / "usr")], check=False).returncode != 0:
                run(["umount", "-l", str(self.root / "usr")], check=False)
        self.log.close()
        if not (self.root / "usr").is_mount():
            shutil.rmtree(self.root, ignore_errors=True)


WATCHDOG_TEST_S = 2


def step_systemd(p: Package) -> None:
    """Where systemd-nspawn can boot a container: the installed unit under a real systemd. It
    starts (Type=notify: `systemctl start` returns once READY=1 came), shows the node's status,
    is restarted by the watchdog when the node is stopped (a drop-in shortens WatchdogSec), and
    stops cleanly."""
    if shutil.which("systemd-nspawn") is None or shutil.which("nsenter") is None:
        print("  note: no systemd-nspawn: the unit is not run under systemd", flush=True)
        return
    container = BootedContainer(p.workdir, f"[Service]\nWatchdogSec={WATCHDOG_TEST_S}\nRestartSec=1\n")
    try:
        if not container.boot():
            return
        t0 = now()
        container.run(["systemctl", "start", "chorus-node"], timeout=30)
        p.cluster.figure("systemctl start (until READY=1)", now() - t0)
        state = container.show("ActiveState", "StatusText", "MainPID", "NRestarts", "WatchdogUSec")
        print(f"  systemd: {state}", flush=True)
        if state["ActiveState"] != "active" or not state["StatusText"]:
            raise HarnessError(f"chorus-node under systemd: {state}\n" +
                               container.run(["journalctl", "-u", "chorus-node", "--no-pager"], check=False).stdout[-3000:])
        container.run(["kill", "-STOP", state["MainPID"]])
        t0 = now()

        def restarted() -> object:
            now_state = container.show("ActiveState", "MainPID", "NRestarts")
            done = (now_state["NRestarts"] == "1" and now_state["ActiveState"] == "active"
                    and now_state["MainPID"] not in ("0", state["MainPID"]))
            return done or f"{now_state}"
        wait_until(restarted, WATCHDOG_TEST_S + 8, poll=0.2, what="the watchdog to restart the stopped node")
        p.cluster.figure("SIGSTOP -> restarted by the watchdog", now() - t0)
        journal = container.run(["journalctl", "-u", "chorus-node", "--no-pager"]).stdout
        if "Watchdog timeout" not in journal:
            raise HarnessError(f"the restart was not the watchdog's:\n{journal[-2000:]}")
        container.run(["systemctl", "stop", "chorus-node"], timeout=30)
        final = container.show("ActiveState", "Result")
        if final != {"ActiveState": "inactive", "Result": "success"}:
            raise HarnessError(f"chorus-node did not stop cleanly: {final}")
    finally:
        container.close()


def step_remove(p: Package) -> None:
    run(["dpkg", "-r", PACKAGE])
    gone = [str(f) for f in FILES if f.exists() and f.parts[1] != "etc"]
    if gone:
        raise HarnessError(f"left after dpkg -r: {gone}")
    if not Path("/etc/chorus/chorus.toml").exists():
        raise HarnessError("dpkg -r removed the configuration (only purge should)")


def step_purge(p: Package) -> None:
    run(["dpkg", "--purge", PACKAGE])
    left = [str(f) for f in FILES + LEFT_BY_PURGE if f.exists() or f.is_symlink()]
    if left:
        raise HarnessError(f"left after dpkg --purge: {left}")
    for lookup, what in ((pwd.getpwnam, "user"), (grp.getgrnam, "group")):
        try:
            lookup("chorus")
            raise HarnessError(f"the {what} chorus is left after dpkg --purge")
        except KeyError:
            pass
    if "chorus" in grp.getgrnam("audio").gr_mem:
        raise HarnessError("chorus is still listed in the group audio")


def step_lan(p: Package) -> None:
    """Two installed nodes, each in a network namespace with its own avahi-daemon, started with
    no address (the package's music directory on one of them): one leader, then play in sync."""
    from lan import Lan  # noqa: E402  (raises Skip when namespaces or avahi-daemon are missing)

    with Lan(p.workdir) as lan:
        nodes = []
        for name in ("room1", "room2"):
            host = lan.add_host(name)
            args = ["--output", f"file:{p.workdir / (name + '.raw')}"]
            if name == "room1":
                args += ["--tracks", "/var/lib/chorus/music"]
            nodes.append(Node(INSTALLED_NODE, name, p.workdir, host=host.address, port=7600,
                              node_id=name, prefix=host.prefix(), mdns=True, extra_args=args))
        try:
            t0 = now()
            for node in nodes:
                node.launch()
            for node in nodes:
                node.identify()
            wait_until(one_agreed_leader(nodes, []), 4.0, what="two installed nodes agree on a leader",
                       since=t0)
            p.cluster.figure("installed nodes, no address: start -> one leader", now() - t0)
            require_ok(nodes[1], "play 1")
            played = now()
            wait_until(in_sync(nodes), 6.0, what="both installed nodes playing in sync", since=played)
            p.cluster.figure("installed nodes: play -> in sync", now() - played)
        finally:
            for node in nodes:
                if node.alive():
                    node.kill9()


STEPS = [step_build, step_install, step_man, step_unit, step_help, step_run, step_systemd, step_lan,
         step_remove, step_purge]


def scenario_package(cluster: Cluster) -> None:
    """Build, install, check, run, remove and purge the package."""
    if os.geteuid() != 0:
        raise Skip("needs root (dpkg -i)")
    for tool in ("dpkg", "dpkg-deb", "cpack", "setpriv", "systemd-analyze", "man"):
        if shutil.which(tool) is None:
            raise Skip(f"{tool} is not installed")
    if known_to_dpkg():
        raise Skip("a chorus package is installed already; this test installs and purges its own")
    build_dir = Path(os.path.abspath(cluster.binary)).parent.parent
    if not (build_dir / "CMakeCache.txt").is_file():
        raise Skip(f"{build_dir} is not a build tree")
    package = Package(cluster, build_dir)
    try:
        for step in STEPS:
            print(f"  step {step.__name__[5:]}", flush=True)
            t0 = now()
            step(package)
            cluster.figure(f"step {step.__name__[5:]}", now() - t0)
    finally:
        if known_to_dpkg():
            run(["dpkg", "--purge", PACKAGE], check=False)
        package.close()


SCENARIOS = [("1 package: build, install, run, remove, purge", scenario_package)]

if __name__ == "__main__":
    sys.exit(run_main("Debian package", SCENARIOS))
