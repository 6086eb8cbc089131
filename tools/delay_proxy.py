#!/usr/bin/env python3
"""delay_proxy: an order-preserving TCP delay proxy in user space (the kernel here has no netem).

    python3 tools/delay_proxy.py --listen 127.0.0.1:PORT --target 127.0.0.1:PORT
        [--delay-ms D] [--jitter-ms J] [--up-delay-ms U] [--down-delay-ms W] [--seed N]

Every connection accepted on --listen gets its own connection to --target; bytes are relayed in
both directions, each chunk held back before it is forwarded:

    release = max(previous release in that direction, arrival + delay + uniform(-J, +J))

so jitter never reorders bytes (the next chunk waits for the one before it) and a chunk is never
released before it arrived (a negative delay + jitter counts as 0). "up" is client -> target,
"down" is target -> client; --delay-ms sets both, --up-delay-ms / --down-delay-ms override one
direction (asymmetric paths). "arrival" is the kernel's receive stamp of the chunk, so the
proxy's own wake-up does not count as delay (it would add only on the hop that finds the proxy
idle, making the directions unequal). Chunks are released to within about 0.1 ms, never early.

- --listen port 0 picks a free port. Once listening, exactly one line `ready PORT` goes to stdout.
- Only loopback targets (127.0.0.0/8, ::1) are accepted.
- When either side closes (or fails), the close is forwarded after that direction's queued data,
  and then both sides of the pair are closed.
- Memory is bounded: a direction holding more than 4 MiB stops reading its source (TCP
  backpressure) until the queue drains.
- SIGTERM / SIGINT: stop listening, drop every connection, exit 0.

Standard library only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import ipaddress
import random
import select
import selectors
import signal
import socket
import struct
import sys
import time
from typing import Callable, Optional

CHUNK_BYTES = 64 * 1024
QUEUE_LIMIT_BYTES = 4 * 1024 * 1024
SO_TIMESTAMPNS = getattr(socket, "SO_TIMESTAMPNS", 35)  # Linux; the module lacks the name
STAMP_SPACE = socket.CMSG_SPACE(16)  # one struct timespec


def parse_endpoint(text: str) -> "tuple[str, int]":
    host, sep, port = text.rpartition(":")
    if not sep or not host:
        raise argparse.ArgumentTypeError(f"expected HOST:PORT, got {text!r}")
    try:
        number = int(port)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad port in {text!r}")
    if not 0 <= number <= 65535:
        raise argparse.ArgumentTypeError(f"port out of range in {text!r}")
    return host.strip("[]"), number


class PreciseEpollSelector(selectors.EpollSelector):
    """epoll for readiness, but the wait itself is a select() on the epoll descriptor.

    epoll_wait (like poll) takes whole milliseconds, so asyncio's timers would fire on a 1 ms grid
    and the delays would cluster on whole milliseconds instead of spreading uniformly; select()
    sleeps to the microsecond. Waiting on the one epoll descriptor (readable when any registered
    socket is ready) keeps epoll's scaling and avoids select()'s FD_SETSIZE limit."""

    def select(self, timeout: Optional[float] = None):
        if timeout is None or timeout > 0:
            select.select([self.fileno()], [], [], timeout)
        return super().select(0)


class Lane:
    """One direction of one connection: a FIFO of (release time, chunk); None marks the close."""

    def __init__(self, delay_s: float, jitter_s: float, rng: random.Random):
        self.delay_s = delay_s
        self.jitter_s = jitter_s
        self.rng = rng
        self.items: "collections.deque[tuple[float, Optional[bytes]]]" = collections.deque()
        self.last_release = 0.0
        self.queued = 0
        self.nonempty = asyncio.Event()
        self.on_room: Callable[[], None] = lambda: None

    def put(self, data: Optional[bytes], arrival: float) -> None:
        delay = self.delay_s
        if self.jitter_s > 0:
            delay += self.rng.uniform(-self.jitter_s, self.jitter_s)
        release = max(self.last_release, arrival + max(0.0, delay))
        self.last_release = release
        self.items.append((release, data))
        if data:
            self.queued += len(data)
        self.nonempty.set()

    def full(self) -> bool:
        return self.queued > QUEUE_LIMIT_BYTES

    async def get(self) -> "tuple[float, Optional[bytes]]":
        while not self.items:
            self.nonempty.clear()
            await self.nonempty.wait()
        return self.items.popleft()

    def sent(self, size: int) -> None:
        was_full = self.full()
        self.queued -= size
        if was_full and not self.full():
            self.on_room()


def arrival_instant(loop: asyncio.AbstractEventLoop, ancillary: list) -> float:
    """When the kernel received a read's bytes, on the loop's clock: its receive stamp, not the
    moment this process woke up to read them. An idle proxy wakes tens to hundreds of
    microseconds after the bytes arrive, and only on the hop that finds it idle (a request, not
    the answer that comes back while it is still awake): counting that wake-up as part of the
    delay made the two directions' least delays differ by up to ~0.4 ms."""
    now = loop.time()
    for level, kind, payload in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(payload) >= 16:
            seconds, nanoseconds = struct.unpack("qq", payload[:16])
            age = time.time() - (seconds + nanoseconds / 1e9)
            if 0.0 <= age < 1.0:
                return now - age
    return now


class Reader:
    """Reads one socket into a lane as the loop reports it readable; a full lane stops reading
    (TCP backpressure) until it drains. End of stream or a failure queues the close marker."""

    def __init__(self, loop: asyncio.AbstractEventLoop, sock: socket.socket, lane: Lane):
        self.loop = loop
        self.sock = sock
        self.lane = lane
        self.reading = False
        self.finished = False
        sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        lane.on_room = self.resume
        self.resume()

    def resume(self) -> None:
        if not self.reading and not self.finished:
            self.loop.add_reader(self.sock.fileno(), self.on_readable)
            self.reading = True

    def pause(self) -> None:
        if self.reading:
            self.loop.remove_reader(self.sock.fileno())
            self.reading = False

    def on_readable(self) -> None:
        try:
            data, ancillary, _, _ = self.sock.recvmsg(CHUNK_BYTES, STAMP_SPACE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data, ancillary = b"", []
        if not data:
            self.pause()
            self.finished = True
            self.lane.put(None, self.loop.time())
            return
        self.lane.put(data, arrival_instant(self.loop, ancillary))
        if self.lane.full():
            self.pause()


async def write_from(lane: Lane, sink: socket.socket) -> None:
    """Returns when the lane's close marker is due (or raises when the sink fails)."""
    loop = asyncio.get_running_loop()
    while True:
        release, data = await lane.get()
        wait = release - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        if data is None:
            return
        await loop.sock_sendall(sink, data)
        lane.sent(len(data))


def family_of(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def stream_socket(host: str) -> socket.socket:
    sock = socket.socket(family_of(host), socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


class Proxy:
    def __init__(self, target: "tuple[str, int]", up_s: float, down_s: float, jitter_s: float,
                 rng: random.Random):
        self.target = target
        self.up_s = up_s
        self.down_s = down_s
        self.jitter_s = jitter_s
        self.rng = rng
        self.connections: "set[asyncio.Task]" = set()

    async def accept(self, listener: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        while True:
            client, _ = await loop.sock_accept(listener)
            client.setblocking(False)
            task = loop.create_task(self.handle(client))
            self.connections.add(task)
            task.add_done_callback(self.connections.discard)

    async def handle(self, client: socket.socket) -> None:
        loop = asyncio.get_running_loop()
        target = stream_socket(self.target[0])
        readers: "list[Reader]" = []
        writers: "list[asyncio.Task]" = []
        try:
            try:
                await loop.sock_connect(target, self.target)
            except OSError:
                return  # target not listening: the client sees its connection closed
            for sock in (client, target):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            up = Lane(self.up_s, self.jitter_s, self.rng)
            down = Lane(self.down_s, self.jitter_s, self.rng)
            readers = [Reader(loop, client, up), Reader(loop, target, down)]
            writers = [loop.create_task(write_from(up, target)),
                       loop.create_task(write_from(down, client))]
            # Either side's close (delivered in order) or any write failure ends the pair.
            await asyncio.wait(writers, return_when=asyncio.FIRST_COMPLETED)
        except asyncio.CancelledError:
            pass  # shutdown
        finally:
            for reader in readers:
                reader.pause()
            for writer in writers:
                writer.cancel()
            for writer in writers:
                try:
                    await writer
                except (asyncio.CancelledError, ConnectionError, OSError):
                    pass
            target.close()
            client.close()


async def serve(args: argparse.Namespace) -> int:
    listen_host, listen_port = args.listen
    target_host, target_port = args.target
    up_ms = args.up_delay_ms if args.up_delay_ms is not None else args.delay_ms
    down_ms = args.down_delay_ms if args.down_delay_ms is not None else args.delay_ms
    proxy = Proxy((target_host, target_port), up_ms / 1e3, down_ms / 1e3, args.jitter_ms / 1e3,
                  random.Random(args.seed))
    listener = socket.create_server((listen_host, listen_port), family=family_of(listen_host))
    listener.setblocking(False)
    port = listener.getsockname()[1]
    print(f"ready {port}", flush=True)
    loop = asyncio.get_running_loop()
    accepting = loop.create_task(proxy.accept(listener))

    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await stop.wait()

    accepting.cancel()
    listener.close()
    for task in list(proxy.connections):
        task.cancel()
    if proxy.connections:
        await asyncio.wait(list(proxy.connections), timeout=2.0)
    return 0


def main(argv: "Optional[list[str]]" = None) -> int:
    parser = argparse.ArgumentParser(description="Order-preserving TCP delay proxy (loopback).")
    parser.add_argument("--listen", type=parse_endpoint, required=True, metavar="HOST:PORT")
    parser.add_argument("--target", type=parse_endpoint, required=True, metavar="HOST:PORT")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="both directions")
    parser.add_argument("--jitter-ms", type=float, default=0.0, help="uniform +-J per chunk")
    parser.add_argument("--up-delay-ms", type=float, default=None, help="client -> target")
    parser.add_argument("--down-delay-ms", type=float, default=None, help="target -> client")
    parser.add_argument("--seed", type=int, default=None, help="seed of the jitter")
    args = parser.parse_args(argv)

    try:
        loopback = ipaddress.ip_address(args.target[0]).is_loopback
    except ValueError:
        loopback = False
    if not loopback or args.target[1] == 0:
        parser.error(f"--target must be a loopback address with a port, got "
                     f"{args.target[0]}:{args.target[1]}")
    for name in ("delay_ms", "jitter_ms", "up_delay_ms", "down_delay_ms"):
        value = getattr(args, name)
        if value is not None and value < 0:
            parser.error(f"--{name.replace('_', '-')} must not be negative")
    loop = asyncio.SelectorEventLoop(PreciseEpollSelector())
    try:
        return loop.run_until_complete(serve(args))
    except OSError as error:
        print(f"delay_proxy: {error}", file=sys.stderr)
        return 1
    finally:
        loop.close()


if __name__ == "__main__":
    sys.exit(main())
