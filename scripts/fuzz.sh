#!/usr/bin/env bash
# Fuzzes tickwire's decoders and its shared-memory region reader with cargo-fuzz (libFuzzer,
# AddressSanitizer, debug assertions and overflow checks on), one target after the other.
#
#   scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]
#
#   scripts/fuzz.sh                      every target for 60 s
#   scripts/fuzz.sh 300                  every target for 5 minutes
#   scripts/fuzz.sh 30 kraken_decode     one target for 30 s
#
# Targets are the binaries of fuzz/Cargo.toml (`cargo fuzz list`): binance_decode, kraken_decode,
# coinbase_decode, order_entry_decode, region_reader, decimal. Each reads the committed seeds in
# fuzz/seeds/<target>/ (and the dictionary fuzz/dicts/<target>.dict if there is one) and grows
# its corpus in fuzz/corpus/<target>/ (kept between runs, not committed); crash inputs land in
# fuzz/artifacts/<target>/ and libFuzzer's output in fuzz/logs/<target>.log. Ends with a table
# of executions per target; exits 1 if any target crashed. Reproduce a crash with
#
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions <target> fuzz/artifacts/<target>/crash-...
#
# Needs: the Rust toolchain (stable is enough: RUSTC_BOOTSTRAP=1 lets cargo-fuzz pass its
# nightly-only sanitizer flags) and a C++ compiler for libFuzzer. Installs cargo-fuzz when missing.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${1:-60}
if [ "$#" -gt 0 ]; then shift; fi
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...] (got seconds '$seconds')" >&2
    exit 2
fi

step() { printf '\n==> %s\n' "$*"; }

if ! cargo fuzz --version > /dev/null 2>&1; then
    step "installing cargo-fuzz"
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

mapfile -t known < <(cargo fuzz list)
if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    targets=("${known[@]}")
fi
for t in "${targets[@]}"; do
    if ! printf '%s\n' "${known[@]}" | grep -qx -- "$t"; then
        echo "unknown target '$t'; targets: ${known[*]}" >&2
        exit 2
    fi
done

step "building ${#targets[@]} target(s) (release, ASan, debug assertions)"
for t in "${targets[@]}"; do
    cargo fuzz build --debug-assertions "$t"
done

declare -A runtime execs corpus crashed
failures=0
for t in "${targets[@]}"; do
    step "fuzzing $t for ${seconds}s"
    mkdir -p "fuzz/corpus/$t" "fuzz/artifacts/$t" fuzz/logs
    log="fuzz/logs/$t.log"
    marker=$(mktemp)
    started=$SECONDS
    status=0
    # -timeout: an input taking 10 s is a hang, reported like a crash.
    flags=(-max_total_time="$seconds" -timeout=10 -print_final_stats=1)
    if [ -f "fuzz/dicts/$t.dict" ]; then
        flags+=(-dict="fuzz/dicts/$t.dict")
    fi
    cargo fuzz run --debug-assertions "$t" "fuzz/corpus/$t" "fuzz/seeds/$t" -- "${flags[@]}" \
        > "$log" 2>&1 || status=$?
    # libFuzzer's own clock ("Done N runs in S second(s)"): the wall time also counts any rebuild.
    runtime[$t]=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    runtime[$t]=${runtime[$t]:-$((SECONDS - started))}
    # The final stats line, or the last "#N ..." status line if libFuzzer died before printing it.
    n=$(sed -n 's/^stat::number_of_executed_units: *\([0-9]*\).*/\1/p' "$log" | tail -n 1)
    if [ -z "$n" ]; then
        n=$(sed -n 's/^#\([0-9][0-9]*\).*/\1/p' "$log" | tail -n 1)
    fi
    execs[$t]=${n:-?}
    corpus[$t]=$(find "fuzz/corpus/$t" -type f | wc -l)
    # Slow-unit reports are not failures; crash-, timeout-, oom- and leak- files are.
    artifact=$(find "fuzz/artifacts/$t" -type f -newer "$marker" ! -name 'slow-unit-*' | head -n 1)
    rm -f "$marker"
    if [ "$status" -ne 0 ] || [ -n "$artifact" ]; then
        crashed[$t]=${artifact:-"exit $status (see $log)"}
        failures=$((failures + 1))
        echo "$t FAILED (exit $status): ${crashed[$t]}"
        grep -E -A1 -m 4 'panicked at|ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)' "$log" || true
        echo "(full output in $log)"
    else
        crashed[$t]=no
        echo "$t: ${execs[$t]} executions in ${runtime[$t]}s, corpus ${corpus[$t]} inputs"
    fi
done

step "summary"
printf '%-20s %8s %14s %10s %8s  %s\n' target seconds executions exec/s corpus crash
for t in "${targets[@]}"; do
    rate="?"
    if [[ "${execs[$t]}" =~ ^[0-9]+$ ]] && [ "${runtime[$t]}" -gt 0 ]; then
        rate=$((execs[$t] / runtime[$t]))
    fi
    printf '%-20s %8s %14s %10s %8s  %s\n' "$t" "${runtime[$t]}" "${execs[$t]}" "$rate" \
        "${corpus[$t]}" "${crashed[$t]}"
done
if [ "$failures" -gt 0 ]; then
    echo "$failures target(s) crashed; reproduce with: RUSTC_BOOTSTRAP=1 cargo fuzz run --debug-assertions <target> <artifact>" >&2
    exit 1
fi
