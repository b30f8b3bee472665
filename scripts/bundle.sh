#!/usr/bin/env bash
# Makes peerchat's .deb and .rpm with the pinned Tauri CLI (tools/tauri-cli) into
# target/release/bundle/{deb,rpm}/. AppImage is left out: it needs downloads.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install "${BUILD_PACKAGES[@]}"
ensure_rust
ensure_npm_tools tools/tauri-cli
log "building the .deb and .rpm (release)"
tools/tauri-cli/node_modules/.bin/tauri build --bundles deb,rpm --ci
ls -l target/release/bundle/deb/*.deb target/release/bundle/rpm/*.rpm
