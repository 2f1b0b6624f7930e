#!/usr/bin/env python3
"""Generate llama.cpp reference data for EdgeInfinite-C forward-pass parity tests.

Runs llama.cpp (through llama-cpp-python's low-level C API: llama_tokenize, llama_batch,
llama_decode, llama_get_logits_ith) on models/SmolLM2-135M-Instruct.Q4_1.gguf and writes:

tests/data/llamacpp_logits.bin -- top-k logits at every position of a few prompts.
    All integers and floats little-endian.
      header:  char magic[4] = "EILR"; u32 version = 1; u32 n_prompts; u32 topk (= 8)
      then n_prompts records, each:
        u32   n_tokens
        i32   tokens[n_tokens]                 (prompt token ids; no BOS, the vocab has add_bos false)
        then for each position p in 0 .. n_tokens-1:
          i32 ids[topk]                        (top-k token ids of llama.cpp's logits after
                                                tokens[0..p], sorted by logit descending;
                                                equal logits sorted by id ascending)
          f32 logits[topk]                     (the raw logits of those ids)
          f32 logsumexp                        (log(sum_v exp(logit_v)) over the whole vocab at
                                                position p, computed in float64 from llama.cpp's
                                                float32 logits; log-prob of id = logit - logsumexp)
      trailer (after the last record; a reader that stops after n_prompts may ignore it):
        char magic[4] = "META"; u32 n_bytes; n_bytes of UTF-8 text: provenance (llama-cpp-python
        version, model sha256, date, command, settings) and one line per prompt: index, name,
        n_tokens, source.
    Prompts, in order: 16 tokens (pg_essays/apple.txt), 64 (wikitext-2 test, "Du Fu"),
    256 (pg_essays/hubs.txt), 1024 (wikitext-2 test, "Ise class battleship"),
    2048 (pg_essays/love.txt), and a 64-token ChatML prompt (special tokens parsed) whose user
    message is cut from pg_essays/gap.txt. Each plain-text prompt is a run of exactly n tokens
    of llama.cpp's tokenization of the source whose detokenized text tokenizes back to the same
    ids.

tests/data/llamacpp_greedy.tsv -- greedy generations.
    '#' lines are comments (provenance), then a header row, then one row per prompt, tab-separated:
      name, prompt_ids (comma-separated), gen_ids (64 comma-separated ids), gen_text
    Prompts are tokenized by llama.cpp with special tokens parsed and no BOS. Generation is
    64 steps of plain argmax over llama.cpp's raw float32 logits (numpy argmax: the lowest id
    wins a tie), no sampler, no repetition penalty, not stopping at EOS/EOG: the first token
    comes from the prompt's last logits, then each generated token is evaluated in turn.
    gen_text is the concatenated byte pieces of gen_ids (special tokens rendered), decoded as
    UTF-8 with invalid bytes replaced, with backslash, tab, CR and LF escaped as \\\\ \\t \\r \\n.

Settings: n_ctx 4096, n_threads 2 (also for batches), n_batch = n_ubatch = 512 (prompts are
evaluated in chunks of 512 tokens), F16 K and V cache (llama.cpp's default), flash attention
disabled (llama-cpp-python's Llama() default), model loaded with llama.cpp defaults (mmap).
There is no sampler, so the seed (fixed at 1234 and recorded) affects nothing.

usage: python3 scripts/gen_llamacpp_refs.py [--model PATH] [--out-dir tests/data]
"""
import argparse
import ctypes
import datetime
import hashlib
import os
import struct
import sys

import numpy as np
import llama_cpp as L

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
MODEL_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
PG = "/work/shared/data/pg_essays"
WIKI = "/work/shared/data/wikitext-2/wiki.test.raw"

N_CTX = 4096
N_THREADS = 2
N_BATCH = 512
SEED = 1234
TOPK = 8
N_GEN = 64

SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"


def chatml(msg):
    return (f"<|im_start|>system\n{SYSTEM}<|im_end|>\n"
            f"<|im_start|>user\n{msg}<|im_end|>\n<|im_start|>assistant\n")


GREEDY_PROMPTS = [
    ("chat_capital", chatml("What is the capital of France?")),
    ("chat_sky", chatml("Explain in two sentences why the sky is blue.")),
    ("chat_sleep_tips", chatml("Give me three tips for getting better sleep.")),
    ("chat_code_prime", chatml("Write a Python function that checks whether a number is prime.")),
    ("chat_apples", chatml("If I have 3 apples and buy 5 more, how many apples do I have?")),
    ("chat_email", chatml("Write a short, polite email declining a meeting invitation.")),
    ("chat_translate", chatml("Translate to French: The weather is nice today.")),
    ("raw_story", "Once upon a time, in a small village at the edge of the forest,"),
]


class LlamaCpp:
    """The few llama.cpp calls used here, on one model and one context (sequence 0)."""

    def __init__(self, path, n_ctx, n_threads, n_batch):
        L.llama_backend_init()
        self._log_cb = L.llama_log_callback(lambda level, text, data: None)  # keep a reference
        L.llama_log_set(self._log_cb, None)
        mp = L.llama_model_default_params()
        self.model = L.llama_model_load_from_file(path.encode(), mp)
        if not self.model:
            raise RuntimeError(f"cannot load {path}")
        self.vocab = L.llama_model_get_vocab(self.model)
        self.n_vocab = L.llama_vocab_n_tokens(self.vocab)
        cp = L.llama_context_default_params()
        cp.n_ctx = n_ctx
        cp.n_batch = n_batch
        cp.n_ubatch = n_batch
        cp.n_threads = n_threads
        cp.n_threads_batch = n_threads
        cp.n_outputs_max = 0           # = n_batch: logits for every token of a batch
        cp.n_outputs_max_per_seq = 0   # = n_outputs_max
        cp.flash_attn_type = L.LLAMA_FLASH_ATTN_TYPE_DISABLED
        cp.type_k = L.GGML_TYPE_F16
        cp.type_v = L.GGML_TYPE_F16
        self.cparams = cp
        self.ctx = L.llama_init_from_model(self.model, cp)
        if not self.ctx:
            raise RuntimeError("cannot create context")
        self.n_batch = n_batch
        self.batch = L.llama_batch_init(n_batch, 0, 1)

    def tokenize(self, text, special):
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

    def forward(self, toks, pos0, all_logits):
        """Evaluate toks at positions pos0.. in chunks of n_batch; return the logits of every
        token (all_logits) or of the last one, as float32 arrays."""
        out = []
        b = self.batch
        for c0 in range(0, len(toks), self.n_batch):
            chunk = toks[c0:c0 + self.n_batch]
            b.n_tokens = len(chunk)
            last_chunk = c0 + len(chunk) == len(toks)
            for i, t in enumerate(chunk):
                b.token[i] = t
                b.pos[i] = pos0 + c0 + i
                b.n_seq_id[i] = 1
                b.seq_id[i][0] = 0
                b.logits[i] = all_logits or (last_chunk and i == len(chunk) - 1)
            rc = L.llama_decode(self.ctx, b)
            if rc != 0:
                raise RuntimeError(f"llama_decode returned {rc}")
            for i in range(len(chunk)):
                if b.logits[i]:
                    p = L.llama_get_logits_ith(self.ctx, i)
                    out.append(np.ctypeslib.as_array(p, shape=(self.n_vocab,)).copy())
        return np.stack(out) if all_logits else out[-1]


def cut_tokens(eng, text, n, min_start=0):
    """First run of exactly n tokens of tokenize(text) (from token min_start on) whose
    detokenized text tokenizes back to the same ids. Returns (ids, text)."""
    toks = eng.tokenize(text, False)
    for s in range(min_start, len(toks) - n + 1):
        cand = toks[s:s + n]
        try:
            t = eng.detok(cand).decode("utf-8")
        except UnicodeDecodeError:
            continue
        if eng.tokenize(t, False) == cand:
            return cand, t
    raise RuntimeError(f"no round-tripping {n}-token cut")


def read_pg(name):
    with open(os.path.join(PG, name), encoding="utf-8", newline="") as f:
        t = f.read()
    head = "Want to start a startup?  Get funded by\nY Combinator."
    if head in t[:200]:
        t = t.split(head, 1)[1].lstrip("\n")
    return t


def read_wiki_article(title):
    """Text of the wikitext-2 test file from the article heading ' = title = ' on (CRLF kept)."""
    with open(WIKI, encoding="utf-8", newline="") as f:
        t = f.read()
    i = t.index(f" = {title} = ")
    return t[i:]


def chat_prompt_of_len(eng, n, source_text):
    """ChatML prompt asking to summarize a passage cut from source_text, exactly n tokens."""
    words = source_text.split()
    for k in range(1, len(words)):
        msg = "Summarize this passage in one sentence:\n" + " ".join(words[:k])
        ids = eng.tokenize(chatml(msg), True)
        if len(ids) == n:
            return ids, chatml(msg)
        if len(ids) > n:
            break
    raise RuntimeError(f"no {n}-token chat prompt")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def topk_rows(logits, k):
    """(ids[n,k] int32, vals[n,k] float32, lse[n] float32) per row, sorted by logit descending."""
    n = logits.shape[0]
    ids = np.empty((n, k), np.int32)
    for r in range(n):
        ids[r] = np.argsort(-logits[r], kind="stable")[:k]   # stable: ties by id ascending
    vals = np.take_along_axis(logits, ids.astype(np.int64), axis=1).astype(np.float32)
    x = logits.astype(np.float64)
    m = x.max(axis=1, keepdims=True)
    lse = (m[:, 0] + np.log(np.exp(x - m).sum(axis=1))).astype(np.float32)
    return ids, vals, lse


def tsv_escape(s):
    return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def main():
    ap = argparse.ArgumentParser(description="Generate llama.cpp reference logits and greedy outputs.")
    ap.add_argument("--model", default=MODEL)
    ap.add_argument("--out-dir", default=os.path.join(ROOT, "tests", "data"))
    args = ap.parse_args()

    digest = sha256(args.model)
    if digest != MODEL_SHA256:
        print(f"warning: {args.model} sha256 {digest} is not the expected {MODEL_SHA256}",
              file=sys.stderr)
    eng = LlamaCpp(args.model, N_CTX, N_THREADS, N_BATCH)
    np.random.seed(SEED)

    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")
    command = "python3 " + " ".join([os.path.relpath(sys.argv[0], ROOT)] + sys.argv[1:])
    provenance = [
        f"llama-cpp-python {L.__version__}",
        f"model {os.path.basename(args.model)} sha256 {digest}",
        f"date {date}",
        f"command {command}",
        f"settings n_ctx {N_CTX}, n_threads {N_THREADS}, n_batch = n_ubatch = {N_BATCH}, "
        f"KV cache F16/F16, flash attention disabled, no BOS, seed {SEED} (unused: no sampler)",
        f"system_info {L.llama_print_system_info().decode().strip()}",
    ]

    # ---- (a) top-k logits at every position
    prompts = []
    ids, _ = cut_tokens(eng, read_pg("apple.txt"), 16)
    prompts.append(("pg_apple_16", ids, "pg_essays/apple.txt"))
    ids, _ = cut_tokens(eng, read_wiki_article("Du Fu"), 64)
    prompts.append(("wiki_du_fu_64", ids, "wikitext-2 wiki.test.raw, article 'Du Fu' (CRLF)"))
    ids, _ = cut_tokens(eng, read_pg("hubs.txt"), 256)
    prompts.append(("pg_hubs_256", ids, "pg_essays/hubs.txt"))
    ids, _ = cut_tokens(eng, read_wiki_article("Ise @-@ class battleship"), 1024)
    prompts.append(("wiki_ise_1024", ids,
                    "wikitext-2 wiki.test.raw, article 'Ise @-@ class battleship' (CRLF)"))
    ids, _ = cut_tokens(eng, read_pg("love.txt"), 2048)
    prompts.append(("pg_love_2048", ids, "pg_essays/love.txt"))
    ids, _ = chat_prompt_of_len(eng, 64, read_pg("gap.txt"))
    prompts.append(("chatml_summarize_64", ids,
                    "ChatML, special tokens parsed, user message cut from pg_essays/gap.txt"))

    out = bytearray()
    out += b"EILR" + struct.pack("<III", 1, len(prompts), TOPK)
    meta_prompts = []
    for idx, (name, toks, src) in enumerate(prompts):
        eng.clear()
        logits = eng.forward(toks, 0, all_logits=True)
        assert logits.shape == (len(toks), eng.n_vocab)
        tk_ids, tk_vals, lse = topk_rows(logits, TOPK)
        out += struct.pack("<I", len(toks))
        out += np.asarray(toks, "<i4").tobytes()
        for p in range(len(toks)):
            out += tk_ids[p].astype("<i4").tobytes()
            out += tk_vals[p].astype("<f4").tobytes()
            out += struct.pack("<f", float(lse[p]))
        top1_next = float(np.mean(tk_ids[:-1, 0] == np.asarray(toks[1:])))
        meta_prompts.append(f"prompt {idx} {name} n_tokens {len(toks)} source {src}")
        print(f"{name}: {len(toks)} tokens, top-1 = next prompt token at {top1_next:.1%} of "
              f"positions, last position top-1 {tk_ids[-1, 0]} "
              f"{eng.piece(int(tk_ids[-1, 0]))!r}")
    meta = "\n".join(provenance + meta_prompts).encode("utf-8")
    out += b"META" + struct.pack("<I", len(meta)) + meta
    path = os.path.join(args.out_dir, "llamacpp_logits.bin")
    with open(path, "wb") as f:
        f.write(out)
    print(f"wrote {path} ({len(out)} bytes)")

    # ---- (b) greedy generations
    lines = ["# llama.cpp greedy reference generations for EdgeInfinite-C (see "
             "scripts/gen_llamacpp_refs.py for the format)"]
    lines += ["# " + p for p in provenance]
    lines += [f"# generation: {N_GEN} tokens of argmax over raw logits, no sampler, no "
              "repetition penalty, EOS not stopping; prompts tokenized with special tokens parsed",
              "# gen_margins: at each step, llama.cpp's top-1 minus top-2 logit (a small margin is a "
              "near-tie, where any change of summation order may flip the argmax)",
              "name\tprompt_ids\tgen_ids\tgen_margins\tgen_text"]
    for name, text in GREEDY_PROMPTS:
        toks = eng.tokenize(text, True)
        eng.clear()
        logits = eng.forward(toks, 0, all_logits=False)
        gen, margins = [], []
        for step in range(N_GEN):
            nxt = int(np.argmax(logits))
            top2 = np.partition(np.asarray(logits, dtype=np.float64), -2)[-2:]
            margins.append(f"{top2[1] - top2[0]:.3f}")
            gen.append(nxt)
            if step + 1 < N_GEN:
                logits = eng.forward([nxt], len(toks) + step, all_logits=False)
        gen_text = eng.detok(gen).decode("utf-8", errors="replace")
        lines.append("\t".join([name, ",".join(map(str, toks)), ",".join(map(str, gen)),
                                ",".join(margins), tsv_escape(gen_text)]))
        print(f"{name}: {gen_text!r}")
    path = os.path.join(args.out_dir, "llamacpp_greedy.tsv")
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        f.write("\n".join(lines) + "\n")
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
