#!/usr/bin/env bash
# Mutation testing of the core crate (sansio-ws) with cargo-mutants: small changes are made to the
# code one at a time (an operator swapped, a function body replaced) and the crate's tests run
# against each. A mutant the tests still pass on ("missed") is a decision no test pins.
#
#   scripts/mutants.sh                          # every mutant of crates/sansio-ws/src (hours)
#   scripts/mutants.sh FILE...                  # only these files, e.g. connection/heartbeat.rs
#   scripts/mutants.sh --in-diff BASE [FILE...] # only lines changed since BASE (for CI): fails on
#                                               # any missed mutant; an empty diff passes loudly
#   scripts/mutants.sh --list [FILE...]         # list the mutants without testing them
#
# FILE is a path under crates/sansio-ws/src (or relative to it) or a glob cargo-mutants accepts.
# Mutants that are equivalent to the original (no test can tell them apart) are excluded in
# .cargo/mutants.toml, each with its reason; docs/TESTING.md lists them too.
#
# At the end a table gives, per source file, the mutants caught, missed, unviable (did not build)
# and timed out, and the score caught / (caught + missed); every missed mutant is listed.
# Results stay in target/mutants/mutants.out/ (outcomes.json, caught.txt, missed.txt, ...).
#
# Environment:
#   MUTANTS_JOBS       mutants built and tested at once (default: half the CPUs, at least 1)
#   MUTANTS_TIMEOUT    seconds one mutant's tests may take (default: cargo-mutants derives it from
#                      the unmutated baseline run, at least MUTANTS_MIN_TIMEOUT)
#   MUTANTS_MIN_TIMEOUT  the least automatic timeout in seconds (default 60)
#   MUTANTS_TIME_LIMIT seconds the whole run may take, 0 for none (default 2400 with --in-diff,
#                      0 otherwise); past it the run stops and the script fails
#   MUTANTS_ARGS       more cargo-mutants options (a space-separated list)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

core=crates/sansio-ws
out_dir="${CARGO_TARGET_DIR:-$root/target}/mutants"

usage() {
    sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'
    exit "${1:-0}"
}

base=""
list_only=0
files=()
while [[ $# -gt 0 ]]; do
    case "$1" in
        -h | --help) usage 0 ;;
        --in-diff)
            [[ $# -ge 2 ]] || { echo "mutants.sh: --in-diff needs a base revision" >&2; usage 2; }
            base="$2"
            shift
            ;;
        --list) list_only=1 ;;
        -*) echo "mutants.sh: unknown option: $1" >&2; usage 2 ;;
        *) files+=("$1") ;;
    esac
    shift
done

if ! cargo mutants --version >/dev/null 2>&1; then
    echo "==> installing cargo-mutants"
    cargo install --locked cargo-mutants
fi
cargo mutants --version

jobs="${MUTANTS_JOBS:-}"
if [[ -z "$jobs" ]]; then
    cpus=$(nproc 2>/dev/null || echo 2)
    jobs=$((cpus / 2))
    [[ $jobs -ge 1 ]] || jobs=1
fi

args=(--package sansio-ws --output "$out_dir" --jobs "$jobs" --no-shuffle)
if [[ -n "${MUTANTS_TIMEOUT:-}" ]]; then
    args+=(--timeout "$MUTANTS_TIMEOUT")
else
    args+=(--minimum-test-timeout "${MUTANTS_MIN_TIMEOUT:-60}")
fi
for f in "${files[@]}"; do
    # Accept paths from the repository root, from the crate, or from its src/.
    f="${f#./}"
    f="${f#"$core"/}"
    f="${f#src/}"
    args+=(--file "$core/src/$f")
done
if [[ -n "${MUTANTS_ARGS:-}" ]]; then
    read -r -a extra <<<"$MUTANTS_ARGS"
    args+=("${extra[@]}")
fi

mkdir -p "$out_dir"
time_limit="${MUTANTS_TIME_LIMIT:-0}"
if [[ -n "$base" ]]; then
    time_limit="${MUTANTS_TIME_LIMIT:-2400}"
    if ! git rev-parse --verify --quiet "$base^{commit}" >/dev/null; then
        echo "mutants.sh: no such revision: $base" >&2
        exit 2
    fi
    diff_file="$out_dir/in-diff.patch"
    git diff "$base"... -- "$core/src" >"$diff_file"
    if [[ ! -s "$diff_file" ]]; then
        echo "=================================================================="
        echo "mutants.sh: NO CHANGE to $core/src since $base: no mutant to test."
        echo "=================================================================="
        exit 0
    fi
    echo "==> mutants on the lines of $core/src changed since $base ($(grep -c '^+[^+]' "$diff_file") added lines)"
    args+=(--in-diff "$diff_file")
fi

if [[ $list_only -eq 1 ]]; then
    cargo mutants --list "${args[@]}"
    exit 0
fi

# Keep the previous results as mutants.out.old, and never summarise them as this run's.
if [[ -d "$out_dir/mutants.out" ]]; then
    rm -rf "$out_dir/mutants.out.old"
    mv "$out_dir/mutants.out" "$out_dir/mutants.out.old"
fi

started=$(date +%s)
echo "==> cargo mutants ${args[*]}"
status=0
if [[ "$time_limit" -gt 0 ]]; then
    # SIGINT lets cargo-mutants stop its test process and restore its scratch tree.
    timeout --signal=INT --kill-after=60 "$time_limit" cargo mutants "${args[@]}" || status=$?
else
    cargo mutants "${args[@]}" || status=$?
fi
elapsed=$(($(date +%s) - started))

# cargo-mutants: 0 all caught, 2 some missed, 3 some timed out, 1 bad usage, 4 the tests fail
# without any mutation. timeout(1): 124 when the time limit ran out.
case "$status" in
    0 | 2 | 3) ;;
    124)
        echo "mutants.sh: STOPPED after the time limit of ${time_limit}s (MUTANTS_TIME_LIMIT); the figures below are partial" >&2
        ;;
    *)
        echo "mutants.sh: cargo mutants failed (exit $status) after ${elapsed}s; see $out_dir/mutants.out/log" >&2
        exit "$status"
        ;;
esac

summary_status=0
python3 scripts/mutants_summary.py "$out_dir/mutants.out" || summary_status=$?
echo "mutants: ${elapsed}s wall time, $jobs job(s)"

if [[ $status -eq 124 ]]; then
    exit 124
fi
# A missed mutant fails the run; timed-out mutants (the tests hung: the change was noticed) and
# unviable ones do not.
exit "$summary_status"
