"""A private PulseAudio server for the real-output system tests and benchmarks.

Debian's `pulseaudio`, started with its own runtime directory and a config of its own: no sound
card, no D-Bus, null sinks at 48 kHz s16le stereo standing in for the rooms' sound cards. Each
null sink consumes audio on its own clock and offers what it played on its monitor source, which
skew_probe records (NAME=pulse:SINK.monitor). Sinks are loaded with norewinds=1: a sink that
rewinds (when a stream starts) would hand its monitor the same stretch of audio twice.

Nodes reach it through PULSE_SERVER (node_env()); libpulse, ALSA's pulse plugin and SDL's
pulseaudio driver all read it. close() kills the server's process group and removes its
directory. Standard library only.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path
from typing import Iterable, Optional

from harness import HarnessError, Skip, wait_until


class SoundServer:
    def __init__(self, workdir: Path, sinks: Iterable[str]):
        if shutil.which("pulseaudio") is None or shutil.which("pactl") is None:
            raise Skip("pulseaudio and pactl are not installed (scripts/setup.sh installs them)")
        # A short private path: the socket's path must fit in sun_path (108 bytes).
        self.dir = Path(tempfile.mkdtemp(prefix="chorus-pa-"))
        self.workdir = Path(workdir)
        self.sinks = list(sinks)
        self.proc: Optional[subprocess.Popen] = None
        self.log_path = self.workdir / "pulseaudio.log"
        self.start()

    @property
    def address(self) -> str:
        return f"unix:{self.dir / 'run' / 'native'}"

    def node_env(self, **extra: str) -> "list[str]":
        """A command prefix (`env VAR=... `) that points a node at this server."""
        pairs = {"PULSE_SERVER": self.address, **extra}
        return ["env"] + [f"{k}={v}" for k, v in pairs.items()]

    def env(self) -> "dict[str, str]":
        return {**os.environ, "PULSE_SERVER": self.address}

    def start(self) -> None:
        run_dir = self.dir / "run"
        run_dir.mkdir(parents=True, exist_ok=True)
        config = self.dir / "server.pa"
        lines = [f"load-module module-native-protocol-unix socket={run_dir / 'native'} auth-anonymous=1"]
        lines += [self._sink_line(name) for name in self.sinks]
        config.write_text("\n".join(lines) + "\n")
        env = {**os.environ, "HOME": str(self.dir), "XDG_RUNTIME_DIR": str(run_dir),
               "PULSE_RUNTIME_PATH": str(run_dir)}
        env.pop("PULSE_SERVER", None)
        # No memfd: with it, PulseAudio 16.1 logged "Cannot send block reference with
        # non-registered memfd ID" in every test_real_outputs run and once aborted after them
        # (memblock.c:627), killing every room of the test; POSIX shared memory carries the same
        # audio, and those errors are gone.
        argv = ["pulseaudio", "-n", "-F", str(config), "--daemonize=no", "--exit-idle-time=-1",
                "--use-pid-file=no", "--enable-memfd=no", f"--log-target=file:{self.log_path}"]
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        wait_until(lambda: self.pactl("info", check=False) is not None or self._died(), 10.0,
                   poll=0.05, what="pulseaudio to answer")
        if self._died():
            raise HarnessError(f"pulseaudio exited with {self.proc.returncode}; see {self.log_path}")

    def _died(self) -> bool:
        return self.proc is not None and self.proc.poll() is not None

    @staticmethod
    def _sink_line(name: str) -> str:
        return (f"load-module module-null-sink sink_name={name} rate=48000 format=s16le "
                "channels=2 norewinds=1")

    def pactl(self, *args: str, check: bool = True) -> Optional[str]:
        result = subprocess.run(["pactl", f"--server={self.address}", *args], capture_output=True,
                                timeout=10)
        if result.returncode != 0:
            if check:
                raise HarnessError(f"pactl {' '.join(args)}: {result.stderr.decode(errors='replace')}")
            return None
        return result.stdout.decode(errors="replace")

    def unload_sink(self, name: str) -> None:
        """Removes a sink, as when a USB card is unplugged."""
        for line in (self.pactl("list", "short", "modules") or "").splitlines():
            fields = line.split("\t")
            if len(fields) > 2 and f"sink_name={name} " in fields[2] + " ":
                self.pactl("unload-module", fields[0])
                return
        raise HarnessError(f"no module made sink {name}")

    def load_sink(self, name: str) -> None:
        self.pactl("load-module", *self._sink_line(name).split()[1:])

    def restart(self) -> None:
        self.stop()
        self.start()

    def stop(self) -> None:
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)
        self.proc = None

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)
