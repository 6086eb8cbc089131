"""Headless Chromium driven through the DevTools protocol, for tests of the web page.

    with Browser(log_dir) as browser:          # starts Debian's `chromium`, or raises Unavailable
        page = browser.open("http://127.0.0.1:8080/?token=...")
        page.wait_for("window.chorus.connected && window.chorus.view !== null")
        page.click("#pause")                   # a real mouse click at the element's centre
        page.drag_range("[data-room='a'] input.volume", 30)
        page.screenshot(log_dir / "page.png")

The protocol is spoken over a WebSocket with Debian's python3-websocket (websocket-client). The
browser runs with a profile of its own in a temporary directory and is always killed on the way
out. Standard library otherwise.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any, Optional


class Unavailable(Exception):
    """No browser or no DevTools client on this machine: the test is skipped, not failed."""


def _websocket_module():
    try:
        import websocket  # type: ignore
    except ImportError:
        # Debian's python3-websocket lives in the system's dist-packages, which another Python
        # (a virtualenv, pyenv) does not search; it is pure Python, so any Python 3 can load it.
        debian = "/usr/lib/python3/dist-packages"
        if not os.path.isdir(os.path.join(debian, "websocket")):
            raise Unavailable("python3-websocket is not installed")
        sys.path.append(debian)
        import websocket  # type: ignore
    return websocket


def chromium_binary() -> Optional[str]:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


class BrowserError(AssertionError):
    """The page did not do what the test expected (a test failure)."""


class Page:
    """One tab, spoken to over its DevTools WebSocket."""

    def __init__(self, websocket_url: str):
        websocket = _websocket_module()
        self._socket = websocket.create_connection(websocket_url, timeout=30, suppress_origin=True)
        self._next_id = 0
        self.console: "list[str]" = []
        self.call("Page.enable")
        self.call("Runtime.enable")

    def close(self) -> None:
        try:
            self._socket.close()
        except Exception:  # noqa: BLE001 - closing a socket the browser may have dropped
            pass

    def call(self, method: str, params: Optional[dict] = None, timeout: float = 30.0) -> dict:
        self._next_id += 1
        ident = self._next_id
        self._socket.send(json.dumps({"id": ident, "method": method, "params": params or {}}))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self._socket.recv())
            if message.get("method") == "Runtime.consoleAPICalled":
                args = message["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            if message.get("id") == ident:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error']}")
                return message.get("result", {})
        raise BrowserError(f"{method}: no answer in {timeout} s")

    def evaluate(self, expression: str) -> Any:
        result = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                "awaitPromise": True})
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')} "
                               f"{result['exceptionDetails'].get('exception', {}).get('description', '')}")
        return result["result"].get("value")

    def navigate(self, url: str, timeout: float = 15.0) -> None:
        self.call("Page.navigate", {"url": url})
        self.wait_for("document.readyState === 'complete'", timeout, what=f"{url} loaded")

    def wait_for(self, expression: str, timeout: float = 10.0, what: str = "") -> Any:
        """Polls a JavaScript expression until it is truthy (by JavaScript's rules: an element
        found is true); its value (an element as True)."""
        probe = (f"(() => {{ const value = ({expression});"
                 " return {ok: !!value, value: value instanceof Node ? true : value}; })()")
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            try:
                result = self.evaluate(probe)
            except BrowserError as error:
                last = str(error)
            else:
                last = result["value"]
                if result["ok"]:
                    return last
            time.sleep(0.05)
        raise BrowserError(f"timed out waiting for {what or expression} (last: {last!r})")

    def box(self, selector: str) -> dict:
        box = self.evaluate(f"""(() => {{
            const node = document.querySelector({json.dumps(selector)});
            if (!node) return null;
            node.scrollIntoView({{block: "center"}});
            const r = node.getBoundingClientRect();
            return {{x: r.left, y: r.top, width: r.width, height: r.height,
                     visible: r.width > 0 && r.height > 0 && getComputedStyle(node).visibility !== "hidden"}};
        }})()""")
        if not box:
            raise BrowserError(f"no element {selector}")
        if not box["visible"]:
            raise BrowserError(f"{selector} is not visible")
        return box

    def _mouse(self, kind: str, x: float, y: float) -> None:
        params = {"type": kind, "x": x, "y": y, "button": "left"}
        if kind != "mouseMoved":
            params["clickCount"] = 1
        else:
            params["buttons"] = 1
        self.call("Input.dispatchMouseEvent", params)

    def click(self, selector: str) -> None:
        """A real click (pressed, released) at the element's centre, as a user's."""
        box = self.box(selector)
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        self._mouse("mousePressed", x, y)
        self._mouse("mouseReleased", x, y)

    def click_at_fraction(self, selector: str, fraction: float) -> None:
        box = self.box(selector)
        x, y = box["x"] + box["width"] * fraction, box["y"] + box["height"] / 2
        self._mouse("mousePressed", x, y)
        self._mouse("mouseReleased", x, y)

    def drag_range(self, selector: str, value: int, steps: int = 8) -> int:
        """Drags a range input's thumb to about `value` with the mouse; the value it ends at."""
        box = self.box(selector)
        low, high, current = self.evaluate(
            f"(() => {{ const n = document.querySelector({json.dumps(selector)});"
            f" return [Number(n.min), Number(n.max), Number(n.value)]; }})()")
        thumb = 16  # about Chromium's thumb width: the track is inset by half of it at each end

        def x_of(v: float) -> float:
            usable = box["width"] - thumb
            return box["x"] + thumb / 2 + usable * (v - low) / (high - low)

        y = box["y"] + box["height"] / 2
        start, end = x_of(current), x_of(value)
        self._mouse("mousePressed", start, y)
        for step in range(1, steps + 1):
            self._mouse("mouseMoved", start + (end - start) * step / steps, y)
        self._mouse("mouseReleased", end, y)
        return int(self.evaluate(f"Number(document.querySelector({json.dumps(selector)}).value)"))

    def screenshot(self, path: Path) -> Path:
        data = self.call("Page.captureScreenshot", {"format": "png"})["data"]
        Path(path).write_bytes(base64.b64decode(data))
        return Path(path)

    def set_viewport(self, width: int, height: int, mobile: bool = False) -> None:
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile})


class Browser:
    """A headless Chromium with a temporary profile; killed on exit."""

    def __init__(self, log_dir: Optional[Path] = None):
        self.binary = chromium_binary()
        if self.binary is None:
            raise Unavailable("no chromium on this machine")
        _websocket_module()
        self.log_dir = Path(log_dir) if log_dir else None
        self._profile = tempfile.mkdtemp(prefix="chorus-chromium-")
        self._process: Optional[subprocess.Popen] = None
        self._pages: "list[Page]" = []
        self.port = 0

    def __enter__(self) -> "Browser":
        args = [self.binary, "--headless=new", "--remote-debugging-port=0", "--remote-allow-origins=*",
                f"--user-data-dir={self._profile}", "--no-first-run", "--no-default-browser-check",
                "--disable-gpu", "--disable-dev-shm-usage", "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--mute-audio",
                "--window-size=412,915", "about:blank"]
        if os.geteuid() == 0:
            args.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
        log = open(self.log_dir / "chromium.log", "wb") if self.log_dir else subprocess.DEVNULL
        self._process = subprocess.Popen(args, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        # Chromium writes the port it chose to DevToolsActivePort in its profile.
        port_file = Path(self._profile) / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise BrowserError(f"chromium exited with {self._process.returncode}")
            if port_file.exists():
                lines = port_file.read_text().splitlines()
                if lines and lines[0].isdigit():
                    self.port = int(lines[0])
                    break
            time.sleep(0.05)
        else:
            raise BrowserError("chromium did not open its DevTools port in 30 s")
        return self

    def open(self, url: str) -> Page:
        targets = json.load(urllib.request.urlopen(f"http://127.0.0.1:{self.port}/json/list", timeout=10))
        pages = [t for t in targets if t.get("type") == "page"]
        if not pages:
            raise BrowserError("chromium has no page")
        page = Page(pages[0]["webSocketDebuggerUrl"])
        self._pages.append(page)
        page.navigate(url)
        return page

    def __exit__(self, *exc: Any) -> bool:
        for page in self._pages:
            page.close()
        if self._process is not None and self._process.poll() is None:
            try:
                os.killpg(self._process.pid, signal.SIGKILL)
            except OSError:
                pass
            self._process.wait(timeout=10)
        shutil.rmtree(self._profile, ignore_errors=True)
        return False
