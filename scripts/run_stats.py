#!/usr/bin/env python3
"""Figures of docs/RESULTS.md §4 that come from run files rather than from `edgeinf eval report`:
per run, prompt tokens / summed sample seconds (the tok/s column), the rate of the shortest prompt
(window not yet full), and for LongBench the average over the first sample of each task (the
subset that can be compared with a --limit 1 run). Prompt tokens taken from a saved state
(prefix_reused) are not counted as prefilled. --from N counts only the samples from the N-th (0-based)
of each file: the part a later session added, with another build or machine.

  python3 scripts/run_stats.py [RUN_DIR] [--from N]        (default docs/eval/runs)
"""
import glob
import json
import os
import sys

args = sys.argv[1:]
start = 0
if "--from" in args:
    i = args.index("--from")
    start = int(args[i + 1])
    del args[i:i + 2]
folder = args[0] if args else "docs/eval/runs"
for path in sorted(glob.glob(os.path.join(folder, "*-*.json"))):
    d = json.load(open(path, encoding="utf-8"))
    ss = [s for s in d["samples"][start:] if s.get("seconds") and s.get("prompt_tokens")]
    if not ss:
        continue
    tokens = sum(s["prompt_tokens"] - s.get("prefix_reused", 0) for s in ss)
    seconds = sum(s["seconds"] for s in ss)
    short = min(ss, key=lambda s: s["prompt_tokens"] - s.get("prefix_reused", 0))
    short_n = short["prompt_tokens"] - short.get("prefix_reused", 0)
    line = (f"{os.path.basename(path):28s} {len(ss):3d} samples  {seconds / 60:6.1f} min summed, wall {d['wall_s'] / 60:6.1f}  "
            f"{tokens:8d} prompt tokens prefilled  {tokens / seconds:6.1f} tok/s  "
            f"shortest {short_n} tokens at {short_n / short['seconds']:.0f} tok/s")
    if d["bench"] == "longbench":
        first = {}
        for s in d["samples"]:
            first.setdefault(s["task"], s["score"])
        line += f"  first-sample average {100 * sum(first.values()) / len(first):.1f} ({len(first)} tasks)"
    print(line)
