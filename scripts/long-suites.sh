#!/usr/bin/env bash
# The long part of the reliability and security suites (issue 9):
#   * crash suite: ARMSLEDGER_CRASH_ROUNDS SIGKILLs of a real server under ingest (default 50)
#   * site crash suite: ARMSLEDGER_SITE_CRASH_ROUNDS SIGKILLs of a real officer process at random
#     moments of a sign (default 50), besides the three held kill points, and half as many kills
#     of the device process while it signs and of `armsledger sync` pushing a backlog
#   * device process crash suite: every storage I/O of every state-changing command (deterministic,
#     the same as in `cargo test`)
#   * tamper suite: ARMSLEDGER_TAMPER_MUTATIONS random mutations of an exported bundle (default 5000)
#     and ARMSLEDGER_TAMPER_STORE changed entries and random flips of the server's redb file (default 400)
#   * attack suite
#   * every fuzz target for FUZZ_SECONDS each (default 60), seeded from fuzz/seeds
#
# Usage: scripts/long-suites.sh [FUZZ_SECONDS]
# A failing seed is printed as ARMSLEDGER_SEED=…; export it to replay the run.
# The short variants run in the normal `cargo test` (5 + 5 crashes, 300 + 40 mutations).
# Takes about 15 min plus 7 x FUZZ_SECONDS on a 2-core machine.
set -uo pipefail
cd "$(dirname "$0")/.."
fuzz_secs=${1:-${FUZZ_SECONDS:-60}}
export ARMSLEDGER_CRASH_ROUNDS=${ARMSLEDGER_CRASH_ROUNDS:-50}
export ARMSLEDGER_SITE_CRASH_ROUNDS=${ARMSLEDGER_SITE_CRASH_ROUNDS:-50}
export ARMSLEDGER_TAMPER_MUTATIONS=${ARMSLEDGER_TAMPER_MUTATIONS:-5000}
export ARMSLEDGER_TAMPER_STORE=${ARMSLEDGER_TAMPER_STORE:-400}
status=0

run() {
  echo "== $*"
  local t0=$SECONDS
  "$@" || status=1
  echo "   ($((SECONDS - t0)) s)"
}

run cargo test -p armsledger-cli --test crash -- --nocapture
run cargo test -p armsledger-cli --test crash_site -- --nocapture
run cargo test -p armsledger-device --test device process_crash -- --nocapture
run cargo test -p armsledger-cli --test tamper -- --nocapture
run cargo test -p armsledger-cli --test attack -- --nocapture

if command -v cargo-fuzz >/dev/null 2>&1; then
  for d in fuzz/seeds/*/; do
    t=$(basename "$d")
    mkdir -p "fuzz/corpus/$t"
    cp -n "$d"* "fuzz/corpus/$t/" 2>/dev/null || true
  done
  run fuzz/run.sh "$fuzz_secs"
else
  echo "== fuzz: cargo-fuzz not installed (cargo install cargo-fuzz --locked); skipped"
fi
exit $status
