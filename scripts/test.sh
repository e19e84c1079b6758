#!/usr/bin/env bash
# Runs every test of tickwire, installing what the tests need on a fresh machine first.
#
#   scripts/test.sh            formatting, clippy, rustdoc, unit/integration/end-to-end tests,
#                              loom model checks, and a demo smoke run
#
# Needs: the Rust toolchain (stable), gcc, python3; nothing else is installed yet (the dashboard's
# browser test, when it lands, will have this script install chromium and chromium-driver with
# apt-get). Benchmarks live in their own commands (cargo bench -p tickwire-benches).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy (all targets, warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "rustdoc (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "tests (unit, integration, end-to-end, doc)"
test_output=$(mktemp)
cargo test --workspace --quiet 2>&1 | tee "$test_output"
totals=$(grep -E '^test result:' "$test_output" | awk '{p+=$4; f+=$6; i+=$8} END {print p" "f" "i}')
rm -f "$test_output"

step "loom model check of the seqlock protocol"
RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p tickwire-shm --lib --release --quiet loom

step "demo smoke run (scripts/demo.sh for 5 s)"
smoke_dir=$(mktemp -d)
bash scripts/demo.sh --data-dir "$smoke_dir" --listen 127.0.0.1:18080 --duration 5 > "$smoke_dir/demo.log" 2>&1 || {
    cat "$smoke_dir/demo.log"; echo "demo smoke run failed" >&2; exit 1; }
grep -q '"region"' "$smoke_dir/endpoints.json"
grep -q 'venue-sim' "$smoke_dir/monitor.log"
grep -q 'orders_requested' "$smoke_dir/monitor.log"
rm -rf "$smoke_dir"

read -r passed failed ignored <<< "$totals"
echo
echo "tests: $passed passed, $failed failed, $ignored ignored in $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
