#!/usr/bin/env bash
# Interoperability checks against independent WebSocket implementations:
#   python:  the Python `websockets` client against our echo-server (tests/interop/py_client.py),
#            and our interop-client against a Python `websockets` server (tests/interop/py_server.py),
#            each with and without permessage-deflate, and over TLS (wss://, a CA of our own from
#            the dev-cert example that both sides trust): parts py-client*, py-server*;
#            for sansio-ws-tokio: the same py_client.py against its echo-server, with and without
#            permessage-deflate (py-client-tokio*), and its line client (the `client` example)
#            against py_server.py, with and without permessage-deflate and over TLS with the same
#            CA (py-server-tokio*): tests/interop/line_client.py pipes lines into it (ASCII,
#            multi-byte UTF-8, one of about 100 KB), expects each back as `< LINE` in order, then
#            ends its input and expects a clean close with 1000 and exit status 0;
#   browser: our chat example in headless Chromium pages, driven over the DevTools protocol
#            (tests/interop/browser.py) through its whole lifecycle, a server restart included;
#            the screenshots go to target/interop/chat-{open,disconnected,reconnected,left}.png;
#            the same over https:// and wss:// (Chromium trusting the test certificate by its key),
#            screenshots target/interop/chat-tls-*.png;
#            the axum example of sansio-ws-tokio in a Chromium page (tests/interop/browser_axum.py,
#            part browser-axum): the page opens, echoes what is typed, closes with 1000 and
#            reconnects with its buttons; a page of another origin is refused (403, counted by
#            /stats); on SIGTERM the page says the server closed with 1001 and the server exits
#            with 0 within 10 s, its log telling each connection's end; screenshots
#            target/interop/axum-{open,closed}.png.
# Everything listens on 127.0.0.1, on ports the servers pick (port 0) and print.
#
# Installs what it needs: `websockets` from PyPI into target/interop-venv, and Debian's chromium
# (apt-get, as root) when no chromium is found. If chromium cannot be had, the browser checks are
# reported SKIPPED, loudly, and the exit status is that of the other checks; set
# INTEROP_REQUIRE_BROWSER=1 to make that a failure. Exits non-zero if any check failed.
# Logs: target/interop/*.log; results: target/interop/results.tsv.
#
# Usage: scripts/interop.sh [python|browser|all]   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-all}
VENV=$ROOT/target/interop-venv
OUT=$ROOT/target/interop
RESULTS=$OUT/results.tsv
BIN=$ROOT/target/release/examples
REQUIRE_BROWSER=${INTEROP_REQUIRE_BROWSER:-0}

case "$MODE" in
    python | browser | all) ;;
    *) echo "usage: $0 [python|browser|all]" >&2; exit 2 ;;
esac
want() { [ "$MODE" = all ] || [ "$MODE" = "$1" ]; }

STARTED=$(date +%s)
mkdir -p "$OUT"
: > "$RESULTS"

PIDS=()
cleanup() {
    for pid in "${PIDS[@]:-}"; do
        if [ -n "$pid" ]; then kill "$pid" 2> /dev/null || true; fi
    done
}
trap cleanup EXIT

# record PART STATUS CHECK [DETAIL]
record() { printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "${4:-}" >> "$RESULTS"; }

banner() {
    echo "################################################################################"
    echo "$*"
    echo "################################################################################"
}

# The chromium to use: INTEROP_CHROMIUM if set (nothing is installed then), else the one on PATH.
CHROMIUM=${INTEROP_CHROMIUM:-}
NO_CHROMIUM=
find_chromium() {
    if [ -z "${INTEROP_CHROMIUM:-}" ]; then
        CHROMIUM=$(command -v chromium || command -v chromium-browser || true)
    fi
    [ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ]
}
install_chromium() {
    if [ "$(id -u)" != 0 ]; then
        echo "not root: cannot apt-get install chromium"
        return 1
    fi
    if ! command -v apt-get > /dev/null; then
        echo "no apt-get on this machine"
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    timeout 300 apt-get update -q &&
        timeout 600 apt-get install -y -q -o DPkg::Lock::Timeout=120 --no-install-recommends chromium
}

# chromium takes a while to install: start at once, in the background, while the rest builds.
# (It is left to finish if this script stops early: an interrupted dpkg is worse.)
APT_PID=
if want browser && [ -z "${INTEROP_CHROMIUM:-}" ] && ! find_chromium; then
    echo "==> installing Debian's chromium (log: target/interop/apt.log)"
    install_chromium > "$OUT/apt.log" 2>&1 &
    APT_PID=$!
fi

if ! "$VENV/bin/python" -c 'import websockets' 2> /dev/null; then
    echo "==> installing websockets into $VENV"
    rm -rf "$VENV"
    if ! python3 -m venv "$VENV" 2> "$OUT/venv.log"; then
        # Debian's python3 keeps venv (ensurepip) in a package of its own.
        { apt-get update -q && apt-get install -y -q -o DPkg::Lock::Timeout=120 python3-venv; } >> "$OUT/venv.log" 2>&1 || true
        rm -rf "$VENV"
        python3 -m venv "$VENV"
    fi
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "websockets>=15"
fi
PY=$VENV/bin/python
echo "==> websockets $("$PY" -c 'import websockets; print(websockets.__version__)')"

echo "==> building the examples (release, with TLS)"
# sansio-ws-tokio's examples first: its echo-server has the name of sansio-ws-mio's, and both land
# on target/release/examples/echo-server; so its two are copied away as soon as they are built,
# and the mio build comes last, leaving its own there.
TOKIO_BIN=$OUT/bin
mkdir -p "$TOKIO_BIN"
cargo build --release -q -p sansio-ws-tokio --features rustls --example echo-server --example client
cp "$BIN/echo-server" "$TOKIO_BIN/tokio-echo-server"
cp "$BIN/client" "$TOKIO_BIN/tokio-client"
cargo build --release -q -p sansio-ws-axum-example
AXUM=$ROOT/target/release/sansio-ws-axum-example
cargo build --release -q -p sansio-ws-mio --features tls --example echo-server --example chat --example interop-client \
    --example dev-cert
# A CA and a certificate for localhost and 127.0.0.1 it signs; the last line gives the key's hash.
PKI=$OUT/pki
SPKI=$("$BIN/dev-cert" "$PKI" 2> "$OUT/dev-cert.log" | sed -n 's/^spki-sha256 //p')
[ -n "$SPKI" ] || { echo "dev-cert made no certificate (log: $OUT/dev-cert.log)" >&2; exit 1; }
TLS_SERVER=(--tls-cert "$PKI/cert.pem" --tls-key "$PKI/key.pem")

# start_server LOG COMMAND...: starts a server that prints its address (ws:// or http:// on
# 127.0.0.1) and sets SERVER_PID and SERVER_URL; fails if no address shows within 10 s.
start_server() {
    local log=$1
    shift
    # Emptied here, not by the background job's redirection, so no address of an earlier run is read.
    : > "$log"
    "$@" >> "$log" 2>&1 &
    SERVER_PID=$!
    PIDS+=("$SERVER_PID")
    SERVER_URL=
    for _ in $(seq 1 100); do
        SERVER_URL=$(grep -o -m1 -E '(wss?|https?)://127\.0\.0\.1:[0-9]+' "$log" || true)
        [ -n "$SERVER_URL" ] && return 0
        kill -0 "$SERVER_PID" 2> /dev/null || break
        sleep 0.1
    done
    echo "$* did not start (log: $log)" >&2
    return 1
}

stop_server() {
    kill "$1" 2> /dev/null || true
    wait "$1" 2> /dev/null || true
}

# run_checks PART COMMAND...: runs a driver printing `PASS check` / `FAIL check: detail` /
# `SKIPPED check: reason` lines, and records them. A driver that fails without saying which check
# failed, or reports nothing, is recorded as a failure itself.
run_checks() {
    local part=$1
    shift
    local log=$OUT/$part.log rc=0
    "$@" 2>&1 | tee "$log" || rc=$?
    local status check detail reported=0 failed=0
    while IFS= read -r line; do
        status=${line%% *}
        check=${line#* }
        detail=
        case "$check" in *": "*) detail=${check#*: }; check=${check%%: *} ;; esac
        record "$part" "$status" "$check" "$detail"
        reported=$((reported + 1))
        if [ "$status" = FAIL ]; then failed=$((failed + 1)); fi
    done < <(grep -E '^(PASS|FAIL|SKIPPED) ' "$log" || true)
    if [ "$rc" -ne 0 ] && [ "$failed" -eq 0 ]; then
        local why="exited with status $rc"
        if [ "$rc" -eq 124 ]; then why="timed out"; fi
        record "$part" FAIL "the run completes" "$why (log: target/interop/$part.log)"
    elif [ "$reported" -eq 0 ]; then
        record "$part" FAIL "the run completes" "reported no check (log: target/interop/$part.log)"
    fi
}

run_python() {
    local flag part
    for flag in "" --no-compression; do
        part=py-client${flag:+-plain}
        echo "==> Python websockets client -> our echo-server (${flag:-permessage-deflate offered})"
        if start_server "$OUT/$part-echo-server.log" "$BIN/echo-server" 127.0.0.1:0; then
            local echo_pid=$SERVER_PID
            run_checks "$part" timeout 150 "$PY" "$ROOT/tests/interop/py_client.py" "$SERVER_URL" ${flag:+"$flag"}
            stop_server "$echo_pid"
        else
            record "$part" FAIL "echo-server starts" "see target/interop/$part-echo-server.log"
        fi
    done

    part=py-client-tls
    echo "==> Python websockets client -> our echo-server over TLS (wss://)"
    if start_server "$OUT/$part-echo-server.log" "$BIN/echo-server" 127.0.0.1:0 "${TLS_SERVER[@]}"; then
        local echo_pid=$SERVER_PID
        run_checks "$part" timeout 150 "$PY" "$ROOT/tests/interop/py_client.py" "$SERVER_URL" --ca "$PKI/ca.pem"
        stop_server "$echo_pid"
    else
        record "$part" FAIL "echo-server starts over TLS" "see target/interop/$part-echo-server.log"
    fi

    for flag in "" --no-compression; do
        part=py-server${flag:+-plain}
        echo "==> our interop-client -> Python websockets server (${flag:-permessage-deflate accepted})"
        if start_server "$OUT/$part-py-server.log" "$PY" "$ROOT/tests/interop/py_server.py" 0 ${flag:+"$flag"}; then
            local py_pid=$SERVER_PID
            run_checks "$part" timeout 90 "$BIN/interop-client" "$SERVER_URL"
            stop_server "$py_pid"
        else
            record "$part" FAIL "py_server.py starts" "see target/interop/$part-py-server.log"
        fi
    done

    part=py-server-tls
    echo "==> our interop-client -> Python websockets server over TLS (wss://)"
    if start_server "$OUT/$part-py-server.log" "$PY" "$ROOT/tests/interop/py_server.py" 0 \
        --cert "$PKI/cert.pem" --key "$PKI/key.pem"; then
        local py_pid=$SERVER_PID
        run_checks "$part" timeout 90 "$BIN/interop-client" "$SERVER_URL" --ca "$PKI/ca.pem"
        stop_server "$py_pid"
    else
        record "$part" FAIL "py_server.py starts over TLS" "see target/interop/$part-py-server.log"
    fi

    for flag in "" --no-compression; do
        part=py-client-tokio${flag:+-plain}
        echo "==> Python websockets client -> the tokio echo-server (${flag:-permessage-deflate offered})"
        if start_server "$OUT/$part-echo-server.log" "$TOKIO_BIN/tokio-echo-server" 127.0.0.1:0; then
            local echo_pid=$SERVER_PID
            run_checks "$part" timeout 150 "$PY" "$ROOT/tests/interop/py_client.py" "$SERVER_URL" ${flag:+"$flag"}
            stop_server "$echo_pid"
        else
            record "$part" FAIL "tokio echo-server starts" "see target/interop/$part-echo-server.log"
        fi
    done

    # The line client offers no subprotocol: py_server.py serves it without one.
    local tls deflate
    for tls in "" --tls; do
        for flag in "" --no-compression; do
            # Over TLS with permessage-deflate only.
            if [ -n "$tls" ] && [ -n "$flag" ]; then continue; fi
            part=py-server-tokio${flag:+-plain}${tls:+-tls}
            deflate=on
            if [ -n "$flag" ]; then deflate=off; fi
            local server=("$PY" "$ROOT/tests/interop/py_server.py" 0 --subprotocol-optional ${flag:+"$flag"})
            local client=()
            if [ -n "$tls" ]; then
                server+=(--cert "$PKI/cert.pem" --key "$PKI/key.pem")
                client=(--ca "$PKI/ca.pem")
            fi
            echo "==> the tokio line client -> Python websockets server (${flag:-permessage-deflate accepted}${tls:+, wss://})"
            if start_server "$OUT/$part-py-server.log" "${server[@]}"; then
                local py_pid=$SERVER_PID
                run_checks "$part" timeout 120 "$PY" "$ROOT/tests/interop/line_client.py" --deflate "$deflate" \
                    --server-log "$OUT/$part-py-server.log" "$TOKIO_BIN/tokio-client" "$SERVER_URL/tokio-lines" \
                    "${client[@]}"
                stop_server "$py_pid"
            else
                record "$part" FAIL "py_server.py starts" "see target/interop/$part-py-server.log"
            fi
        done
    done
}

run_browser() {
    if [ -n "$APT_PID" ]; then
        echo "==> waiting for the chromium install"
        local apt_rc=0
        wait "$APT_PID" || apt_rc=$?
        if [ "$apt_rc" -ne 0 ] || ! find_chromium; then
            NO_CHROMIUM="chromium could not be installed (apt-get exit status $apt_rc; log: target/interop/apt.log)"
            tail -n 5 "$OUT/apt.log" >&2 || true
        fi
    elif ! find_chromium; then
        NO_CHROMIUM="no chromium at '${CHROMIUM:-chromium}'"
    fi
    if [ -n "$NO_CHROMIUM" ]; then
        banner "SKIPPED: browser checks NOT RUN: $NO_CHROMIUM"
        if [ "$REQUIRE_BROWSER" = 1 ]; then
            record browser FAIL "chat in two Chromium pages" "$NO_CHROMIUM (INTEROP_REQUIRE_BROWSER=1)"
            record browser-axum FAIL "the axum example in a Chromium page" "$NO_CHROMIUM (INTEROP_REQUIRE_BROWSER=1)"
        else
            record browser SKIPPED "chat in two Chromium pages" "$NO_CHROMIUM"
            record browser-axum SKIPPED "the axum example in a Chromium page" "$NO_CHROMIUM"
        fi
        return 0
    fi
    echo "==> headless Chromium pages -> our chat example ($("$CHROMIUM" --version 2> /dev/null || echo "$CHROMIUM"))"
    browser_run browser chat http
    echo "==> the same over https:// and wss:// (Chromium trusts the test certificate by its key's hash)"
    CHROMIUM_FLAGS="--ignore-certificate-errors-spki-list=$SPKI" browser_run browser-tls chat-tls https "${TLS_SERVER[@]}"
    # The axum example is started by browser_axum.py itself (it needs the exit status after its
    # SIGTERM); its log: target/interop/axum.log.
    echo "==> a headless Chromium page -> the axum example of sansio-ws-tokio"
    run_checks browser-axum timeout 150 "$PY" "$ROOT/tests/interop/browser_axum.py" "$CHROMIUM" "$OUT" "$AXUM" 127.0.0.1:0
}

# browser_run PART NAME SCHEME [CHAT OPTIONS...]: the chat's whole lifecycle in Chromium pages;
# screenshots target/interop/NAME-*.png.
browser_run() {
    local part=$1 name=$2 scheme=$3
    shift 3
    # A heartbeat after 1 s of silence, so the pages show a measured round trip soon; the history
    # saved on shutdown and read back on start.
    local chat=("$BIN/chat" --heartbeat 1 --history "$OUT/$name-history.json" "$@")
    rm -f "$OUT/$name-history.json" "$OUT/$name"-*.png
    if start_server "$OUT/$name.log" "${chat[@]}" 127.0.0.1:0; then
        local chat_pid=$SERVER_PID
        case "$SERVER_URL" in "$scheme"://*) ;; *) record "$part" FAIL "chat serves $scheme" "it printed $SERVER_URL" ;; esac
        # The chat's pid and command line: the browser check stops it with SIGTERM, then starts it
        # again on the same address and expects the pages to reconnect by themselves.
        CHROMIUM_FLAGS=${CHROMIUM_FLAGS:-} run_checks "$part" timeout 180 "$PY" "$ROOT/tests/interop/browser.py" \
            "$CHROMIUM" "$SERVER_URL/" "$OUT/$name.png" "$OUT" "$chat_pid" "${chat[@]}"
        stop_server "$chat_pid"
    else
        record "$part" FAIL "chat example starts" "see target/interop/$name.log"
    fi
}

if want python; then run_python; fi
if want browser; then run_browser; fi

# The summary: one row per check, then the counts.
echo
echo "==> interop summary (target/interop/results.tsv)"
printf '%-8s %-22s %s\n' STATUS PART CHECK
pass=0 fail=0 skip=0
while IFS=$'\t' read -r part status check detail; do
    printf '%-8s %-22s %s\n' "$status" "$part" "$check"
    if [ "$status" != PASS ] && [ -n "$detail" ]; then
        printf '%-31s %s\n' "" "-> $detail"
    fi
    case "$status" in
        PASS) pass=$((pass + 1)) ;;
        SKIPPED) skip=$((skip + 1)) ;;
        *) fail=$((fail + 1)) ;;
    esac
done < "$RESULTS"
echo
if [ "$skip" -gt 0 ]; then banner "SKIPPED: $skip check(s) did not run; see above"; fi
echo "interop checks ($MODE) took $(($(date +%s) - STARTED)) s"
echo "interop: $pass passed, $fail failed, $skip skipped"
[ "$fail" -eq 0 ] && [ "$pass" -gt 0 ]
