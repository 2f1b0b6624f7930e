#!/usr/bin/env python3
"""Figures of docs/RESULTS.md §4 that come from run files rather than from `edgeinf eval report`:
per run, prompt tokens / summed sample seconds (the tok/s column), the rate of the shortest prompt
(window not yet full), and for LongBench the average over the first sample of each task (the
subset that can be compared with a --limit 1 run). Prompt tokens taken from a saved state
(prefix_reused) are not counted as prefilled. --from N counts only the samples from the N-th (0-based)
of each file: the part a later session added, with another build or machine; --first N only the
first N samples (the queries every QMSum run has). For QMSum: answers cut
at the generation limit, answers that start by copying the transcript's first line, the mean
ROUGE-1/2/L F × 100 (as `scores` computes it), ROUGE-L per query type, and the prompt tokens
(all, and reused from a saved state) and generated tokens.
--length L counts only passkey/needle cells of L tokens (the time of one row of the grid). --same A B
compares two methods' runs of every benchmark on their common samples: samples with the same score,
and with the same answer text. --against DIR compares each run file of DIR with the run file of the
same name in RUN_DIR on their common samples: the same prompt token count and the same answer text
(a rerun with another build or machine must give the same predictions); exit status 1 if any differ.
--cells lists every passkey/needle cell (with --length, of that length): its key, seconds and the
prompt tokens taken from a saved state (prefix_reused), the per-cell costs RESULTS quotes.
--needles A,B,... counts, over those methods' needle runs (with --upto L, cells of at most L tokens),
how often each needle was asked and found: how hard each needle is, and what a draw asked.

  python3 scripts/run_stats.py [RUN_DIR] [--from N] [--first N]   (default docs/eval/runs)
  python3 scripts/run_stats.py [RUN_DIR] --same streaming closed [--length 32768]
  python3 scripts/run_stats.py [RUN_DIR] --against /tmp/chk
  python3 scripts/run_stats.py [RUN_DIR] --cells --length 65536
  python3 scripts/run_stats.py [RUN_DIR] --needles full,streaming,h2o,closed --upto 8192
"""
import glob
import json
import os
import sys

args = sys.argv[1:]
start = 0
end = None
if "--from" in args:
    i = args.index("--from")
    start = int(args[i + 1])
    del args[i:i + 2]
if "--first" in args:
    i = args.index("--first")
    end = int(args[i + 1])
    del args[i:i + 2]
same = length = None
if "--same" in args:
    i = args.index("--same")
    same = args[i + 1:i + 3]
    del args[i:i + 3]
if "--length" in args:
    i = args.index("--length")
    length = int(args[i + 1])
    del args[i:i + 2]
cells = "--cells" in args
if cells:
    args.remove("--cells")
against = None
if "--against" in args:
    i = args.index("--against")
    against = args[i + 1]
    del args[i:i + 2]
needles = None
upto = None
if "--needles" in args:
    i = args.index("--needles")
    needles = args[i + 1].split(",")
    del args[i:i + 2]
if "--upto" in args:
    i = args.index("--upto")
    upto = int(args[i + 1])
    del args[i:i + 2]
folder = args[0] if args else "docs/eval/runs"

if needles:
    asked, found = {}, {}
    for m in needles:
        for s in json.load(open(os.path.join(folder, f"needle-{m}.json"), encoding="utf-8"))["samples"]:
            if upto is None or s["length"] <= upto:
                asked[s["answer"]] = asked.get(s["answer"], 0) + 1
                found[s["answer"]] = found.get(s["answer"], 0) + s["correct"]
    for ans in sorted(asked, key=lambda a: (-found[a] / asked[a], a)):
        print(f"{ans:14s} found {found[ans]:4d} of {asked[ans]:4d} asked ({100 * found[ans] / asked[ans]:.0f} %)")
    sys.exit(0)

if against:
    any_differ = False
    for path in sorted(glob.glob(os.path.join(against, "*-*.json"))):
        mine = os.path.join(folder, os.path.basename(path))
        if not os.path.exists(mine):
            print(f"{os.path.basename(path)}: no run file of that name in {folder}")
            continue
        a, b = ({s["key"]: s for s in json.load(open(p, encoding="utf-8"))["samples"]} for p in (mine, path))
        keys = [k for k in b if k in a]
        differ = [k for k in keys if (a[k].get("prompt_tokens"), a[k].get("prediction"))
                  != (b[k].get("prompt_tokens"), b[k].get("prediction"))]
        print(f"{os.path.basename(path)}: {len(keys)} common samples, {len(keys) - len(differ)} with the same "
              f"prompt tokens and answer text" + (f"; differ: {', '.join(differ)}" if differ else ""))
        any_differ = any_differ or bool(differ)
    sys.exit(1 if any_differ else 0)

if cells:
    for path in sorted(glob.glob(os.path.join(folder, "*-*.json"))):
        d = json.load(open(path, encoding="utf-8"))
        row = [f"{s['key']} {s['seconds']:.0f} s / {s.get('prefix_reused', 0)}" for s in d["samples"]
               if d["bench"] in ("passkey", "needle") and (length is None or s["length"] == length)]
        if row:
            print(os.path.basename(path) + ": " + "  ".join(row))
    sys.exit(0)

if same:
    for bench in ("longbench", "passkey", "needle", "qmsum"):
        paths = [os.path.join(folder, f"{bench}-{m}.json") for m in same]
        if not all(os.path.exists(p) for p in paths):
            continue
        a, b = ({s["key"]: s for s in json.load(open(p, encoding="utf-8"))["samples"]
                 if length is None or s.get("length", length) == length} for p in paths)
        keys = [k for k in a if k in b]
        score = "rougeL" if bench == "qmsum" else "correct" if bench in ("passkey", "needle") else "score"
        print(f"{bench}: {same[0]} and {same[1]} on {len(keys)} common samples: same score on "
              f"{sum(a[k][score] == b[k][score] for k in keys)}, same answer text on "
              f"{sum(a[k]['prediction'] == b[k]['prediction'] for k in keys)}")
    sys.exit(0)
for path in sorted(glob.glob(os.path.join(folder, "*-*.json"))):
    d = json.load(open(path, encoding="utf-8"))
    ss = [s for s in d["samples"][start:end] if s.get("seconds") and s.get("prompt_tokens")
          and (length is None or s.get("length", length) == length)]
    if not ss:
        continue
    tokens = sum(s["prompt_tokens"] - s.get("prefix_reused", 0) for s in ss)
    seconds = sum(s["seconds"] for s in ss)
    short = min(ss, key=lambda s: s["prompt_tokens"] - s.get("prefix_reused", 0))
    short_n = short["prompt_tokens"] - short.get("prefix_reused", 0)
    line = (f"{os.path.basename(path):28s} {len(ss):3d} samples  {seconds / 60:6.1f} min summed, wall {d['wall_s'] / 60:6.1f}  "
            f"{tokens:8d} prompt tokens prefilled  {tokens / seconds:6.1f} tok/s  "
            f"shortest {short_n} tokens at {short_n / short['seconds']:.0f} tok/s")
    if d["bench"] == "qmsum":
        limit = (d.get("options") or {}).get("max_new") or d["profile"]["max_new_tokens"]
        cut = sum(s["generated_tokens"] >= limit for s in ss)
        copies = sum(s["prediction"].lstrip().startswith("Grad E: I guess") for s in ss)
        line += f"  cut at {limit} tokens: {cut}  starting with the transcript's first line: {copies}"
        mean = lambda group, k: 100 * sum(s[k] for s in group) / len(group)
        line += "  ROUGE-1/2/L " + " / ".join(f"{mean(ss, k):.2f}" for k in ("rouge1", "rouge2", "rougeL"))
        for kind in sorted({s["type"] for s in ss}):
            group = [s for s in ss if s["type"] == kind]
            line += f"  {kind} ({len(group)}) ROUGE-L {mean(group, 'rougeL'):.1f}"
        line += (f"  prompt tokens {sum(s['prompt_tokens'] for s in ss)}, reused "
                 f"{sum(s.get('prefix_reused', 0) for s in ss)}; generated {sum(s['generated_tokens'] for s in ss)}")
    if d["bench"] == "longbench":
        first = {}
        for s in d["samples"]:
            first.setdefault(s["task"], s["score"])
        line += f"  first-sample average {100 * sum(first.values()) / len(first):.1f} ({len(first)} tasks)"
    print(line)
