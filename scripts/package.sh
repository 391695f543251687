#!/usr/bin/env bash
# Packages every crate of the workspace and verifies each by building it from its .crate, against
# the other crates' packages, as crates.io would get them.
#
# cargo verifies through a local registry of the packages just made, and extracts each into
# $CARGO_HOME/registry/src/-<hash of the workspace's path>/NAME-VERSION; an extraction already
# there for the same name and version is reused without comparing contents. Our crates keep their
# version between releases, so a package extracted by an earlier run from the same path would be
# verified in place of the one just made (failing on any API added since): those extractions are
# removed first; and so is target/package, where the verification builds keep what they compiled
# of those packages (a registry package's build is also reused by name and version).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo_home=${CARGO_HOME:-$HOME/.cargo}
for name in sansio-ws sansio-ws-mio sansio-ws-tokio sansio-ws-cli sansio-ws-tests sansio-ws-axum-example no-std-check; do
    rm -rf "$cargo_home"/registry/src/-*/"$name"-[0-9]*
done
rm -rf "${CARGO_TARGET_DIR:-target}/package"
cargo package --workspace "$@"
