#!/usr/bin/env python3
"""LongBench score x 100 per task over the first N samples of each task, one column per run.

The RESULTS tables over "the first N samples of each task" were printed by `edgeinf eval report`
(its "samples every run has" table) while the runs held only that many; once every run is complete
the report no longer prints them, and this prints them again from the same run files:

  python3 scripts/lb_first.py docs/eval/runs 6

A sample's `id` is its index within its task (the harness runs each task's samples in order), so
`id < N` is what a `--limit N` run has. The per-sample scores are the harness's (C metrics); this
only averages them: per task the mean, and the average over the tasks.
"""
import json
import os
import sys

ORDER = ["full", "streaming", "h2o", "snapkv", "closed", "const0.3", "const0.5"]


def main(argv):
    if len(argv) != 2 or not argv[1].isdigit() or int(argv[1]) < 1:
        sys.exit("usage: lb_first.py RUN_DIR N   (N >= 1: samples per task)")
    src, n = argv[0], int(argv[1])
    runs = {}
    for name in sorted(os.listdir(src)):
        if name.startswith("longbench-") and name.endswith(".json"):
            with open(os.path.join(src, name), encoding="utf-8") as f:
                runs[name[len("longbench-"):-len(".json")]] = json.load(f)["samples"]
    if not runs:
        sys.exit(f"lb_first: {src}: no longbench-*.json run files")
    methods = sorted(runs, key=lambda m: (ORDER.index(m) if m in ORDER else len(ORDER), m))
    per = {m: {} for m in methods}
    tasks = []
    for m in methods:
        for s in runs[m]:
            if isinstance(s.get("id"), int) and s["id"] < n and isinstance(s.get("score"), (int, float)):
                per[m].setdefault(s["task"], []).append(s["score"])
                if s["task"] not in tasks:
                    tasks.append(s["task"])
    counts = {t: {len(per[m].get(t, [])) for m in methods} for t in tasks}
    uneven = [t for t in tasks if len(counts[t]) != 1]
    if uneven:
        sys.exit(f"lb_first: runs differ in their first {n} samples of {', '.join(uneven)}")
    print("| task | samples | " + " | ".join(methods) + " |")
    print("|---|---:|" + "---:|" * len(methods))
    for t in tasks:
        print(f"| {t} | {len(per[methods[0]][t])} | "
              + " | ".join(f"{100 * sum(per[m][t]) / len(per[m][t]):.1f}" for m in methods) + " |")
    avg = [sum(100 * sum(per[m][t]) / len(per[m][t]) for t in tasks) / len(tasks) for m in methods]
    print(f"| **Average** | {sum(len(per[methods[0]][t]) for t in tasks)} | "
          + " | ".join(f"**{a:.1f}**" for a in avg) + " |")


if __name__ == "__main__":
    main(sys.argv[1:])
