#!/usr/bin/env bash
# Fuzzes the parsers that read untrusted input (fuzz/, a crate outside the workspace):
# `frame` (signalling frames, both directions), `signal` (a peer's signal payload, its
# SDP and candidates), `config` (the server's TOML). Starts from the corpus in the repo.
#
#   scripts/fuzz.sh            each target for 600 s; new inputs are added to fuzz/corpus
#                              (minimise afterwards: cargo fuzz cmin -s none TARGET)
#   scripts/fuzz.sh SECONDS    each target for SECONDS
#   scripts/fuzz.sh --smoke    each target for 20 s into a scratch corpus (CI)
#
# Runs on the stable toolchain: coverage instrumentation without a sanitizer (`-s none`);
# Rust code needs no address sanitizer to find panics, which is what is looked for.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

seconds=600
scratch=""
case "${1:-}" in
  --smoke) seconds=20; scratch="$(mktemp -d)" ;;
  "") ;;
  *) seconds="$1" ;;
esac

ensure_rust
export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
version="$(cargo fuzz --version 2>/dev/null || true)"
if [[ "$version" != *" 0.13."* ]]; then
  log "installing cargo-fuzz"
  cargo install cargo-fuzz --locked --version '^0.13'
fi

logs="$(mktemp -d)"
cd fuzz
log "building the fuzz targets"
cargo fuzz build -s none -O
status=0
for target in frame signal config; do
  log "fuzzing $target for ${seconds}s"
  dirs=(corpus/"$target")
  if [ -n "$scratch" ]; then
    mkdir -p "$scratch/$target"
    dirs=("$scratch/$target" corpus/"$target")
  fi
  if ! cargo fuzz run -s none -O "$target" "${dirs[@]}" -- \
      -max_total_time="$seconds" -print_final_stats=1 -max_len=65536 2>"$logs/$target.log"; then
    status=1
    tail -40 "$logs/$target.log" >&2
    log "$target found a failure; the input is in fuzz/artifacts/$target/"
  fi
  grep -a -E '^stat::(number_of_executed_units|peak_rss_mb|new_units_added)' "$logs/$target.log" | sed "s/^/$target /" >&2 || true
done
rm -rf "$logs" ${scratch:+"$scratch"}
exit $status
