#!/usr/bin/env bash
# Makes a certificate authority and a server certificate it signs, for trying wss:// locally:
# DIR/ca.pem (trust it in clients), DIR/cert.pem and DIR/key.pem (serve with them), for
# localhost, 127.0.0.1 and ::1 or the names given. Prints the paths and the SHA-256 of the server
# key (for Chromium's --ignore-certificate-errors-spki-list).
#
#   scripts/dev-cert.sh [DIR [NAME...]]     (DIR defaults to target/dev-cert)
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-target/dev-cert}
[ $# -gt 0 ] && shift
cargo run --release -q -p sansio-ws-mio --example dev-cert -- "$dir" "$@"
