#!/usr/bin/env python3
"""Samples every fleet node's /status while loadtest/fleet.sh drives load, and reports how far
each node's view of the fleet's usage totals is from the truth over time.

The truth at time t is the sum over nodes of what each node itself counted (its own `requests`
per target, merged across its cores). A node's view is its `fleet_usage` (its own totals plus
the other nodes' as of its last sync). For every sample the report gives:

- the error: truth - view, in requests (how many requests the node does not know of yet);
- the lag: how long ago the truth was what the node sees now (the age of its view, in ms).

Only 127.0.0.1 is contacted. Standard library only.

    fleet_probe.py --admins 127.0.0.1:18611,127.0.0.1:18612 --seconds 25 --out samples.json
    fleet_probe.py --report samples.json --sync-ms 200 --load-end <unix s>
"""

import argparse
import bisect
import json
import sys
import time
import urllib.request


def status(admin):
    with urllib.request.urlopen(f"http://{admin}/status", timeout=2) as r:
        return json.load(r)


def requests_of(doc):
    own = sum(t["requests"] for t in doc["targets"])
    fleet = sum(t.get("fleet_usage", {}).get("requests", 0) for t in doc["targets"])
    per_target = {
        f'{t["model"]}': t.get("fleet_usage", {}).get("total_tokens", 0) for t in doc["targets"]
    }
    return own, fleet, per_target


def sample(admins, seconds, every):
    samples = []
    end = time.time() + seconds
    while time.time() < end:
        row = {"t": time.time(), "nodes": []}
        for a in admins:
            try:
                own, fleet, per_target = requests_of(status(a))
                row["nodes"].append({"own": own, "fleet": fleet, "targets": per_target})
            except Exception as e:  # a node that does not answer is reported, not fatal
                row["nodes"].append({"error": str(e)})
        row["t_end"] = time.time()
        samples.append(row)
        time.sleep(max(0.0, every - (row["t_end"] - row["t"])))
    return samples


def pct(values, p):
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100.0 * (len(s) - 1))))]


def report(samples, sync_ms, load_end):
    rows = [r for r in samples if all("error" not in n for n in r["nodes"])]
    if not rows:
        print("no complete samples")
        return 1
    n_nodes = len(rows[0]["nodes"])
    times = [(r["t"] + r["t_end"]) / 2 for r in rows]
    truth = [sum(n["own"] for n in r["nodes"]) for r in rows]
    print(f"{len(rows)} samples of {n_nodes} nodes over {times[-1] - times[0]:.1f} s; "
          f"sync interval {sync_ms} ms; truth at the end: {truth[-1]} requests")
    print()
    print("| node | samples under load | error p50 / p99 / max (requests) | lag p50 / p99 / max (ms) | lag p99 / sync interval |")
    print("|---|---|---|---|---|")
    worst_lag = 0.0
    for i in range(n_nodes):
        errors, lags = [], []
        for k, r in enumerate(rows):
            if times[k] > load_end:
                continue
            view = r["nodes"][i]["fleet"]
            errors.append(truth[k] - view)
            # The earliest sample time at which the truth had reached what the node sees now.
            j = bisect.bisect_left(truth, view, 0, k + 1)
            if j > k:
                j = k
            lags.append(max(0.0, (times[k] - times[j]) * 1000.0))
        worst_lag = max(worst_lag, pct(lags, 99))
        print(f"| {i + 1} | {len(errors)} | {pct(errors, 50)} / {pct(errors, 99)} / {max(errors) if errors else 'n/a'} "
              f"| {pct(lags, 50):.0f} / {pct(lags, 99):.0f} / {max(lags) if lags else float('nan'):.0f} "
              f"| {pct(lags, 99) / sync_ms:.2f} |")
    print()
    # After the load stops: when did every node's view equal the final truth?
    final = truth[-1]
    settled = None
    for k, r in enumerate(rows):
        if times[k] > load_end and all(n["fleet"] == final for n in r["nodes"]):
            settled = times[k] - load_end
            break
    if settled is None:
        print(f"after the load stopped, the views did NOT all reach the final truth ({final})")
        return 1
    print(f"after the load stopped, every node's view equalled the final truth ({final} requests) "
          f"{settled * 1000:.0f} ms later (sampling every {1000 * (times[1] - times[0]):.0f} ms)")
    last = rows[-1]["nodes"][0]["targets"]
    print(f"fleet total tokens per target at the end (lowest-usage across the fleet): "
          + ", ".join(f"{k}: {v}" for k, v in sorted(last.items())))
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--admins")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--every", type=float, default=0.05)
    ap.add_argument("--out")
    ap.add_argument("--report")
    ap.add_argument("--sync-ms", type=float, default=200)
    ap.add_argument("--load-end", type=float, default=float("inf"))
    a = ap.parse_args()
    if a.report:
        with open(a.report) as f:
            return report(json.load(f), a.sync_ms, a.load_end)
    samples = sample(a.admins.split(","), a.seconds, a.every)
    with open(a.out, "w") as f:
        json.dump(samples, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
