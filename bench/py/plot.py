"""Plots for bench/results: `plot.py KIND CSV PNG TITLE`.

percentiles: CSV `series,percentile,value_ns` (HdrHistogram percentile
distribution); x axis is the percentile on the usual 1/(1-p) log scale, so
p50 … p99.999 are evenly spaced and the tail is visible; y axis µs, log.
bars: CSV `series,label,value` drawn as grouped horizontal bars (ns/tick).
"""

import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def percentiles(rows, png, title):
    series = defaultdict(list)
    for r in rows:
        p = float(r["percentile"])
        series[r["series"]].append((p, float(r["value_ns"]) / 1000.0))
    fig, ax = plt.subplots(figsize=(9, 5))
    for name, pts in series.items():
        xs = [1.0 / max(1e-7, 1.0 - p / 100.0) for p, _ in pts]
        ys = [max(v, 1e-3) for _, v in pts]
        ax.step(xs, ys, where="post", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ticks = [2, 10, 100, 1000, 10000, 100000, 1000000]
    labels = ["50%", "90%", "99%", "99.9%", "99.99%", "99.999%", "99.9999%"]
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.set_xlabel("percentile")
    ax.set_ylabel("latency (µs)")
    ax.set_title(title)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def bars(rows, png, title):
    labels = []
    series = defaultdict(dict)
    for r in rows:
        if r["label"] not in labels:
            labels.append(r["label"])
        series[r["series"]][r["label"]] = float(r["value"])
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.5 * len(labels) * len(series)))
    h = 0.8 / max(1, len(series))
    for k, (name, vals) in enumerate(series.items()):
        ys = [i + k * h for i in range(len(labels))]
        xs = [vals.get(label, 0.0) for label in labels]
        ax.barh(ys, xs, height=h, label=name)
        for y, x in zip(ys, xs):
            ax.text(x, y, f" {x:.1f}", va="center", fontsize=8)
    ax.set_yticks([i + h * (len(series) - 1) / 2 for i in range(len(labels))])
    ax.set_yticklabels(labels)
    ax.set_xscale("log")
    ax.set_xlabel("ns per tick, 6 timeframes (log; lower is faster)")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png, dpi=110)


def main():
    if len(sys.argv) != 5:
        sys.exit("usage: plot.py percentiles|bars CSV PNG TITLE")
    kind, src, png, title = sys.argv[1:]
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    {"percentiles": percentiles, "bars": bars}[kind](rows, png, title)


if __name__ == "__main__":
    main()
