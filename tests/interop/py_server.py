"""The server side of the interop checks: a Python `websockets` server that our client talks to.

Every connection must offer the subprotocol "interop.v1"; with `--subprotocol-optional`, a
connection that offers none is served as well, without a subprotocol (for a client that has no
option to offer one, like the line client of sansio-ws-tokio). By path:

- any path but /report: echoes every message, and answers a few commands (text messages):
    "close-me CODE REASON"  closes the connection with CODE and REASON;
    "ping-me"               pings with the payload "from-server", waits for the pong (5 s at
                            most) and answers "pong-ok" or "pong-missing";
    "fragments-please"      sends a text message in fragments, one of them ending inside a
                            multi-byte character.
- /report: answers every message with "CODE REASON" of the Close frame the server received on
  the latest connection to /close-by-client (waiting up to 5 s for that connection to end).

Every connection that ends is logged on stdout as `closed PATH: received CODE REASON`.

permessage-deflate is accepted when offered, unless `--no-compression` is given. With `--cert`
and `--key` it serves wss:// with that certificate.

Usage: py_server.py PORT [--no-compression] [--subprotocol-optional] [--cert CERT.pem --key KEY.pem]
  (PORT 0 for any free port; the address is printed as ws://127.0.0.1:PORT, or wss://)
"""

import argparse
import asyncio
import ssl
import sys

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

SUBPROTOCOL = "interop.v1"
# The client sends an 8 MiB message; leave room.
MAX_SIZE = 16 * 1024 * 1024
# Text split inside "é" (0xc3 0xa9) and inside "✓" (0xe2 0x9c 0x93).
FRAGMENTS = [b"fragmented caf\xc3", b"\xa9 ", b"\xe2\x9c", b"\x93 from the server"]

closes: dict[str, tuple[int, str]] = {}
close_seen: dict[str, asyncio.Event] = {}


def interop_or_none(connection, offered: list[str]) -> str | None:
    """The subprotocol for `--subprotocol-optional`: ours if offered, else none (no refusal)."""
    return SUBPROTOCOL if SUBPROTOCOL in offered else None


def seen(path: str) -> asyncio.Event:
    return close_seen.setdefault(path, asyncio.Event())


async def command(ws, text: str) -> bool:
    """Acts on a command; False if `text` is none."""
    if text.startswith("close-me "):
        _, code, reason = text.split(" ", 2)
        await ws.close(int(code), reason)
    elif text == "ping-me":
        waiter = await ws.ping(b"from-server")
        try:
            await asyncio.wait_for(waiter, 5)
            await ws.send("pong-ok")
        except asyncio.TimeoutError:
            await ws.send("pong-missing")
    elif text == "fragments-please":
        await ws.send(FRAGMENTS, text=True)
    else:
        return False
    return True


async def report(ws) -> None:
    path = "/close-by-client"
    try:
        await asyncio.wait_for(seen(path).wait(), 5)
        code, reason = closes[path]
        await ws.send(f"{code} {reason}")
    except asyncio.TimeoutError:
        await ws.send(f"no connection to {path} has ended")


async def handler(ws) -> None:
    path = ws.request.path
    code, reason = None, None
    try:
        async for message in ws:
            if path == "/report":
                await report(ws)
            elif not (isinstance(message, str) and await command(ws, message)):
                await ws.send(message)
    except ConnectionClosed as e:
        if e.rcvd is not None:
            code, reason = e.rcvd.code, e.rcvd.reason
    else:
        if ws.protocol.close_rcvd is not None:
            code, reason = ws.protocol.close_rcvd.code, ws.protocol.close_rcvd.reason
    await ws.wait_closed()
    print(f"closed {path}: received {code} {reason}", flush=True)
    closes[path] = (code, reason)
    seen(path).set()


async def main() -> None:
    parser = argparse.ArgumentParser(description="A Python websockets server for our interop-client.")
    parser.add_argument("port", nargs="?", type=int, default=0)
    parser.add_argument("--no-compression", action="store_true", help="do not accept permessage-deflate")
    parser.add_argument("--subprotocol-optional", action="store_true",
                        help="also serve clients that offer no subprotocol (without one)")
    parser.add_argument("--cert", help="serve wss:// with this certificate chain (PEM)")
    parser.add_argument("--key", help="the certificate's private key (PEM)")
    args = parser.parse_args()
    compression = None if args.no_compression else "deflate"
    options = dict(subprotocols=[SUBPROTOCOL], max_size=MAX_SIZE, ping_interval=None, compression=compression)
    if args.subprotocol_optional:
        options["select_subprotocol"] = interop_or_none
    scheme = "ws"
    if args.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(args.cert, args.key)
        options["ssl"] = context
        scheme = "wss"
    async with serve(handler, "127.0.0.1", args.port, **options) as server:
        port = server.sockets[0].getsockname()[1]
        print(f"py_server: listening on {scheme}://127.0.0.1:{port}", flush=True)
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
