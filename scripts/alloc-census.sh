#!/usr/bin/env bash
# Where the tick path allocates: runs the venue simulator and the engine with feed, strategy and
# gateway on one thread (threading = "shared"), lets it trade past warm-up, then breaks on
# malloc and realloc in that thread under gdb for a few seconds and counts the allocations by
# the first crate on each stack. The engine's own `hot_path_allocations` counter covers only
# the strategy's turns; this covers the whole thread, TLS and WebSocket included.
#
#   scripts/alloc-census.sh [--plain] [--seconds N]
#
#   --plain      the venue over plain TCP (ws://) instead of TLS
#   --seconds N  how long gdb counts (default 10)
#
# KEEP=1 keeps the work directory (the stacks gdb printed are in bt.txt there) and prints it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
plain=""
seconds=10
while [ $# -gt 0 ]; do
    case "$1" in
        --plain) plain="--plain"; shift ;;
        --seconds) seconds="$2"; shift 2 ;;
        -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
        *) echo "alloc-census.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
command -v gdb > /dev/null || { echo "alloc-census.sh: gdb is not installed (apt-get install gdb)" >&2; exit 2; }
target="${CARGO_TARGET_DIR:-$root/target}"
case "$target" in /*) ;; *) target="$root/$target" ;; esac
(cd "$root" && cargo build --quiet --bins -p tickwire-engine -p tickwire-venue)
bin="$target/debug"
work="$(mktemp -d)"
venue_pid=""
engine_pid=""
cleanup() {
    [ -n "$engine_pid" ] && kill -INT "$engine_pid" 2>/dev/null && wait "$engine_pid" 2>/dev/null
    [ -n "$venue_pid" ] && kill "$venue_pid" 2>/dev/null && wait "$venue_pid" 2>/dev/null
    if [ -n "${KEEP:-}" ]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

"$bin/venue" --listen 127.0.0.1:0 --admin 127.0.0.1:0 --step-ms 5 --data-dir "$work/venue" $plain \
    2> "$work/venue.log" &
venue_pid=$!
for _ in $(seq 1 200); do [ -s "$work/venue/venue.json" ] && break; sleep 0.05; done
field() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))[sys.argv[2]]; print(v or '')" "$work/venue/venue.json" "$1"; }
ws=$(field venue); rest=$(field rest); ca=$(field ca_file)
sed -e "s|^instance = .*|instance = \"census-$$\"|" \
    -e "s|^run_dir = .*|run_dir = \"$work\"|" \
    -e "s|^threading = .*|threading = \"shared\"|" \
    -e "s|^idle = .*|idle = \"backoff\"|" \
    -e "s|wss://127.0.0.1:9443|$ws|" -e "s|https://127.0.0.1:9443|$rest|" \
    "$root/config/demo.toml" > "$work/engine.toml"
if [ -n "$ca" ]; then
    sed -i "s|run/venue/venue-ca.pem|$ca|" "$work/engine.toml"
else
    sed -i '/^ca_file = /d' "$work/engine.toml"
fi
"$bin/engine" run --config "$work/engine.toml" 2> "$work/engine.log" &
engine_pid=$!
sleep 8
thread=""
for t in /proc/$engine_pid/task/*; do
    [ "$(cat "$t/comm")" = "strategy" ] && thread=$(basename "$t")
done
[ -n "$thread" ] || { echo "alloc-census.sh: no strategy thread" >&2; cat "$work/engine.log" >&2; exit 1; }
cat > "$work/gdb.cmd" <<GDB
set pagination off
set confirm off
set print thread-events off
GDB
gdb_thread=$(gdb -p "$engine_pid" -batch -ex "info threads" 2>/dev/null \
    | sed -n "s/^[ *]*\([0-9]*\) *Thread .*LWP $thread).*/\1/p")
[ -n "$gdb_thread" ] || { echo "alloc-census.sh: gdb cannot see the strategy thread" >&2; exit 1; }
for fn in malloc realloc calloc; do
    printf 'break %s thread %s\ncommands\nsilent\nbt 20\ncontinue\nend\n' "$fn" "$gdb_thread" >> "$work/gdb.cmd"
done
echo continue >> "$work/gdb.cmd"
timeout -s INT "$seconds" gdb -p "$engine_pid" -batch -x "$work/gdb.cmd" > "$work/bt.txt" 2>&1 || true
python3 - "$work/bt.txt" "$seconds" "${plain:-tls}" <<'PY'
import re, sys, collections
SKIP = {"std", "alloc", "core", "engine"}
text = open(sys.argv[1]).read()
stacks = text.split("\n#0 ")[1:]
counts = collections.Counter()
for stack in stacks:
    owner = "unknown (deeper than 20 frames)"
    for name in re.findall(r"^#\d+ .*? in (\S+)", stack, re.M)[1:]:
        crate = re.split(r"::|\[", name.lstrip("<"), maxsplit=1)[0]
        if crate in SKIP or name.startswith("tickwire_engine::alloc::"):
            continue
        owner = crate
        break
    counts[owner] += 1
transport = "plain TCP" if sys.argv[3] == "--plain" else "TLS"
print(f"allocations on the strategy thread in {sys.argv[2]} s (feed, strategy and gateway,"
      f" {transport}): {len(stacks)}")
for crate, n in counts.most_common():
    print(f"  {n:>8}  {crate}")
PY
