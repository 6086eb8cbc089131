"""The web page in headless Chromium against a server with a fake ControlPort
(test_browser_page.cpp starts the server, runs this script, then checks the commands the port got).

    python3 browser_page.py --url http://127.0.0.1:PORT/ --out DIR

Opens the page, waits for the rooms and the track, sees the position move on its own (from 0:10
to 0:12 without a new view), clicks pause (a real mouse click), waits for the
view that shows it paused, drags the second room's volume slider, waits for the view that shows the
new volume, clicks the middle of the position bar (a seek), keeps a screenshot in DIR/page.png, and prints one JSON line: {"volume": V} (the value
the slider ended at). Exit 0 on success, 77 when there is no browser, 1 on a failure.
"""

import argparse
import json
import sys
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "system"))
import browser  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    out = Path(args.out)
    try:
        with browser.Browser(out) as chromium:
            page = chromium.open(args.url)
            try:
                page.wait_for("window.chorus && window.chorus.connected && window.chorus.view", what="the first view")
                rooms = page.wait_for("(() => { const r = [...document.querySelectorAll('#rooms [data-room]')]"
                                      ".map(n => n.dataset.room); return r.length === 2 && r; })()",
                                      what="two rooms")
                assert rooms == ["kitchen", "hall"], rooms
                page.wait_for("document.getElementById('now-title').textContent === 'song.flac'", what="the track")
                page.wait_for("document.querySelectorAll('#queue li[data-item-id]').length === 3", what="the queue")
                page.wait_for("document.querySelectorAll('#library-results li[data-path]').length === 50",
                              what="the library's first page")

                # The position moves with the page's own clock: no new view is needed for it.
                views = page.evaluate("window.chorus.views")
                page.wait_for("(() => { const [m, s] = document.getElementById('elapsed').textContent.split(':');"
                              " return Number(m) * 60 + Number(s) >= 12; })()", timeout=10.0,
                              what="the elapsed time to reach 0:12 (it was sent as 0:10)")
                assert page.evaluate("parseFloat(document.getElementById('seekbar-fill').style.width)") >= 11.5
                assert page.evaluate("window.chorus.views") == views, "the page waited for views to move"

                # A phone's width: nothing wider than the screen.
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                assert overflow <= 0, f"the page is {overflow} px wider than the screen"

                page.click("#pause")
                page.wait_for("document.body.dataset.status === 'paused'", what="the paused view")
                page.wait_for("!document.getElementById('play').classList.contains('hidden')",
                              what="the play button back")

                slider = "#rooms [data-room='hall'] input.volume"
                volume = page.drag_range(slider, 20)
                assert volume != 50, "the slider did not move"
                page.wait_for(f"document.querySelector(\"#rooms [data-room='hall']\").dataset.volume === '{volume}'",
                              what=f"the hall at volume {volume}")
                # Half-way along the position bar: a seek to about half the track (100 s).
                page.click_at_fraction("#seekbar", 0.5)
                page.wait_for("window.chorus.lastReply && window.chorus.lastReply.ok === true", what="the seek's reply")

                page.evaluate("window.scrollTo(0, 0)")
                page.screenshot(out / "page.png")
            except Exception:
                page.screenshot(out / "failure.png")
                print("console:", page.console, file=sys.stderr)
                raise
    except browser.Unavailable as why:
        print(f"skipped: {why}", file=sys.stderr)
        return 77
    except Exception:  # noqa: BLE001 - any failure is the test's
        traceback.print_exc()
        return 1
    print(json.dumps({"volume": volume}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
