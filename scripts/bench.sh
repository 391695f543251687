#!/usr/bin/env bash
# Builds and runs the codec benchmarks (bench/, a cargo workspace of its own) and prints one table:
# each workload, each implementation's throughput, the ratios sansio-ws/peer and the memcpy line.
#
#   scripts/bench.sh                 # codec benchmarks, pinned to the last CPU
#   scripts/bench.sh deflate         # permessage-deflate: sansio-ws against flate2 called directly
#   scripts/bench.sh loopback        # loopback echo servers and idle-connection memory
#   scripts/bench.sh idle            # idle-connection memory only
#   scripts/bench.sh all             # codec, deflate and loopback
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

# Builds and runs the divan benchmark $1 (pinned to $cpu if set), its output also written to $2.
run_divan() {
    local bench="$1" out="$2"
    cargo bench --manifest-path "$manifest" --bench "$bench" --no-run
    mkdir -p "$(dirname "$out")"
    local pin=()
    if [[ -n "$cpu" ]] && command -v taskset > /dev/null; then
        pin=(taskset -c "$cpu")
    fi
    # shellcheck disable=SC2086 # BENCH_ARGS is a list of words on purpose.
    "${pin[@]}" cargo bench --manifest-path "$manifest" --bench "$bench" -- ${BENCH_ARGS:-} | tee "$out"
}

codec() {
    run_divan codec "$raw"
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
        [sansio-ws]="9001 $root/target/release/examples/echo-server 127.0.0.1:9001 --no-deflate"
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

# Memory of the sansio-ws server holding 10,000 idle connections.
idle() {
    server_pid=
    trap 'if [[ -n "$server_pid" ]]; then kill "$server_pid" 2> /dev/null || true; fi' EXIT
    local bin="$root/bench/target/release"
    cargo build --release --manifest-path "$manifest" --features loopback --bin loadgen
    cargo build --release --manifest-path "$root/Cargo.toml" -p sansio-ws-mio --example echo-server
    local gen=(taskset -c 1 "$bin/loadgen")
    local n=10000
    if (($(ulimit -n) < n + 100)); then
        ulimit -n "$(ulimit -Hn)"
    fi
    start_server 9001 "$root/target/release/examples/echo-server" 127.0.0.1:9001 --no-deflate
    local before after fifo
    before="$(awk '/VmRSS/ {print $2}' "/proc/$server_pid/status")"
    fifo="$(mktemp -u)"
    mkfifo "$fifo"
    "${gen[@]}" 127.0.0.1:9001 --conns "$n" --idle < "$fifo" > "$fifo.out" &
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
    echo "== sansio-ws idle connections: $n, RSS ${before} KiB -> ${after} KiB," \
        "$(((after - before) * 1024 / n)) bytes per connection"
}

case "$what" in
    codec) codec ;;
    deflate) deflate ;;
    loopback) loopback ;;
    idle) idle ;;
    all)
        codec
        deflate
        loopback
        ;;
    *)
        echo "usage: $0 [codec|deflate|loopback|all]" >&2
        exit 2
        ;;
esac
