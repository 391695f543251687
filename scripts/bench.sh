#!/usr/bin/env bash
# Builds and runs the codec benchmarks (bench/, a cargo workspace of its own) and prints one table:
# each workload, each implementation's throughput, the ratios sansio-ws/peer and the memcpy line.
#
#   scripts/bench.sh                 # codec benchmarks, pinned to the last CPU
#   scripts/bench.sh deflate         # permessage-deflate: sansio-ws against flate2 called directly
#   scripts/bench.sh loopback        # loopback echo servers and idle-connection memory
#   scripts/bench.sh tokio           # loopback echo through the tokio adapter (sansio-ws-tokio) against
#                                    # tokio-tungstenite and tokio-websockets, one worker thread each
#   scripts/bench.sh idle            # idle-connection memory only
#   scripts/bench.sh scaling         # the mio server with 1 loop and with 2 loops, same load
#   scripts/bench.sh broadcast       # broadcast to 10,000 connections on 2 loops: time and memory
#   scripts/bench.sh tls             # wss:// echo against tokio-tungstenite on tokio-rustls (same
#                                    # certificate and rustls setup), handshakes/s, idle TLS memory
#   scripts/bench.sh all             # codec, deflate and loopback
#   scripts/bench.sh instructions    # small-message workloads: instructions per message (callgrind)
#   BENCH_CPU= scripts/bench.sh      # codec benchmarks not pinned
#   BENCH_ARGS='decode_text16' scripts/bench.sh   # a filter, passed to divan
#
# The raw divan output is kept in bench/target/bench-codec.txt (bench-deflate.txt for deflate).
set -euo pipefail

root="$(cd "$(dirname "$0")/.." && pwd)"
manifest="$root/bench/Cargo.toml"
raw="$root/bench/target/bench-codec.txt"
raw_deflate="$root/bench/target/bench-deflate.txt"
cpu="${BENCH_CPU-$(($(nproc) - 1))}"
what="${1:-codec}"

# Builds and runs the divan benchmark $1 (pinned to $cpu if set), its output also written to $2;
# further arguments are cargo options (features).
run_divan() {
    local bench="$1" out="$2"
    shift 2
    cargo bench --manifest-path "$manifest" "$@" --bench "$bench" --no-run
    mkdir -p "$(dirname "$out")"
    local pin=()
    if [[ -n "$cpu" ]] && command -v taskset > /dev/null; then
        pin=(taskset -c "$cpu")
    fi
    # shellcheck disable=SC2086 # BENCH_ARGS is a list of words on purpose.
    "${pin[@]}" cargo bench --manifest-path "$manifest" "$@" --bench "$bench" -- ${BENCH_ARGS:-} | tee "$out"
}

# The codec benchmarks with every peer (`--features peers`: tokio-websockets and yawc besides
# tungstenite and fastwebsockets).
codec() {
    run_divan codec "$raw" --features peers
    python3 "$root/scripts/bench_tables.py" codec "$raw"
}

# permessage-deflate: sansio-ws compressing and inflating against flate2 called directly on the same
# messages; throughput in uncompressed payload bytes, and the ratio ours/direct.
deflate() {
    run_divan deflate "$raw_deflate"
    python3 "$root/scripts/bench_tables.py" deflate "$raw_deflate"
}

# Starts a server pinned to CPU 0 and waits until it accepts; sets $server_pid.
start_server() {
    local port="$1"
    shift
    taskset -c 0 "$@" 2> /dev/null &
    server_pid=$!
    for _ in $(seq 100); do
        if (exec 3<> "/dev/tcp/127.0.0.1/$port") 2> /dev/null; then
            return
        fi
        sleep 0.1
    done
    echo "server on port $port did not start" >&2
    exit 1
}

stop_server() {
    kill "$server_pid" 2> /dev/null || true
    wait "$server_pid" 2> /dev/null || true
}

loopback() {
    server_pid=
    trap 'if [[ -n "$server_pid" ]]; then kill "$server_pid" 2> /dev/null || true; fi' EXIT
    local bin="$root/bench/target/release"
    cargo build --release --manifest-path "$manifest" --features loopback --bins
    cargo build --release --manifest-path "$root/Cargo.toml" -p sansio-ws-mio --example echo-server
    export CLK_TCK
    CLK_TCK="$(getconf CLK_TCK)"
    local gen=(taskset -c 1 "$bin/loadgen")
    local -A servers=(
        [sansio-ws]="9001 $root/target/release/examples/echo-server 127.0.0.1:9001 --no-deflate --threads 1"
        [tokio-tungstenite]="9002 $bin/tungstenite-echo 127.0.0.1:9002"
        [fastwebsockets]="9003 $bin/fastwebsockets-echo 127.0.0.1:9003"
    )
    for name in sansio-ws tokio-tungstenite fastwebsockets; do
        # shellcheck disable=SC2086 # the entry is a port and a command line.
        set -- ${servers[$name]}
        local port="$1"
        shift
        start_server "$port" "$@"
        echo "== $name (pid $server_pid)"
        echo -n "64 conns x 16 B, window 32: "
        "${gen[@]}" "127.0.0.1:$port" --conns 64 --size 16 --window 32 --secs 5 --pid "$server_pid"
        echo -n "1 conn x 1 MiB, window 4:   "
        "${gen[@]}" "127.0.0.1:$port" --conns 1 --size 1048576 --window 4 --secs 5 --pid "$server_pid"
        echo -n "ping-pong 16 B latency:     "
        "${gen[@]}" "127.0.0.1:$port" --conns 1 --size 16 --window 1 --secs 5 --pid "$server_pid"
        stop_server
    done
    idle
}

# The tokio adapter against the peers built on tokio: sansio-ws-tokio's echo-server example
# (`--no-deflate`), tokio-tungstenite (`read.forward(write)`), tokio-websockets as its README has it
# (a `send`, so a flush, per message) and batched (`feed`, one flush when no message is ready). All
# four on tokio's multi-threaded runtime with one worker thread (`--threads 1`), pinned to CPU 0 as
# in `loopback`, the load generator on CPU 1; the same loads as `loopback` plus 64 connections with
# a window of 512 (every server then CPU-bound, so its cost per message shows without waiting on
# the load generator), then one table with each figure's ratio to tokio-tungstenite's.
tokio() {
    server_pid=
    trap 'if [[ -n "$server_pid" ]]; then kill "$server_pid" 2> /dev/null || true; fi' EXIT
    local bin="$root/bench/target/release"
    cargo build --release --manifest-path "$manifest" --features loopback --bins
    cargo build --release --manifest-path "$root/Cargo.toml" -p sansio-ws-tokio --example echo-server
    # The mio driver's example has the same name, so the same path: keep a copy of this one.
    cp "$root/target/release/examples/echo-server" "$bin/sansio-ws-tokio-echo-server"
    export CLK_TCK
    CLK_TCK="$(getconf CLK_TCK)"
    local gen=(taskset -c 1 "$bin/loadgen")
    local names=(sansio-ws-tokio tokio-tungstenite tokio-websockets tokio-websockets-batched)
    # Ports of their own, so that a `loopback` run elsewhere on the machine does not collide.
    local -A servers=(
        [sansio-ws-tokio]="9011 $bin/sansio-ws-tokio-echo-server 127.0.0.1:9011 --no-deflate --threads 1"
        [tokio-tungstenite]="9012 $bin/tungstenite-echo 127.0.0.1:9012 --threads 1"
        [tokio-websockets]="9013 $bin/tokio-websockets-echo 127.0.0.1:9013 --threads 1"
        [tokio-websockets-batched]="9014 $bin/tokio-websockets-echo 127.0.0.1:9014 --batched --threads 1"
    )
    local loads=(
        "64 conns x 16 B, window 32|--conns 64 --size 16 --window 32"
        "64 conns x 16 B, window 512|--conns 64 --size 16 --window 512"
        "1 conn x 1 MiB, window 4|--conns 1 --size 1048576 --window 4"
        "ping-pong 16 B, 1 conn|--conns 1 --size 16 --window 1"
    )
    local results load name line
    results="$(mktemp)"
    for name in "${names[@]}"; do
        # shellcheck disable=SC2086 # the entry is a port and a command line.
        set -- ${servers[$name]}
        local port="$1"
        shift
        start_server "$port" "$@"
        echo "== $name (pid $server_pid)"
        for load in "${loads[@]}"; do
            # shellcheck disable=SC2086 # the load's options are a list of words on purpose.
            line="$("${gen[@]}" "127.0.0.1:$port" ${load#*|} --secs 5 --pid "$server_pid")"
            printf '%-28s %s\n' "${load%%|*}:" "$line"
            printf '%s\t%s\t%s\n' "$name" "${load%%|*}" "$line" >> "$results"
        done
        stop_server
    done
    echo
    python3 - "$results" "${names[@]}" << 'PY'
import sys
rows, names, loads = {}, sys.argv[2:], []
for line in open(sys.argv[1]):
    name, load, out = line.rstrip("\n").split("\t")
    if load not in loads:
        loads.append(load)
    rows[name, load] = dict(kv.split("=", 1) for kv in out.split())
base = "tokio-tungstenite"
measures = [("msgs/s", "msgs/s"), ("server_cpu_ns/msg", "server CPU ns/msg"),
            ("rtt_p50_us", "round trip p50 µs"), ("rtt_p99_us", "round trip p99 µs")]
print(f"Ratio: the figure over {base}'s (msgs/s: higher is better; CPU and round trips: lower)")
print("| workload | measure | " + " | ".join(names) + " |")
print("|---|---|" + "---|" * len(names))
for load in loads:
    for key, label in measures:
        if not all(key in rows.get((n, load), {}) for n in names):
            continue
        b = float(rows[base, load][key])
        cells = []
        for n in names:
            v = float(rows[n, load][key])
            text = f"{v:,.0f}" if v >= 100 else f"{v:.1f}"
            cells.append(text if n == base or not b else f"{text} ({v / b:.2f}×)")
        print(f"| {load} | {label} | " + " | ".join(cells) + " |")
PY
    rm -f "$results"
}

# The echo server with one event loop (pinned to CPU 0, the load generator on CPU 1) against two
# loops (no pinning: the two loops and the load generator share both CPUs), on the same loads.
# Small messages with a deep window (the load generator's cost per message is then well below the
# server's, so the server is the limit), and 64 KiB messages. Also reports the server's CPU time
# per message: flat from one loop to two means nothing is shared per message between loops.
scaling() {
    local bin="$root/bench/target/release"
    cargo build --release --manifest-path "$manifest" --features loopback --bin loadgen
    cargo build --release --manifest-path "$root/Cargo.toml" -p sansio-ws-mio --example echo-server
    export CLK_TCK
    CLK_TCK="$(getconf CLK_TCK)"
    local echo="$root/target/release/examples/echo-server"
    local load
    for load in "--conns 64 --size 16 --window 512" "--conns 8 --size 65536 --window 8"; do
        server_pid=
        taskset -c 0 "$echo" 127.0.0.1:9001 --no-deflate --threads 1 2> /dev/null &
        server_pid=$!
        sleep 0.5
        echo -n "1 loop  (server CPU 0, load CPU 1): "
        # shellcheck disable=SC2086 # the load is a list of words on purpose.
        taskset -c 1 "$bin/loadgen" 127.0.0.1:9001 $load --secs 5 --pid "$server_pid"
        stop_server
        "$echo" 127.0.0.1:9001 --no-deflate --threads 2 2> /dev/null &
        server_pid=$!
        sleep 0.5
        echo -n "2 loops (all sharing both CPUs):    "
        # shellcheck disable=SC2086
        "$bin/loadgen" 127.0.0.1:9001 $load --secs 5 --pid "$server_pid"
        stop_server
    done
}

# Broadcast to 10,000 connections spread across two loops (bench/src/bin/broadcast.rs): the time
# until every client has the message, and the server's memory per recipient for a queued 1 MiB
# broadcast.
broadcast() {
    cargo build --release --manifest-path "$manifest" --features loopback --bin broadcast
    if (($(ulimit -n) < 10100)); then
        ulimit -n "$(ulimit -Hn)"
    fi
    "$root/bench/target/release/broadcast" --conns 10000 --threads 2
}

# Memory of the sansio-ws server holding 10,000 idle connections.
idle() {
    cargo build --release --manifest-path "$root/Cargo.toml" -p sansio-ws-mio --example echo-server
    idle_over "$root/target/release/examples/echo-server 127.0.0.1:9001 --no-deflate --threads 1"
}

# idle_over "SERVER COMMAND" [LOADGEN OPTIONS...]: the server's RSS before and after 10,000 idle
# connections, per connection.
idle_over() {
    server_pid=
    trap 'if [[ -n "$server_pid" ]]; then kill "$server_pid" 2> /dev/null || true; fi' EXIT
    local bin="$root/bench/target/release"
    cargo build --release --manifest-path "$manifest" --features loopback --bin loadgen
    local gen=(taskset -c 1 "$bin/loadgen")
    local n=10000 server="$1"
    shift
    if (($(ulimit -n) < n + 100)); then
        ulimit -n "$(ulimit -Hn)"
    fi
    # shellcheck disable=SC2086 # the server is a command line.
    start_server 9001 $server
    local before after fifo
    before="$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")"
    fifo="$(mktemp -u)"
    mkfifo "$fifo"
    "${gen[@]}" 127.0.0.1:9001 --conns "$n" --idle "$@" < "$fifo" > "$fifo.out" &
    local gen_pid=$!
    exec 4> "$fifo"
    until grep -q ready "$fifo.out" 2> /dev/null; do
        if ! kill -0 "$gen_pid" 2> /dev/null; then
            echo "idle load generator failed" >&2
            break
        fi
        sleep 0.2
    done
    sleep 1
    after="$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")"
    exec 4>&-
    wait "$gen_pid" || true
    rm -f "$fifo" "$fifo.out"
    stop_server
    echo "== sansio-ws idle connections${*:+ ($*)}: $n, RSS ${before} KiB -> ${after} KiB," \
        "$(((after - before) * 1024 / n)) bytes per connection"
}

# Instructions per message for the small-message workloads, counted by callgrind: unlike time on
# a shared machine, these counts repeat exactly from run to run. Each implementation runs the
# workload twice, for 2 and for 12 measured iterations of 10,000 messages; the difference
# leaves out the setup (generating and verifying the workload) and divides by 100,000 messages.
# Large-payload workloads are left out: valgrind counts a `rep movsb` copy once per byte, so
# their counts say little about time.
instructions() {
    if ! command -v valgrind > /dev/null; then
        if [[ "$(id -u)" != 0 ]] || ! command -v apt-get > /dev/null; then
            echo "instructions: valgrind is needed (Debian: apt-get install valgrind)" >&2
            exit 2
        fi
        echo "== installing Debian's valgrind" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind > /dev/null ||
            { apt-get update -q > /dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends valgrind > /dev/null; }
    fi
    cargo bench --manifest-path "$manifest" --features peers --bench codec --no-run
    local bin
    bin="$(cargo bench --manifest-path "$manifest" --features peers --bench codec --no-run --message-format=json 2> /dev/null |
        python3 -c 'import json,sys
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["name"] == "codec":
        print(m["executable"])')"
    local out
    out="$(mktemp -d)"
    # Total instructions of one run of benchmark $1 with $2 samples of one iteration each.
    count() {
        valgrind --tool=callgrind --callgrind-out-file="$out/cg" "$bin" --bench "$1" \
            --sample-count "$2" --sample-size 1 > /dev/null 2> "$out/log"
        sed -nE 's/.*Collected : ([0-9]+).*/\1/p' "$out/log"
    }
    echo
    local peers=(tungstenite fastwebsockets tokio_websockets yawc)
    echo "Instructions per message (callgrind; in brackets: the count over the fewest of the peers', lower is better)"
    echo "| workload | sansio-ws | tungstenite | fastwebsockets | tokio-websockets | yawc |"
    echo "|---|---|---|---|---|---|"
    local group impl label
    for group in decode_text16 encode_server_text16; do
        local -A ir=()
        for impl in sansio_ws sansio_ws_owned "${peers[@]}"; do
            [[ $group == decode_* && $impl == sansio_ws_owned ]] && continue
            local a b
            a="$(count "$group::$impl\$" 2)"
            b="$(count "$group::$impl\$" 12)"
            ir[$impl]=$(((b - a) / 100000))
        done
        for impl in sansio_ws sansio_ws_owned; do
            [[ -z "${ir[$impl]:-}" ]] && continue
            label="$group"
            [[ $impl == sansio_ws_owned ]] && label="$group (sansio-ws from owned \`Bytes\`)"
            python3 -c 'import sys
label, *n = sys.argv[1:]
n = list(map(int, n))
best = min(n[1:])
print(f"| {label} | " + " | ".join(f"{x} ({x / best:.2f}×)" for x in n) + " |")' \
                "$label" "${ir[$impl]}" "${ir[tungstenite]}" "${ir[fastwebsockets]}" "${ir[tokio_websockets]}" "${ir[yawc]}"
        done
        unset ir
    done
    rm -rf "$out"
}

# The TLS echo comparison: our echo server (one loop, --tls-cert) and tokio-tungstenite served
# through tokio-rustls, with the same certificate, rustls build and provider (ring, X25519 first,
# so TLS13_AES_256_GCM_SHA384), driven by the load generator's TLS client; then handshakes per
# second (TCP + TLS + upgrade + close, one after the other) and the memory of idle TLS connections.
tls() {
    server_pid=
    trap 'if [[ -n "$server_pid" ]]; then kill "$server_pid" 2> /dev/null || true; fi' EXIT
    local bin="$root/bench/target/release"
    cargo build --release --manifest-path "$manifest" --features loopback --bin loadgen --bin tungstenite-echo
    cargo build --release --manifest-path "$root/Cargo.toml" -p sansio-ws-mio --features tls --example echo-server \
        --example dev-cert
    local pki="$root/bench/target/pki"
    "$root/target/release/examples/dev-cert" "$pki" localhost 127.0.0.1 > /dev/null
    local cert=(--tls-cert "$pki/cert.pem" --tls-key "$pki/key.pem")
    export CLK_TCK
    CLK_TCK="$(getconf CLK_TCK)"
    local gen=(taskset -c 1 "$bin/loadgen")
    local -A servers=(
        [sansio-ws]="9001 $root/target/release/examples/echo-server 127.0.0.1:9001 --no-deflate --threads 1 ${cert[*]}"
        [tokio-tungstenite]="9002 $bin/tungstenite-echo 127.0.0.1:9002 ${cert[*]}"
    )
    for name in sansio-ws tokio-tungstenite; do
        # shellcheck disable=SC2086 # the entry is a port and a command line.
        set -- ${servers[$name]}
        local port="$1"
        shift
        start_server "$port" "$@"
        echo "== $name over TLS (pid $server_pid)"
        echo -n "64 conns x 16 B, window 32: "
        "${gen[@]}" "127.0.0.1:$port" --tls "$pki/ca.pem" --conns 64 --size 16 --window 32 --secs 5 --pid "$server_pid"
        echo -n "1 conn x 1 MiB, window 4:   "
        "${gen[@]}" "127.0.0.1:$port" --tls "$pki/ca.pem" --conns 1 --size 1048576 --window 4 --secs 5 --pid "$server_pid"
        echo -n "handshakes, one at a time:  "
        "${gen[@]}" "127.0.0.1:$port" --tls "$pki/ca.pem" --handshakes 2000 --pid "$server_pid"
        stop_server
    done
    idle_over "$root/target/release/examples/echo-server 127.0.0.1:9001 --no-deflate --threads 1 ${cert[*]}" \
        --tls "$pki/ca.pem"
}

case "$what" in
    tls) tls ;;
    codec) codec ;;
    instructions) instructions ;;
    deflate) deflate ;;
    loopback) loopback ;;
    tokio) tokio ;;
    idle) idle ;;
    scaling) scaling ;;
    broadcast) broadcast ;;
    all)
        codec
        deflate
        loopback
        ;;
    *)
        echo "usage: $0 [codec|deflate|loopback|tokio|idle|scaling|broadcast|tls|instructions|all]" >&2
        exit 2
        ;;
esac
