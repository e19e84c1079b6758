#!/usr/bin/env bash
# Reports how well this host is tuned for tickwire's strategy thread on a core: isolcpus,
# nohz_full, rcu_nocbs, irqaffinity, scaling governor, turbo, transparent hugepages, irqbalance,
# DAMON reclaim, SMT siblings of the core, memlock limit and sched_rt_runtime_us, with what to
# change (DAMON's files are root's: run as root to check it). With --jitter-secs S it also
# spins a thread pinned to the core for S seconds and reports the stalls (gaps of 1 us or more
# between clock reads: interrupts, the hypervisor, other threads).
#
#   scripts/check-host.sh [--core N] [--require-isolated] [--jitter-secs S]
#
# The checks live in one place, `engine check-host` (engine/src/host.rs); this script builds the
# engine if needed and runs it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
(cd "$root" && cargo build --release --quiet -p tickwire-engine --bin engine)
exec "$bin/engine" check-host "$@"
