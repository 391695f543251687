#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/.

Most targets take structured input decoded by the `arbitrary` crate (1.x), so a seed must be laid
out the way `arbitrary` reads it: integers little-endian, `bool` as the low bit of a byte, `Option`
as a bool then the value, `Vec<T>` as a "continue" bool before each element, enums as a `u32`
scaled into the variant count, and the lengths of `String` / `&[u8]` taken from the END of the
input (one byte while the input is at most 256 bytes long, which every seed here is). The value
in the last position of the top-level tuple takes the rest of the input.

Run from the repository root: python3 fuzz/gen_corpus.py
"""

import hashlib
import os
import struct

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


class Enc:
    """Builds bytes that `arbitrary` decodes to the values written, in order."""

    def __init__(self):
        self.front = bytearray()
        self.back = []  # lengths, in the order they are read (from the end)

    def u8(self, v):
        self.front.append(v & 0xFF)
        return self

    def boolean(self, v):
        return self.u8(1 if v else 0)

    def u16(self, v):
        self.front += struct.pack("<H", v)
        return self

    def u32(self, v):
        self.front += struct.pack("<I", v)
        return self

    def u64(self, v):
        self.front += struct.pack("<Q", v)
        return self

    def variant(self, index, count):
        # The derive picks (u32 * count) >> 32.
        return self.u32(-(-(index << 32) // count))

    def option(self, v, write):
        self.boolean(v is not None)
        if v is not None:
            write(v)
        return self

    def vec(self, items, write):
        for item in items:
            self.boolean(True)
            write(item)
        return self.boolean(False)

    def vec_u8(self, data):
        return self.vec(data, self.u8)

    def sized(self, data):
        """`String` or `&[u8]` not in last position: length from the end, bytes from the front."""
        if isinstance(data, str):
            data = data.encode()
        self.back.append(len(data))
        self.front += data
        return self

    def rest(self, data):
        """The final `&[u8]` taking the rest of the input."""
        self.front += data
        return self

    def finish(self):
        out = bytes(self.front) + bytes(reversed(self.back))
        assert len(out) <= 256 or not self.back, "lengths would take more than one byte"
        return out


def write(target, data, name=None):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def mask(payload, key):
    return bytes(b ^ key[i % 4] for i, b in enumerate(payload))


KEY = bytes([0x37, 0xFA, 0x21, 0x3D])

# RFC 6455 section 5.7 examples: (name, bytes, role of the receiver).
RFC_FRAMES = [
    ("rfc-text-unmasked", bytes([0x81, 0x05]) + b"Hello", "client"),
    ("rfc-text-masked", bytes([0x81, 0x85]) + KEY + mask(b"Hello", KEY), "server"),
    ("rfc-fragment-1", bytes([0x01, 0x03]) + b"Hel", "client"),
    ("rfc-fragment-2", bytes([0x80, 0x02]) + b"lo", "client"),
    ("rfc-ping", bytes([0x89, 0x05]) + b"Hello", "client"),
    ("rfc-pong-masked", bytes([0x8A, 0x85]) + KEY + mask(b"Hello", KEY), "server"),
    ("rfc-binary-256", bytes([0x82, 0x7E, 0x01, 0x00]), "client"),
    ("rfc-binary-64k", bytes([0x82, 0x7F, 0, 0, 0, 0, 0, 1, 0, 0]), "client"),
]

CLOSE_CODES = [999, 1000, 1001, 1002, 1003, 1004, 1005, 1006, 1007, 1011, 1014, 1015, 1016,
               2999, 3000, 3999, 4000, 4999, 5000, 65535]

UTF8_EDGES = {
    "ascii": b"Hello",
    "u0000": b"\x00",
    "u007f-u0080": "\u007f\u0080".encode(),
    "u07ff-u0800": "\u07ff\u0800".encode(),
    "ufffd-uffff": "\ufffd\uffff".encode(),
    "u10000": "\U00010000".encode(),
    "u10ffff": "\U0010ffff".encode(),
    "mixed": "na\u00efve \u2603 \U0001d11e".encode(),
    "above-max-f490": b"ok \xf4\x90\x80\x80",
    "f5": b"\xf5\x80\x80\x80",
    "ff": b"a\xff",
    "surrogate-eda0": b"\xed\xa0\x80",
    "surrogate-edbf": b"\xed\xbf\xbf",
    "overlong-c080": b"\xc0\x80",
    "overlong-c1bf": b"\xc1\xbf",
    "overlong-e080": b"\xe0\x80\x80",
    "overlong-f080": b"\xf0\x80\x80\x80",
    "lone-continuation": b"\x80",
    "truncated-2": b"\xc3",
    "truncated-3": b"\xe2\x98",
    "truncated-4": b"\xf0\x9d\x84",
    "missing-continuation": b"\xe2\x41\x42",
}


def frame_header():
    # (role_is_server, allowed_rsv, max_frame_size, bytes)
    def seed(name, frame, role, rsv=0, max_size=16 << 20):
        write("frame_header", Enc().boolean(role == "server").u8(rsv).u64(max_size).rest(frame).finish(), name)

    for name, frame, role in RFC_FRAMES:
        seed(name, frame, role)
    # Every length form at its edges, masked and not.
    for n in [0, 125, 126, 0xFFFF, 0x10000, (1 << 63) - 1]:
        if n <= 125:
            hdr = bytes([0x82, n])
        elif n <= 0xFFFF:
            hdr = bytes([0x82, 126]) + struct.pack(">H", n)
        else:
            hdr = bytes([0x82, 127]) + struct.pack(">Q", n)
        seed(f"len-{n}", hdr, "client", max_size=(1 << 64) - 1)
        seed(f"len-{n}-masked", bytes([hdr[0], hdr[1] | 0x80]) + hdr[2:] + KEY, "server", max_size=(1 << 64) - 1)
    seed("ping-125", bytes([0x89, 125]), "client")
    seed("ping-126", bytes([0x89, 126, 0, 126]), "client")
    seed("close-fragmented", bytes([0x08, 0x00]), "client")
    seed("nonminimal-16", bytes([0x82, 126, 0, 125]), "client")
    seed("nonminimal-64", bytes([0x82, 127, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF]), "client")
    seed("msb-set", bytes([0x82, 127, 0x80, 0, 0, 0, 0, 0, 0, 0]), "client")
    seed("rsv1-allowed", bytes([0xC1, 0x00]), "client", rsv=4)
    seed("rsv1-refused", bytes([0xC1, 0x00]), "client")
    seed("reserved-opcode", bytes([0x83, 0x00]), "client")
    seed("too-large", bytes([0x82, 126, 0x03, 0xE9]), "client", max_size=1000)


def close_payload():
    for code in CLOSE_CODES:
        write("close_payload", struct.pack(">H", code), f"code-{code}")
        write("close_payload", struct.pack(">H", code) + b"bye", f"code-{code}-reason")
    write("close_payload", b"", "empty")
    write("close_payload", b"\x03", "one-byte")
    write("close_payload", struct.pack(">H", 1000) + b"r" * 123, "reason-123")
    write("close_payload", struct.pack(">H", 1000) + b"r" * 124, "reason-124")
    write("close_payload", struct.pack(">H", 1000) + "\u00e9".encode() * 61 + b"x", "reason-123-utf8")
    write("close_payload", struct.pack(">H", 1000) + b"\xff", "reason-invalid")
    write("close_payload", struct.pack(">H", 1000) + b"\xe2\x98", "reason-truncated")


def utf8_stream():
    # (piece sizes, bytes)
    for name, data in UTF8_EDGES.items():
        write("utf8_stream", Enc().vec_u8([]).rest(data).finish(), name)
        write("utf8_stream", Enc().vec_u8([1] * len(data)).rest(data).finish(), name + "-bytewise")
        write("utf8_stream", Enc().vec_u8([len(data) // 2]).rest(data).finish(), name + "-halves")


# Field layout of FuzzConfig, in declaration order.
def fuzz_config(e, streaming=False, max_size=0xFFFF, heartbeat=None, idle=None, send_frame=0xFFFF, misses=3):
    e.u16(max_size).u16(max_size).boolean(streaming).u16(send_frame).u16(0xFFFF).u16(0x4000)
    e.option(None, e.u16)  # close_timeout_ms
    e.u16(10_000)  # drain_timeout_ms
    e.option(heartbeat, lambda hb: [e.u16(x) for x in hb])
    e.u8(misses)  # max_misses
    e.option(idle, e.u16)
    e.u8(16)  # max_pending_pongs
    return e


def raw_frame(e, first_byte, payload, key=None):
    e.u8(first_byte)
    e.option(key, lambda k: [e.u8(b) for b in k])
    return e.vec_u8(payload)


def frame_stream():
    # (server, FuzzConfig, Vec<RawFrame>, tail: Vec<u8>, cuts: Vec<u16>)
    key = KEY
    scripts = {
        "hello": [(0x81, b"Hello")],
        "fragmented-with-ping": [(0x01, b"Hel"), (0x89, b"ping"), (0x80, b"lo")],
        "split-code-point": [(0x01, "\u2603".encode()[:2]), (0x80, "\u2603".encode()[2:])],
        "binary-then-close": [(0x82, bytes(range(40))), (0x88, struct.pack(">H", 1000) + b"bye")],
        "invalid-utf8-mid-frame": [(0x81, b"ab\xffcd")],
        "close-1004": [(0x88, struct.pack(">H", 1004))],
        "ping-125": [(0x89, b"p" * 125)],
        "continuation-first": [(0x80, b"x")],
    }
    for name, frames in scripts.items():
        for server in (True, False):
            for streaming in (False, True):
                for cuts in ([], [1, 1, 1, 1, 1, 1, 1, 1], [3, 5]):
                    e = Enc().boolean(server)
                    fuzz_config(e, streaming=streaming)
                    e.vec(frames, lambda f: raw_frame(e, f[0], f[1], key if server else None))
                    e.vec_u8([])
                    e.vec(cuts, e.u16)
                    role = "server" if server else "client"
                    mode = "streaming" if streaming else "whole"
                    write("frame_stream", e.finish(), f"{name}-{role}-{mode}-cuts{len(cuts)}")


# Variant indices of conn::Op, in declaration order.
OP = ["Bytes", "Frame", "Eof", "Advance", "FireTimer", "ReadInto", "Reserve", "Write", "Drain", "Text", "Binary",
      "Fragment", "Ping", "Close", "Abort"]


def op(e, name, *args):
    e.variant(OP.index(name), len(OP))
    if name == "Bytes":
        e.vec_u8(args[0])
    elif name == "Frame":
        raw_frame(e, *args)
    elif name in ("Advance", "Write", "Reserve"):
        e.u16(args[0])
    elif name == "ReadInto":
        e.u16(args[0]).vec_u8(args[1])
    elif name == "Text":
        e.sized(args[0])
    elif name in ("Binary", "Ping"):
        e.vec_u8(args[0])
    elif name == "Fragment":
        e.boolean(args[0]).vec_u8(args[1]).boolean(args[2])
    elif name == "Close":
        e.u16(args[0]).sized(args[1])


def connection(target, server):
    key = KEY if server else None
    scripts = {
        "echo": [("Frame", 0x81, b"Hello", key), ("Drain",), ("Text", "Hello"), ("Drain",)],
        "peer-close": [("Frame", 0x88, struct.pack(">H", 1000), key), ("Drain",), ("Eof",)],
        "local-close": [("Text", "bye"), ("Close", 1000, "done"), ("Write", 3), ("Drain",),
                        ("Frame", 0x88, struct.pack(">H", 1000), key), ("Eof",), ("Advance", 6000)],
        "violation": [("Frame", 0x81, b"\xff", key), ("Drain",), ("Advance", 100)],
        "violation-while-closing": [("Close", 4000, "x"), ("Frame", 0x83, b"", key), ("Drain",)],
        "ping-pong": [("Ping", b"abc"), ("Drain",), ("Frame", 0x8A, b"abc", key), ("Frame", 0x89, b"p", key),
                      ("Drain",)],
        "heartbeat": [("Advance", 1000), ("Drain",), ("FireTimer",), ("FireTimer",), ("FireTimer",),
                      ("FireTimer",)],
        "fragments": [("Fragment", True, "\u2603".encode()[:1], False), ("Fragment", True,
                      "\u2603".encode()[1:], True), ("Write", 1), ("Drain",), ("Abort",), ("Bytes", b"\x81\x00")],
        "streamed-input": [("Frame", 0x01, b"a" * 30, key), ("Frame", 0x00, b"b" * 30, key),
                           ("Frame", 0x80, b"", key)],
        "read-into": [("Reserve", 100), ("ReadInto", 64, raw_bytes(0x81, b"Hello", key)), ("Drain",)],
    }
    for name, ops in scripts.items():
        for heartbeat in (None, [1000, 500, 100, 2000]):
            e = Enc()
            fuzz_config(e, heartbeat=heartbeat, idle=5000 if heartbeat else None, send_frame=7)
            e.option(None, None)  # no permessage-deflate
            e.vec(ops, lambda o: op(e, *o))
            write(target, e.finish(), f"{name}-hb{int(heartbeat is not None)}")
    # RFC 7692 section 7.2.3.1: "Hello" compressed, then a message sent back compressed.
    deflated = [("Frame", 0xC1, bytes([0xF2, 0x48, 0xCD, 0xC9, 0xC9, 0x07, 0x00]), key), ("Drain",),
                ("Text", "Hello Hello Hello Hello"), ("Drain",), ("Frame", 0xC1, b"\xff\x00", key), ("Drain",)]
    e = Enc()
    fuzz_config(e)
    e.option(True, lambda _: deflate_setup(e))
    e.vec(deflated, lambda o: op(e, *o))
    write(target, e.finish(), "deflate-hello")


def deflate_setup(e, threshold=0):
    # FuzzDeflate: no_context_takeover (server, client), window bits (server, client), threshold,
    # level, release_between_messages.
    e.boolean(False).boolean(False).u8(7).u8(7).u16(threshold).u8(6).boolean(False)


def raw_bytes(first_byte, payload, key=None):
    mask_bit = 0x80 if key else 0
    out = bytes([first_byte, mask_bit | len(payload)])
    return out + (key + mask(payload, key) if key else payload)


def known_issues():
    # A heartbeat whose Pong timeout is zero (initial_timeout = min_timeout = max_timeout = 0): after
    # handle_timeout(1 s), poll_timeout() is still 1 s (the retries of a 7-miss budget outlast the
    # four rounds of handle_timeout). Checked once conn::KNOWN_ZERO_PONG_TIMEOUT
    # is false.
    for target in ("connection_server", "connection_client"):
        e = Enc()
        fuzz_config(e, heartbeat=[1000, 0, 0, 0], misses=7)
        e.option(None, None)
        e.vec([("Advance", 1000)], lambda o: op(e, *o))
        write(target, e.finish(), "known-zero-pong-timeout")


# Variant indices of pair::PairOp, in declaration order.
PAIR_OP = ["Text", "Binary", "Fragment", "Ping", "Close", "Abort", "Advance", "Drive", "Chunk", "Latency",
           "Pause"]


def pair_op(e, name, *args):
    e.variant(PAIR_OP.index(name), len(PAIR_OP))
    if name == "Text":
        e.boolean(args[0]).sized(args[1]).u32(args[2])
    elif name == "Binary":
        e.boolean(args[0]).vec_u8(args[1]).u32(args[2])
    elif name == "Fragment":
        e.boolean(args[0]).boolean(args[1]).vec_u8(args[2]).boolean(args[3])
    elif name == "Ping":
        e.boolean(args[0]).vec_u8(args[1])
    elif name == "Close":
        e.boolean(args[0]).u16(args[1]).sized(args[2])
    elif name == "Abort":
        e.boolean(args[0])
    elif name == "Advance":
        e.u16(args[0])
    elif name == "Chunk":
        e.option(args[0], e.u16)
    elif name == "Latency":
        e.u8(args[0])
    elif name == "Pause":
        e.boolean(args[0]).boolean(args[1])


def pair_ops():
    scripts = {
        "hello-both-ways": [("Text", True, "hi", 2), ("Text", False, "yo", 2), ("Drive",)],
        "large-messages": [("Binary", True, b"\x00\x01\x02", 70_000), ("Text", False, "\u2603", 65_537),
                           ("Chunk", 1000), ("Advance", 10)],
        "fragments": [("Fragment", True, True, b"ab", False), ("Fragment", True, True, b"cd", True),
                      ("Fragment", False, False, b"\x00", True), ("Drive",)],
        "close-with-data": [("Latency", 5), ("Text", True, "a", 1), ("Close", True, 1000, "bye"),
                            ("Text", False, "b", 1), ("Advance", 200)],
        "simultaneous-close": [("Latency", 10), ("Close", True, 1001, ""), ("Close", False, 4999, "x"),
                               ("Advance", 1000)],
        "paused-reader": [("Pause", False, True), ("Binary", True, b"z", 60_000), ("Advance", 40_000),
                          ("Pause", False, False), ("Drive",)],
        "abort": [("Text", True, "x", 10), ("Abort", True), ("Advance", 100)],
        "ping-and-chunks": [("Chunk", 1), ("Ping", True, b"p"), ("Ping", False, b""), ("Drive",)],
        "code-edges": [("Close", False, 999, ""), ("Close", False, 5000, ""), ("Close", False, 3000, "")],
    }
    for name, ops in scripts.items():
        for deflate in (False, True):
            e = Enc()
            e.option(None, None).option(None, None)  # Setup: both Config::default()
            e.option(True if deflate else None, lambda _: deflate_setup(e, threshold=16))
            e.vec(ops, lambda o: pair_op(e, *o))
            write("pair_ops", e.finish(), name + ("-deflate" if deflate else ""))


RFC_REQUEST = (b"GET /chat HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\n"
               b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
               b"Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n"
               b"Sec-WebSocket-Version: 13\r\n\r\n")
RFC_RESPONSE = (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                b"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\nSec-WebSocket-Protocol: chat\r\n\r\n")


def handshakes():
    # (max_head_size: u16, cuts: Vec<u16>, bytes)
    def cut_seed(target, name, data, cuts, limit=16 * 1024):
        e = Enc().u16(limit)
        e.vec(cuts, e.u16)
        write(target, e.rest(data).finish(), name)

    for target, head in (("handshake_server", RFC_REQUEST), ("handshake_client", RFC_RESPONSE)):
        cut_seed(target, "rfc", head, [])
        cut_seed(target, "rfc-bytewise", head, [1] * 60)
        cut_seed(target, "rfc-crlf-split", head, [len(head) - 3, 1, 1])
        cut_seed(target, "rfc-trailing-frame", head + b"\x81\x02hi", [10])
        cut_seed(target, "rfc-over-limit", head, [], limit=len(head) - 1)
        cut_seed(target, "rfc-at-limit", head, [7], limit=len(head))
    cut_seed("handshake_server", "no-upgrade", b"GET / HTTP/1.1\r\nHost: a\r\n\r\n", [])
    cut_seed("handshake_server", "post", RFC_REQUEST.replace(b"GET", b"POST"), [])
    cut_seed("handshake_server", "extensions", RFC_REQUEST.replace(
        b"\r\n\r\n", b"\r\nSec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n"), [])
    cut_seed("handshake_client", "403", b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n", [])
    cut_seed("handshake_client", "redirect", b"HTTP/1.1 302 Found\r\nLocation: ws://b/\r\n\r\n", [])


if __name__ == "__main__":
    frame_header()
    close_payload()
    utf8_stream()
    frame_stream()
    connection("connection_server", True)
    connection("connection_client", False)
    known_issues()
    pair_ops()
    handshakes()
