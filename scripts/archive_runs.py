#!/usr/bin/env python3
"""Keeps evaluation run files in the repository so that runs can grow across machines and sessions.

The run files under bench/out/eval (git-ignored) hold, next to every prediction and score, the
dataset's own text (LongBench gold answers and class lists, QMSum queries and reference answers),
which must not go into the repository. `save` copies each run file into docs/eval/runs without those
fields; `restore` copies archived run files back where none exists yet, and `edgeinf eval` then
resumes them: samples already scored are kept (their scores and predictions), only the missing ones
run. A score can still be audited: the sample key names the dataset row.

  python3 scripts/archive_runs.py save    [--runs bench/out/eval] [--archive docs/eval/runs]
  python3 scripts/archive_runs.py restore [--runs bench/out/eval] [--archive docs/eval/runs]
"""
import argparse
import json
import os
import sys

# sample fields that are copies of the dataset (per benchmark)
DATASET_FIELDS = {"longbench": ("answers", "all_classes"), "qmsum": ("query", "answer")}


def load(path):
    with open(path, encoding="utf-8") as f:
        d = json.load(f)
    if not isinstance(d, dict) or d.get("tool") != "edgeinf eval" or not isinstance(d.get("samples"), list):
        raise ValueError(f"{path}: not an edgeinf eval run file")
    return d


def write_atomic(path, d):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(d, f, ensure_ascii=False, indent=1)
        f.write("\n")
    os.replace(tmp, path)


def run_files(folder):
    if not os.path.isdir(folder):
        return []
    return sorted(n for n in os.listdir(folder) if n.endswith(".json") and "-" in n)


def save(runs, archive):
    os.makedirs(archive, exist_ok=True)
    saved = 0
    for name in run_files(runs):
        d = load(os.path.join(runs, name))
        out = os.path.join(archive, name)
        if os.path.exists(out):
            # never lose archived samples: the local file must already hold all of them (restore first)
            old = {s.get("key") for s in load(out)["samples"]}
            missing = old - {s.get("key") for s in d["samples"]}
            if missing:
                print(f"archive_runs: {name}: the archive has {len(missing)} samples the local run lacks; "
                      f"run 'restore' before evaluating (skipped)", file=sys.stderr)
                continue
        for s in d["samples"]:
            for field in DATASET_FIELDS.get(d.get("bench"), ()):
                s.pop(field, None)
        write_atomic(out, d)
        saved += 1
    print(f"archive_runs: {saved} run files saved to {archive}")


def restore(runs, archive):
    os.makedirs(runs, exist_ok=True)
    restored = 0
    for name in run_files(archive):
        dst = os.path.join(runs, name)
        if os.path.exists(dst):
            continue  # a local run is never overwritten
        write_atomic(dst, load(os.path.join(archive, name)))
        restored += 1
    print(f"archive_runs: {restored} run files restored into {runs}")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("action", choices=("save", "restore"))
    ap.add_argument("--runs", default="bench/out/eval")
    ap.add_argument("--archive", default="docs/eval/runs")
    a = ap.parse_args()
    try:
        (save if a.action == "save" else restore)(a.runs, a.archive)
    except (OSError, ValueError) as e:
        print(f"archive_runs: {e}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
