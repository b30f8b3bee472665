#!/usr/bin/env bash
# with-keyring.sh CMD...: runs CMD inside a private D-Bus session with an unlocked
# gnome-keyring (the real Secret Service), its data in a throwaway directory removed
# afterwards (PEERCHAT_KEYRING_DIR to keep one). HOME is left as it is. Exits with CMD's
# status.
set -euo pipefail
if [ -n "${PEERCHAT_KEYRING_DIR:-}" ]; then
  dir="$PEERCHAT_KEYRING_DIR"
else
  dir="$(mktemp -d)"
  trap 'rm -rf "$dir"' EXIT
fi
export XDG_DATA_HOME="$dir/data" XDG_RUNTIME_DIR="$dir/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"
export PEERCHAT_KEYRING_PASSWORD="${PEERCHAT_KEYRING_PASSWORD:-peerchat-test}"
status=0
dbus-run-session -- bash -c '
  eval "$(printf %s "$PEERCHAT_KEYRING_PASSWORD" | gnome-keyring-daemon --unlock --components=secrets)"
  export GNOME_KEYRING_CONTROL
  exec "$@"' bash "$@" || status=$?
exit "$status"
