#!/usr/bin/env bash
# Builds the engine with profile-guided optimisation (PGO): an instrumented engine trades on the
# local venue simulator, and the engine is built again with the branch and call counts it
# recorded, so LLVM lays the paths that run out in straight lines, keeps the rare ones out of
# the way and inlines by measured frequency. On a 2-core VM this took the in-process
# tick-to-trade p50 and p99 down by about a third (README, "Tick to trade").
#
#   scripts/pgo.sh [--secs N]     writes $CARGO_TARGET_DIR/pgo/release/engine (default target/)
#
#   --secs N   length of each training run (default 15)
#
# Training never sees the tick_to_trade bench's recorded stream: it runs against the venue
# simulator's own seeded market (quotes, depth diffs, trades, fills of resting orders), twice,
# so both ways the engine is run are counted:
#   1. plain WebSocket, idle = busy-spin: the arrangement of scripts/launch.sh and the bench;
#   2. TLS, idle = backoff: the arrangement of scripts/demo.sh.
# Both use threading = shared. Each run stops on SIGTERM, as an operator stops the engine, and
# must exit cleanly: the instrumented binary writes its counts at exit.
#
# Needs llvm-profdata of the toolchain's own LLVM (rustup's llvm-tools component; added here if
# it is missing). Three release builds of the engine (plain venue, instrumented, optimised):
# ~6 minutes on 2 cores the first time. The PGO engine is a separate binary; `cargo build`
# still builds the plain one, and scripts/launch.sh takes either (--engine).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/venue-lib.sh
source "$root/scripts/venue-lib.sh"
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
secs=15
while [ $# -gt 0 ]; do
    case "$1" in
        --secs) secs="$2"; shift 2 ;;
        -h|--help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "pgo.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$secs" in ''|*[!0-9]*|0) echo "pgo.sh: --secs takes a whole number of seconds > 0" >&2; exit 2 ;; esac
cd "$root"

host=$(rustc -vV | sed -n 's/^host: //p')
profdata="$(rustc --print sysroot)/lib/rustlib/$host/bin/llvm-profdata"
if [ ! -x "$profdata" ]; then
    echo "pgo.sh: adding rustup's llvm-tools component (llvm-profdata)"
    rustup component add llvm-tools || {
        echo "pgo.sh: llvm-profdata is missing and rustup could not add llvm-tools" >&2
        exit 2
    }
fi

out="$target/pgo"
work="$out/training"
profiles="$work/profiles"
rm -rf "$work"
mkdir -p "$profiles"

echo "==> building the venue simulator and an instrumented engine"
cargo build --release --quiet -p tickwire-venue --bin venue
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-generate=$profiles" \
    cargo build --release --quiet -p tickwire-engine --bin engine --target-dir "$out/instrumented"
instrumented="$out/instrumented/release/engine"

venue_pid=""
engine_pid=""
stop_training() {
    [ -n "$engine_pid" ] && kill -TERM "$engine_pid" 2>/dev/null || true
    [ -n "$venue_pid" ] && kill -TERM "$venue_pid" 2>/dev/null || true
    wait 2>/dev/null || true
}
trap stop_training EXIT

# train NAME TRANSPORT(plain|tls) IDLE
train() {
    local name="$1" transport="$2" idle="$3"
    local dir="$work/$name"
    mkdir -p "$dir"
    local args=(--listen 127.0.0.1:0 --admin 127.0.0.1:0 --step-ms 2)
    [ "$transport" = plain ] && args+=(--plain)
    # A spinning run keeps its hot thread to the last core and everything else off it, as
    # scripts/launch.sh does: a venue sharing the spinning core answers milliseconds late.
    local pin=() core_line="s|^# strategy_core = .*|&|"
    if [ "$idle" = busy-spin ]; then
        local cpus
        cpus=$(nproc)
        if [ "$cpus" -ge 2 ]; then
            pin=(taskset -c "0-$((cpus - 2))")
            core_line="s|^# strategy_core = .*|strategy_core = $((cpus - 1))|"
        else
            echo "pgo.sh: one cpu: the busy-spin training run shares it with the venue" >&2
        fi
    fi
    venue_start "$dir/venue" "$dir/venue.log" "${pin[@]}" "$target/release/venue" "${args[@]}"
    # The demo's config with this run's addresses and idle mode, requoting on every one-tick
    # move (so every quote that moves the top takes the path from the read to the write that
    # tick-to-trade measures; at the demo's 2 ticks most quotes end in a hold), and an order
    # budget that such requotes never exhaust (an exhausted budget trains the hold path).
    venue_config "$dir/venue" "pgo-$name-$$" "$dir" "$dir/engine.toml" \
        -e "s|^idle = .*|idle = \"$idle\"|" \
        -e "$core_line" \
        -e "s|^max_orders_per_sec = .*|max_orders_per_sec = 5000|" \
        -e "s|^requote_threshold_ticks = .*|requote_threshold_ticks = 1|" \
        -e "s|^warmup_events = .*|warmup_events = 1000|"
    echo "==> training run '$name' ($transport WebSocket, idle = $idle, $secs s)"
    LLVM_PROFILE_FILE="$profiles/$name-%p.profraw" \
        "${pin[@]}" "$instrumented" run --config "$dir/engine.toml" 2> "$dir/engine.log" &
    engine_pid=$!
    sleep "$secs"
    kill -0 "$engine_pid" 2>/dev/null || {
        echo "pgo.sh: the engine stopped during training run '$name'" >&2
        cat "$dir/engine.log" >&2
        exit 1
    }
    kill -TERM "$engine_pid"
    local status=0
    wait "$engine_pid" || status=$?
    engine_pid=""
    kill -TERM "$venue_pid" 2>/dev/null || true
    wait "$venue_pid" 2>/dev/null || true
    venue_pid=""
    if [ "$status" -ne 0 ]; then
        echo "pgo.sh: the engine exited with status $status in training run '$name'" >&2
        cat "$dir/engine.log" >&2
        exit 1
    fi
    ls "$profiles/$name-"*.profraw > /dev/null 2>&1 || {
        echo "pgo.sh: training run '$name' wrote no profile" >&2
        exit 1
    }
    # A run that never quoted trained the wrong paths: its journal must hold orders.
    local journal="$dir/pgo-$name-$$.sqlite" orders=0
    if [ -f "$journal" ]; then
        orders=$(python3 -c "import sqlite3,sys; print(sqlite3.connect('file:' + sys.argv[1] + '?mode=ro', uri=True).execute('SELECT count(*) FROM orders').fetchone()[0])" \
            "$journal")
    fi
    if [ "$orders" -lt 100 ]; then
        echo "pgo.sh: training run '$name' sent $orders orders (fewer than 100)" >&2
        cat "$dir/engine.log" >&2
        exit 1
    fi
    echo "    $orders orders"
}

train spin plain busy-spin
train backoff tls backoff

# Only the training runs' counts: the instrumented build's own build scripts leave theirs here too.
"$profdata" merge -o "$out/engine.profdata" "$profiles"/spin-*.profraw "$profiles"/backoff-*.profraw
echo "==> building the engine with the profile"
RUSTFLAGS="${RUSTFLAGS:-} -Cprofile-use=$out/engine.profdata" \
    cargo build --release --quiet -p tickwire-engine --bin engine --target-dir "$out"
echo "wrote $out/release/engine"
