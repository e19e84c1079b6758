#!/usr/bin/env bash
# Runs every test of tickwire, installing what the tests need on a fresh machine first.
#
#   scripts/test.sh            formatting, clippy, rustdoc, unit/integration/end-to-end tests,
#                              loom model checks, and a demo smoke run
#
# Needs: the Rust toolchain (stable), gcc, python3. Installs chromium, chromium-driver and
# faketime (Debian packages, with apt-get) for the dashboard's browser test and the clock-jump
# test when they are missing. Benchmarks,
# soaks and fuzzing live in their own scripts (scripts/bench.sh and friends).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }
started=$(date +%s)

step "test tools: chromium and chromium-driver (dashboard test), faketime (clock-jump test)"
libfaketime=/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1
if [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ] || [ ! -e "$libfaketime" ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium chromium-driver faketime > /dev/null
fi
/usr/bin/chromium --version
ls "$libfaketime"
# These tests must run, never skip, here.
export TICKWIRE_REQUIRE_BROWSER=1 TICKWIRE_REQUIRE_FAKETIME=1

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

step "demo end to end: scripts/demo.sh shows fills and PnL on its dashboard within a minute"
cargo build --release --quiet --bins -p tickwire-engine -p tickwire-monitor -p tickwire-venue
smoke_dir=$(mktemp -d)
bash scripts/demo.sh --data-dir "$smoke_dir" --listen 127.0.0.1:0 > "$smoke_dir/demo.log" 2>&1 &
demo_pid=$!
if ! python3 scripts/check_demo.py "$smoke_dir" --within 60; then
    kill -TERM "$demo_pid" 2>/dev/null || true
    wait "$demo_pid" || true
    cat "$smoke_dir/demo.log" "$smoke_dir/engine.log" "$smoke_dir/monitor.log" >&2
    exit 1
fi
kill -TERM "$demo_pid"
wait "$demo_pid" || { cat "$smoke_dir/demo.log" >&2; echo "demo.sh did not stop cleanly" >&2; exit 1; }
if pgrep -f "$smoke_dir" > /dev/null; then
    pgrep -af "$smoke_dir" >&2
    echo "demo.sh left processes behind" >&2
    exit 1
fi
rm -rf "$smoke_dir"

read -r passed failed ignored <<< "$totals"
echo
echo "tests: $passed passed, $failed failed, $ignored ignored in $(( $(date +%s) - started )) s"
echo "$passed passed, $failed failed"
