#!/usr/bin/env bash
# Starts the engine for a low-latency run on a tuned host.
#
#   scripts/launch.sh --core N [--fifo] [--config FILE] [--engine PATH]
#
# - --engine runs that binary instead of building target/release/engine: the profile-guided
#   build of scripts/pgo.sh (target/pgo/release/engine) is the one for latency runs.
# - The process is started with taskset on the housekeeping cores (every core but N), so the
#   feed, gateway, persistence and log threads never run on N; the engine then pins only its
#   strategy thread to N (core_affinity) — threads inherit their creator's affinity, so helpers
#   are spawned before the strategy thread is pinned.
# - --fifo raises the strategy thread to SCHED_FIFO. It is refused unless check-host confirms
#   core N is isolated: a spinning FIFO thread on a shared core is throttled by the kernel
#   (sched_rt_runtime_us) and stalls for ~50 ms.
# - Memory is locked (mlockall) and the shared-memory region is pre-faulted, so page faults do
#   not land on the hot path; raise the memlock limit first (ulimit -l unlimited).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
bin="${CARGO_TARGET_DIR:-$root/target}/release"
case "$bin" in /*) ;; *) bin="$root/$bin" ;; esac
core=""
fifo=0
config="$root/config/demo.toml"
engine=""
while [ $# -gt 0 ]; do
    case "$1" in
        --core) core="$2"; shift 2 ;;
        --fifo) fifo=1; shift ;;
        --config) config="$2"; shift 2 ;;
        --engine) engine="$2"; shift 2 ;;
        -h|--help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "launch.sh: unknown argument: $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$core" in ''|*[!0-9]*) echo "launch.sh: --core N is required" >&2; exit 2 ;; esac
cpus=$(nproc --all)
if [ "$core" -ge "$cpus" ]; then echo "launch.sh: core $core does not exist ($cpus cores)" >&2; exit 2; fi
if [ "$cpus" -lt 2 ]; then echo "launch.sh: needs at least 2 cores" >&2; exit 2; fi

if [ -z "$engine" ]; then
    (cd "$root" && cargo build --release --quiet -p tickwire-engine --bin engine)
    engine="$bin/engine"
elif [ ! -x "$engine" ]; then
    echo "launch.sh: --engine $engine: not an executable file" >&2
    exit 2
fi
"$engine" check-host --core "$core" || true

housekeeping=$(seq 0 $((cpus - 1)) | grep -vx "$core" | paste -sd, -)
args=(run --config "$config" --strategy-core "$core")
if [ "$fifo" = 1 ]; then
    if ! "$engine" check-host --core "$core" --require-isolated >/dev/null; then
        echo "launch.sh: refusing --fifo: core $core is not isolated (see the table above)" >&2
        exit 1
    fi
    if [ "$(cat /proc/sys/kernel/sched_rt_runtime_us)" != "-1" ]; then
        echo "launch.sh: warning: sched_rt_runtime_us is not -1; the FIFO thread may be throttled" >&2
    fi
    args+=(--sched-fifo)
fi
mlock=(--mlock)
if [ "$(ulimit -l)" != "unlimited" ]; then
    echo "launch.sh: warning: memlock limit is $(ulimit -l) KiB; running without mlockall" >&2
    mlock=()
fi
echo "launch.sh: engine on cores $housekeeping, strategy thread on core $core"
exec taskset -c "$housekeeping" "$engine" "${args[@]}" "${mlock[@]}"
