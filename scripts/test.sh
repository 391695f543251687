#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration, property and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo test --workspace --all-targets "$@"
cargo test --workspace --doc "$@"
# The mio driver's optional `log` feature (off in the workspace build): what it reports.
cargo test -p sansio-ws-mio --features log --test log "$@"
