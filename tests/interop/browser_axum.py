"""The browser side of the interop checks for sansio-ws-tokio: a headless Chromium page in the axum
example (crates/sansio-ws-tokio/examples/axum), driven over the DevTools protocol with the helpers
of browser.py.

Starts the example itself (AXUM_COMMAND, whose last argument is the address, 127.0.0.1:0 for any
port; its output goes to WORK_DIR/axum.log) and reads the address it prints. Then: the page
opens its WebSocket; a message typed into it comes back as "echo: ..."; its Close button closes
with 1000 ("closed by you") and its Reconnect button opens a new connection that echoes too. A
page of another origin (served by this script on another port, so its Origin differs from the
server's host by the port) trying `new WebSocket(...)` to the server must be refused: the server
answers 403 (its log names the origin), the page sees an error and a close with 1006, and
/stats counts the refusal. Last, the server gets SIGTERM: the page must say the server closed
with 1001, in words, with the server's reason; the server must exit within 10 s with status 0,
its log holding one line per connection with the cause of its end.

Screenshots: WORK_DIR/axum-open.png and WORK_DIR/axum-closed.png (the text each shows is
checked at the moment it is taken).

Prints one `PASS name` or `FAIL name: detail` line per check; exits non-zero on any failure.

Usage: browser_axum.py CHROMIUM WORK_DIR AXUM_COMMAND...
"""

import asyncio
import base64
import http.server
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.request

from websockets.asyncio.client import connect

# Importing browser.py must leave no __pycache__ in the source tree.
sys.dont_write_bytecode = True
from browser import Cdp, CdpError, Page, chromium_command, devtools_endpoint, open_page, stop  # noqa: E402

CHECKS = [
    "chromium starts and its DevTools endpoint answers",
    "the axum example starts and prints the address it listens on",
    "the page loads and its WebSocket opens",
    "a message typed in the page comes back as an echo",
    "screenshot of the open page saved, showing the state and the echo",
    "the page's Close button closes with 1000 (closed by you, in words)",
    "the page's Reconnect button opens a new connection, which echoes too",
    "a page of another origin is refused (403 for its origin; the page sees an error, then 1006)",
    "/stats counts the refusal, the accepted connections, the open one and the one ended with 1000",
    "on SIGTERM the page says the server closed with 1001, in words, with its reason",
    "screenshot of the closed page saved, showing the close in words",
    "the server exits within 10 s of SIGTERM, with status 0",
    "the server's log has one line per connection, each with the cause of its end",
]

STATE = "document.getElementById('state')?.textContent"
DETAIL = "document.getElementById('detail')?.textContent"
LOG = "document.getElementById('log')?.textContent"
BODY = "document.body?.innerText"
# The page of another origin: what its WebSocket went through.
OUTCOME = "typeof outcome === 'object' && outcome !== null ? outcome : null"

OTHER_PAGE = """<!doctype html>
<meta charset="utf-8">
<title>another origin</title>
<link rel="icon" href="data:,">
<p>A page of another origin opening <code id="url"></code>: <span id="out">trying</span></p>
<script>
"use strict";
let outcome = null;
const events = [];
const url = %s;
document.getElementById("url").textContent = url;
const ws = new WebSocket(url);
ws.onopen = () => events.push("open");
ws.onerror = () => events.push("error");
ws.onclose = (e) => {
  events.push("close " + e.code);
  outcome = { events, code: e.code, clean: e.wasClean };
  document.getElementById("out").textContent = events.join(", ");
};
</script>
"""


class Checks:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.failures = 0

    def report(self, index: int, ok: bool, detail: str = "") -> bool:
        name = CHECKS[index]
        self.done.add(name)
        if ok:
            print(f"PASS {name}", flush=True)
        else:
            self.failures += 1
            print(f"FAIL {name}: {detail}", flush=True)
        return ok

    def not_run(self, why: str) -> None:
        for index, name in enumerate(CHECKS):
            if name not in self.done:
                self.report(index, False, f"not run: {why}")


# Loopback only, never through a proxy.
OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def get_json(url: str) -> dict:
    with OPENER.open(url, timeout=10) as response:
        return json.load(response)


class Server:
    """The axum example, started here so that its exit status can be had."""

    def __init__(self, command: list[str], log_path: str) -> None:
        self.log_path = log_path
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def log(self) -> str:
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def address(self, timeout: float = 10) -> str:
        """The http://127.0.0.1:PORT it says it listens on (a real port, not 0)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = re.search(r"listening on (http://127\.0\.0\.1:(\d+))/", self.log())
            if found:
                if int(found.group(2)) == 0:
                    raise RuntimeError(f"it printed port 0, not the port it is bound to: {found.group(0)!r}")
                return found.group(1)
            if self.process.poll() is not None:
                raise RuntimeError(f"it exited with status {self.process.returncode}: {self.log()!r}")
            time.sleep(0.1)
        raise RuntimeError(f"no address within {timeout} s: {self.log()!r}")

    def end(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)


def serve_other_origin(target: str) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serves the page of another origin on a port of its own; returns the server and its URL."""
    page = (OTHER_PAGE % json.dumps(target)).encode()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(page)))
            self.end_headers()
            self.wfile.write(page)

        def log_message(self, *_) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}"


async def screenshot_to(checks: Checks, page: Page, path: str, index: int, expect: list[str]) -> None:
    """Saves a screenshot, and checks the page shows each of `expect`: the text is read just
    before and just after the capture, and both must hold it (else it is taken again)."""
    missing: list[str] = []
    data, text = b"", ""
    for _ in range(5):
        before = await page.eval(BODY) or ""
        shot = await page.call("Page.captureScreenshot", {"format": "png"})
        data = base64.b64decode(shot["data"])
        text = await page.eval(BODY) or ""
        missing = [e for e in expect if e not in before or e not in text]
        if not missing:
            break
        await asyncio.sleep(0.1)
    with open(path, "wb") as f:
        f.write(data)
    ok = data.startswith(b"\x89PNG") and len(data) > 1000 and not missing
    checks.report(index, ok, f"{len(data)} bytes, missing {missing} in {text!r}")
    shown = " | ".join(line for line in text.split("\n")[:4] if line)
    print(f"  (screenshot: {path}; shows: {shown})", flush=True)


async def echoes(page: Page, text: str) -> tuple[bool, str | None]:
    """Types `text` into the page's form, sends it, and waits for its echo."""
    await page.type_and_send(text)
    return await page.wait_for(LOG, lambda v: isinstance(v, str) and f"echo: {text}\n" in v)


async def drive(checks: Checks, endpoint: str, server: Server, url: str, work: str) -> None:
    async with connect(endpoint, max_size=None, proxy=None, ping_interval=None, compression=None) as ws:
        cdp = Cdp(ws)
        page = await open_page(cdp, "A", url + "/")
        ok, state = await page.wait_for(STATE, lambda v: v == "open")
        detail = await page.eval(DETAIL)
        ws_url = url.replace("http://", "ws://") + "/ws"
        checks.report(2, ok and detail == ws_url, f"state {state!r}, detail {detail!r} (expected {ws_url!r})")
        extensions = await page.eval("ws ? ws.extensions : null")
        print(f"  (the page's WebSocket: {detail}; extensions: {extensions or 'none'})", flush=True)

        said = "hello from the page, caf\u00e9 \u2713 \U0001f980"
        ok, log = await echoes(page, said)
        checks.report(3, ok, f"log {log!r}")
        await screenshot_to(checks, page, os.path.join(work, "axum-open.png"), 4, ["open", ws_url, f"echo: {said}"])

        await page.eval("document.getElementById('leave').click()")
        ok, state = await page.wait_for(STATE, lambda v: v == "closed")
        detail = await page.eval(DETAIL)
        by_me = detail == "closed by you: 1000 normal closure \"bye\""
        checks.report(5, ok and by_me, f"state {state!r}, detail {detail!r}")

        await page.eval("document.getElementById('again').click()")
        ok, state = await page.wait_for(STATE, lambda v: v == "open")
        again = "again, after reconnecting"
        echoed, log = await echoes(page, again) if ok else (False, None)
        checks.report(6, ok and echoed, f"state {state!r}, log {log!r}")

        httpd, other = serve_other_origin(ws_url)
        try:
            stranger = await open_page(cdp, "B", other + "/")
            ok, outcome = await stranger.wait_for(OUTCOME, lambda v: isinstance(v, dict))
            await cdp.call("Target.closeTarget", {"targetId": stranger.target})
        finally:
            httpd.shutdown()
            httpd.server_close()
        events = (outcome or {}).get("events") if isinstance(outcome, dict) else None
        seen = events == ["error", "close 1006"]
        refusal = rf'^axum-example: [0-9.:]+: the request was refused with 403: origin "{re.escape(other)}" is not allowed'
        said_why = re.search(refusal, server.log(), re.MULTILINE) is not None
        checks.report(7, ok and seen and said_why,
                      f"the page at {other} saw {outcome!r}; the server's log says it refused {other}: {said_why}")
        print(f"  (the page at {other} saw {', '.join(events or [])})", flush=True)

        stats = get_json(url + "/stats")
        print(f"  (/stats: {json.dumps(stats)})", flush=True)
        expected = {"open": 1, "accepted": 2, "ended": {"1000": 1}}
        checks.report(8, stats.get("refused", 0) >= 1 and all(stats.get(k) == v for k, v in expected.items()),
                      f"/stats {stats}, expected refused >= 1 and {expected}")

        server.process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        ok, state = await page.wait_for(STATE, lambda v: v == "closed")
        detail = await page.eval(DETAIL) or ""
        words = detail.startswith("closed by the server: 1001 going away") and '"server shutting down"' in detail
        checks.report(9, ok and words and "not clean" not in detail, f"state {state!r}, detail {detail!r}")
        await screenshot_to(checks, page, os.path.join(work, "axum-closed.png"), 10,
                            ["closed", "closed by the server: 1001 going away", "server shutting down"])

        try:
            status = await asyncio.to_thread(server.process.wait, max(0.0, signalled + 10 - time.monotonic()))
            took = time.monotonic() - signalled
            checks.report(11, status == 0, f"status {status} after {took:.1f} s")
            print(f"  (exited {took:.1f} s after SIGTERM)", flush=True)
        except subprocess.TimeoutExpired:
            checks.report(11, False, "still running 10 s after SIGTERM")
        logged(checks, server.log(), stats)

        await cdp.call("Target.closeTarget", {"targetId": page.target})
        try:
            await cdp.call("Browser.close")
        except CdpError:
            pass  # the browser may end before it answers
        cdp.reader.cancel()


def logged(checks: Checks, log: str, stats: dict) -> None:
    """One line per connection (by peer address), each with a cause: the one that left with 1000,
    the refused one, the one the shutdown closed with 1001."""
    lines = re.findall(r"^axum-example: (127\.0\.0\.1:\d+): (.*)$", log, re.MULTILINE)
    peers = [peer for peer, _ in lines]
    causes = [cause for _, cause in lines]
    for peer, cause in lines:
        print(f"  (log: {peer}: {cause})", flush=True)
    wanted = [
        r"closed cleanly, the peer closed first with 1000\b.*\"bye\"",
        r"the request was refused with 403: .*not allowed",
        r"closed cleanly, we closed first with 1001\b.*\"server shutting down\"",
    ]
    missing = [w for w in wanted if not any(re.match(w, cause) for cause in causes)]
    connections = stats.get("accepted", 0) + stats.get("refused", 0)
    ok = not missing and len(lines) == connections == len(set(peers))
    checks.report(12, ok, f"{len(lines)} lines for {connections} connections ({len(set(peers))} peers), "
                          f"no line matching {missing}")


def main() -> None:
    chromium, work = sys.argv[1:3]
    command = sys.argv[3:]
    profile = os.path.join(work, "chromium-profile-axum")
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    for name in ("axum-open.png", "axum-closed.png"):
        try:
            os.remove(os.path.join(work, name))
        except FileNotFoundError:
            pass
    # A TERM from `timeout` must still stop the browser and the server.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    checks = Checks()
    with open(os.path.join(work, "chromium-axum.log"), "wb") as log:
        browser = subprocess.Popen(chromium_command(chromium, profile), stdin=subprocess.DEVNULL, stdout=log,
                                   stderr=log, start_new_session=True)
    server = None
    try:
        try:
            endpoint = devtools_endpoint(profile, browser)
        except Exception as e:  # noqa: BLE001 - reported as the failed check
            checks.report(0, False, f"{type(e).__name__}: {e}")
            raise
        checks.report(0, True)
        server = Server(command, os.path.join(work, "axum.log"))
        try:
            url = server.address()
        except Exception as e:  # noqa: BLE001 - reported as the failed check
            checks.report(1, False, f"{type(e).__name__}: {e}")
            raise
        checks.report(1, True)
        print(f"  ({url}/; log: {server.log_path})", flush=True)
        asyncio.run(asyncio.wait_for(drive(checks, endpoint, server, url, work), 90))
    except Exception as e:  # noqa: BLE001 - any error ends the run, and the checks left fail
        checks.not_run(f"{type(e).__name__}: {e}")
    finally:
        stop(browser)
        if server is not None:
            server.end()
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
