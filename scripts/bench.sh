#!/usr/bin/env bash
# Runs every benchmark of tickwire and prints a summary table. Not part of scripts/test.sh:
# benches report figures, they do not pass or fail. On a shared machine read the ratios (each
# comparison runs in one process, back to back), not the absolute figures.
#
#   scripts/bench.sh [--quick]
#
#   criterion micro benches (ring hop, seqlock, strategy step, decoders vs serde_json, order book
#   vs BTreeMap, signed order encode vs the conventional way)
#   tick_to_trade   wire to wire: tickwire vs a tokio baseline vs the floor   -> target/bench/tick_to_trade.{json,svg}
#                   (tickwire is the profile-guided build, made first by scripts/pgo.sh)
#   monitor_load    engine tick-to-trade with 100 dashboards vs none          -> target/bench/monitor_load.json
#
# --quick shortens every run (for a smoke check of the benches themselves).
set -euo pipefail
cd "$(dirname "$0")/.."
quick=0
[ "${1:-}" = "--quick" ] && quick=1
target="${CARGO_TARGET_DIR:-target}"
mkdir -p "$target/bench"

if [ "$quick" -eq 1 ]; then
    criterion=(--warm-up-time 1 --measurement-time 1)
    t2t=(--rounds 6 --secs 1)
    pgo=(--secs 3)
    load=(--phase-secs 5)
else
    criterion=(--warm-up-time 1 --measurement-time 3)
    t2t=(--rounds 24 --secs 3)
    pgo=()
    load=(--phase-secs 20)
fi

echo "==> criterion micro benches (log: $target/bench/criterion.txt)"
: > "$target/bench/criterion.txt"
for bench in ring_hop seqlock strategy_step decode order_book order_encode; do
    cargo bench -p tickwire-benches --bench "$bench" -- "${criterion[@]}" >> "$target/bench/criterion.txt" 2>&1
done

echo "==> profile-guided engine build (log: $target/bench/pgo.txt)"
if scripts/pgo.sh "${pgo[@]}" > "$target/bench/pgo.txt" 2>&1; then
    engine="$target/pgo/release/engine"
    case "$engine" in /*) ;; *) engine="$PWD/$engine" ;; esac
    t2t+=(--engine "$engine")
else
    tail -5 "$target/bench/pgo.txt" >&2
    echo "bench.sh: the profile-guided build failed (above); tick_to_trade measures the release build" >&2
fi

echo "==> tick_to_trade"
cargo bench -p tickwire-benches --bench tick_to_trade -- "${t2t[@]}" 2>/dev/null \
    | tee "$target/bench/tick_to_trade.txt"

echo "==> monitor_load"
cargo bench -p tickwire-benches --bench monitor_load -- "${load[@]}" 2>/dev/null | tee "$target/bench/monitor_load.txt"

echo
echo "==> summary"
python3 - "$target/bench" "$target/criterion" <<'PY'
import json, os, sys
out, criterion = sys.argv[1], sys.argv[2]
print(f"{'criterion bench':<48} {'mean':>12}")
for root, dirs, files in sorted(os.walk(criterion)):
    if root.endswith(os.sep + "new") and "estimates.json" in files:
        name = os.path.relpath(os.path.dirname(root), criterion)
        if name.endswith("report") or os.sep + "report" in name:
            continue
        mean = json.load(open(os.path.join(root, "estimates.json")))["mean"]["point_estimate"]
        text = f"{mean:.1f} ns" if mean < 1e4 else f"{mean/1e3:.2f} us"
        print(f"{name:<48} {text:>12}")
print()
t = json.load(open(f"{out}/tick_to_trade.json"))
print(f"tick_to_trade's engine: {t['host'].get('engine', '?')}")
print(f"{'wire to wire':<12} {'p50 us':>9} {'p99 us':>9} {'p99.9 us':>9} {'samples':>8} {'missed':>7}")
for k in ("tickwire", "baseline", "floor"):
    v = t[k]
    print(f"{k:<12} {v['p50_ns']/1e3:>9.1f} {v['p99_ns']/1e3:>9.1f} {v['p999_ns']/1e3:>9.1f} {v['samples']:>8} {v['missed']:>7}")
ip = t.get("in_process") or {}
stages = ip.get("stages", {})
if stages:
    print("tickwire in-process stage p50 (ns): " + ", ".join(f"{k} {v['p50_ns']}" for k, v in stages.items()))
m = json.load(open(f"{out}/monitor_load.json"))
r = m["load_over_idle"]
print(f"monitor load ({m['clients']} WebSocket clients, {m['arrangement']}): tick-to-trade p50 x{r['p50']:.3f}, p99 x{r['p99']:.3f}")
PY
