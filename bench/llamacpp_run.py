#!/usr/bin/env python3
"""One llama.cpp measurement in its own process, for bench/bench.py.

    python3 bench/llamacpp_run.py -m MODEL -f PROMPT_FILE -n N -t THREADS --ctx C
    python3 bench/llamacpp_run.py --baseline

Prints one JSON object on stdout with the same keys as edgeinf's stats line (prompt_tokens,
ttft_ms, prefill_tok_s, decode_tokens, decode_tok_s, peak_rss_mb) plus llama.cpp's raw perf
counters and the settings used.

What is measured, through llama-cpp-python's low-level C API (no Llama() wrapper, no sampler):
  * the model is loaded (llama.cpp defaults: mmap) and a context created with n_ctx = C,
    n_batch = n_ubatch = --batch (bench.py passes
    min(512, prompt tokens)), n_threads = n_threads_batch = THREADS,
    F16 K/V cache, flash attention off unless --flash-attn says otherwise;
  * unless --no-warmup: one warm-up decode of a single token, then the KV cache is cleared and
    the perf counters reset (llama.cpp's own tools warm up the same way before the first prompt);
  * TTFT: wall time from before tokenizing the prompt file's text to after the first generated
    token is chosen (tokenization, prompt evaluation, logits read and argmax all included);
  * prefill: llama.cpp's perf counters t_p_eval_ms / n_p_eval over the prompt's llama_decode calls
    (chunks of n_batch tokens);
  * decode: the perf counters are reset after the prompt, then N-1 single-token llama_decode
    calls produce generated tokens 2..N (token 1 comes from the prompt's logits); decode tok/s =
    n_eval / t_eval_ms. Greedy argmax in numpy, not stopping at EOS. The counters time only
    llama.cpp's own compute, not the Python loop around it;
  * peak RSS: this process's peak resident set (VmHWM) at the end, which includes the Python
    interpreter, numpy and the llama_cpp import; --baseline prints that baseline alone (import,
    backend init).
"""
import argparse
import ctypes
import json
import os
import resource
import sys
import time

import numpy as np
import llama_cpp as L


def peak_rss_mb():
    """Peak RSS of this process in MB (2^20 bytes): VmHWM, the high-water mark of the address
    space created at exec. (ru_maxrss would also count the parent's RSS at fork/exec time.)"""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # KiB on Linux


class LlamaCpp:
    """A model and one context (sequence 0) driven through llama.cpp's C API."""

    def __init__(self, path, n_ctx=0, n_threads=2, n_batch=512, flash_attn="off",
                 vocab_only=False):
        L.llama_backend_init()
        self._log_cb = L.llama_log_callback(lambda level, text, data: None)  # keep a reference
        L.llama_log_set(self._log_cb, None)
        mp = L.llama_model_default_params()
        mp.vocab_only = vocab_only
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"cannot load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        self.ctx = None
        if vocab_only:
            return
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_threads = n_threads
        cp.n_threads_batch = n_threads
        cp.type_k = L.GGML_TYPE_F16
        cp.type_v = L.GGML_TYPE_F16
        cp.flash_attn_type = {"off": L.LLAMA_FLASH_ATTN_TYPE_DISABLED,
                              "on": L.LLAMA_FLASH_ATTN_TYPE_ENABLED,
                              "auto": L.LLAMA_FLASH_ATTN_TYPE_AUTO}[flash_attn]
        cp.no_perf = False
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("cannot create context")
        self.n_ctx = L.llama_n_ctx(self.ctx)
        self.n_batch = n_batch
        self.batch = L.llama_batch_init(n_batch, 0, 1)

    def tokenize(self, text, special=False):
        b = text.encode("utf-8")
        cap = len(b) + 16
        buf = (L.llama_token * cap)()
        n = L.llama_tokenize(self.vocab, b, len(b), buf, cap, False, special)
        if n < 0:
            raise RuntimeError("tokenize failed")
        return list(buf[:n])

    def piece(self, tok):
        size = 64
        while True:
            buf = ctypes.create_string_buffer(size)
            n = L.llama_token_to_piece(self.vocab, tok, buf, size, 0, True)
            if n >= 0:
                return buf.raw[:n]
            size = -n

    def detok(self, toks):
        return b"".join(self.piece(t) for t in toks)

    def clear(self):
        L.llama_memory_clear(L.llama_get_memory(self.ctx), True)

    def last_logits(self, toks, pos0):
        """Evaluate toks at positions pos0.. in n_batch chunks; return the last token's logits."""
        b = self.batch
        for c0 in range(0, len(toks), self.n_batch):
            chunk = toks[c0:c0 + self.n_batch]
            b.n_tokens = len(chunk)
            for i, t in enumerate(chunk):
                b.token[i] = t
                b.pos[i] = pos0 + c0 + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = c0 + i == len(toks) - 1
            rc = L.llama_decode(self.ctx, b)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
        p = L.llama_get_logits_ith(self.ctx, len(chunk) - 1)
        return np.ctypeslib.as_array(p, shape=(self.n_vocab,))

    def perf(self):
        d = L.llama_perf_context(self.ctx)
        return {"t_p_eval_ms": d.t_p_eval_ms, "n_p_eval": d.n_p_eval,
                "t_eval_ms": d.t_eval_ms, "n_eval": d.n_eval}


def cut_prompt(eng, text, n):
    """Text of exactly n llama.cpp tokens cut from text: a run of n tokens whose detokenized
    text tokenizes back to the same ids and neither starts nor ends with whitespace (so a
    reader that strips the prompt file still sees the same text)."""
    toks = eng.tokenize(text)
    for s in range(0, len(toks) - n + 1):
        cand = toks[s:s + n]
        try:
            t = eng.detok(cand).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if t[:1].isspace() or t[-1:].isspace():
            continue
        if eng.tokenize(t) == cand:
            return t
    raise RuntimeError(f"no {n}-token cut")


def run(args):
    with open(args.prompt_file, encoding="utf-8") as f:
        text = f.read()
    n_batch = args.batch

    t_load0 = time.perf_counter()
    eng = LlamaCpp(args.model, args.ctx, args.threads, n_batch, args.flash_attn)
    load_ms = (time.perf_counter() - t_load0) * 1e3
    if args.warmup:
        eng.last_logits([eng.tokenize("Hello")[0]], 0)
        eng.clear()
    L.llama_perf_context_reset(eng.ctx)

    t0 = time.perf_counter()
    toks = eng.tokenize(text)
    logits = eng.last_logits(toks, 0)
    tok = int(np.argmax(logits))
    ttft_ms = (time.perf_counter() - t0) * 1e3
    pp = eng.perf()
    if len(toks) == 1:  # llama.cpp counts a 1-token batch as an eval, not a prompt eval
        pp["t_p_eval_ms"], pp["n_p_eval"] = pp["t_eval_ms"], pp["n_eval"]

    L.llama_perf_context_reset(eng.ctx)
    gen = [tok]
    for i in range(args.n - 1):
        logits = eng.last_logits([tok], len(toks) + i)
        tok = int(np.argmax(logits))
        gen.append(tok)
    tg = eng.perf() if args.n > 1 else {"t_eval_ms": 0.0, "n_eval": 0}
    n_eval = tg["n_eval"] if args.n > 1 else 0

    return {
        "engine": "llama.cpp",
        "prompt_tokens": len(toks),
        "ttft_ms": ttft_ms,
        "prefill_tok_s": pp["n_p_eval"] / pp["t_p_eval_ms"] * 1e3 if pp["t_p_eval_ms"] > 0 else None,
        "decode_tokens": n_eval,
        "decode_tok_s": n_eval / tg["t_eval_ms"] * 1e3 if n_eval and tg["t_eval_ms"] > 0 else None,
        "peak_rss_mb": peak_rss_mb(),
        "generated_tokens": len(gen),
        "gen_head": eng.detok(gen[:16]).decode("utf-8", errors="replace"),
        "perf_prefill": pp,
        "perf_decode": tg,
        "load_ms": load_ms,
        "settings": {"n_ctx": eng.n_ctx, "n_batch": n_batch, "n_ubatch": n_batch,
                     "threads": args.threads, "flash_attn": args.flash_attn,
                     "kv": "f16", "warmup": args.warmup,
                     "llama_cpp_python": L.__version__},
    }


def main():
    ap = argparse.ArgumentParser(description="One llama.cpp measurement (see module docstring).")
    ap.add_argument("-m", "--model")
    ap.add_argument("-f", "--prompt-file")
    ap.add_argument("-n", type=int, default=64, help="tokens to generate (>= 1)")
    ap.add_argument("-t", "--threads", type=int, default=2)
    ap.add_argument("--ctx", type=int, default=4096)
    ap.add_argument("--batch", type=int, default=512,
                    help="n_batch = n_ubatch (bench.py passes min(512, prompt tokens))")
    ap.add_argument("--flash-attn", choices=["off", "on", "auto"], default="off")
    ap.add_argument("--no-warmup", dest="warmup", action="store_false")
    ap.add_argument("--baseline", action="store_true",
                    help="print the peak RSS of python + numpy + llama_cpp import only")
    ap.add_argument("--cut", type=int, metavar="N",
                    help="write to --out a prompt of exactly N tokens cut from --prompt-file")
    ap.add_argument("--out")
    args = ap.parse_args()

    if args.baseline:
        L.llama_backend_init()
        print(json.dumps({"engine": "llama.cpp", "baseline": True, "peak_rss_mb": peak_rss_mb()}))
        return 0
    if args.cut:
        eng = LlamaCpp(args.model, vocab_only=True)
        with open(args.prompt_file, encoding="utf-8") as f:
            t = cut_prompt(eng, f.read(), args.cut)
        with open(args.out, "w", encoding="utf-8") as f:
            f.write(t)
        return 0
    if not (args.model and args.prompt_file) or args.n < 1:
        ap.error("-m and -f are required, -n >= 1")
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
