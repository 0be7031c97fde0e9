#!/usr/bin/env bash
# Runs every fuzz target for SECONDS each (default 60) and prints executions per
# target. Needs cargo-fuzz (`cargo install cargo-fuzz --locked`); on a stable
# toolchain RUSTC_BOOTSTRAP=1 lets it use the sanitizer flags it needs.
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-60}
export RUSTC_BOOTSTRAP=1
for t in $(cargo fuzz list); do
  mkdir -p "corpus/$t"
  echo "== $t ($secs s)"
  cargo fuzz run "$t" "corpus/$t" -- -max_total_time="$secs" -max_len=70000 2>&1 \
    | grep -E '^(Done|#[0-9]+ +DONE)|stat::number_of_executed_units|SUMMARY|panicked' || true
done
