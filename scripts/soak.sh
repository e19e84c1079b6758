#!/usr/bin/env bash
# A long run of the demo (venue, engine, monitor; scripts/demo.sh), sampled by scripts/soak.py:
# resident memory of the three processes, the engine's descriptors and threads, tick-to-trade
# latency per interval and the counters, with a venue feed fault (disconnect, gap, malformed
# frame in turn) injected every 30 s so reconnects and resyncs are soaked too. Not part of CI:
# it takes minutes.
#
#   scripts/soak.sh [--minutes M] [--interval S] [--fault-every S] [--data-dir DIR]
#
#   --minutes M       length of the sampled run (default 10)
#   --interval S      seconds between samples (default 10)
#   --fault-every S   seconds between venue faults, 0 for none (default 30)
#   --data-dir DIR    run directory (default target/soak); soak.json is written there
#
# Exits 0 when memory, descriptors and latency stayed flat (last third against first third),
# 1 when they grew, 2 when the run could not be sampled. The monitor's memory is judged from
# the moment its 600 one-second latency windows are full, so only in runs of 12 minutes or more.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
minutes=10
interval=10
fault_every=30
data_dir="${CARGO_TARGET_DIR:-$root/target}/soak"
while [ $# -gt 0 ]; do
    case "$1" in
        --minutes) minutes="$2"; shift 2 ;;
        --interval) interval="$2"; shift 2 ;;
        --fault-every) fault_every="$2"; shift 2 ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "soak.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
mkdir -p "$data_dir"
rm -f "$data_dir/endpoints.json"
duration=$(python3 -c "import math,sys; print(math.ceil(float(sys.argv[1]) * 60) + 60)" "$minutes")

"$root/scripts/demo.sh" --listen 127.0.0.1:0 --data-dir "$data_dir" --duration "$duration" \
    > "$data_dir/demo.out" 2>&1 &
demo_pid=$!
trap 'kill -TERM "$demo_pid" 2>/dev/null || true; wait "$demo_pid" 2>/dev/null || true' EXIT
# demo.sh builds the release binaries first (minutes on a fresh machine).
until [ -s "$data_dir/endpoints.json" ]; do
    kill -0 "$demo_pid" 2>/dev/null || { cat "$data_dir/demo.out" >&2; exit 2; }
    sleep 1
done
status=0
python3 "$root/scripts/soak.py" "$data_dir" --minutes "$minutes" --interval "$interval" \
    --fault-every "$fault_every" || status=$?
kill -TERM "$demo_pid" 2>/dev/null || true
demo_status=0
wait "$demo_pid" || demo_status=$?
trap - EXIT
tail -n 1 "$data_dir/demo.out"
if [ "$demo_status" -ne 0 ]; then
    echo "soak.sh: the demo ended with status $demo_status (see $data_dir/demo.out)" >&2
    [ "$status" -eq 0 ] && status=1
fi
exit "$status"
