"""The line client of sansio-ws-tokio (its `client` example) against an echoing server.

Runs CLIENT URL [OPTION...] with pipes: writes lines to its standard input (ASCII, an empty one,
multi-byte UTF-8 of two, three and four bytes a character, and one of about 100 KB), and reads
its standard output until each has come back as `< LINE`. Only then is its input closed: at that
end the client must close with 1000, report a clean close on standard error, and exit with 0.
(The input is held open until every echo is in because an echoing server may answer a Close
before it has echoed the messages that came ahead of it; py_server.py does.)

With `--deflate on|off`, the client must report permessage-deflate so. With `--server-log FILE`
(py_server.py's output), the server must log that it received the Close 1000 "bye".

Prints one `PASS name` or `FAIL name: detail` line per check; exits non-zero on any failure.

Usage: line_client.py [--deflate on|off] [--server-log FILE] CLIENT URL [CLIENT OPTION...]
"""

import argparse
import asyncio
import os
import re
import sys
import time
from urllib.parse import urlsplit

# How long the connection, the echoes, and the close with the exit may each take.
TIMEOUT = 20

LONG = "a long line: caf\u00e9 \u2713 \U0001f980 " * 4000
LINES = [
    "hello from the line client",
    "",
    "  spaces around, and a\ttab  ",
    "caf\u00e9, na\u00efve, \u00fcber: two bytes a character",
    "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8 \u2713 \u2192 three bytes a character",
    "\U0001f980\U0001f389 four bytes a character",
    LONG,
    "the last line",
]

failures = 0


def report(name: str, ok: bool, detail: str = "") -> bool:
    global failures
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL {name}: {detail}", flush=True)
    return ok


def show(line: str | None) -> str:
    if line is None:
        return "nothing"
    if len(line) <= 60:
        return repr(line)
    return f"a line of {len(line)} characters starting {line[:20]!r}"


async def collect(stream: asyncio.StreamReader, into: list[str], changed: asyncio.Event) -> None:
    """Appends every line of `stream` (decoded, without its newline) to `into`."""
    while True:
        raw = await stream.readline()
        if not raw:
            return
        into.append(raw.decode("utf-8", errors="replace").rstrip("\n"))
        changed.set()


async def until(changed: asyncio.Event, holds, timeout: float) -> bool:
    """Waits until `holds()` is true, re-testing it whenever `changed` is set."""
    deadline = time.monotonic() + timeout
    while not holds():
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        changed.clear()
        try:
            await asyncio.wait_for(changed.wait(), min(left, 0.5))
        except asyncio.TimeoutError:
            pass
    return True


def closes_in(log: str | None, path: str) -> int:
    if log is None:
        return 0
    try:
        with open(log, encoding="utf-8", errors="replace") as f:
            return sum(1 for line in f if line.rstrip("\n") == f"closed {path}: received 1000 bye")
    except OSError:
        return 0


async def run(command: list[str], deflate: str | None, server_log: str | None) -> None:
    path = urlsplit(command[1]).path or "/"
    closes_before = closes_in(server_log, path)
    client = await asyncio.create_subprocess_exec(
        *command,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        # Long lines both ways (the client prints each echo on one line).
        limit=4 << 20,
    )
    out: list[str] = []
    err: list[str] = []
    changed = asyncio.Event()
    readers = [
        asyncio.create_task(collect(client.stdout, out, changed)),
        asyncio.create_task(collect(client.stderr, err, changed)),
    ]
    try:
        await checks(client, command, out, err, changed, deflate)
    finally:
        if client.returncode is None:
            client.kill()
            await client.wait()
        for reader in readers:
            reader.cancel()
    for line in err:
        print(f"  (stderr: {line if len(line) <= 200 else show(line)})", flush=True)
    if server_log is not None:
        ok = await until(changed, lambda: closes_in(server_log, path) > closes_before, 5)
        report('the server received the client\'s Close, 1000 "bye"', ok,
               f"no `closed {path}: received 1000 bye` in {server_log}")


async def checks(client, command, out, err, changed, deflate: str | None) -> None:
    url = command[1]

    def connected() -> str | None:
        return next((line for line in err if line.startswith(f"client: connected to {url} ")), None)

    def ended() -> bool:
        return client.stdout.at_eof() and client.stderr.at_eof()

    ok = await until(changed, lambda: connected() is not None or ended(), TIMEOUT)
    line = connected()
    want = f"(permessage-deflate {deflate})" if deflate else "(permessage-deflate "
    name = f"the client connects (permessage-deflate {deflate or 'either way'})"
    if not report(name, ok and line is not None and want in line, f"stderr: {err}"):
        return

    for text in LINES:
        client.stdin.write(text.encode("utf-8") + b"\n")
    await client.stdin.drain()
    expected = [f"< {text}" for text in LINES]
    ok = await until(changed, lambda: len(out) >= len(expected), TIMEOUT)
    wrong = next((i for i, (got, want) in enumerate(zip(out, expected)) if got != want), None)
    detail = f"{len(out)} of {len(expected)} lines back"
    if wrong is not None:
        detail += f"; line {wrong} is {show(out[wrong])}, expected {show(expected[wrong])}"
    long_bytes = len(LONG.encode("utf-8"))
    report(f"{len(LINES)} lines (ASCII, empty, multi-byte UTF-8, one of {long_bytes // 1024} KB) come back "
           "as `< LINE`, in order", ok and wrong is None, detail)

    client.stdin.close()
    try:
        status = await asyncio.wait_for(client.wait(), TIMEOUT)
        await asyncio.wait_for(until(changed, ended, TIMEOUT), TIMEOUT)
    except asyncio.TimeoutError:
        report("at the end of its input the client closes with 1000, cleanly", False,
               f"still running {TIMEOUT} s after its input ended; stderr: {err}")
        return
    closing = any(line == "client: end of input: closing with 1000" for line in err)
    clean = any(re.match(r"client: closed cleanly, we closed first with 1000\b", line) for line in err)
    report("at the end of its input the client closes with 1000, cleanly", closing and clean, f"stderr: {err}")
    report("nothing else on its standard output", out == expected,
           f"{len(out) - len(expected)} more lines: {[show(line) for line in out[len(expected):]]}")
    report("the client exits with status 0", status == 0, f"status {status}")


def main() -> None:
    parser = argparse.ArgumentParser(description="The tokio line client against an echoing server.")
    parser.add_argument("--deflate", choices=["on", "off"], help="what the client must report of permessage-deflate")
    parser.add_argument("--server-log", help="py_server.py's output: the Close it received must be there")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="CLIENT URL [CLIENT OPTION...]")
    args = parser.parse_args()
    if len(args.command) < 2 or not os.access(args.command[0], os.X_OK):
        parser.error(f"CLIENT URL expected, got {args.command}")
    try:
        asyncio.run(asyncio.wait_for(run(args.command, args.deflate, args.server_log), 4 * TIMEOUT))
    except Exception as e:  # noqa: BLE001 - any error is a failed run, reported as such
        report("the run completes", False, f"{type(e).__name__}: {e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
