#!/usr/bin/env bash
# Runs tickwire's main job on the embedded default, on this machine, no internet, no keys: the
# local venue simulator (Binance wire format over TLS), the engine (config/demo.toml: market
# maker quoting on the venue, orders over its WebSocket API) and the monitor's live view of it.
#
#   scripts/demo.sh [--listen ADDR] [--data-dir DIR] [--duration SECS]
#
#   --listen ADDR     dashboard address (default 127.0.0.1:8080; port 0 picks a free one)
#   --data-dir DIR    where the config copy, journal, token and logs go (default ./run)
#   --duration SECS   stop by itself after SECS seconds (default: run until Ctrl+C)
#
# Ctrl+C or SIGTERM stops the monitor, the engine and the venue cleanly (orders cancelled,
# journal flushed, region removed) and leaves no process behind.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
# shellcheck source=scripts/venue-lib.sh
source "$root/scripts/venue-lib.sh"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac

listen=127.0.0.1:8080
data_dir=run
duration=0
while [ $# -gt 0 ]; do
    case "$1" in
        --listen) listen="$2"; shift 2 ;;
        --data-dir) data_dir="$2"; shift 2 ;;
        --duration) duration="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "demo.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$duration" in ''|*[!0-9]*) echo "demo.sh: --duration takes whole seconds" >&2; exit 2 ;; esac

mkdir -p "$data_dir"
data_dir="$(cd "$data_dir" && pwd)"
instance="demo-$$"
shm="/dev/shm/tickwire-$instance"

echo "building release binaries (first run takes a few minutes)..."
(cd "$root" && cargo build --release --quiet --bins -p tickwire-engine -p tickwire-monitor -p tickwire-venue)

engine_pid=""
monitor_pid=""
venue_pid=""
stop_all() {
    local rc=$?
    trap - INT TERM EXIT
    [ -n "$monitor_pid" ] && kill -TERM "$monitor_pid" 2>/dev/null || true
    [ -n "$engine_pid" ] && kill -TERM "$engine_pid" 2>/dev/null || true
    local status=0
    if [ -n "$engine_pid" ]; then wait "$engine_pid" || status=$?; fi
    if [ -n "$monitor_pid" ]; then wait "$monitor_pid" 2>/dev/null || true; fi
    [ -n "$venue_pid" ] && kill -TERM "$venue_pid" 2>/dev/null || true
    if [ -n "$venue_pid" ]; then wait "$venue_pid" 2>/dev/null || true; fi
    echo "stopped (engine exit status $status)"
    [ "$status" -ne 0 ] && exit "$status"
    exit "$rc"
}
trap stop_all INT TERM EXIT

venue_start "$data_dir/venue" "$data_dir/venue.log" \
    "$bin/venue" --listen 127.0.0.1:0 --admin 127.0.0.1:0
venue_ws=$(venue_field "$data_dir/venue" venue)
venue_admin=$(venue_field "$data_dir/venue" venue_admin)

config="$data_dir/demo.toml"
venue_config "$data_dir/venue" "$instance" "$data_dir" "$config"

"$bin/engine" run --config "$config" 2> "$data_dir/engine.log" &
engine_pid=$!
for _ in $(seq 1 200); do
    [ -e "$shm" ] && break
    kill -0 "$engine_pid" 2>/dev/null || { cat "$data_dir/engine.log" >&2; exit 1; }
    sleep 0.05
done
[ -e "$shm" ] || { echo "demo.sh: engine did not create $shm" >&2; cat "$data_dir/engine.log" >&2; exit 1; }

"$bin/monitor" --shm "$shm" --listen "$listen" --journal "$data_dir/$instance.sqlite" \
    --token-file "$data_dir/$instance.token" > "$data_dir/monitor.log" 2>&1 &
monitor_pid=$!
dashboard=""
for _ in $(seq 1 200); do
    dashboard=$(sed -n 's|^monitor: dashboard at \(http://[^ ]*\).*|\1|p' "$data_dir/monitor.log")
    [ -n "$dashboard" ] && break
    kill -0 "$monitor_pid" 2>/dev/null || { cat "$data_dir/monitor.log" >&2; exit 1; }
    sleep 0.05
done
[ -n "$dashboard" ] || { echo "demo.sh: the monitor did not start" >&2; cat "$data_dir/monitor.log" >&2; exit 1; }

cat > "$data_dir/endpoints.json" <<JSON
{"dashboard": "$dashboard", "venue": "$venue_ws", "venue_admin": "$venue_admin", "region": "$shm", "journal": "$data_dir/$instance.sqlite", "token_file": "$data_dir/$instance.token"}
JSON

echo "tickwire is running (instance $instance): market maker trading on the local venue over TLS"
echo "  dashboard: $dashboard"
echo "  control:   token in $data_dir/$instance.token (the dashboard asks for it once)"
echo "  terminal:  $bin/monitor --shm $shm --watch"
echo "  venue:     $venue_ws (admin $venue_admin)"
echo "  journal:   $data_dir/$instance.sqlite"
echo "  logs:      $data_dir/engine.log, $data_dir/venue.log, $data_dir/monitor.log"
echo "Ctrl+C stops everything."

elapsed=0
while kill -0 "$engine_pid" 2>/dev/null; do
    if [ "$duration" -gt 0 ] && [ "$elapsed" -ge "$duration" ]; then break; fi
    sleep 1
    elapsed=$((elapsed + 1))
done
stop_all
