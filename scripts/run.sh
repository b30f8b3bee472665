#!/usr/bin/env bash
# Installs what is missing, builds, and starts a local signalling server on
# ws://127.0.0.1:8787/v1 with the key pk_local_dev (Ctrl-C stops it).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install "${BUILD_PACKAGES[@]}"
ensure_rust
log "building (release)"
cargo build --release --locked -p signal-server
log "starting the signalling server (Ctrl-C to stop)"
exec ./target/release/signal-server --listen "${PEERCHAT_LISTEN:-127.0.0.1:8787}" --key "${PEERCHAT_KEY:-pk_local_dev}"
