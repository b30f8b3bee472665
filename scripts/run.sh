#!/usr/bin/env bash
# Installs what is missing, builds the app (release), and opens two chat windows on the
# embedded local server, already in the room "lobby": type in one, read in the other.
# Extra arguments go to the app (e.g. --windows 3 --room team).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install "${BUILD_PACKAGES[@]}"
ensure_rust
log "building peerchat (release; the first build takes a few minutes)"
cargo build --release --locked -p peerchat
if [ $# -gt 0 ]; then
  app=(./target/release/peerchat "$@")
else
  app=(./target/release/peerchat --windows 2 --room lobby)
fi

if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  log "starting peerchat"
  exec "${app[@]}"
fi
# No desktop session (a server or container): run on a virtual display with a private
# keyring, and save a screenshot of the windows every few seconds.
apt_install xvfb xauth dbus-daemon gnome-keyring imagemagick
shot="$PWD/target/peerchat-screen.png"
log "no display: running on a virtual display; screenshots go to $shot (Ctrl-C stops)"
exec scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
  "$@" & app=$!
  trap "kill $app 2>/dev/null" INT TERM
  while kill -0 $app 2>/dev/null; do sleep 5; import -window root "'"$shot"'" 2>/dev/null || true; done
  wait $app' bash "${app[@]}"
