#!/usr/bin/env bash
# Runs the Autobahn TestSuite cases against sansio-ws in both roles:
#   servers: the fuzzing client drives our echo-server;
#   clients: our autobahn-client runs every case against the fuzzing server.
# Reports (HTML and index.json) go to target/autobahn/{servers,clients}. Exits non-zero unless every
# case is OK or INFORMATIONAL for both behavior and behaviorClose (NON-STRICT is a failure).
#
# Usage: scripts/autobahn.sh [servers|clients|both]   (default: both)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-both}
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

echo "==> building the examples (release)"
cargo build --release -q -p sansio-ws-mio --example echo-server --example autobahn-client
BIN=$ROOT/target/release/examples

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

run_servers() {
    echo "==> fuzzing client against our echo-server on 127.0.0.1:$SERVER_PORT"
    rm -rf "$OUT/servers"
    "$BIN/echo-server" "127.0.0.1:$SERVER_PORT" > "$OUT/echo-server.log" 2>&1 &
    local server=$!
    PIDS+=("$server")
    wait_port "$SERVER_PORT"
    # kosoku's exit status counts NON-STRICT as passed; the verdict comes from index.json below.
    "$VENV/bin/kosoku" -m fuzzingclient -o "$OUT/servers" "127.0.0.1:$SERVER_PORT" > "$OUT/servers.log" 2>&1 || true
    kill "$server" 2>/dev/null || true
    wait "$server" 2>/dev/null || true
}

run_clients() {
    echo "==> our autobahn-client against the fuzzing server on 127.0.0.1:$CLIENT_PORT"
    rm -rf "$OUT/clients"
    "$VENV/bin/kosoku" -m fuzzingserver -o "$OUT/clients" "127.0.0.1:$CLIENT_PORT" > "$OUT/clients.log" 2>&1 &
    local fuzz=$!
    PIDS+=("$fuzz")
    wait_port "$CLIENT_PORT"
    timeout 900 "$BIN/autobahn-client" "ws://127.0.0.1:$CLIENT_PORT"
    # The fuzzing server writes its reports on updateReports; give it a moment, then stop it.
    for _ in $(seq 1 100); do
        [ -f "$OUT/clients/index.json" ] && break
        sleep 0.1
    done
    kill "$fuzz" 2>/dev/null || true
    wait "$fuzz" 2>/dev/null || true
}

mkdir -p "$OUT"
case "$MODE" in
    servers) run_servers ;;
    clients) run_clients ;;
    both) run_servers; run_clients ;;
    *) echo "usage: $0 [servers|clients|both]" >&2; exit 2 ;;
esac

python3 "$ROOT/scripts/autobahn_summary.py" "$OUT" "$MODE" "$ALLOW_UNIMPLEMENTED_PREFIXES"
