#!/usr/bin/env bash
# Builds the core for a bare-metal target, where there is no std at all: an ARM Cortex-M4F/M7F
# (thumbv7em-none-eabihf). The host `no_std` builds in .ci/run prove that nothing links std; this
# proves the code compiles for a target that has only `core` and `alloc` (32-bit, no OS, no
# getrandom), with every dependency as it is built there.
#
#   scripts/embedded.sh [TARGET]      # default thumbv7em-none-eabihf
#   scripts/embedded.sh --install-only  # only add the default target to the toolchain
#
# Builds, with default features off:
#   - sansio-ws (the core: codec, handshake, connection, time and randomness from the caller);
#   - no-std-check, a library that drives handshakes and connections without std, with and without
#     its panic handler (it is a library, so both build as rlibs: nothing is linked into a firmware
#     image here, so no global allocator or entry point is needed).
# Output goes to $CARGO_TARGET_DIR/embedded (default target/embedded). TOOLCHAIN_READY=1 skips the
# rustup step (when the caller has done it, as .ci/run does).
set -euo pipefail
cd "$(dirname "$0")/.."

target="${1:-thumbv7em-none-eabihf}"
[ "$target" = --install-only ] && target=thumbv7em-none-eabihf
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/embedded"
started=$(date +%s)

if [ "${TOOLCHAIN_READY:-0}" != 1 ]; then
    echo "==> rustup target add $target"
    rustup target add "$target"
fi
if [ "${1:-}" = --install-only ]; then
    exit 0
fi

echo "==> sansio-ws, default features off, for $target"
cargo build -p sansio-ws --no-default-features --target "$target" --target-dir "$target_dir"

echo "==> no-std-check for $target"
cargo build -p no-std-check --target "$target" --target-dir "$target_dir"

echo "==> no-std-check with its panic handler for $target"
cargo build -p no-std-check --features panic-handler --target "$target" --target-dir "$target_dir"

echo "embedded: sansio-ws and no-std-check build for $target ($(($(date +%s) - started)) s)"
