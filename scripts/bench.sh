#!/usr/bin/env bash
# Installs the references (npm node-datachannel), builds the release binaries, runs every
# benchmark row side by side with its reference, and records the table, the machine and
# the command in BENCHMARKS.md (between the bench-table markers). Extra arguments go to
# peerchat-bench (e.g. --smoke, --rows engine, --bulk-mib 32).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

apt_install "${BUILD_PACKAGES[@]}" redis-server
ensure_rust
ensure_npm_tools tools/bench-ref
log "building (release)"
cargo build --release --locked -p signal-server -p peerchat-bench -p peerchat -p chat-cli
mkdir -p target
log "running peerchat-bench $*"
bench=(./target/release/peerchat-bench --markdown target/bench-table.md "$@")
if [ -z "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  # The app rows need a display: a virtual one.
  apt_install xvfb xauth
  bench=(xvfb-run -a -s "-screen 0 1280x800x24" "${bench[@]}")
fi
# A row of ours that stalls or loses messages makes the tool exit non-zero; the table it
# wrote (with the STALL in it) is still recorded, and this script then fails too.
rm -f target/bench-table.md
status=0
"${bench[@]}" || status=$?

case " $* " in *" --smoke "*) log "smoke run: BENCHMARKS.md left as it is"; exit "$status" ;; esac
if [ ! -s target/bench-table.md ]; then
  log "the bench wrote no table (exit $status); BENCHMARKS.md left as it is"
  exit "$status"
fi
begin='<!-- bench-table:begin -->'
end='<!-- bench-table:end -->'
if ! grep -q "$begin" BENCHMARKS.md; then
  printf '\n## The table (scripts/bench.sh)\n\n%s\n%s\n' "$begin" "$end" >> BENCHMARKS.md
fi
awk -v b="$begin" -v e="$end" -v f=target/bench-table.md '
  $0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
  $0 == e { skip = 0 }
  !skip { print }' BENCHMARKS.md > target/BENCHMARKS.md.new
mv target/BENCHMARKS.md.new BENCHMARKS.md
log "BENCHMARKS.md updated"
exit "$status"
