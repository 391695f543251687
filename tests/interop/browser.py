"""The browser side of the interop checks: headless Chromium pages in our chat example.

Starts Chromium with a DevTools port, drives it over the Chrome DevTools Protocol (a WebSocket,
spoken with the Python `websockets` client), and walks the chat through its whole lifecycle:
two pages connect, one takes a name, both talk and see each other's lines; the round trip the
server's heartbeat measured appears in both headers. Then the chat is stopped with SIGTERM: both
pages must say it was the server that closed, with 1001 and what that means, and count down to
reconnecting. The same chat is started again on the same address (it saved its history on the
way down and reads it back): both pages reconnect by themselves, the named one gets its name
back, and a third page opened now sees the conversation from before the restart (only the
server can have given it). Last, page B leaves with its button: it must go through closing to
"closed by you" with 1000, and page A then counts fewer peers.

A screenshot of each state is saved next to SCREENSHOT.png (-open, -disconnected, -reconnected,
-left), and the text each shows is checked at the moment it is taken.

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
    "page A loads the chat and opens",
    "page B loads the chat and opens",
    "both pages count 2 peers",
    "the page's WebSocket matches its scheme (ws:// on http, wss:// on https)",
    "page B takes the name bea",
    "a message typed in page A is sent",
    "a message typed in page B is sent",
    "page A shows both messages (its own marked as ours, B's under its name)",
    "page B shows both messages (its own marked as ours, B's under its name)",
    "both headers show the round trip the heartbeat measured",
    "screenshot of the open chat saved, showing the lifecycle, the round trip and both lines",
    "the server shuts down on SIGTERM, both pages say the server closed with 1001 in words and count down",
    "screenshot of the disconnected page saved, showing the close in words",
    "the server starts again, both pages reconnect by themselves, B has its name back",
    "a page opened after the restart gets the conversation from the server's saved history",
    "screenshot of the reconnected chat saved",
    "page B leaves (closing, then closed by you with 1000) and page A counts one fewer peer",
    "screenshot of the page that left saved",
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
        await self.press_enter()

    async def press_enter(self) -> None:
        enter = {"key": "Enter", "code": "Enter", "windowsVirtualKeyCode": 13, "nativeVirtualKeyCode": 13}
        await self.call("Input.dispatchKeyEvent", {"type": "keyDown", "text": "\r", **enter})
        await self.call("Input.dispatchKeyEvent", {"type": "keyUp", **enter})


STATUS = "document.getElementById('status')?.textContent"
STATE = "document.getElementById('header')?.dataset.state"
PEERS = "document.getElementById('peers')?.textContent"
RTT = "document.getElementById('rtt')?.textContent"
INPUT = "document.getElementById('text')?.value"
LIFECYCLE = "typeof lifecycle === 'object' ? lifecycle.join(' > ') : null"
LOG = "[...document.querySelectorAll('#log .msg')].map(e => [e.classList.contains('me'), e.textContent])"
HEADER = "document.getElementById('header')?.innerText"
LOG_TEXT = "document.getElementById('log')?.innerText"


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


def shows(lines, text: str, mine: bool, author: str) -> bool:
    """Whether the log has `text` said by `author`, marked as ours or not."""
    return any(me == mine and t.endswith(author + text) for me, t in lines)


async def shows_both(checks: Checks, page: Page, check: str, said: dict, authors: dict) -> None:
    def both(lines) -> bool:
        return lines is not None and all(shows(lines, said[p], p == page.name, authors[p]) for p in ("A", "B"))

    ok, lines = await page.wait_for(LOG, both)
    checks.report(check, ok, f"log: {lines}")


async def screenshot_to(checks: Checks, page: "Page", path: str, check: str, expect: list[str]) -> None:
    """Saves a screenshot, and checks the page shows each of `expect` in it: the text is read just
    before and just after the capture, and both must hold it (else the capture is taken again, as
    the page may have moved on in between)."""

    async def shown() -> str:
        header, log = await page.eval(HEADER), await page.eval(LOG_TEXT)
        return f"{header}\n{log}"

    missing: list[str] = []
    data, text = b"", ""
    for _ in range(5):
        before = await shown()
        shot = await page.call("Page.captureScreenshot", {"format": "png"})
        data = base64.b64decode(shot["data"])
        text = await shown()
        missing = [e for e in expect if e not in before or e not in text]
        if not missing:
            break
        await asyncio.sleep(0.1)
    with open(path, "wb") as f:
        f.write(data)
    ok = data.startswith(b"\x89PNG") and len(data) > 1000 and not missing
    checks.report(check, ok, f"{len(data)} bytes, missing {missing} in {text!r}")
    print(f"  (screenshot: {path}; shows: {' | '.join(text.split(chr(10))[:4])})", flush=True)


def is_rtt(v) -> bool:
    return isinstance(v, str) and v.startswith("RTT ") and " ms ± " in v and "Pong deadline" in v


async def restart(checks: Checks, cdp: Cdp, pages: list[Page], chat: list[str], chat_pid: int, shot: str, said: dict) -> Page:
    """SIGTERM to the chat, then the same chat again on the same address: the pages must say why
    they were disconnected, then reconnect by themselves; a new page must get the history."""
    a, b = pages
    os.kill(chat_pid, signal.SIGTERM)

    def going_away(v) -> bool:
        return v is not None and "closed by the server: 1001" in v and "going away" in v and "reconnecting" in v

    results = [await page.wait_for(STATUS, going_away) for page in pages]
    checks.report(CHECKS[12], all(ok for ok, _ in results), f"status {[v for _, v in results]}")
    await screenshot_to(checks, a, shot.replace(".png", "-disconnected.png"), CHECKS[13],
                        ["closed by the server: 1001", "going away", "reconnecting", "– online", said["A"]])
    # The first process must be gone (its history saved) before the second binds the address.
    for _ in range(200):
        try:
            os.kill(chat_pid, 0)
        except ProcessLookupError:
            break
        await asyncio.sleep(0.05)
    log = open(os.path.join(os.path.dirname(shot), "chat-restarted.log"), "wb")
    second = subprocess.Popen(chat, stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    PIDS.append(second)
    results = [await page.wait_for(STATE, lambda v: v == "open") for page in pages]
    ok, me = await b.wait_for("me", lambda v: v == "bea")
    checks.report(CHECKS[14], all(r for r, _ in results) and ok, f"states {[v for _, v in results]}, B is {me!r}")
    c = await open_page(cdp, "C", chat_url_of(chat))
    ok, lines = await c.wait_for(LOG, lambda v: v is not None and shows(v, said["A"], False, "guest-1")
                                 and shows(v, said["B"], False, "bea"))
    checks.report(CHECKS[15], ok, f"page C log: {lines}")
    await screenshot_to(checks, c, shot.replace(".png", "-reconnected.png"), CHECKS[16], ["open", said["A"], said["B"]])
    return c


PIDS: list[subprocess.Popen] = []


def chat_url_of(chat: list[str]) -> str:
    return SCHEME + "://" + chat[-1] + "/"


# http or https: what the chat was started with.
SCHEME = "http"


async def drive(checks: Checks, endpoint: str, chat_url: str, screenshot: str, chat: list[str], chat_pid: int) -> None:
    async with connect(endpoint, max_size=None, proxy=None, ping_interval=None, compression=None) as ws:
        cdp = Cdp(ws)
        a = await open_page(cdp, "A", chat_url)
        b = await open_page(cdp, "B", chat_url)
        for page, check in ((a, CHECKS[1]), (b, CHECKS[2])):
            ok, status = await page.wait_for(STATUS, lambda v: v == "open")
            checks.report(check, ok, f"status {status!r}")
        # The page's socket is a global of its script: what did Chromium and our server agree on?
        extensions = await a.eval("typeof ws === 'object' ? ws.extensions : null")
        print(f"  (extensions negotiated by the page: {extensions or 'none'})", flush=True)
        results = [await page.wait_for(PEERS, lambda v: v == "2") for page in (a, b)]
        checks.report(CHECKS[3], all(ok for ok, _ in results), f"peers {[v for _, v in results]}")
        socket = await a.eval("typeof ws === 'object' ? ws.url : null") or ""
        expected = "wss://" if SCHEME == "https" else "ws://"
        checks.report(CHECKS[4], socket.startswith(expected), f"the page at {SCHEME}:// opened {socket!r}")
        print(f"  (the page's WebSocket: {socket})", flush=True)

        await b.eval("document.getElementById('name').focus()")
        await b.call("Input.insertText", {"text": "bea"})
        await b.press_enter()
        ok, me = await b.wait_for("me", lambda v: v == "bea")
        seen, lines = await a.wait_for(LOG, lambda v: v is not None and any(t.endswith("guest-2 is now bea") for _, t in v))
        checks.report(CHECKS[5], ok and seen, f"B is {me!r}, page A log {lines}")

        said = {"A": "hello from page A", "B": "hello from page B, caf\u00e9 \u2713"}
        authors = {"A": "guest-1", "B": "bea"}
        for page, check in ((a, CHECKS[6]), (b, CHECKS[7])):
            await page.type_and_send(said[page.name])
            # The page empties its input once the message is handed to its WebSocket.
            ok, left = await page.wait_for(INPUT, lambda v: v == "")
            checks.report(check, ok, f"input still holds {left!r}")
        await shows_both(checks, a, CHECKS[8], said, authors)
        await shows_both(checks, b, CHECKS[9], said, authors)
        results = [await page.wait_for(RTT, is_rtt) for page in (a, b)]
        checks.report(CHECKS[10], all(ok for ok, _ in results), f"headers {[v for _, v in results]}")
        rtt = results[0][1] or ""
        await screenshot_to(checks, a, screenshot.replace(".png", "-open.png"), CHECKS[11],
                            ["open", "RTT ", "Pong deadline", "heartbeat every", said["A"], said["B"], "2 online"])
        print(f"  (page A header: {rtt})", flush=True)

        c = await restart(checks, cdp, [a, b], chat, chat_pid, screenshot, said)

        peers_before = int(await a.eval(PEERS) or 0)
        await b.eval("document.getElementById('leave').click()")
        ok, status = await b.wait_for(STATE, lambda v: v == "closed")
        status = await b.eval(STATUS)
        phases = await b.eval(LIFECYCLE)
        fewer, peers = await a.wait_for(PEERS, lambda v: v is not None and v.isdigit() and int(v) == peers_before - 1)
        closed_by_me = status is not None and status.startswith("closed by you: 1000 closed normally")
        checks.report(CHECKS[17], ok and closed_by_me and fewer and (phases or "").endswith("open > closing > closed"),
                      f"status {status!r}, lifecycle {phases!r}, page A peers {peers!r} (were {peers_before})")
        await screenshot_to(checks, b, screenshot.replace(".png", "-left.png"), CHECKS[18],
                            ["closed by you: 1000", "left the chat", "join"])
        for page in (a, b, c):
            await cdp.call("Target.closeTarget", {"targetId": page.target})
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


def chromium_command(chromium: str, profile: str) -> list[str]:
    """Headless Chromium on a fresh profile, its DevTools on a port it picks (written to the
    profile's DevToolsActivePort), plus the flags of $CHROMIUM_FLAGS."""
    return [
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
        # Extra flags, e.g. the hash of a test certificate's key to trust.
        *os.environ.get("CHROMIUM_FLAGS", "").split(),
        "about:blank",
    ]


def main() -> None:
    chromium, chat_url, screenshot, work, chat_pid = sys.argv[1:6]
    # The chat's command line, to start it again on the same address after the SIGTERM.
    global SCHEME
    SCHEME, _, address = chat_url.partition("://")
    chat = sys.argv[6:] + [address.rstrip("/")]
    profile = os.path.join(work, "chromium-profile")
    shutil.rmtree(profile, ignore_errors=True)
    os.makedirs(profile)
    # A TERM from `timeout` must still stop the browser.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    checks = Checks()
    args = chromium_command(chromium, profile)
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
        # The chat started again after the SIGTERM.
        for second in PIDS:
            second.terminate()
            second.wait(10)
    sys.exit(1 if checks.failures else 0)


if __name__ == "__main__":
    main()
