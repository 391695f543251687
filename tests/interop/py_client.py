"""The client side of the interop checks: the Python `websockets` client against our echo-server.

The client offers permessage-deflate unless `--no-compression` is given; for a wss:// URL it
trusts the CA certificates of `--ca FILE` (and verifies the server's name). Prints one `PASS name`
or `FAIL name: detail` line per check; exits non-zero on any failure.

Usage: py_client.py ws://127.0.0.1:PORT [--no-compression] [--ca CA.pem]
"""

import argparse
import asyncio
import os
import ssl
import sys

from websockets.asyncio.client import connect

# Long enough for the 8 MiB echo on a slow machine, short enough to fail fast.
TIMEOUT = 20
MAX_SIZE = 16 * 1024 * 1024

failures = 0


def report(name: str, ok: bool, detail: str = "") -> None:
    global failures
    if ok:
        print(f"PASS {name}", flush=True)
    else:
        failures += 1
        print(f"FAIL {name}: {detail}", flush=True)


def show(data) -> str:
    if len(data) <= 40:
        return repr(data)
    return f"{type(data).__name__} of {len(data)} bytes"


async def echo(ws, name: str, message, expected=None) -> None:
    """Sends `message` (a whole message or a list of fragments) and expects `expected` back."""
    if expected is None:
        expected = message
    await ws.send(message, text=isinstance(expected, str))
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    report(name, got == expected, f"got {show(got)}, expected {show(expected)}")


async def pipelined(ws) -> None:
    count = 1000
    for i in range(count):
        await ws.send(f"message {i}")
    got = [await asyncio.wait_for(ws.recv(), TIMEOUT) for _ in range(count)]
    wrong = [i for i, m in enumerate(got) if m != f"message {i}"]
    report(f"{count} pipelined messages echoed in order", not wrong, f"first wrong at {wrong[:1]}")


async def fragments_with_ping(ws) -> None:
    """A fragmented message with a ping sent between its fragments (RFC 6455 §5.4)."""
    pong = None

    async def pieces():
        nonlocal pong
        yield b"ping between "
        pong = await ws.ping(b"mid-message")
        yield b"fragments"

    await ws.send(pieces(), text=False)
    await asyncio.wait_for(pong, TIMEOUT)
    got = await asyncio.wait_for(ws.recv(), TIMEOUT)
    expected = b"ping between fragments"
    report("ping between fragments answered, message echoed whole", got == expected, f"got {show(got)}")


async def checks(url: str, compression: str | None, ca: str | None) -> None:
    options = dict(max_size=MAX_SIZE, ping_interval=None, proxy=None, open_timeout=TIMEOUT)
    if url.startswith("wss://"):
        options["ssl"] = ssl.create_default_context(cafile=ca)
    async with connect(url, compression=compression, **options) as ws:
        # Whether the server takes up the offer of permessage-deflate or not, messages must go through.
        extensions = ws.response.headers.get("Sec-WebSocket-Extensions")
        offered = "permessage-deflate offered" if compression else "no extension offered"
        report(f"opening handshake ({offered})", compression is not None or extensions is None, f"{extensions}")
        tls = ws.transport.get_extra_info("ssl_object")
        if tls is not None:
            print(f"  (TLS: {tls.version()} {tls.cipher()[0]}, ALPN {tls.selected_alpn_protocol()})", flush=True)
        print(f"  (extensions in the server's answer: {extensions or 'none'})", flush=True)
        await echo(ws, "text echo", "hello, wörld ✓")
        await echo(ws, "empty text echo", "")
        await echo(ws, "binary echo", bytes(range(256)))
        await echo(ws, "empty binary echo", b"")
        large = os.urandom(8 << 20)
        await echo(ws, "8 MiB binary echo", large)
        await echo(ws, "4 MiB text echo", "é✓" * ((4 << 20) // 5))
        # Text fragments cut inside "é" (c3 a9) and "✓" (e2 9c 93).
        text_pieces = [b"fragmented caf\xc3", b"\xa9 ", b"\xe2\x9c", b"\x93 text"]
        await echo(ws, "fragmented text (split inside characters) echoed whole", text_pieces, "fragmented café ✓ text")
        await echo(ws, "fragmented binary echoed whole", [b"\x00\x01", b"", b"\x02\xff"], b"\x00\x01\x02\xff")
        await fragments_with_ping(ws)
        waiter = await ws.ping(b"interop-ping")
        latency = await asyncio.wait_for(waiter, TIMEOUT)
        report("ping answered by a pong", True)
        print(f"  (round trip {latency * 1000:.2f} ms)", flush=True)
        await pipelined(ws)
        await asyncio.wait_for(ws.close(4000, "bye"), TIMEOUT)
        rcvd = ws.protocol.close_rcvd
        got = (rcvd.code, rcvd.reason) if rcvd else None
        report("client closes with 4000, server answers 4000", rcvd is not None and rcvd.code == 4000, f"got {got}")


def main() -> None:
    parser = argparse.ArgumentParser(description="The Python websockets client against our echo-server.")
    parser.add_argument("url", nargs="?", default="ws://127.0.0.1:9021")
    parser.add_argument("--no-compression", action="store_true", help="do not offer permessage-deflate")
    parser.add_argument("--ca", help="for wss://: trust the CA certificates of this PEM file")
    args = parser.parse_args()
    compression = None if args.no_compression else "deflate"
    try:
        asyncio.run(asyncio.wait_for(checks(args.url, compression, args.ca), 120))
    except Exception as e:  # noqa: BLE001 - any error is a failed run, reported as such
        report("the run completes", False, f"{type(e).__name__}: {e}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
