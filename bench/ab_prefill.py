#!/usr/bin/env python3
"""Prefill speed of two edgeinf binaries, side by side: the same long prompt through each, taking
turns (A B A B ...), so that drift of a shared machine falls on both; medians and the B/A ratio.

  python3 bench/ab_prefill.py OLD_BIN NEW_BIN [--reps 3] [--threads 1,2] [--tokens 9500]

Cases: the EdgeInfinite path with the qa profile (S 256, W 2048, L 128; the path LongBench,
passkey and needle run) on about --tokens tokens, and full attention in an 8K context (FullKV) on
about 7,200. The prompts are the essays of ../shared/data/pg_essays, cut. Each run generates one token;
the figure is the prefill rate edgeinf reports in its `edgeinf: stats` line.
"""
import argparse
import glob
import json
import os
import statistics
import subprocess
import sys
import tempfile

MODEL = "models/SmolLM2-135M-Instruct.Q4_1.gguf"
ESSAYS = os.path.join(os.path.dirname(__file__), "..", "..", "shared", "data", "pg_essays")


def prompt_file(tokens):
    text = ""
    for path in sorted(glob.glob(os.path.join(ESSAYS, "*.txt"))):
        text += open(path, encoding="utf-8").read() + "\n\n"
        if len(text) > tokens * 4.6:  # about 4.3 characters per token in these essays
            break
    f = tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False, encoding="utf-8")
    f.write(text[: int(tokens * 4.3)])
    f.close()
    return f.name


def run(binary, args):
    out = subprocess.run([binary, "run", "-m", MODEL, *args], capture_output=True, text=True, check=True)
    for line in out.stderr.splitlines():
        if line.startswith("edgeinf: stats "):
            return json.loads(line[len("edgeinf: stats "):])
    sys.exit(f"ab_prefill: no stats line from {binary}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--tokens", type=int, default=9500)
    o = ap.parse_args()
    if not os.path.isdir(ESSAYS) or not os.path.isfile(MODEL):
        sys.exit(f"ab_prefill: needs {ESSAYS} and {MODEL} (make model)")
    long_text, short_text = prompt_file(o.tokens), prompt_file(min(o.tokens, 7200))
    cases = [("EdgeInfinite qa", long_text, ["--mode", "infinite", "--profile", "qa"]),
             ("FullKV 8K", short_text, ["--mode", "full", "--ctx", "8192"])]
    print(f"| case | threads | prompt tokens | A tok/s | B tok/s | B / A |\n|---|---:|---:|---:|---:|---:|")
    for name, text, extra in cases:
        for t in [int(x) for x in o.threads.split(",")]:
            args = ["-f", text, "-n", "1", "--temp", "0", "-t", str(t), *extra]
            rates = {o.a: [], o.b: []}
            n = 0
            for _ in range(o.reps):
                for binary in (o.a, o.b):
                    st = run(binary, args)
                    rates[binary].append(st["prefill_tok_s"])
                    n = st["prompt_tokens"]
            ma, mb = statistics.median(rates[o.a]), statistics.median(rates[o.b])
            print(f"| {name} | {t} | {n} | {ma:.1f} | {mb:.1f} | {mb / ma:.2f} |", flush=True)
    os.unlink(long_text), os.unlink(short_text)


if __name__ == "__main__":
    main()
