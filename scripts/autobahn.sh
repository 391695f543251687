#!/usr/bin/env bash
# Runs the Autobahn TestSuite cases against sansio-ws in both roles, through each driver:
#   servers: the fuzzing client drives an echo-server;
#   clients: an autobahn-client runs every case against the fuzzing server;
#   mio: the examples of sansio-ws-mio; tokio: those of sansio-ws-tokio.
# Reports (HTML and index.json) go to target/autobahn/{servers,clients} (mio) and
# target/autobahn/tokio-{servers,clients}. Exits non-zero unless every case is OK or INFORMATIONAL
# for both behavior and behaviorClose (NON-STRICT is a failure).
#
# Usage: scripts/autobahn.sh [servers|clients|both] [mio|tokio|all]   (default: both all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-both}
DRIVERS=${2:-all}
VENV=$ROOT/target/autobahn-venv
OUT=$ROOT/target/autobahn
SERVER_PORT=${AUTOBAHN_SERVER_PORT:-9011}
CLIENT_PORT=${AUTOBAHN_CLIENT_PORT:-9012}
# Every case must pass, permessage-deflate (12.*, 13.*) included. AUTOBAHN_ALLOW_UNIMPLEMENTED can
# name case groups (e.g. "12. 13.") whose UNIMPLEMENTED results are then allowed, loudly.
ALLOW_UNIMPLEMENTED_PREFIXES=${AUTOBAHN_ALLOW_UNIMPLEMENTED:-""}

if [ ! -x "$VENV/bin/kosoku" ]; then
    echo "==> installing kosoku (the Autobahn case runner) into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --disable-pip-version-check kosoku
fi

case "$DRIVERS" in
    all) DRIVERS="mio tokio" ;;
    mio | tokio) ;;
    *) echo "usage: $0 [servers|clients|both] [mio|tokio|all]" >&2; exit 2 ;;
esac
BIN=$ROOT/target/release/examples
echo "==> building the examples (release)"
for driver in $DRIVERS; do
    cargo build --release -q -p "sansio-ws-$driver" --example echo-server --example autobahn-client
    # Both crates name their examples alike: keep each pair under its driver's name.
    for example in echo-server autobahn-client; do
        cp "$BIN/$example" "$BIN/$driver-$example"
    done
done

PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        [ -n "$pid" ] && kill "$pid" 2>/dev/null || true
    done
}
trap cleanup EXIT

wait_port() {
    for _ in $(seq 1 100); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    echo "nothing listens on port $1" >&2
    return 1
}

# The report directory of a role for a driver.
dir_of() {
    if [ "$2" = mio ]; then echo "$1"; else echo "$2-$1"; fi
}

run_servers() {
    local driver=$1 dir
    dir=$(dir_of servers "$driver")
    echo "==> fuzzing client against the $driver echo-server on 127.0.0.1:$SERVER_PORT"
    rm -rf "${OUT:?}/$dir"
    "$BIN/$driver-echo-server" "127.0.0.1:$SERVER_PORT" > "$OUT/$driver-echo-server.log" 2>&1 &
    local server=$!
    PIDS+=("$server")
    wait_port "$SERVER_PORT"
    # kosoku's exit status counts NON-STRICT as passed; the verdict comes from index.json below.
    "$VENV/bin/kosoku" -m fuzzingclient -o "$OUT/$dir" "127.0.0.1:$SERVER_PORT" > "$OUT/$dir.log" 2>&1 || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}

run_clients() {
    local driver=$1 dir
    dir=$(dir_of clients "$driver")
    echo "==> the $driver autobahn-client against the fuzzing server on 127.0.0.1:$CLIENT_PORT"
    rm -rf "${OUT:?}/$dir"
    "$VENV/bin/kosoku" -m fuzzingserver -o "$OUT/$dir" "127.0.0.1:$CLIENT_PORT" > "$OUT/$dir.log" 2>&1 &
    local fuzz=$!
    PIDS+=("$fuzz")
    wait_port "$CLIENT_PORT"
    timeout 900 "$BIN/$driver-autobahn-client" "ws://127.0.0.1:$CLIENT_PORT"
    # The fuzzing server writes its reports on updateReports; give it a moment, then stop it.
    for _ in $(seq 1 100); do
        [ -f "$OUT/$dir/index.json" ] && break
        sleep 0.1
    done
    kill "$fuzz" 2>/dev/null || true
    wait "$fuzz" 2>/dev/null || true
}

mkdir -p "$OUT"
case "$MODE" in
    servers) ROLES="servers" ;;
    clients) ROLES="clients" ;;
    both) ROLES="servers clients" ;;
    *) echo "usage: $0 [servers|clients|both] [mio|tokio|all]" >&2; exit 2 ;;
esac
REPORTS=()
for driver in $DRIVERS; do
    for role in $ROLES; do
        "run_$role" "$driver"
        REPORTS+=("$(dir_of "$role" "$driver")")
    done
done

python3 "$ROOT/scripts/autobahn_summary.py" "$OUT" "${REPORTS[*]}" "$ALLOW_UNIMPLEMENTED_PREFIXES"
