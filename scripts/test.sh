#!/usr/bin/env bash
# Installs what the tests need, then runs every gate: formatting, clippy with warnings as
# errors, and all tests of the workspace (the app's against a real Secret Service in a
# private D-Bus session). `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install "${BUILD_PACKAGES[@]}" "${TEST_PACKAGES[@]}"
ensure_rust
# node-datachannel: the interop test's W3C-API peer (and the bench's reference).
ensure_npm_tools tools/bench-ref
# axe-core: the accessibility check the WebDriver suite runs inside the app's webview.
ensure_npm_tools tools/a11y

log "cargo fmt --check"
cargo fmt --all -- --check
log "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --locked -- -D warnings
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
if ! command -v tauri-driver >/dev/null 2>&1; then
  log "installing tauri-driver (WebDriver for the app)"
  cargo install tauri-driver --locked --version '^2'
fi
log "cargo test (private D-Bus session with an unlocked gnome-keyring, virtual display)"
scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --locked
log "the vendored SCTP's own tests, with those of peerchat's changes (vendor/README.md)"
cargo test --manifest-path vendor/rtc-sctp/Cargo.toml --target-dir target/vendor --locked --lib

log "fuzz smoke run (20 s per target; scripts/fuzz.sh without --smoke for the long runs)"
scripts/fuzz.sh --smoke

log "bundles: build, check, install, chat with the installed app, uninstall"
scripts/bundle-test.sh

log "benchmark smoke run (every row, tiny sizes, with the references)"
scripts/bench.sh --smoke
