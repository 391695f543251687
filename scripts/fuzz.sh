#!/usr/bin/env bash
# Runs the sansio-ws fuzz targets one after another (one libFuzzer process at a time).
#
#   scripts/fuzz.sh [--keep-going] [seconds-per-target] [target...]
#   scripts/fuzz.sh --build            # only build every target (a quick CI check)
#
# Every target (or those named) runs for the given time (default 60 s) over its committed seeds in
# fuzz/corpus/<target>/, with the dictionary fuzz/websocket.dict. Inputs libFuzzer finds along the
# way go to fuzz/target/corpus/<target>/ (not committed), so the seed corpora stay small. The run
# stops at the first crash and prints the reproducer's path, unless --keep-going is given. At the
# end it prints one line per target from libFuzzer's final statistics. Logs are kept in
# fuzz/target/logs/<target>.log.
#
# Environment: FUZZ_TIMEOUT (seconds one input may take before it counts as a hang, default 30),
# FUZZ_RSS_MB (memory limit, default 2048), FUZZ_ARGS (more libFuzzer flags).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

usage() {
    sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

build_only=0
keep_going=0
seconds=60
targets=()
for arg in "$@"; do
    case "$arg" in
        -h | --help) usage 0 ;;
        --build) build_only=1 ;;
        -k | --keep-going) keep_going=1 ;;
        -*) echo "unknown option: $arg" >&2; usage 2 ;;
        *)
            if [[ ${#targets[@]} -eq 0 && "$arg" =~ ^[0-9]+$ ]]; then
                seconds="$arg"
            else
                targets+=("$arg")
            fi
            ;;
    esac
done

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "fuzzing needs the nightly toolchain: rustup toolchain install nightly" >&2
    exit 2
fi
if ! cargo +nightly fuzz --version >/dev/null 2>&1; then
    echo "installing cargo-fuzz..." >&2
    cargo install cargo-fuzz --locked
fi

if [[ ${#targets[@]} -eq 0 ]]; then
    mapfile -t targets < <(cargo +nightly fuzz list)
fi

# Build everything first, so that a compile error is reported as such and not as a crash.
for t in "${targets[@]}"; do
    if ! cargo +nightly fuzz build "$t"; then
        echo "build of $t failed" >&2
        exit 2
    fi
done
if [[ $build_only -eq 1 ]]; then
    echo "built: ${targets[*]}"
    exit 0
fi

mkdir -p fuzz/target/logs
summary=()
status=0
for t in "${targets[@]}"; do
    seeds="fuzz/corpus/$t"
    work="fuzz/target/corpus/$t"
    log="fuzz/target/logs/$t.log"
    mkdir -p "$seeds" "$work"
    echo "== $t: ${seconds}s (log: $log)"
    # shellcheck disable=SC2086 # FUZZ_ARGS is a list of flags
    if cargo +nightly fuzz run "$t" "$work" "$seeds" -- \
        -max_total_time="$seconds" -dict=fuzz/websocket.dict -print_final_stats=1 \
        -timeout="${FUZZ_TIMEOUT:-30}" -rss_limit_mb="${FUZZ_RSS_MB:-2048}" ${FUZZ_ARGS:-} >"$log" 2>&1; then
        result="ok"
    else
        result="CRASH"
        status=1
    fi
    # Coverage from the last status line; executions from the final statistics.
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -n 1 || true)
    cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
    ft=$(sed -nE 's/.*ft: ([0-9]+).*/\1/p' <<<"$last")
    corp=$(sed -nE 's/.*corp: ([0-9]+).*/\1/p' <<<"$last")
    execs=$(sed -nE 's/^stat::number_of_executed_units: ([0-9]+)/\1/p' "$log" | tail -n 1)
    rate=$(sed -nE 's/^stat::average_exec_per_sec: +([0-9]+)/\1/p' "$log" | tail -n 1)
    rss=$(sed -nE 's/^stat::peak_rss_mb: +([0-9]+)/\1/p' "$log" | tail -n 1)
    line=$(printf '%-18s %-5s %6ss  execs=%-10s exec/s=%-7s cov=%-6s ft=%-7s corp=%-6s rss=%sMB' \
        "$t" "$result" "$seconds" "${execs:-?}" "${rate:-?}" "${cov:-?}" "${ft:-?}" "${corp:-?}" "${rss:-?}")
    summary+=("$line")
    echo "$line"
    if [[ $result == CRASH ]]; then
        artifact=$(sed -nE 's/.*(Test unit|Crash input|crash input) written to ([^ ]+).*/\2/p' "$log" | tail -n 1)
        grep -E "panicked at|^thread '|ERROR: libFuzzer|ERROR: AddressSanitizer|SUMMARY:" "$log" | head -n 8 >&2 || true
        echo "reproducer: ${artifact:-see $log}" >&2
        echo "replay with: cargo +nightly fuzz run $t ${artifact:-<file>}" >&2
        [[ $keep_going -eq 1 ]] || break
    fi
done

echo
echo "== summary"
printf '%s\n' "${summary[@]}"
exit "$status"
