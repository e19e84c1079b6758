#!/usr/bin/env python3
"""Samples a running scripts/demo.sh for a soak: the engine's, monitor's and venue's resident
memory, the engine's open file descriptors and threads, its counters, and tick-to-trade
latency per interval (from the monitor's one-second windows). Optionally injects a venue
feed fault every FAULT_EVERY seconds so the reconnect and resync paths are soaked too.

Prints one row per sample, then compares the last third of the run with the first third
(after the warm-up) and writes DATA_DIR/soak.json. Exits 1 when memory, descriptors or
latency grew, 2 when the run could not be sampled.

    scripts/soak.py DATA_DIR --minutes M [--interval S] [--fault-every S] [--warmup S]
"""
import argparse
import json
import os
import statistics
import sys
import time
import urllib.request

FAULTS = [
    '{"kind":"disconnect"}',
    '{"kind":"gap"}',
    '{"kind":"malformed"}',
]
COUNTERS = ["fills", "feed_reconnects", "feed_gaps", "decode_errors", "hot_path_allocations"]


def get_json(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


def post(url, body, timeout=5):
    request = urllib.request.Request(url, data=body.encode(), method="POST")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        return response.status


def proc_status(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise KeyError(key)


def fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def pid_listening_on(port):
    """The pid of the process with a listening socket on 127.0.0.1:port (the venue)."""
    inodes = set()
    with open("/proc/net/tcp") as f:
        for line in list(f)[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state == "0A" and int(local.split(":")[1], 16) == port:
                inodes.add(inode)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
                if link.startswith("socket:[") and link[8:-1] in inodes:
                    return int(pid)
        except OSError:
            continue
    return None


def window_latency(points, since_ms):
    """Median p50 and p99 (ns) of tick_to_trade over the one-second windows after since_ms."""
    p50s, p99s, count = [], [], 0
    for point in points:
        stage = point["stages"].get("tick_to_trade")
        if point["unix_ms"] > since_ms and stage and stage[0] > 0:
            count += stage[0]
            p50s.append(stage[1])
            p99s.append(stage[2])
    if not p50s:
        return None, None, 0
    return statistics.median(p50s), statistics.median(p99s), count


# The monitor's latency history: HISTORY_POINTS (monitor/src/sampler.rs) one-second windows.
MONITOR_HISTORY_S = 600


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--minutes", type=float, required=True)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--fault-every", type=float, default=30.0, help="0: no faults")
    parser.add_argument("--warmup", type=float, default=30.0)
    args = parser.parse_args()

    try:
        with open(f"{args.data_dir}/endpoints.json") as f:
            endpoints = json.load(f)
    except (OSError, ValueError) as e:
        print(f"soak: cannot read {args.data_dir}/endpoints.json: {e}", file=sys.stderr)
        return 2
    dashboard = endpoints["dashboard"].rstrip("/")
    admin = endpoints["venue_admin"].rstrip("/")
    state = get_json(dashboard + "/api/state")
    engine_pid = state["engine"]["pid"]
    monitor_pid = pid_listening_on(int(dashboard.rsplit(":", 1)[1]))
    venue_pid = pid_listening_on(int(endpoints["venue"].rsplit(":", 1)[1]))
    if not engine_pid or not monitor_pid or not venue_pid:
        print(f"soak: pids not found (engine {engine_pid}, monitor {monitor_pid}, "
              f"venue {venue_pid})", file=sys.stderr)
        return 2

    print(f"soak: engine pid {engine_pid}, monitor pid {monitor_pid}, venue pid {venue_pid}; "
          f"{args.minutes} min, a sample every {args.interval:.0f} s, "
          + (f"a venue fault every {args.fault_every:.0f} s" if args.fault_every else "no faults"))
    header = ("t_s", "eng_rss_kib", "eng_fds", "eng_thr", "mon_rss_kib", "ven_rss_kib",
              "t2t_p50_us", "t2t_p99_us", "samples", *COUNTERS)
    print(" ".join(f"{h:>11}" for h in header))

    start = time.monotonic()
    end = start + args.minutes * 60
    next_fault = start + args.fault_every if args.fault_every else None
    faults_sent = 0
    rows = []
    last_ms = int(time.time() * 1000)
    while time.monotonic() < end:
        time.sleep(args.interval)
        now = time.monotonic()
        while next_fault is not None and now >= next_fault:
            post(admin + "/admin/fault", FAULTS[faults_sent % len(FAULTS)])
            faults_sent += 1
            next_fault += args.fault_every
        try:
            state = get_json(dashboard + "/api/state")
            points = get_json(dashboard + "/api/history/latency")["points"]
            p50, p99, samples = window_latency(points, last_ms)
            last_ms = max((p["unix_ms"] for p in points), default=last_ms)
            row = {
                "t_s": round(now - start),
                "eng_rss_kib": proc_status(engine_pid, "VmRSS"),
                "eng_fds": fd_count(engine_pid),
                "eng_thr": proc_status(engine_pid, "Threads"),
                "mon_rss_kib": proc_status(monitor_pid, "VmRSS"),
                "ven_rss_kib": proc_status(venue_pid, "VmRSS"),
                "t2t_p50_us": None if p50 is None else round(p50 / 1000, 1),
                "t2t_p99_us": None if p99 is None else round(p99 / 1000, 1),
                "samples": samples,
            }
        except (OSError, KeyError, ValueError) as e:
            print(f"soak: sampling failed at {now - start:.0f} s: {e}", file=sys.stderr)
            return 2
        for name in COUNTERS:
            row[name] = state["counters"].get(name)
        rows.append(row)
        print(" ".join(f"{str(row[h]):>11}" for h in header), flush=True)

    steady = [r for r in rows if r["t_s"] >= args.warmup]
    if len(steady) < 3:
        print("soak: too short to compare (need 3 samples after the warm-up)", file=sys.stderr)
        return 2
    third = max(1, len(steady) // 3)
    first, last = steady[:third], steady[-third:]

    def median_of(rs, key):
        """Median over the samples: one noisy interval on a shared machine does not decide."""
        values = [r[key] for r in rs if r[key] is not None]
        return statistics.median(values) if values else None

    def slope_per_min(rs, key):
        """Least-squares growth over the samples, per minute."""
        if len(rs) < 2:
            return 0.0
        ts = [r["t_s"] / 60 for r in rs]
        vs = [r[key] for r in rs]
        t_mean, v_mean = statistics.mean(ts), statistics.mean(vs)
        den = sum((t - t_mean) ** 2 for t in ts)
        return sum((t - t_mean) * (v - v_mean) for t, v in zip(ts, vs)) / den if den else 0.0

    verdict = {}
    problems = []
    # Each process's memory is compared from `from_s` on: the monitor's once its MONITOR_HISTORY_S
    # one-second latency windows are full (its memory grows until then by design).
    for key, slack_kib, from_s in (
        ("eng_rss_kib", 1024, args.warmup),
        ("mon_rss_kib", 2048, args.warmup + MONITOR_HISTORY_S),
        ("ven_rss_kib", 4096, args.warmup),
    ):
        rs = [r for r in rows if r["t_s"] >= from_s]
        if len(rs) < 3:
            verdict[key] = {"first": None, "last": None, "last_third_kib_per_min": None,
                            "from_s": from_s,
                            "note": f"not judged: fewer than 3 samples from {from_s:.0f} s on"}
            continue
        part = len(rs) // 3
        a, b = median_of(rs[:part], key), median_of(rs[-part:], key)
        verdict[key] = {"first": a, "last": b, "from_s": from_s,
                        "last_third_kib_per_min": slope_per_min(rs[-part:], key)}
        if b > a * 1.05 + slack_kib:
            problems.append(f"{key} grew from {a:.0f} to {b:.0f} KiB")
    a, b = median_of(first, "eng_fds"), median_of(last, "eng_fds")
    verdict["eng_fds"] = {"first": a, "last": b}
    if b > a + 2:
        problems.append(f"engine descriptors grew from {a:.1f} to {b:.1f}")
    for key in ("t2t_p50_us", "t2t_p99_us"):
        a, b = median_of(first, key), median_of(last, key)
        verdict[key] = {"first": a, "last": b}
        if a and b and b > a * 1.5 + 20:
            problems.append(f"{key} grew from {a:.1f} to {b:.1f} us")
    allocations = rows[-1]["hot_path_allocations"]
    if allocations:
        problems.append(f"{allocations} hot-path allocations")
    report = {
        "minutes": args.minutes,
        "interval_s": args.interval,
        "faults_sent": faults_sent,
        "first_third_vs_last_third": verdict,
        "problems": problems,
        "rows": rows,
    }
    with open(f"{args.data_dir}/soak.json", "w") as f:
        json.dump(report, f, indent=1)
    print(f"\nfirst third vs last third (after {args.warmup:.0f} s warm-up), "
          f"{faults_sent} faults injected:")
    for key, v in verdict.items():
        a = "-" if v["first"] is None else f"{v['first']:.1f}"
        b = "-" if v["last"] is None else f"{v['last']:.1f}"
        slope = v.get("last_third_kib_per_min")
        trend = "" if slope is None else f"   (last third: {slope:+.1f} KiB/min)"
        if v.get("from_s", args.warmup) > args.warmup:
            trend += f"   (from {v['from_s']:.0f} s)"
        if "note" in v:
            trend = "   " + v["note"]
        print(f"  {key:<12} {a:>10} -> {b:>10}{trend}")
    print(f"wrote {args.data_dir}/soak.json")
    if problems:
        print("soak: NOT FLAT: " + "; ".join(problems))
        return 1
    print("soak: flat")
    return 0


if __name__ == "__main__":
    sys.exit(main())
