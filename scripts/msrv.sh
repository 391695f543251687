#!/usr/bin/env bash
# Checks that the workspace builds with its declared minimum supported Rust version: the
# `rust-version` of [workspace.package] in Cargo.toml, installed with rustup if missing.
#
#   scripts/msrv.sh
#   scripts/msrv.sh --install-only    # only install the toolchain
#
# Checks every member and target (tests, examples) with default features, then the core without
# default features (no_std + alloc) and the no_std check crate with its panic handler. --locked: the
# committed Cargo.lock must resolve as it is on that toolchain; if a locked dependency needs a newer
# rustc, pin it back (`cargo update -p NAME --precise VERSION`) rather than raising the MSRV. The
# workspace's resolver "3" already prefers versions whose rust-version fits when it resolves.
#
# Build output goes to $CARGO_TARGET_DIR/msrv (default target/msrv), apart from the main builds, so
# the two toolchains never rebuild each other's artifacts. TOOLCHAIN_READY=1 skips the rustup step
# (when the caller has done it: .ci/run installs toolchains one at a time, as rustup is not made for
# concurrent installs, then runs this script next to others).
set -euo pipefail
cd "$(dirname "$0")/.."

msrv=$(sed -n 's/^rust-version *= *"\([0-9.]*\)".*/\1/p' Cargo.toml | head -n 1)
if [ -z "$msrv" ]; then
    echo "msrv.sh: no rust-version = \"...\" line in Cargo.toml" >&2
    exit 2
fi
target_dir="${CARGO_TARGET_DIR:-$PWD/target}/msrv"
started=$(date +%s)

if [ "${TOOLCHAIN_READY:-0}" != 1 ]; then
    echo "==> Rust $msrv (the workspace's rust-version), installed with rustup if missing"
    rustup toolchain install "$msrv" --profile minimal --no-self-update
fi
if [ "${1:-}" = --install-only ]; then
    exit 0
fi
rustc "+$msrv" --version

echo "==> cargo +$msrv check --workspace --all-targets"
cargo "+$msrv" check --locked --workspace --all-targets --target-dir "$target_dir"

echo "==> cargo +$msrv check -p sansio-ws --no-default-features (no_std + alloc)"
cargo "+$msrv" check --locked -p sansio-ws --no-default-features --target-dir "$target_dir"

echo "==> cargo +$msrv check -p no-std-check --features panic-handler (nothing links std)"
cargo "+$msrv" check --locked -p no-std-check --features panic-handler --target-dir "$target_dir"

echo "msrv: Rust $msrv builds the workspace ($(($(date +%s) - started)) s)"
