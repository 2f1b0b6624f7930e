#!/usr/bin/env python3
"""Benchmark edgeinf against llama.cpp on the same GGUF files with the same thread count.

usage: python3 bench/bench.py [--model PATH ...] [--threads 2] [--reps 5] [--quick]

For each model, every measurement is one fresh process per engine, and the two engines take
turns (edgeinf, llama.cpp, edgeinf, llama.cpp, ...). A repetition runs these jobs:
  pp<P>   prompt of P tokens, 1 token generated   -> prefill tok/s (and TTFT for P = 512)
  tg@<D>  prompt of D tokens (D = 0: a 1-token prompt), 64 tokens generated -> decode tok/s
          (peak RSS is read from the deepest of these jobs)
Each engine gets the same prompt file and --ctx = prompt tokens + generated tokens.
Reported values are medians over the repetitions; bench/out/bench-<model>-<date>.json keeps
every run, bench/out/bench-<model>-<date>.md holds the table that is also printed.

edgeinf is run as
  build/edgeinf run -m MODEL -f PROMPT_FILE -n N -t THREADS --ctx C --temp 0 --ignore-eos
and reports on stderr a line "edgeinf: stats {json}" with prompt_tokens, ttft_ms, prefill_tok_s,
decode_tokens, decode_tok_s, peak_rss_mb. llama.cpp is run through bench/llamacpp_run.py (see
there for what it times). Each child's ru_maxrss is also taken by this driver (wait4, kept in the
JSON as ru_maxrss_mb); on Linux it is never below the driver's own RSS at spawn time, which is
why the driver does not load llama_cpp itself.

Prompt files are cut from /work/shared/data/pg_essays with llama.cpp's tokenizer to exactly the
needed token count (bench/out/prompts/); a difference between the engines' prompt_tokens is
reported. --quick runs 1 repetition with small sizes to check that everything works; its numbers
are not measurements.
"""
import argparse
import datetime
import hashlib
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)

DEFAULT_MODELS = [os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf"),
                  os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q8_0.gguf")]
PROMPT_SOURCE = "/work/shared/data/pg_essays/worked.txt"
RUN_TIMEOUT_S = 1800

FULL = {"pp": [128, 512, 2048], "depths": [0, 1024, 4096], "n_gen": 64, "ttft": 512}
QUICK = {"pp": [16, 64], "depths": [0, 64], "n_gen": 8, "ttft": 64}


# ---------------------------------------------------------------- running one process

def run_child(cmd, timeout=RUN_TIMEOUT_S):
    """Run cmd; return (exit code, stdout, stderr, wall seconds, child's ru_maxrss in MB)."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.perf_counter() - t0 > timeout:
                proc.kill()
                pid, status, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        return (proc.returncode, out.read().decode("utf-8", "replace"),
                err.read().decode("utf-8", "replace"), wall, usage.ru_maxrss / 1024.0)


def edgeinf_stats(cmd):
    """Run an `edgeinf run` command line; its `edgeinf: stats {json}` line plus wall time and peak RSS."""
    rc, out, err, wall, maxrss = run_child(cmd)
    stats = None
    for line in err.splitlines():
        if line.startswith("edgeinf: stats "):
            stats = json.loads(line[len("edgeinf: stats "):])
    if rc != 0 or stats is None:
        raise RuntimeError(f"edgeinf failed (exit {rc}): {' '.join(cmd)}\n{err[-2000:]}")
    stats.update({"wall_s": wall, "ru_maxrss_mb": maxrss})
    return stats


def run_edgeinf(binary, model, prompt_file, n, threads, ctx):
    cmd = [binary, "run", "-m", model, "-f", prompt_file, "-n", str(n), "-t", str(threads),
           "--ctx", str(ctx), "--temp", "0", "--ignore-eos"]
    return {**edgeinf_stats(cmd), "engine": "edgeinf"}


def run_llamacpp(model, prompt_file, n, threads, ctx, batch, flash_attn, warmup):
    cmd = [sys.executable, os.path.join(HERE, "llamacpp_run.py"), "-m", model, "-f", prompt_file,
           "-n", str(n), "-t", str(threads), "--ctx", str(ctx), "--batch", str(batch),
           "--flash-attn", flash_attn] + ([] if warmup else ["--no-warmup"])
    rc, out, err, wall, maxrss = run_child(cmd)
    if rc != 0 or not out.strip():
        raise RuntimeError(f"llamacpp_run failed (exit {rc}): {' '.join(cmd)}\n{err[-2000:]}")
    stats = json.loads(out.strip().splitlines()[-1])
    stats.update({"wall_s": wall, "ru_maxrss_mb": maxrss})
    return stats


def run_llamacpp_baseline():
    """Peak RSS (MB) of the helper that only imports numpy and llama_cpp and inits the backend."""
    rc, out, err, wall, maxrss = run_child(
        [sys.executable, os.path.join(HERE, "llamacpp_run.py"), "--baseline"])
    if rc != 0 or not out.strip():
        raise RuntimeError(f"llamacpp_run --baseline failed: {err[-2000:]}")
    return json.loads(out.strip().splitlines()[-1])["peak_rss_mb"]


# ---------------------------------------------------------------- prompts

def make_prompts(model, counts, outdir):
    """Prompt files of exactly n llama.cpp tokens for each n in counts; returns {n: path}.
    The cutting runs in a helper process so this driver never loads llama_cpp: a child's
    ru_maxrss (and edgeinf's self-reported peak, which is its ru_maxrss) is at least the RSS
    of the parent that spawned it, so the driver has to stay small."""
    os.makedirs(outdir, exist_ok=True)
    with open(PROMPT_SOURCE, encoding="utf-8") as f:
        text = f.read()
    head = "Want to start a startup?  Get funded by\nY Combinator."
    if head in text[:200]:
        text = text.split(head, 1)[1]
    source = os.path.join(outdir, "source.txt")
    with open(source, "w", encoding="utf-8") as f:
        f.write(text)
    paths = {}
    for n in sorted(set(counts)):
        path = os.path.join(outdir, f"pg_worked_{n}.txt")
        rc, out, err, _, _ = run_child([sys.executable, os.path.join(HERE, "llamacpp_run.py"),
                                        "-m", model, "-f", source, "--cut", str(n), "--out", path])
        if rc != 0:
            raise RuntimeError(f"cutting a {n}-token prompt failed: {err[-2000:]}")
        paths[n] = path
    return paths


# ---------------------------------------------------------------- report

def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=1):
    return "n/a" if x is None else f"{x:.{digits}f}"


def build_rows(cfg, med, baseline_mb):
    """Table rows: (label, better, edgeinf value, llama.cpp value)."""
    e, l = med.get("edgeinf", {}), med.get("llama.cpp", {})
    get = lambda d, job, key: d.get(job, {}).get(key)
    rows = []
    for p in cfg["pp"]:
        rows.append((f"prefill tok/s, {p}-token prompt", "higher",
                     get(e, f"pp{p}", "prefill_tok_s"), get(l, f"pp{p}", "prefill_tok_s")))
    for d in cfg["depths"]:
        what = "1-token prompt" if d == 0 else f"{d}-token prompt"
        rows.append((f"decode tok/s, depth {d} ({what}, {cfg['n_gen']} generated)", "higher",
                     get(e, f"tg@{d}", "decode_tok_s"), get(l, f"tg@{d}", "decode_tok_s")))
    t = cfg["ttft"]
    rows.append((f"TTFT ms, {t}-token prompt (tokenization included)", "lower",
                 get(e, f"pp{t}", "ttft_ms"), get(l, f"pp{t}", "ttft_ms")))
    deep = f"tg@{max(cfg['depths'])}"
    rss_e, rss_l = get(e, deep, "peak_rss_mb"), get(l, deep, "peak_rss_mb")
    rows.append((f"peak RSS MB, {deep} run (llama.cpp: incl. Python)", "lower", rss_e, rss_l))
    rows.append((f"peak RSS MB, {deep} run, llama.cpp minus Python baseline", "lower", rss_e,
                 None if rss_l is None or baseline_mb is None else rss_l - baseline_mb))
    return rows


def markdown(model, cfg, rows, meta):
    lines = [f"### {os.path.basename(model)}: edgeinf vs llama.cpp, {meta['threads']} threads, "
             f"median of {meta['reps']} run(s)", "",
             "| metric | better | edgeinf | llama.cpp | edgeinf / llama.cpp |",
             "|---|---|---:|---:|---:|"]
    for label, better, ev, lv in rows:
        ratio = ev / lv if ev is not None and lv else None
        lines.append(f"| {label} | {better} | {fmt(ev)} | {fmt(lv)} | {fmt(ratio, 2)} |")
    lines += [
        "",
        f"- Ratio edgeinf / llama.cpp: above 1 is better for edgeinf on tok/s rows, below 1 is "
        f"better for edgeinf on TTFT and RSS rows.",
        f"- llama.cpp: llama-cpp-python {meta['llama_cpp_python']} (its bundled llama.cpp), "
        f"low-level C API in a fresh process per run (bench/llamacpp_run.py); prefill and decode "
        f"rates from llama.cpp's perf counters; n_batch = n_ubatch = min(512, prompt); F16 KV "
        f"cache; flash attention {meta['flash_attn']}; warm-up decode before timing: "
        f"{'yes' if meta['warmup'] else 'no'}; greedy argmax.",
        f"- llama.cpp peak RSS is the helper process's peak resident set (VmHWM) and includes the Python "
        f"interpreter, numpy and llama_cpp import: that baseline alone is "
        f"{fmt(meta['llamacpp_baseline_rss_mb'])} MB (median), subtracted in the last row.",
        "- edgeinf values are as reported on its `edgeinf: stats` line (peak RSS: its "
        "ru_maxrss); TTFT on both sides runs from before tokenization to the first generated "
        "token (model load excluded).",
        "- MB = 2^20 bytes. CPU: " + meta["cpu"] + ".",
    ]
    if meta["notes"]:
        lines += ["- Notes: " + "; ".join(meta["notes"])]
    if meta["quick"]:
        lines += ["- --quick dry run: 1 repetition at small sizes; these numbers are not "
                  "measurements."]
    return "\n".join(lines) + "\n"


def cpu_name():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip() + f", {os.cpu_count()} logical CPUs"
    except OSError:
        pass
    return platform.processor() or "unknown"


def cpu_busy_fraction(seconds=1.0):
    """Share of all CPUs' time spent non-idle during `seconds` while this driver sleeps."""
    def snap():
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v), v[3] + v[4]  # total, idle + iowait
    try:
        t0, i0 = snap()
        time.sleep(seconds)
        t1, i1 = snap()
    except OSError:
        return 0.0
    return 1.0 - (i1 - i0) / max(1, t1 - t0)


def git_rev():
    try:
        return subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip() or None
    except OSError:
        return None


def llama_cpp_version(runs):
    for per_job in runs.get("llama.cpp", {}).values():
        for r in per_job:
            return r.get("settings", {}).get("llama_cpp_python")
    return None


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


# ---------------------------------------------------------------- main

def bench_model(model, args, cfg, engines):
    outdir = os.path.join(HERE, "out")
    jobs = [(f"pp{p}", p, 1) for p in cfg["pp"]]
    jobs += [(f"tg@{d}", max(d, 1), cfg["n_gen"]) for d in cfg["depths"]]
    prompts = make_prompts(model, [n for _, n, _ in jobs], os.path.join(outdir, "prompts"))

    runs = {eng: {job: [] for job, _, _ in jobs} for eng in engines}
    baselines = []
    notes = []
    busy_before = cpu_busy_fraction()
    if busy_before > 0.1:
        notes.append(f"CPUs {busy_before:.0%} busy with other work just before the runs")
        print("WARNING: " + notes[-1] + "; the numbers will be disturbed", file=sys.stderr)
    for rep in range(args.reps):
        for job, n_prompt, n_gen in jobs:
            ctx = n_prompt + n_gen
            for eng in engines:
                if eng == "edgeinf":
                    r = run_edgeinf(args.edgeinf, model, prompts[n_prompt], n_gen, args.threads, ctx)
                else:
                    r = run_llamacpp(model, prompts[n_prompt], n_gen, args.threads, ctx,
                                     min(512, n_prompt), args.llamacpp_flash_attn, args.warmup)
                runs[eng][job].append(r)
                if r.get("prompt_tokens") != n_prompt:
                    notes.append(f"{eng} {job} rep {rep + 1}: prompt_tokens "
                                 f"{r.get('prompt_tokens')} != {n_prompt}")
                    print("WARNING: " + notes[-1], file=sys.stderr)
                print(f"[{os.path.basename(model)} rep {rep + 1}/{args.reps}] {job:8s} {eng:9s} "
                      f"prefill {fmt(r.get('prefill_tok_s'))} tok/s  decode "
                      f"{fmt(r.get('decode_tok_s'))} tok/s  ttft {fmt(r.get('ttft_ms'))} ms  "
                      f"rss {fmt(r.get('peak_rss_mb'))} MB", file=sys.stderr)
        if "llama.cpp" in engines:
            baselines.append(run_llamacpp_baseline())

    busy_after = cpu_busy_fraction()
    if busy_after > 0.1:
        notes.append(f"CPUs {busy_after:.0%} busy with other work just after the runs")
        print("WARNING: " + notes[-1], file=sys.stderr)

    keys = ["prompt_tokens", "ttft_ms", "prefill_tok_s", "decode_tokens", "decode_tok_s",
            "peak_rss_mb", "ru_maxrss_mb"]
    med = {eng: {job: {k: median([r.get(k) for r in rs]) for k in keys}
                 for job, rs in per_job.items()} for eng, per_job in runs.items()}
    meta = {
        "model": os.path.basename(model), "model_sha256": sha256(model),
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "threads": args.threads, "reps": args.reps, "quick": args.quick, "config": cfg,
        "engines": engines, "edgeinf_binary": args.edgeinf if "edgeinf" in engines else None,
        "edgeinf_git_rev": git_rev(), "llama_cpp_python": llama_cpp_version(runs),
        "flash_attn": args.llamacpp_flash_attn, "warmup": args.warmup,
        "llamacpp_baseline_rss_mb": median(baselines), "llamacpp_baseline_runs": baselines,
        "cpu": cpu_name(), "platform": platform.platform(), "notes": notes,
        "prompt_source": PROMPT_SOURCE,
        "cpu_busy_before": busy_before, "cpu_busy_after": busy_after,
        "driver_peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "command": " ".join([sys.executable] + sys.argv),
    }
    rows = build_rows(cfg, med, meta["llamacpp_baseline_rss_mb"])
    table = markdown(model, cfg, rows, meta)

    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = os.path.join(outdir, f"bench-{os.path.splitext(os.path.basename(model))[0]}-{stamp}")
    with open(base + ".json", "w") as f:
        json.dump({"meta": meta, "medians": med,
                   "rows": [{"metric": lab, "better": b, "edgeinf": ev, "llama.cpp": lv,
                             "ratio": ev / lv if ev is not None and lv else None}
                            for lab, b, ev, lv in rows],
                   "runs": runs}, f, indent=1)
    with open(base + ".md", "w") as f:
        f.write(table)
    print(table)
    print(f"wrote {base}.json and {base}.md", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description="edgeinf vs llama.cpp benchmark (see docstring).")
    ap.add_argument("--model", action="append", help="GGUF file (repeatable); default: "
                    "models/SmolLM2-135M-Instruct.Q4_1.gguf and .Q8_0.gguf")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--quick", action="store_true",
                    help="1 repetition, small sizes: a dry run, not a measurement")
    ap.add_argument("--engines", choices=["both", "edgeinf", "llama.cpp"], default="both")
    ap.add_argument("--edgeinf", default=os.path.join(ROOT, "build", "edgeinf"),
                    help="edgeinf binary (default build/edgeinf)")
    ap.add_argument("--llamacpp-flash-attn", choices=["off", "on", "auto"], default="off")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false",
                    help="no llama.cpp warm-up decode before timing")
    args = ap.parse_args()

    cfg = QUICK if args.quick else FULL
    if args.quick:
        args.reps = 1
    engines = ["edgeinf", "llama.cpp"] if args.engines == "both" else [args.engines]
    if "edgeinf" in engines and not os.access(args.edgeinf, os.X_OK):
        if args.engines == "edgeinf":
            sys.exit(f"no edgeinf binary at {args.edgeinf}")
        print(f"WARNING: no edgeinf binary at {args.edgeinf}; running llama.cpp only",
              file=sys.stderr)
        engines = ["llama.cpp"]
    models = args.model or DEFAULT_MODELS
    for m in models:
        if not os.path.exists(m):
            hint = " (make it with scripts/make_q8_0.py)" if "Q8_0" in m else ""
            print(f"WARNING: skipping missing model {m}{hint}", file=sys.stderr)
            continue
        bench_model(os.path.abspath(m), args, cfg, engines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
