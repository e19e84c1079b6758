#!/usr/bin/env bash
# Runs every test of tickwire, installing what the tests need on a fresh machine first.
#
#   scripts/test.sh            formatting, clippy, rustdoc, unit/integration/end-to-end tests,
#                              loom model checks, and a demo smoke run
#
# Needs: the Rust toolchain (stable), gcc, python3. Installs with apt-get when missing: chromium
# and chromium-driver (the dashboard's browser test). Long soaks, fuzzing and benchmarks live in
# their own scripts (scripts/bench.sh, scripts/soak.sh, scripts/fuzz.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

as_root() {
    if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
        echo "test.sh: need root (or sudo) to run: $*" >&2; return 1; fi
}

if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then
    step "installing chromium and chromium-driver (dashboard browser test)"
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null
fi
export TICKWIRE_REQUIRE_BROWSER=1

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
