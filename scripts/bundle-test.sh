#!/usr/bin/env bash
# Builds the .deb and .rpm, checks what the .deb declares, installs it, runs the
# two-window chat scenario against the installed /usr/bin/peerchat through
# tauri-driver, and uninstalls it. Called by scripts/test.sh. (`--workspace` keeps the
# feature set of the main test run, so nothing is rebuilt.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

scripts/bundle.sh
deb=$(ls target/release/bundle/deb/peerchat_*_amd64.deb)
rpm=$(ls target/release/bundle/rpm/peerchat-*.x86_64.rpm)
fail() { echo "bundle check failed: $*" >&2; exit 1; }

log "checking $deb"
depends=$(dpkg-deb -f "$deb" Depends)
for d in libwebkit2gtk-4.1-0 libgtk-3-0; do
  [[ ",$depends," == *"$d"* ]] || fail "Depends ($depends) lacks $d"
done
[ "$(dpkg-deb -f "$deb" Package)" = peerchat ] || fail "package name"
entry=$(dpkg-deb --fsys-tarfile "$deb" | tar -xO usr/share/applications/peerchat.desktop) || fail "no desktop entry"
for line in "Exec=peerchat" "Icon=peerchat" "Name=peerchat" "Type=Application" "Categories=Network;"; do
  grep -qx "$line" <<<"$entry" || fail "desktop entry lacks '$line'"
done
# The listing is read whole first: `grep -q` on a pipe would stop reading early, and
# with pipefail the writer's SIGPIPE would fail the check at random.
listing=$(dpkg-deb -c "$deb")
grep -q ' ./usr/bin/peerchat$\| usr/bin/peerchat$' <<<"$listing" || fail "no usr/bin/peerchat"
grep -q 'icons/hicolor/128x128/apps/peerchat.png' <<<"$listing" || fail "no 128x128 icon"
[ "$(head -c4 "$rpm" | od -An -tx1 | tr -d ' \n')" = edabeedb ] || fail "$rpm is not an RPM"

log "installing $deb"
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./$deb"
trap 'as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq peerchat >/dev/null' EXIT
[ -x /usr/bin/peerchat ] || fail "/usr/bin/peerchat was not installed"

log "chat scenario against the installed app"
PEERCHAT_APP_UNDER_TEST=/usr/bin/peerchat scripts/with-keyring.sh xvfb-run -a -s "-screen 0 1280x800x24" \
  cargo test --workspace --locked --test webdriver two_windows_chat_over_a_datachannel -- --exact \
  two_windows_chat_over_a_datachannel::two_windows_chat_over_a_datachannel

log "uninstalling"
as_root env DEBIAN_FRONTEND=noninteractive apt-get remove -y -qq peerchat >/dev/null
trap - EXIT
[ ! -e /usr/bin/peerchat ] || fail "/usr/bin/peerchat is still there after removal"
log "bundles: $(du -h "$deb" | cut -f1) .deb, $(du -h "$rpm" | cut -f1) .rpm"
