#!/usr/bin/env python3
"""Table and plots of the long-input sweep from several bench_long.py sessions.

usage: python3 bench/long_plot.py [--json FILE[:methods] ...] [--log FILE[:methods] ...] [--plots docs]

A sweep over 1K-128K takes hours on two cores, so it may be run in pieces: --json takes the result
files bench_long.py writes at its end; --log takes the stderr of a run that was stopped early (its
per-run lines "[  N rep i/k] METHOD ttft T ms prefill P tok/s decode D tok/s rss R MB" are
parsed; a line commented out with '#' is skipped). A source may be limited to some methods with FILE:method,method (e.g. an older log whose
EdgeInfinite rows were re-measured later). For each (length, method) the runs of all sources are
pooled and the median is taken.
Prints the Markdown table and rewrites docs/long_ttft.svg and docs/long_rss.svg.
"""
import argparse
import json
import os
import re
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_long import svg_plot  # noqa: E402

LINE = re.compile(r"^\[\s*(\d+) rep \d+/\d+\] (\S+)\s+ttft\s+([\d.]+) ms\s+prefill\s+([\d.]+) tok/s\s+"
                  r"decode\s+([\d.]+) tok/s\s+rss\s+([\d.]+) MB")
KEYS = ["ttft_ms", "prefill_tok_s", "decode_tok_s", "peak_rss_mb"]
NAMES = {"llama.cpp": "llama.cpp full", "edgeinf": "edgeinf full", "edgeinf-inf": "edgeinf EdgeInfinite"}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--json", action="append", default=[])
    ap.add_argument("--log", action="append", default=[])
    ap.add_argument("--plots", default=os.path.join(os.path.dirname(HERE), "docs"))
    args = ap.parse_args()
    runs = {}  # (method, n) -> list of dicts

    def source(spec):  # "FILE" or "FILE:method,method"
        path, _, only = spec.partition(":")
        return path, (set(only.split(",")) if only else None)

    for spec in args.json:
        path, only = source(spec)
        for m, per in json.load(open(path))["runs"].items():
            if only is None or m in only:
                for n, rs in per.items():
                    runs.setdefault((m, int(n)), []).extend({k: r[k] for k in KEYS} for r in rs)
    for spec in args.log:
        path, only = source(spec)
        for line in open(path):
            g = LINE.search(line)
            if g and (only is None or g[2] in only):
                runs.setdefault((g[2], int(g[1])), []).append(dict(zip(KEYS, map(float, g.groups()[2:]))))
    methods = [m for m in NAMES if any(k[0] == m for k in runs)]
    lengths = sorted({n for _, n in runs})
    med = {m: {n: {k: statistics.median(r[k] for r in runs[(m, n)]) for k in KEYS} for n in lengths if (m, n) in runs}
           for m in methods}
    print("| tokens | method | runs | TTFT s | prefill tok/s | decode tok/s | peak RSS MB |")
    print("|---:|---|---:|---:|---:|---:|---:|")
    for n in lengths:
        for m in methods:
            if n in med[m]:
                d = med[m][n]
                print(f"| {n} | {NAMES[m]} | {len(runs[(m, n)])} | {d['ttft_ms'] / 1e3:.2f} | {d['prefill_tok_s']:.0f} | "
                      f"{d['decode_tok_s']:.1f} | {d['peak_rss_mb']:.1f} |")
    os.makedirs(args.plots, exist_ok=True)
    svg_plot(os.path.join(args.plots, "long_ttft.svg"), "Time to first token", "TTFT (s)",
             {NAMES[m]: {n: d["ttft_ms"] / 1e3 for n, d in med[m].items()} for m in methods}, lengths)
    svg_plot(os.path.join(args.plots, "long_rss.svg"), "Peak resident memory", "peak RSS (MB)",
             {NAMES[m]: {n: d["peak_rss_mb"] for n, d in med[m].items()} for m in methods}, lengths)


if __name__ == "__main__":
    main()
