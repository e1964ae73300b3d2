#!/usr/bin/env python3
"""Turns loadtest/run.sh's raw outputs into a report.

Reads OUT/raw/ (oha --output-format json plus oha's --db-url SQLite of every successful
request, wrk's text output with the JSON that post.lua's done() prints, and run.sh's
*.proc.json process figures) and writes:

  OUT/report.md      one markdown table per scenario (mode x concurrency), rows tool x target
  OUT/*.hgrm         HdrHistogram outputPercentileDistribution-style text, one per run
  OUT/latency.svg    percentile curves (x: 1/(1-p), log scale), one panel per tool/scenario,
                     one line per target; drawn by hand, no plotting library needed

Only the standard library is used.
"""

import argparse
import glob
import html
import json
import math
import os
import re
import sqlite3
import statistics
import sys

TARGET_ORDER = ["direct", "llmux", "nginx", "secured"]
TOOL_ORDER = ["oha", "wrk"]
MODE_ORDER = ["json", "stream"]
MODE_LABEL = {"json": "non-streaming (JSON)", "stream": "streaming (SSE)"}
COLORS = {"direct": "#555555", "llmux": "#d62728", "nginx": "#1f77b4", "secured": "#2ca02c"}


# --------------------------------------------------------------------------------------------
# HdrHistogram-style percentile ticks and output
# --------------------------------------------------------------------------------------------
def hdr_ticks(total, ticks_per_half=5):
    """Percentile levels (0..100) as HdrHistogram's PercentileIterator visits them."""
    out, p = [], 0.0
    while True:
        out.append(p)
        half = math.floor(math.log2(100.0 / (100.0 - p)))
        p += 100.0 / (ticks_per_half * 2 ** (half + 1))
        if p >= 100.0 or 100.0 / (100.0 - p) > max(total, 1):
            break
    out.append(100.0)
    return out


def hdr_buckets(highest_us=60_000_000, sig_digits=3):
    """Bucket layout of a Java HdrHistogram(1, highest, sig_digits) counting microseconds."""
    largest_single_unit = 2 * 10**sig_digits
    sub_bucket_count = 2 ** math.ceil(math.log2(largest_single_unit))
    smallest_untrackable, buckets = sub_bucket_count, 1
    while smallest_untrackable <= highest_us:
        smallest_untrackable <<= 1
        buckets += 1
    return buckets, sub_bucket_count


def write_hgrm(path, rows, total, mean_ms, std_ms, max_ms):
    """rows: [(percentile 0..100, value_ms, total_count)]; Java's layout, values in ms."""
    buckets, sub = hdr_buckets()
    with open(path, "w") as f:
        f.write("%12s %14s %10s %14s\n\n" % ("Value", "Percentile", "TotalCount", "1/(1-Percentile)"))
        for p, v, n in rows:
            q = p / 100.0
            if q < 1.0:
                f.write("%12.3f %2.12f %10d %14.2f\n" % (v, q, n, 1.0 / (1.0 - q)))
            else:
                f.write("%12.3f %2.12f %10d\n" % (v, q, n))
        f.write("#[Mean    = %12.3f, StdDeviation   = %12.3f]\n" % (mean_ms, std_ms))
        f.write("#[Max     = %12.3f, Total count    = %12d]\n" % (max_ms, total))
        f.write("#[Buckets = %12d, SubBuckets     = %12d]\n" % (buckets, sub))


def pct_sorted(xs, p):
    """Value at percentile p (0..100) of sorted xs, HdrHistogram style (count-based, rounded up)."""
    if not xs:
        return float("nan")
    if p <= 0:
        return xs[0]
    k = math.ceil(p / 100.0 * len(xs)) - 1
    return xs[min(max(k, 0), len(xs) - 1)]


# --------------------------------------------------------------------------------------------
# Loading runs
# --------------------------------------------------------------------------------------------
def load_oha(raw, name):
    res = {"ok": False}
    try:
        with open(os.path.join(raw, name + ".json")) as f:
            j = json.load(f)
    except (OSError, ValueError) as e:
        res["problem"] = "no oha JSON (%s)" % e
        return res
    s = j["summary"]
    lp = j.get("latencyPercentiles", {})
    codes = {k: v for k, v in j.get("statusCodeDistribution", {}).items()}
    errs = j.get("errorDistribution", {}) or {}
    ok2xx = sum(v for k, v in codes.items() if k.startswith("2"))
    non2xx = sum(v for k, v in codes.items() if not k.startswith("2"))
    n_err = sum(errs.values())
    res.update(
        ok=True,
        rps=s.get("requestsPerSec") or 0.0,
        requests=ok2xx + non2xx + n_err,
        ok2xx=ok2xx,
        non2xx=non2xx,
        errors=n_err,
        error_detail=errs,
        status_codes=codes,
        p50=(lp.get("p50") or 0) * 1000,
        p90=(lp.get("p90") or 0) * 1000,
        p99=(lp.get("p99") or 0) * 1000,
        p999=(lp.get("p99.9") or 0) * 1000,
        max=(s.get("slowest") or 0) * 1000,
        mean=(s.get("average") or 0) * 1000,
        duration_s=s.get("total") or 0,
    )
    # Raw per-request durations (successful requests) for the percentile distribution.
    db = os.path.join(raw, name + ".sqlite")
    durs = []
    if os.path.exists(db):
        try:
            con = sqlite3.connect(db)
            durs = sorted(r[0] * 1000.0 for r in con.execute("SELECT duration FROM oha"))
            con.close()
        except sqlite3.Error as e:
            res["problem"] = "oha sqlite: %s" % e
    if durs:
        n = len(durs)
        rows = []
        import bisect

        for p in hdr_ticks(n):
            v = pct_sorted(durs, p) if p < 100 else durs[-1]
            rows.append((p, v, bisect.bisect_right(durs, v)))
        res["hgrm"] = dict(
            rows=rows,
            total=n,
            mean=statistics.fmean(durs),
            std=statistics.pstdev(durs) if n > 1 else 0.0,
            max=durs[-1],
        )
        # Exact percentiles from the raw data agree with oha's JSON; keep the JSON ones in
        # the table (they include failed requests too) and use the raw ones for the curves.
    return res


def load_wrk(raw, name):
    res = {"ok": False}
    try:
        with open(os.path.join(raw, name + ".txt")) as f:
            txt = f.read()
    except OSError as e:
        res["problem"] = "no wrk output (%s)" % e
        return res
    if "--- wrk-json ---" not in txt:
        res["problem"] = "wrk printed no JSON: " + txt.strip()[-300:]
        return res
    j = json.loads(txt.split("--- wrk-json ---", 1)[1].strip().splitlines()[0])
    e = j["errors"]
    lat = j["latency_us"]
    dur = j["duration_us"] / 1e6 if j["duration_us"] else 1.0
    sock_err = e["connect"] + e["read"] + e["write"] + e["timeout"]
    res.update(
        ok=True,
        rps=j["requests"] / dur,
        requests=j["requests"],
        non2xx=e["status"],
        ok2xx=j["requests"] - e["status"],
        errors=sock_err,
        error_detail={k: v for k, v in e.items() if v and k != "status"},
        p50=lat["p50"] / 1000.0,
        p90=lat["p90"] / 1000.0,
        p99=lat["p99"] / 1000.0,
        p999=lat["p99.9"] / 1000.0,
        max=lat["max"] / 1000.0,
        mean=lat["mean"] / 1000.0,
        duration_s=dur,
    )
    n = j["requests"]
    rows = []
    for p, v in j["percentiles_us"]:
        rows.append((p, v / 1000.0, min(n, max(1, int(round(p / 100.0 * n))))))
    if rows:
        res["hgrm"] = dict(rows=rows, total=n, mean=lat["mean"] / 1000.0, std=lat["stdev"] / 1000.0, max=lat["max"] / 1000.0)
    return res


def load_runs(out):
    raw = os.path.join(out, "raw")
    runs = []
    for pj in sorted(glob.glob(os.path.join(raw, "*.proc.json"))):
        name = os.path.basename(pj)[: -len(".proc.json")]
        with open(pj) as f:
            proc = json.load(f)
        loader = load_oha if proc["tool"] == "oha" else load_wrk
        r = loader(raw, name)
        r.update(name=name, tool=proc["tool"], target=proc["target"], mode=proc["mode"], conc=proc["concurrency"], proc=proc)
        err_file = os.path.join(raw, name + ".err")
        if os.path.exists(err_file):
            with open(err_file) as f:
                r["stderr"] = f.read().strip()
        runs.append(r)
    return runs


# --------------------------------------------------------------------------------------------
# Markdown
# --------------------------------------------------------------------------------------------
def fms(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "%.3f" % x if x < 10 else ("%.2f" % x if x < 100 else "%.1f" % x)


def fdelta(x):
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return "%+.3f" % x if abs(x) < 10 else "%+.1f" % x


def sort_key(r):
    return (
        MODE_ORDER.index(r["mode"]) if r["mode"] in MODE_ORDER else 9,
        r["conc"],
        TOOL_ORDER.index(r["tool"]) if r["tool"] in TOOL_ORDER else 9,
        TARGET_ORDER.index(r["target"]) if r["target"] in TARGET_ORDER else 9,
    )


def find(runs, tool, target, mode, conc):
    for r in runs:
        if (r["tool"], r["target"], r["mode"], r["conc"]) == (tool, target, mode, conc) and r.get("ok"):
            return r
    return None


def foreign_cpu(r):
    """CPU seconds that processes outside the test took on the gateway's and on the load
    generator's CPU during the load window: (gateway CPU, load CPU), or None."""
    p = r["proc"]
    w = p.get("window_s")
    if not w or "gw_cpu_busy" not in p:
        return None
    gw = p["gw_cpu_busy"] * w - (p.get("cpu_s", 0) if r["target"] != "direct" else 0)
    ld = p["load_cpu_busy"] * w - p.get("mock_cpu_s", 0) - p.get("loadgen_cpu_s", 0)
    return max(0.0, gw), max(0.0, ld)


def scenario_tables(runs):
    lines = []
    scenarios = sorted({(r["mode"], r["conc"]) for r in runs}, key=lambda s: (MODE_ORDER.index(s[0]) if s[0] in MODE_ORDER else 9, s[1]))
    for mode, conc in scenarios:
        lines.append("### %s, %d connections\n" % (MODE_LABEL.get(mode, mode), conc))
        lines.append(
            "| tool | target | req/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms | errors | non-2xx "
            "| Δp50 vs direct | Δp99 vs direct | req/s vs direct | proxy peak RSS MiB | proxy CPU s | CPU µs/req | gateway CPU busy | load CPU busy | load gen CPU s | other work CPU s (gw/load) |"
        )
        lines.append("|" + "---|" * 20)
        for r in sorted([r for r in runs if r["mode"] == mode and r["conc"] == conc], key=sort_key):
            if not r.get("ok"):
                lines.append("| %s | %s | failed: %s |%s" % (r["tool"], r["target"], r.get("problem", "?"), " |" * 15))
                continue
            d = find(runs, r["tool"], "direct", mode, conc)
            p = r["proc"]
            is_proxy = r["target"] != "direct"
            dp50 = r["p50"] - d["p50"] if d and is_proxy else None
            dp99 = r["p99"] - d["p99"] if d and is_proxy else None
            rel = "%.0f%%" % (100.0 * r["rps"] / d["rps"]) if d and is_proxy and d["rps"] else "-"
            n = max(r["requests"], 1)
            cpu_us = 1e6 * p["cpu_s"] / n
            lines.append(
                "| %s | %s | %.0f | %s | %s | %s | %s | %s | %d | %d | %s | %s | %s | %s | %s | %s | %.0f%% | %.0f%% | %s | %s |"
                % (
                    r["tool"],
                    r["target"] + ("" if is_proxy else " (mock)"),
                    r["rps"],
                    fms(r["p50"]),
                    fms(r["p90"]),
                    fms(r["p99"]),
                    fms(r["p999"]),
                    fms(r["max"]),
                    r["errors"],
                    r["non2xx"],
                    fdelta(dp50),
                    fdelta(dp99),
                    rel,
                    "%.1f" % (p["rss_peak_kb"] / 1024.0) if is_proxy else "(mock %.1f)" % (p["rss_peak_kb"] / 1024.0),
                    "%.2f" % p["cpu_s"] if is_proxy else "-",
                    "%.1f" % cpu_us if is_proxy else "-",
                    100 * p.get("gw_cpu_busy", 0),
                    100 * p.get("load_cpu_busy", 0),
                    "%.2f" % p["loadgen_cpu_s"] if "loadgen_cpu_s" in p else "-",
                    ("%.2f / %.2f" % foreign_cpu(r)) if foreign_cpu(r) is not None else "-",
                )
            )
        lines.append("")
    return lines


def summary_table(runs):
    lines = [
        "| mode | conns | tool | llmux req/s | direct req/s | nginx req/s | llmux Δp50 vs direct | nginx Δp50 vs direct "
        "| llmux Δp99 vs direct | nginx Δp99 vs direct | llmux − nginx p50 | llmux − nginx p99 | llmux req/s ÷ nginx |",
        "|" + "---|" * 13,
    ]
    keys = sorted({(r["mode"], r["conc"], r["tool"]) for r in runs}, key=lambda k: (MODE_ORDER.index(k[0]) if k[0] in MODE_ORDER else 9, k[1], TOOL_ORDER.index(k[2]) if k[2] in TOOL_ORDER else 9))
    for mode, conc, tool in keys:
        d, l, n = (find(runs, tool, t, mode, conc) for t in ("direct", "llmux", "nginx"))
        if not l:
            continue

        def rps(x):
            return "%.0f" % x["rps"] if x else "-"

        def dd(a, b, k):
            return fdelta(a[k] - b[k]) if a and b else "-"

        lines.append(
            "| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |"
            % (
                mode,
                conc,
                tool,
                rps(l),
                rps(d),
                rps(n),
                dd(l, d, "p50"),
                dd(n, d, "p50"),
                dd(l, d, "p99"),
                dd(n, d, "p99"),
                dd(l, n, "p50"),
                dd(l, n, "p99"),
                "%.2f" % (l["rps"] / n["rps"]) if l and n and n["rps"] else "-",
            )
        )
    return lines


def secured_table(runs):
    """llmux with key-auth, acl and both rate limits (`secured`) against the same llmux without
    them (`llmux`), run by run: the cost of access control at saturation."""
    lines = [
        "| mode | conns | tool | llmux req/s | secured req/s | secured ÷ llmux | llmux p50 ms | secured p50 ms | llmux p99 ms | secured p99 ms |",
        "|" + "---|" * 10,
    ]
    keys = sorted({(r["mode"], r["conc"], r["tool"]) for r in runs if r["target"] == "secured"})
    for mode, conc, tool in keys:
        l, s = find(runs, tool, "llmux", mode, conc), find(runs, tool, "secured", mode, conc)
        if not (l and s):
            continue
        lines.append(
            "| %s | %d | %s | %.0f | %.0f | %.3f | %.3f | %.3f | %.3f | %.3f |"
            % (mode, conc, tool, l["rps"], s["rps"], s["rps"] / l["rps"] if l["rps"] else 0,
               l["p50"], s["p50"], l["p99"], s["p99"])
        )
    return lines if len(lines) > 2 else []


def anomalies(out, runs):
    lines = []
    for r in sorted(runs, key=sort_key):
        if not r.get("ok"):
            lines.append("- `%s`: run failed: %s" % (r["name"], r.get("problem", "?")))
            continue
        bad = []
        if r["errors"]:
            bad.append("%d errors %s" % (r["errors"], json.dumps(r.get("error_detail", {}))))
        if r["non2xx"]:
            codes = r.get("status_codes")
            bad.append("%d non-2xx%s" % (r["non2xx"], (" " + json.dumps(codes)) if codes else ""))
        if r["proc"].get("exit_code"):
            bad.append("load generator exit code %d" % r["proc"]["exit_code"])
        if bad:
            lines.append("- `%s`: %s" % (r["name"], "; ".join(bad)))
    log = os.path.join(out, "logs", "llmux.log")
    if os.path.exists(log):
        with open(log, errors="replace") as f:
            ll = f.read().splitlines()
        noisy = [x for x in ll if re.search(r"\b(WARN|ERROR|warn|error|panick)", x)]
        if noisy:
            lines.append("- llmux log: %d warning/error lines; first ones:" % len(noisy))
            for x in noisy[:8]:
                lines.append("  - `%s`" % x.strip()[:300])
    aff = os.path.join(out, "logs", "llmux-affinity.txt")
    if os.path.exists(aff):
        with open(aff) as f:
            before = f.readline().strip()
        cpus = set(re.findall(r":(\S+)", before))
        lines.append("- llmux thread CPU affinity right after start under `taskset` (tid:cpus): `%s`; run.sh re-pins every thread with `taskset -a -p` before measuring." % before.replace("before: ", ""))
        del cpus
    sp = os.path.join(out, "streams.json")
    if os.path.exists(sp):
        with open(sp) as f:
            for n in streams_notes(json.load(f)):
                lines.append("- streams.sh: " + n.replace("**Failures:** ", "").strip())
    an = os.path.join(out, "logs", "anomalies.txt")
    if os.path.exists(an):
        with open(an) as f:
            for x in f.read().splitlines():
                lines.append("- " + x)
    return lines or ["- none seen"]


# --------------------------------------------------------------------------------------------
# SVG
# --------------------------------------------------------------------------------------------
def svg_plot(runs, path):
    panels = sorted({(r["mode"], r["conc"], r["tool"]) for r in runs if r.get("hgrm")}, key=lambda k: (MODE_ORDER.index(k[0]) if k[0] in MODE_ORDER else 9, k[1], TOOL_ORDER.index(k[2]) if k[2] in TOOL_ORDER else 9))
    if not panels:
        return False
    ncols = 2
    nrows = math.ceil(len(panels) / ncols)
    pw, ph = 520, 300
    ml, mr, mt, mb = 62, 40, 34, 46
    W, H = ncols * pw, nrows * ph + 40
    o = [
        '<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="Helvetica,Arial,sans-serif" font-size="11">' % (W, H, W, H),
        '<rect width="100%" height="100%" fill="white"/>',
        '<text x="%d" y="22" font-size="15" text-anchor="middle" font-weight="bold">llmux load test: latency by percentile (x: 1/(1-p), log; y: ms, log)</text>' % (W // 2),
    ]
    for i, (mode, conc, tool) in enumerate(panels):
        ox, oy = (i % ncols) * pw, 40 + (i // ncols) * ph
        x0, y0, x1, y1 = ox + ml, oy + mt, ox + pw - mr, oy + ph - mb
        lines = []
        for t in TARGET_ORDER:
            r = find(runs, tool, t, mode, conc)
            if r and r.get("hgrm"):
                pts = [(1.0 / (1.0 - p / 100.0), v) for p, v, _ in r["hgrm"]["rows"] if p < 100.0 and v > 0]
                if pts:
                    lines.append((t, pts))
        if not lines:
            continue
        xmax = max(max(x for x, _ in pts) for _, pts in lines)
        xdec = max(1, math.ceil(math.log10(xmax)))
        vals = [v for _, pts in lines for _, v in pts]
        ylo = 10 ** math.floor(math.log10(min(vals)))
        yhi = 10 ** math.ceil(math.log10(max(vals)))
        if yhi <= ylo:
            yhi = ylo * 10

        def X(x):
            return x0 + (x1 - x0) * math.log10(x) / xdec

        def Y(y):
            return y1 - (y1 - y0) * (math.log10(y) - math.log10(ylo)) / (math.log10(yhi) - math.log10(ylo))

        o.append('<text x="%d" y="%d" font-size="13" text-anchor="middle" font-weight="bold">%s</text>' % ((x0 + x1) // 2, oy + 20, html.escape("%s · %s · %d conns" % (tool, MODE_LABEL.get(mode, mode), conc))))
        o.append('<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#999"/>' % (x0, y0, x1 - x0, y1 - y0))
        labels = ["0%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%", "99.99999%"]
        for d in range(0, xdec + 1):
            gx = X(10**d)
            o.append('<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>' % (gx, y0, gx, y1))
            anchor = "start" if d == 0 else "middle"
            o.append('<text x="%.1f" y="%d" text-anchor="%s">%s</text>' % (gx, y1 + 14, anchor, labels[d] if d < len(labels) else "1e%d" % d))
        o.append('<text x="%d" y="%d" text-anchor="middle" fill="#444">percentile</text>' % ((x0 + x1) // 2, y1 + 32))
        e = math.floor(math.log10(ylo))
        while 10**e <= yhi * 1.0001:
            for m in (1, 2, 5):
                v = m * 10**e
                if ylo <= v <= yhi:
                    gy = Y(v)
                    o.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="%s"/>' % (x0, gy, x1, gy, "#ccc" if m == 1 else "#eee"))
                    o.append('<text x="%d" y="%.1f" text-anchor="end">%s</text>' % (x0 - 4, gy + 4, ("%g" % v)))
            e += 1
        o.append('<text transform="translate(%d,%d) rotate(-90)" text-anchor="middle" fill="#444">latency (ms)</text>' % (ox + 14, (y0 + y1) // 2))
        for j, (t, pts) in enumerate(lines):
            d = " ".join("%s%.1f,%.1f" % ("M" if k == 0 else "L", X(x), Y(y)) for k, (x, y) in enumerate(pts))
            o.append('<path d="%s" fill="none" stroke="%s" stroke-width="1.8"/>' % (d, COLORS.get(t, "#2ca02c")))
            # Legend in the lower right corner, where percentile curves seldom go.
            ly = y1 - 10 - 14 * (len(lines) - 1 - j)
            lx = x1 - 110
            o.append('<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>' % (lx, ly - 4, lx + 18, ly - 4, COLORS.get(t, "#2ca02c")))
            o.append('<text x="%d" y="%d">%s</text>' % (lx + 22, ly, html.escape(t if t != "direct" else "direct (mock)")))
    o.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(o) + "\n")
    return True


# --------------------------------------------------------------------------------------------
def streams_section(out):
    p = os.path.join(out, "streams.json")
    if not os.path.exists(p):
        return []
    with open(p) as f:
        s = json.load(f)
    lines = ["## %d concurrent streams through llmux\n" % s.get("streams", 0), "| what | value |", "|---|---|"]
    for k, v in s.items():
        if isinstance(v, (dict, list)):
            v = json.dumps(v)
        lines.append("| %s | %s |" % (k, v))
    lines.append("")
    lines += streams_notes(s)
    return lines


def streams_notes(s):
    """Plain-language reading of streams.json's failures."""
    notes = []
    if not s.get("errors"):
        return notes
    try:
        limit = int(s.get("llmux_nofile_limit", 0))
    except ValueError:
        limit = 0
    fds = s.get("llmux_peak_open_fds", 0)
    kinds = s.get("error_kinds", {})
    msg = "%d of %d streams failed (%s)." % (s["errors"], s.get("streams", 0), json.dumps(kinds))
    if limit and fds >= limit - 64:
        msg += (
            " llmux's open descriptors peaked at %d against a limit of %d: it holds two sockets per stream "
            "(client and upstream), so the streams it accepted beyond the limit could not open their upstream "
            "socket and were answered 502 (`connect ...: Too many open files (os error 24)`)." % (fds, limit)
        )
    notes.append("**Failures:** " + msg + "\n")
    return notes


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "out"))
    args = ap.parse_args()
    out = args.out
    runs = load_runs(out)
    if not runs:
        print("no runs in %s/raw" % out, file=sys.stderr)
    meta = {}
    mp = os.path.join(out, "raw", "meta.json")
    if os.path.exists(mp):
        with open(mp) as f:
            meta = json.load(f)

    for r in runs:
        h = r.get("hgrm")
        if h:
            write_hgrm(os.path.join(out, r["name"] + ".hgrm"), h["rows"], h["total"], h["mean"], h["std"], h["max"])
    have_svg = svg_plot(runs, os.path.join(out, "latency.svg"))

    md = ["# llmux load test report\n"]
    if meta:
        c = meta.get("cpus", {})
        md.append(
            "Run %s on %s (%s CPUs online, kernel %s), llmux %s at commit %s, io driver `%s`; %s s per run%s; "
            "load generators: %s, %s; nginx: %s.\n"
            % (
                meta.get("date"),
                meta.get("cpu_model"),
                c.get("online"),
                meta.get("kernel"),
                meta.get("llmux_version"),
                meta.get("llmux_commit"),
                meta.get("io_driver"),
                meta.get("duration_s"),
                " (QUICK)" if meta.get("quick") else "",
                meta.get("oha") or "oha missing",
                meta.get("wrk") or "wrk missing",
                meta.get("nginx") or "missing",
            )
        )
        md.append(
            "CPU pinning: mock provider on CPU %s; llmux (1 worker) and nginx (1 worker) on CPU %s; load generator "
            "(oha with 1 tokio thread, wrk -t1) on CPU %s. Mock streams %s events %s ms apart (plus a usage event). "
            "Latencies are whole-response times (last byte), closed loop. All of the test's processes ran at nice %s.\n"
            % (c.get("mock"), c.get("gateway"), c.get("load"), meta.get("completion_tokens"), meta.get("stream_interval_ms"), meta.get("nice", 0))
        )
    md.append("## llmux vs direct and vs nginx (Δ in ms; negative = faster)\n")
    md += summary_table(runs)
    md.append("")
    secured = secured_table(runs)
    if secured:
        md.append("## With and without access control (key-auth, acl, rate-limiting, ai-rate-limiting-advanced)\n")
        md += secured
        md.append("")
    md.append("## Scenarios\n")
    md.append(
        "Δ columns are this row minus the `direct` row of the same tool; *proxy peak RSS* is VmRSS sampled every 100 ms "
        "(nginx: master + worker; for `direct` the mock's), *proxy CPU s* the utime+stime delta over the run, "
        "*gateway/load CPU busy* the share of the gateway's and the load generator's CPU that was busy (from /proc/stat), "
        "*load gen CPU s* oha's or wrk's own CPU time, *other work CPU s* the CPU time that processes outside the test took "
        "on the gateway's / the load generator's CPU during the run (other work on the machine: noise; on the gateway CPU "
        "of a `direct` run it is harmless, that CPU is not used then).\n"
    )
    md += scenario_tables(runs)
    md += streams_section(out)
    md.append("## Errors and anomalies\n")
    md += anomalies(out, runs)
    md.append("")
    md.append("## Files\n")
    md.append("- `*.hgrm`: percentile distributions (HdrHistogram outputPercentileDistribution layout, ms); oha's from every successful request (its --db-url), wrk's from its µs-resolution histogram via `latency:percentile()` at the same ticks.")
    if have_svg:
        md.append("- `latency.svg`: the percentile curves, one panel per tool and scenario, one line per target.")
    md.append("- `raw/`: the load generators' own outputs and the process figures; `logs/`: process logs and generated configs.")
    with open(os.path.join(out, "report.md"), "w") as f:
        f.write("\n".join(md) + "\n")
    print(os.path.join(out, "report.md"))


if __name__ == "__main__":
    main()
