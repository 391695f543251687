"""The browser side of the interop checks: two headless Chromium pages in our chat example.

Starts Chromium with a DevTools port, drives it over the Chrome DevTools Protocol (a WebSocket,
spoken with the Python `websockets` client), opens the chat in two pages, types a message in each,
and checks that each page shows both messages and two peers; then closes one page and checks that
the other sees the peer leave. Then it stops the chat with SIGTERM (the page must say it was
closed with 1001 and what that means, and count down to reconnecting), starts the same chat again on
the same address, and checks the page reconnects by itself and shows the conversation so far.
Screenshots of the first page, connected and disconnected, are saved.

Prints one `PASS name` or `FAIL name: detail` line per check; exits non-zero on any failure.

Usage: browser.py CHROMIUM CHAT_URL SCREENSHOT.png WORK_DIR CHAT_PID CHAT_COMMAND...
"""

import asyncio
import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

from websockets.asyncio.client import connect

# How long one wait in a page may take.
WAIT = 15
CHECKS = [
    "chromium starts and its DevTools endpoint answers",
    "page A loads the chat and connects",
    "page B loads the chat and connects",
    "both pages count 2 peers",
    "a message typed in page A is sent",
    "a message typed in page B is sent",
    "page A shows both messages (its own marked as ours)",
    "page B shows both messages (its own marked as ours)",
    "screenshot saved",
    "page B closed, page A counts 1 peer and stays connected",
    "the server shuts down on SIGTERM, page A shows the 1001 in words and counts down to reconnecting",
    "screenshot of the disconnected page saved",
    "the server starts again, page A reconnects by itself and still shows the conversation",
]


class Checks:
    def __init__(self) -> None:
        self.done: set[str] = set()
        self.failures = 0

    def report(self, name: str, ok: bool, detail: str = "") -> bool:
        assert name in CHECKS, name
        self.done.add(name)
        if ok:
            print(f"PASS {name}", flush=True)
        else:
            self.failures += 1
            print(f"FAIL {name}: {detail}", flush=True)
        return ok

    def not_run(self, why: str) -> None:
        for name in CHECKS:
            if name not in self.done:
                self.report(name, False, f"not run: {why}")


class CdpError(Exception):
    pass


class Cdp:
    """A DevTools connection: commands by id, pages reached through flattened sessions."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.next_id = 0
        self.pending: dict[int, asyncio.Future] = {}
        self.reader = asyncio.create_task(self.read())

    async def read(self) -> None:
        try:
            async for raw in self.ws:
                message = json.loads(raw)
                future = self.pending.pop(message.get("id"), None)
                if future is not None and not future.done():
                    future.set_result(message)
        finally:
            for future in self.pending.values():
                if not future.done():
                    future.set_exception(CdpError("the DevTools connection ended"))

    async def call(self, method: str, params: dict | None = None, session: str | None = None) -> dict:
        self.next_id += 1
        future = asyncio.get_running_loop().create_future()
        self.pending[self.next_id] = future
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        await self.ws.send(json.dumps(message))
        reply = await asyncio.wait_for(future, WAIT)
        if "error" in reply:
            raise CdpError(f"{method}: {reply['error'].get('message')}")
        return reply.get("result", {})


class Page:
    def __init__(self, cdp: Cdp, name: str, target: str, session: str) -> None:
        self.cdp, self.name, self.target, self.session = cdp, name, target, session

    async def call(self, method: str, params: dict | None = None) -> dict:
        return await self.cdp.call(method, params, self.session)

    async def eval(self, expression: str):
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            raise CdpError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result["result"].get("value")

    async def wait_for(self, expression: str, predicate, timeout: float = WAIT):
        """Evaluates `expression` until `predicate` holds; returns (held, last value)."""
        deadline = time.monotonic() + timeout
        value = None
        while time.monotonic() < deadline:
            try:
                value = await self.eval(expression)
            except CdpError as e:
                # The page may still be loading: its document or context not there yet.
                value = f"({e})"
            if predicate(value):
                return True, value
            await asyncio.sleep(0.1)
        return False, value

    async def type_and_send(self, text: str) -> None:
        """Types `text` into the chat's input as keystrokes would, then presses Enter."""
        await self.eval("document.getElementById('text').focus()")
        await self.call("Input.insertText", {"text": text})
        enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
        await self.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **enter})
        await self.call("Input.dispatchKeyEvent", {"type": "keyUp", **enter})


STATUS = "document.getElementById('status')?.textContent"
PEERS = "document.getElementById('peers')?.textContent"
INPUT = "document.getElementById('text')?.value"
LOG = "[...document.querySelectorAll('#log .msg')].map(e => [e.classList.contains('me'), e.textContent])"


async def open_page(cdp: Cdp, name: str, url: str) -> Page:
    target = (await cdp.call("Target.createTarget", {"url": "about:blank"}))["targetId"]
    session = (await cdp.call("Target.attachToTarget", {"targetId": target, "flatten": True}))["sessionId"]
    page = Page(cdp, name, target, session)
    metrics = {"width": 900, "height": 560, "deviceScaleFactor": 1, "mobile": False}
    await page.call("Emulation.setDeviceMetricsOverride", metrics)
    navigated = await page.call("Page.navigate", {"url": url})
    if navigated.get("errorText"):
        raise CdpError(f"navigation to {url}: {navigated['errorText']}")
    return page


async def shows_both(checks: Checks, page: Page, own: str, other: str) -> None:
    def both(lines) -> bool:
        return any(me and t.endswith(own) for me, t in lines) and any(not me and t.endswith(other) for me, t in lines)

    ok, lines = await page.wait_for(LOG, lambda v: v is not None and both(v))
    checks.report(f"page {page.name} shows both messages (its own marked as ours)", ok, f"log: {lines}")


async def screenshot_to(checks: Checks, page: "Page", path: str, check: str) -> None:
    shot = await page.call("Page.captureScreenshot", {"format": "png"})
    data = base64.b64decode(shot["data"])
    with open(path, "wb") as f:
        f.write(data)
    checks.report(check, data.startswith(b"\x89PNG") and len(data) > 1000, f"{len(data)} bytes")
    print(f"  (screenshot: {path})", flush=True)


async def restart(checks: Checks, a: "Page", chat: list[str], chat_pid: int, screenshot: str, said: str) -> None:
    """SIGTERM to the chat, then the same chat again on the same address: page A must say why it
    was disconnected, then reconnect by itself and show what was said before."""
    os.kill(chat_pid, signal.SIGTERM)
    ok, status = await a.wait_for(STATUS, lambda v: v is not None and "1001" in v and "going away" in v and "reconnecting" in v)
    checks.report(CHECKS[10], ok, f"status {status!r}")
    await screenshot_to(checks, a, screenshot.replace(".png", "-disconnected.png"), CHECKS[11])
    # The first process must be gone before the second binds the address.
    for _ in range(100):
        try:
            os.kill(chat_pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    log = open(os.path.join(os.path.dirname(screenshot), "chat-restarted.log"), "wb")
    second = subprocess.Popen(chat, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        ok, status = await a.wait_for(STATUS, lambda v: v == "connected")
        lines = await a.eval(LOG) or []
        history = any(t.endswith(said) for _, t in lines)
        checks.report(CHECKS[12], ok and history, f"status {status!r}, log {lines}")
    finally:
        second.terminate()
        second.wait(10)


async def drive(checks: Checks, endpoint: str, chat_url: str, screenshot: str, chat: list[str], chat_pid: int) -> None:
    async with connect(endpoint, max_size=None, proxy=None, ping_interval=None, compression=None) as ws:
        cdp = Cdp(ws)
        a = await open_page(cdp, "A", chat_url)
        b = await open_page(cdp, "B", chat_url)
        for page in (a, b):
            ok, status = await page.wait_for(STATUS, lambda v: v == "connected")
            checks.report(f"page {page.name} loads the chat and connects", ok, f"status {status!r}")
        # The page's socket is a global of its script: what did Chromium and our server agree on?
        extensions = await a.eval("typeof ws === 'object' ? ws.extensions : null")
        print(f"  (extensions negotiated by the page: {extensions or 'none'})", flush=True)
        results = [await page.wait_for(PEERS, lambda v: v == "2") for page in (a, b)]
        checks.report("both pages count 2 peers", all(ok for ok, _ in results), f"peers {[v for _, v in results]}")

        said = {"A": "hello from page A", "B": "hello from page B, caf\u00e9 \u2713"}
        for page in (a, b):
            await page.type_and_send(said[page.name])
            # The page empties its input once the message is handed to its WebSocket.
            ok, left = await page.wait_for(INPUT, lambda v: v == "")
            checks.report(f"a message typed in page {page.name} is sent", ok, f"input still holds {left!r}")
        await shows_both(checks, a, said["A"], said["B"])
        await shows_both(checks, b, said["B"], said["A"])

        await screenshot_to(checks, a, screenshot, "screenshot saved")

        await cdp.call("Target.closeTarget", {"targetId": b.target})
        ok, peers = await a.wait_for(PEERS, lambda v: v == "1")
        status = await a.eval(STATUS)
        ok = ok and status == "connected"
        checks.report("page B closed, page A counts 1 peer and stays connected", ok, f"peers {peers!r}, {status!r}")
        await restart(checks, a, chat, chat_pid, screenshot, said["A"])
        try:
            await cdp.call("Browser.close")
        except CdpError:
            pass  # the browser may end before it answers
        cdp.reader.cancel()


def devtools_endpoint(profile: str, browser: subprocess.Popen) -> str:
    """The browser-wide DevTools WebSocket URL, once Chromium has written its port."""
    port_file = os.path.join(profile, "DevToolsActivePort")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if browser.poll() is not None:
            raise RuntimeError(f"chromium exited with status {browser.returncode}")
        try:
            with open(port_file) as f:
                port = int(f.readline())
            break
        except (OSError, ValueError):
            time.sleep(0.1)
    else:
        raise RuntimeError("chromium did not open its DevTools port within 30 s")
    # Loopback only, never through a proxy.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"http://127.0.0.1:{port}/json/version", timeout=10) as response:
        version = json.load(response)
    print(f"  ({version.get('Browser')}, DevTools on 127.0.0.1:{port})", flush=True)
    return version["webSocketDebuggerUrl"]


def stop(browser: subprocess.Popen) -> None:
    """Ends the browser we started, and every process of its group, by the group's id."""
    try:
        browser.wait(3)
    except subprocess.TimeoutExpired:
        browser.terminate()
        try:
            browser.wait(5)
        except subprocess.TimeoutExpired:
            browser.kill()
            browser.wait(5)
    try:
        os.killpg(browser.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def main() -> None:
    chromium, chat_url, screenshot, work, chat_pid = sys.argv[1:6]
    # The chat's command line, to start it again on the same address after the SIGTERM.
    chat = sys.argv[6:] + [chat_url.removeprefix("http://").rstrip("/")]
    profile = os.path.join(work, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    # A TERM from `timeout` must still stop the browser.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    checks = Checks()
    args = [
        chromium,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-extensions",
        "--no-proxy-server",
        "--mute-audio",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "about:blank",
    ]
    with open(os.path.join(work, "chromium.log"), "wb") as log:
        browser = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True)
    try:
        try:
            endpoint = devtools_endpoint(profile, browser)
        except Exception as e:  # noqa: BLE001 - reported as the failed check
            checks.report(CHECKS[0], False, f"{type(e).__name__}: {e}")
            raise
        checks.report(CHECKS[0], True)
        asyncio.run(asyncio.wait_for(drive(checks, endpoint, chat_url, screenshot, chat, int(chat_pid)), 120))
    except Exception as e:  # noqa: BLE001 - any error ends the run, and the checks left fail
        checks.not_run(f"{type(e).__name__}: {e}")
    finally:
        stop(browser)
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
