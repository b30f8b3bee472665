#!/usr/bin/env bash
# Shared helpers for the set-up scripts: install only what is missing.
set -euo pipefail

log() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Runs a command as root (directly, or through sudo when not root).
as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# apt_install PKG...: installs the Debian/Ubuntu packages that are not installed yet.
apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing system packages: ${missing[*]}"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ensure_rust: a Rust toolchain with rustfmt and clippy (rustup if cargo is missing).
ensure_rust() {
  if ! command -v cargo >/dev/null 2>&1 && [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    log "installing the Rust toolchain (rustup)"
    apt_install curl ca-certificates
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
  if command -v rustup >/dev/null 2>&1; then
    for c in rustfmt clippy; do
      rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
    done
  fi
}

# ensure_npm: Node.js and npm (Debian's, unless a node with npm is already there).
ensure_npm() {
  command -v npm >/dev/null 2>&1 || apt_install nodejs npm
}

# Installs the npm tools in DIR (tools/...) exactly as its package-lock.json pins them,
# unless they are already installed from that lock file.
ensure_npm_tools() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    ensure_npm
    log "installing $dir (npm, pinned by its package-lock.json)"
    npm ci --prefix "$dir" --no-audit --no-fund --silent
  fi
}

# Packages every build needs (the app links WebKitGTK; the keyring talks D-Bus).
BUILD_PACKAGES=(build-essential pkg-config libwebkit2gtk-4.1-dev libdbus-1-dev)
# Packages the tests need: a virtual display, a private D-Bus session with a real
# Secret Service (gnome-keyring), secret-tool to look into it, and the WebKit driver.
# Real servers the tests start on free ports or in network namespaces: nginx (TLS in front
# of the signalling server, and the load balancer in front of several), coturn (TURN),
# redis-server (instances sharing rooms), and iproute2/iptables for the NAT routers;
# socat, the plain TCP copy the file benchmark compares with; dunst, a real notification
# server for the desktop-notification test.
TEST_PACKAGES=(xvfb xauth dbus-daemon dbus-x11 gnome-keyring libsecret-tools webkit2gtk-driver
  nginx coturn redis-server iproute2 iptables socat dunst)
