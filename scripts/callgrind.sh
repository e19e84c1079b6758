#!/usr/bin/env bash
# Instructions per tick on the hot path, counted by valgrind's callgrind: a figure that is the
# same on a busy shared machine as on an idle one (time is not). Each step runs twice, with
# 1,000 and 11,000 iterations; the difference divided by 10,000 is the cost of one iteration,
# with start-up and set-up cancelled out.
#
#   scripts/callgrind.sh         prints a table; writes target/bench/callgrind.json
#
# Steps (benches/examples/hot_path_step.rs): decode (tickwire, Binance bookTicker to fixed
# point), serde (serde_json into borrowed &str fields, no conversion), baseline (serde_json into
# owned Strings plus f64 parsing, as the conventional bot does), depth and serde_depth (a 10x10
# depth diff, tickwire and serde_json), decide (market maker targets and pre-trade risk), encode
# (the order.place request), encode_signed and cancel_signed (order.place and order.cancel signed
# with HMAC-SHA-256, built when sent), cancel_prepared (the signed cancel as a requote sends it:
# prepared on an idle turn, looked up when sent).
set -euo pipefail
cd "$(dirname "$0")/.."
command -v valgrind > /dev/null || {
    echo "callgrind.sh: valgrind is not installed (apt-get install valgrind)" >&2
    exit 2
}
target="${CARGO_TARGET_DIR:-target}"
cargo build --release --quiet -p tickwire-benches --example hot_path_step
driver="$target/release/examples/hot_path_step"
mkdir -p "$target/bench"

count() {
    valgrind --tool=callgrind --callgrind-out-file=/dev/null "$driver" "$1" "$2" 2>&1 \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p'
}

printf '%-10s %14s\n' step "instructions"
json="{"
for step in decode serde baseline depth serde_depth decide encode encode_signed cancel_signed cancel_prepared; do
    small=$(count "$step" 1000)
    large=$(count "$step" 11000)
    per=$(( (large - small) / 10000 ))
    printf '%-10s %14s\n' "$step" "$per"
    json="$json\"$step\": $per, "
done
json="${json%, }}"
echo "$json" > "$target/bench/callgrind.json"
echo "wrote $target/bench/callgrind.json"
