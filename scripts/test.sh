#!/usr/bin/env bash
# Installs what the tests need, then runs every gate: formatting, clippy with warnings as
# errors, and all tests of the workspace (the app's against a real Secret Service in a
# private D-Bus session). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
log "cargo test (inside a private D-Bus session with an unlocked gnome-keyring)"
scripts/with-keyring.sh cargo test --workspace --locked
