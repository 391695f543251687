#!/usr/bin/env bash
# Load and abuse scenarios on loopback: a fresh echo server (the mio driver's example) for each,
# attacked by tests/stress/stress.rs, one PASS or FAIL line per scenario, and a non-zero exit if
# any failed. Bounded: every scenario has its own time limit, nothing leaves the machine.
#
#   scripts/stress.sh            the full scenarios (10 M Pings, 10 000 slowloris sockets, 50 peers
#                                holding 300 MiB against a 256 MiB budget, 50 000 connections
#                                coming and going, SIGTERM with 500 clients…), about a minute and a half
#   scripts/stress.sh --short    the short form CI runs (1 M Pings, 2 000 sockets, a 32 MiB
#                                budget, 5 000 connections, 200 clients…), about half a minute
#   scripts/stress.sh [--short] SCENARIO…   only these
#
# Logs (each server's stderr, each scenario's output) go to target/stress/.
set -euo pipefail
cd "$(dirname "$0")/.."

SHORT=()
SCENARIOS=()
for arg in "$@"; do
    case "$arg" in
        --short) SHORT=(--short) ;;
        -h | --help)
            sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        -*)
            echo "stress.sh: unknown option $arg" >&2
            exit 2
            ;;
        *) SCENARIOS+=("$arg") ;;
    esac
done
if [ ${#SCENARIOS[@]} -eq 0 ]; then
    SCENARIOS=(ping-flood-limited ping-flood non-reader overload large-partials slowloris tls-hello shutdown shutdown-twice fd-exhaustion metrics churn)
fi

OUT=target/stress
mkdir -p "$OUT"
cargo build --release -q -p sansio-ws-mio --example echo-server
cargo build --release -q -p sansio-ws-tests --example stress
BIN=target/release/examples

# The slowloris scenario holds 10 000 sockets at each end.
want=$((10000 + 1000))
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ]; then
    ulimit -n "$(ulimit -Hn)" 2> /dev/null || true
fi
if [ "$(ulimit -n)" != unlimited ] && [ "$(ulimit -n)" -lt "$want" ] && [ ${#SHORT[@]} -eq 0 ]; then
    echo "stress.sh: WARNING: only $(ulimit -n) file descriptors (hard limit $(ulimit -Hn)); slowloris needs $want" >&2
fi

PORT=${STRESS_PORT:-9451}
SERVER_PID=
stop_server() {
    if [ -n "$SERVER_PID" ]; then
        kill "$SERVER_PID" 2> /dev/null || true
        wait "$SERVER_PID" 2> /dev/null || true
        SERVER_PID=
    fi
}
trap stop_server EXIT

start_server() {
    local name=$1
    shift
    if [ "$name" = fd-exhaustion ]; then
        # Started with 64 descriptors at most, so that clients can exhaust them.
        (ulimit -n 64 && exec "$BIN/echo-server" "127.0.0.1:$PORT" --no-deflate "$@") > "$OUT/$name.server.log" 2>&1 &
    else
        "$BIN/echo-server" "127.0.0.1:$PORT" --no-deflate "$@" > "$OUT/$name.server.log" 2>&1 &
    fi
    SERVER_PID=$!
    for _ in $(seq 100); do
        if grep -q "listening on" "$OUT/$name.server.log" 2> /dev/null; then
            return 0
        fi
        sleep 0.05
    done
    echo "stress.sh: the echo server for $name did not start; its log:" >&2
    cat "$OUT/$name.server.log" >&2
    return 1
}

results=()
failed=0
for scenario in "${SCENARIOS[@]}"; do
    server_args=()
    case "$scenario" in
        ping-flood) server_args=(--max-control-frames-per-second off) ;;
        overload | large-partials) [ ${#SHORT[@]} -gt 0 ] && server_args=(--memory-budget-mib 32) ;;
        # Two loops on one port; the scenario sends SIGTERM itself.
        shutdown | shutdown-twice) server_args=(--threads 2 --drain-timeout 5) ;;
        fd-exhaustion) server_args=(--threads 1 --metrics "127.0.0.1:$((PORT + 1))") ;;
        metrics | churn) server_args=(--metrics "127.0.0.1:$((PORT + 1))") ;;
    esac
    echo "==> $scenario${SHORT:+ (short)}"
    start_server "$scenario" "${server_args[@]}"
    rc=0
    timeout 120 "$BIN/stress" "$scenario" --addr "127.0.0.1:$PORT" --server-pid "$SERVER_PID" "${SHORT[@]}" \
        > "$OUT/$scenario.log" 2>&1 || rc=$?
    if [ "$scenario" = fd-exhaustion ] && ! grep -q 'cannot accept connections' "$OUT/$scenario.server.log"; then
        echo "FAIL  fd-exhaustion: the server's log does not say it ran out of descriptors" >> "$OUT/$scenario.log"
        rc=1
    fi
    if [ "$scenario" = shutdown-twice ]; then
        # Signalled twice: it must have exited at once, with status 1, saying why.
        status=0
        kill -0 "$SERVER_PID" 2> /dev/null && kill -9 "$SERVER_PID" 2> /dev/null
        wait "$SERVER_PID" || status=$?
        SERVER_PID=
        if [ "$status" -ne 1 ] || ! grep -q 'again: exiting now' "$OUT/$scenario.server.log"; then
            echo "FAIL  shutdown-twice: the server exited with status $status (want 1) and no line saying why" >> "$OUT/$scenario.log"
            rc=1
        else
            echo "    server: exit status 1; $(grep 'again: exiting now' "$OUT/$scenario.server.log")" >> "$OUT/$scenario.log"
        fi
    fi
    if [ "$scenario" = shutdown ]; then
        # The server was signalled: it must have exited by itself, with status 0 and its report.
        status=0
        if kill -0 "$SERVER_PID" 2> /dev/null; then
            kill -9 "$SERVER_PID" 2> /dev/null || true
            echo "FAIL  shutdown: the server was still running after the scenario" >> "$OUT/$scenario.log"
        fi
        wait "$SERVER_PID" || status=$?
        SERVER_PID=
        report=$(grep 'shut down:' "$OUT/$scenario.server.log" || true)
        if [ "$status" -ne 0 ] || [ -z "$report" ]; then
            echo "FAIL  shutdown: the server exited with status $status${report:+, }${report:-and no shutdown report}" >> "$OUT/$scenario.log"
            rc=1
        else
            echo "    server: exit status 0; ${report#*: }" >> "$OUT/$scenario.log"
        fi
    fi
    stop_server
    cat "$OUT/$scenario.log"
    line=$(grep -E '^(PASS|FAIL)  ' "$OUT/$scenario.log" | tail -n 1 || true)
    if [ "$rc" -ne 0 ] || [ -z "$line" ]; then
        failed=1
        [ -z "$line" ] && line="FAIL  $scenario: exit status $rc (timeout 120 s is 124), no verdict"
        echo "    server log: $OUT/$scenario.server.log (last lines below)"
        tail -n 5 "$OUT/$scenario.server.log" | sed 's/^/    /'
    fi
    results+=("$line")
done

echo
printf '%s\n' "${results[@]}"
exit "$failed"
