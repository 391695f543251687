#!/usr/bin/env python3
"""Prints the tables of scripts/bench.sh from divan's raw output.

    bench_tables.py codec <divan output>     # codec benchmarks: sansio-ws, the peers, memcpy
    bench_tables.py deflate <divan output>   # permessage-deflate: sansio-ws against flate2 direct

Each table is printed twice: ratios of the medians, then ratios of the fastest samples.
"""
import re
import sys

SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}
TOKEN = re.compile(r"([\d.]+) ([KMGT]?)(B|item)/s")
NAN = float("nan")


def parse(path, group_prefixes):
    """{group: {implementation: {unit: (fastest, median)}}} from divan's tree output."""
    groups = {}
    group = leaf = None
    for line in open(path, encoding="utf-8"):
        m = re.search(r"[├╰]─ (\w+)", line)
        if m:
            name = m.group(1)
            if name.startswith(group_prefixes):
                group, leaf = name, None
            else:
                leaf = name
            continue
        tokens = TOKEN.findall(line)
        if group and leaf and len(tokens) >= 4:
            # columns: fastest, slowest, median, mean
            vals = [float(v) * SCALE[p] for v, p, _ in tokens]
            groups.setdefault(group, {}).setdefault(leaf, {})[tokens[0][2]] = (vals[0], vals[2])
    return groups


CODEC = [
    ("decode_text16", "item", "Mmsg/s", 1e6, "decode 16 B text, 1 frame"),
    ("decode_binary64k", "B", "GB/s", 1e9, "decode 64 KiB binary"),
    ("decode_text1m", "B", "GB/s", 1e9, "decode 1 MiB mixed UTF-8 text"),
    ("decode_text1m_frag1k", "B", "GB/s", 1e9, "decode 1 MiB text in 1 KiB fragments"),
    ("encode_server_text16", "item", "Mmsg/s", 1e6, "encode 16 B text, server"),
    ("encode_client_binary64k", "B", "GB/s", 1e9, "encode 64 KiB binary, client (masked)"),
]
IMPLS = ["sansio_ws", "tungstenite", "fastwebsockets", "tokio_websockets", "yawc", "memcpy"]
PEERS = ["tungstenite", "fastwebsockets", "tokio_websockets", "yawc"]
NAMES = {"sansio_ws": "sansio-ws", "tungstenite": "tungstenite", "fastwebsockets": "fastwebsockets",
         "tokio_websockets": "tokio-websockets", "yawc": "yawc", "memcpy": "memcpy"}

DEFLATE = [
    ("compress_json1k", "compress 1 KiB JSON text (256 msgs)"),
    ("compress_json64k", "compress 64 KiB JSON text (16 msgs)"),
    ("decompress_json1k", "decompress 1 KiB JSON text (256 msgs)"),
    ("decompress_json64k", "decompress 64 KiB JSON text (16 msgs)"),
]


def codec_table(groups, col, title):
    """One row per workload (two for encoding: sansio-ws from borrowed and from owned payloads):
    each implementation's throughput and, in brackets, its ratio to the best peer's (the fastest of
    the implementations other than sansio-ws; memcpy is not a peer). Peers not built (without
    `--features peers`) show as "—"."""
    print(f"\n{title}")
    print("Ratio in brackets: the figure over the best peer's (higher is better)")
    print("| workload | unit | " + " | ".join(NAMES[i] for i in IMPLS) + " | best peer | ours/best peer |")
    print("|" + "---|" * (len(IMPLS) + 4))
    for key, kind, unit, div, label in CODEC:
        g = groups.get(key)
        if not g:
            continue
        v = {i: g[i][kind][col] for i in IMPLS if kind in g.get(i, {})}
        peers = [p for p in PEERS if p in v]
        if not peers:
            continue
        best = max(peers, key=lambda p: v[p])
        variants = [("sansio_ws", label)]
        if "sansio_ws_owned" in g:
            variants.append(("sansio_ws_owned", label + " — sansio-ws from owned `Bytes`"))
        for impl, name in variants:
            ours = g.get(impl, {}).get(kind, (NAN, NAN))[col]
            cells = []
            for i in IMPLS:
                x = ours if i == "sansio_ws" else v.get(i)
                if x is None:
                    cells.append("—")
                else:
                    cells.append(f"{x / div:.3g} ({x / v[best]:.2f}×)")
            print(f"| {name} | {unit} | " + " | ".join(cells) + f" | {NAMES[best]} | {ours / v[best]:.2f}× |")


def deflate_table(groups, col, title):
    print(f"\n{title}")
    print("| workload | sansio-ws MB/s | flate2 direct MB/s | ours/direct |")
    print("|" + "---|" * 4)
    for key, label in DEFLATE:
        g = groups.get(key)
        if not g:
            continue
        ours, direct = (g.get(i, {}).get("B", (NAN, NAN))[col] for i in ("sansio_ws", "flate2"))
        print(f"| {label} | {ours / 1e6:.1f} | {direct / 1e6:.1f} | {100 * ours / direct:.1f} % |")


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("codec", "deflate"):
        sys.exit(__doc__)
    what, path = sys.argv[1], sys.argv[2]
    if what == "codec":
        groups = parse(path, ("decode_", "encode_"))
        codec_table(groups, 1, "Median throughput (ratios of medians)")
        codec_table(groups, 0, "Fastest sample (ratios of fastest samples)")
    else:
        groups = parse(path, ("compress_", "decompress_"))
        deflate_table(groups, 1, "permessage-deflate, median throughput of uncompressed payload (ratio of medians)")
        deflate_table(groups, 0, "permessage-deflate, fastest sample (ratio of fastest samples)")


main()
