#!/usr/bin/env python3
"""Checks a running scripts/demo.sh as a new user would see it: within a minute the dashboard
named in <data-dir>/endpoints.json serves the page, reports the engine live on venue data, and
shows fills and PnL. Exits non-zero naming what was missing.

    scripts/check_demo.py DATA_DIR [--within SECONDS]
"""
import argparse
import json
import sys
import time
import urllib.request


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, response.read().decode()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir")
    parser.add_argument("--within", type=float, default=60.0)
    args = parser.parse_args()
    deadline = time.monotonic() + args.within
    endpoints = None
    while time.monotonic() < deadline and endpoints is None:
        try:
            with open(f"{args.data_dir}/endpoints.json") as f:
                endpoints = json.load(f)
        except (OSError, ValueError):
            time.sleep(0.2)
    if endpoints is None:
        sys.exit(f"no endpoints.json in {args.data_dir} within {args.within} s")
    for key in ("dashboard", "venue", "venue_admin"):
        if key not in endpoints:
            sys.exit(f"endpoints.json lacks {key}: {endpoints}")
    base = endpoints["dashboard"].rstrip("/")
    status, page = get(base + "/")
    if status != 200 or "tickwire" not in page:
        sys.exit(f"{base}/ answered {status}")
    state = None
    while time.monotonic() < deadline:
        try:
            _, body = get(base + "/api/state")
            state = json.loads(body)
        except (OSError, ValueError) as e:
            print(f"waiting for the dashboard: {e}", file=sys.stderr)
            time.sleep(0.5)
            continue
        positions = state.get("positions") or [{}]
        if state.get("fills_total", 0) > 0 and positions[0].get("realized_pnl"):
            break
        time.sleep(0.5)
    else:
        sys.exit(f"no fills on the dashboard within {args.within} s; last state: {json.dumps(state)[:2000]}")
    instrument = state["instruments"][0]
    problems = []
    if state["engine"]["status"] != "running":
        problems.append(f"engine {state['engine']['status']}")
    if instrument["data_source"] != "venue-sim" or instrument["feed_state"] != "live":
        problems.append(f"feed {instrument['feed_state']} from {instrument['data_source']}")
    status, _ = get(base + "/health")
    if status != 200:
        problems.append(f"/health {status}")
    if problems:
        sys.exit("demo dashboard: " + "; ".join(problems))
    p = positions[0]
    print(f"demo ok: {state['fills_total']} fills, position {p['qty']} {p['symbol']}, "
          f"realized {p['realized_pnl']}, unrealized {p['unrealized_pnl']}, dashboard {base}/")


if __name__ == "__main__":
    main()
