#!/usr/bin/env python3
"""Long inputs: TTFT, peak RSS and decode speed against input length (issue 3).

usage: python3 bench/bench_long.py [--model PATH] [--threads 2] [--lengths 1024,2048,...]
                                   [--full-max 32768] [--reps 3] [--long-reps 1] [--n-gen 32]

Three methods on the same GGUF, same thread count, same prompt files (pg_essays concatenated,
cut with llama.cpp's tokenizer to exactly N tokens), one fresh process per run, methods taking
turns at each length:
  llama.cpp   full attention, n_ctx = N + n_gen (bench/llamacpp_run.py, n_batch 512)
  edgeinf     full attention (--mode full, --ctx N + n_gen)
  edgeinf-inf EdgeInfinite, summarize profile, memory read through a constant gate 0.3 (so the
              compression and the memory read are both timed; a trained gate costs the same)
Full-attention methods are run up to --full-max tokens (their cost grows with the square of the
length). Lengths <= 8K get --reps repetitions, longer ones --long-reps; values are medians.
Writes bench/out/long-<model>-<date>.{json,md} and the plots docs/long_ttft.svg and
docs/long_rss.svg (TTFT and peak RSS against input length, log-log).
"""
import argparse
import datetime
import json
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import bench  # noqa: E402  (run_child, edgeinf_stats, run_llamacpp, sha256, git_rev, cpu_name, cpu_busy_fraction)

ESSAYS = "/work/shared/data/pg_essays"
LENGTHS = [1024, 2048, 4096, 8192, 16384, 32768, 65536, 131072]
METHODS = ["llama.cpp", "edgeinf", "edgeinf-inf"]


def make_long_prompts(model, lengths, outdir):
    """Prompt files of exactly N llama.cpp tokens cut from the essays (repeated as needed)."""
    os.makedirs(outdir, exist_ok=True)
    names = sorted(n for n in os.listdir(ESSAYS) if n.endswith(".txt"))
    text = "".join(open(os.path.join(ESSAYS, n), encoding="utf-8").read() + "\n\n" for n in names)
    need_chars = max(lengths) * 6
    source_text = text * (need_chars // len(text) + 1)
    source = os.path.join(outdir, "essays_source.txt")
    with open(source, "w", encoding="utf-8") as f:
        f.write(source_text)
    paths = {}
    for n in lengths:
        path = os.path.join(outdir, f"essays_{n}.txt")
        if not os.path.exists(path):
            if HF_TOKENIZER_ONLY:
                with open(path, "w", encoding="utf-8") as f:
                    f.write(cut_with_hf_tokenizer(source_text, n))
            else:
                rc, out, err, _, _ = bench.run_child([sys.executable, os.path.join(HERE, "llamacpp_run.py"),
                                                      "-m", model, "-f", source, "--cut", str(n), "--out", path])
                if rc != 0:
                    raise RuntimeError(f"cutting a {n}-token prompt failed: {err[-2000:]}")
        paths[n] = path
    return paths


HF_TOKENIZER_ONLY = False
HF_TOKENIZER = "/work/shared/reference/smollm2-135m-instruct/tokenizer.json"


def cut_with_hf_tokenizer(text, n):
    """The same cut as llamacpp_run.py --cut, with the Hugging Face tokenizer (the one edgeinf's
    tokenizer tests match id for id): n tokens from the start of text whose decoded text re-encodes
    to the same ids and neither starts nor ends with whitespace."""
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(HF_TOKENIZER)
    ids = tok.encode(text[: n * 8], add_special_tokens=False).ids
    for s in range(0, len(ids) - n + 1):
        cand = ids[s:s + n]
        t = tok.decode(cand)
        if "\ufffd" in t or t[:1].isspace() or t[-1:].isspace():
            continue
        if tok.encode(t, add_special_tokens=False).ids == cand:
            return t
    raise RuntimeError(f"no {n}-token cut")


def run_edgeinf(binary, model, prompt, n_gen, threads, mode, ctx):
    cmd = [binary, "run", "-m", model, "-f", prompt, "-n", str(n_gen), "-t", str(threads), "--temp", "0",
           "--ignore-eos"]
    if mode == "full":
        cmd += ["--mode", "full", "--ctx", str(ctx)]
    else:
        cmd += ["--mode", "infinite", "--profile", "summarize", "--gate-const", "0.3"]
    return {**bench.edgeinf_stats(cmd), "command": " ".join(cmd)}


def svg_plot(path, title, ylabel, series, lengths):
    """A log-log line plot: series = {name: {length: value}}. Plain SVG, no plotting library."""
    import math
    W, H, L, R, T, B = 640, 400, 70, 150, 40, 50
    vals = [v for s in series.values() for v in s.values() if v]
    if not vals:
        return
    ylo, yhi = math.log10(min(vals)) - 0.1, math.log10(max(vals)) + 0.1
    xlo, xhi = math.log2(min(lengths)), math.log2(max(lengths))
    X = lambda n: L + (math.log2(n) - xlo) / max(xhi - xlo, 1e-9) * (W - L - R)
    Y = lambda v: H - B - (math.log10(v) - ylo) / max(yhi - ylo, 1e-9) * (H - T - B)
    colors = ["#d62728", "#1f77b4", "#2ca02c", "#9467bd"]
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
           f'<rect width="{W}" height="{H}" fill="white"/>',
           f'<text x="{W / 2 - R / 2}" y="22" text-anchor="middle" font-size="15">{title}</text>',
           f'<line x1="{L}" y1="{H - B}" x2="{W - R}" y2="{H - B}" stroke="black"/>',
           f'<line x1="{L}" y1="{T}" x2="{L}" y2="{H - B}" stroke="black"/>',
           f'<text x="{(L + W - R) / 2}" y="{H - 12}" text-anchor="middle">input tokens</text>',
           f'<text x="16" y="{(T + H - B) / 2}" transform="rotate(-90 16 {(T + H - B) / 2})" text-anchor="middle">{ylabel}</text>']
    for n in lengths:
        out.append(f'<line x1="{X(n):.1f}" y1="{H - B}" x2="{X(n):.1f}" y2="{H - B + 5}" stroke="black"/>')
        out.append(f'<text x="{X(n):.1f}" y="{H - B + 18}" text-anchor="middle">{n // 1024}K</text>')
    for e in range(math.floor(ylo), math.ceil(yhi) + 1):
        for m in (1, 2, 5):
            v = m * 10 ** e
            if ylo <= math.log10(v) <= yhi:
                out.append(f'<line x1="{L - 5}" y1="{Y(v):.1f}" x2="{W - R}" y2="{Y(v):.1f}" stroke="#ddd"/>')
                out.append(f'<text x="{L - 8}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:g}</text>')
    for i, (name, s) in enumerate(series.items()):
        pts = [(X(n), Y(v)) for n, v in sorted(s.items()) if v]
        c = colors[i % len(colors)]
        if len(pts) > 1:
            out.append(f'<polyline fill="none" stroke="{c}" stroke-width="2" points="' +
                       " ".join(f"{x:.1f},{y:.1f}" for x, y in pts) + '"/>')
        for x, y in pts:
            out.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="3" fill="{c}"/>')
        out.append(f'<rect x="{W - R + 12}" y="{T + 20 * i}" width="12" height="12" fill="{c}"/>')
        out.append(f'<text x="{W - R + 30}" y="{T + 20 * i + 11}">{name}</text>')
    out.append("</svg>")
    with open(path, "w") as f:
        f.write("\n".join(out) + "\n")


def main():
    ap = argparse.ArgumentParser(description="TTFT / RSS / decode against input length (see docstring).")
    ap.add_argument("--model", default=os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--lengths", default=",".join(map(str, LENGTHS)))
    ap.add_argument("--full-max", type=int, default=32768)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--long-reps", type=int, default=1)
    ap.add_argument("--n-gen", type=int, default=32)
    ap.add_argument("--methods", default=",".join(METHODS))
    ap.add_argument("--edgeinf", default=os.path.join(ROOT, "build", "edgeinf"))
    ap.add_argument("--plots", default=os.path.join(ROOT, "docs"))
    ap.add_argument("--hf-cut", action="store_true",
                    help="cut the prompts with the Hugging Face tokenizer (no llama-cpp-python needed; "
                         "only for edgeinf-only sweeps)")
    ap.add_argument("--prompts-only", action="store_true",
                    help="only write the prompt files bench/out/prompts/essays_N.txt (for bench/long_ab.c)")
    args = ap.parse_args()
    global HF_TOKENIZER_ONLY
    HF_TOKENIZER_ONLY = args.hf_cut
    lengths = [int(x) for x in args.lengths.split(",")]
    methods = args.methods.split(",")
    model = os.path.abspath(args.model)
    prompts = make_long_prompts(model, lengths, os.path.join(HERE, "out", "prompts"))
    if args.prompts_only:
        print("\n".join(prompts[n] for n in lengths))
        return 0
    busy = bench.cpu_busy_fraction()
    if busy > 0.1:
        print(f"WARNING: CPUs {busy:.0%} busy before the runs; numbers will be disturbed", file=sys.stderr)
    runs = {m: {n: [] for n in lengths} for m in methods}
    for n in lengths:
        reps = args.reps if n <= 8192 else args.long_reps
        for rep in range(reps):
            for m in methods:
                if m != "edgeinf-inf" and n > args.full_max:
                    continue
                ctx = n + args.n_gen
                if m == "llama.cpp":
                    r = bench.run_llamacpp(model, prompts[n], args.n_gen, args.threads, ctx, 512, "off", True)
                else:
                    r = run_edgeinf(args.edgeinf, model, prompts[n], args.n_gen, args.threads,
                                    "full" if m == "edgeinf" else "infinite", ctx)
                runs[m][n].append(r)
                print(f"[{n:6d} rep {rep + 1}/{reps}] {m:11s} ttft {r['ttft_ms']:10.1f} ms  prefill "
                      f"{r['prefill_tok_s']:8.1f} tok/s  decode {r['decode_tok_s']:6.1f} tok/s  rss "
                      f"{r['peak_rss_mb']:7.1f} MB", file=sys.stderr, flush=True)
    keys = ["prompt_tokens", "ttft_ms", "prefill_tok_s", "decode_tok_s", "peak_rss_mb"]
    med = {m: {n: {k: statistics.median([r[k] for r in rs]) for k in keys} for n, rs in per.items() if rs}
           for m, per in runs.items()}
    meta = {"model": os.path.basename(model), "model_sha256": bench.sha256(model),
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "threads": args.threads, "n_gen": args.n_gen, "reps": args.reps, "long_reps": args.long_reps,
            "full_max": args.full_max, "edgeinf_git_rev": bench.git_rev(), "cpu": bench.cpu_name(),
            "cpu_busy_before": busy, "command": " ".join([sys.executable] + sys.argv)}
    # table
    lines = [f"Input length sweep, {meta['model']} (sha256 {meta['model_sha256'][:16]}…), {args.threads} threads, "
             f"{meta['date']}, edgeinf {meta['edgeinf_git_rev']}; medians.",
             "", "| tokens | " + " | ".join(f"{m} TTFT s | {m} prefill tok/s | {m} decode tok/s | {m} peak RSS MB"
                                             for m in methods) + " |",
             "|---:|" + "---:|" * (4 * len(methods))]
    for n in lengths:
        cells = []
        for m in methods:
            d = med[m].get(n)
            cells += ([f"{d['ttft_ms'] / 1e3:.2f}", f"{d['prefill_tok_s']:.0f}", f"{d['decode_tok_s']:.1f}",
                       f"{d['peak_rss_mb']:.0f}"] if d else ["–"] * 4)
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(HERE, "out", f"long-{os.path.splitext(meta['model'])[0]}-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "medians": med, "runs": runs}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(table)
    names = {"llama.cpp": "llama.cpp full", "edgeinf": "edgeinf full", "edgeinf-inf": "edgeinf EdgeInfinite"}
    os.makedirs(args.plots, exist_ok=True)
    svg_plot(os.path.join(args.plots, "long_ttft.svg"), "Time to first token", "TTFT (s)",
             {names[m]: {n: d["ttft_ms"] / 1e3 for n, d in med[m].items()} for m in methods}, lengths)
    svg_plot(os.path.join(args.plots, "long_rss.svg"), "Peak resident memory", "peak RSS (MB)",
             {names[m]: {n: d["peak_rss_mb"] for n, d in med[m].items()} for m in methods}, lengths)
    print(f"wrote {base}.json, {base}.md and the plots in {args.plots}", file=sys.stderr)


if __name__ == "__main__":
    sys.exit(main())
