#!/usr/bin/env bash
# Runs every test of the workspace: unit, integration, property and doc tests.
set -euo pipefail
cd "$(dirname "$0")/.."
# The whole workspace: the command-line tool asks for the mio driver's `tls` feature, so the
# driver is built (and its TLS tests run) with it.
# The tokio adapter runs below, with its features.
cargo test --workspace --exclude sansio-ws-tokio --all-targets "$@"
cargo test --workspace --exclude sansio-ws-tokio --doc "$@"
# The driver on its own, as a user without TLS builds it (wss:// refused, saying why).
cargo test -p sansio-ws-mio --lib --tests "$@"
# The mio driver's optional `log` feature (off in the workspace build): what it reports.
cargo test -p sansio-ws-mio --features log --test log "$@"
# The tokio adapter with every feature (wss:// clients, hyper upgrades), its docs' examples
# included; and without any, as a user who wants neither builds it.
cargo test -p sansio-ws-tokio --all-targets --features rustls,hyper "$@"
cargo test -p sansio-ws-tokio --doc --features rustls,hyper "$@"
cargo test -p sansio-ws-tokio --lib --tests "$@"
