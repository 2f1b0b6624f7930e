#!/usr/bin/env python3
"""Writes tests/data/tokenizer_refs.tsv: reference token ids that tests/test_tokenizer.c compares
the C tokenizer against.

Vocabularies and their references:
  smollm  SmolLM2-135M-Instruct, HF `tokenizers` with ../shared/reference/smollm2-135m-instruct/
          tokenizer.json: tok.encode(text, add_special_tokens=False).ids. Special tokens in the text
          are split out (parse_special=1); with tok.encode_special_tokens = True they are not
          (parse_special=0).
  tok512  llama2.c's stories260K tokenizer, PyPI `sentencepiece` with
          ../shared/models/stories260K/tok512.model: sp.encode(text).
          tok512.model sets normalizer_spec.remove_extra_whitespaces = true (SentencePiece strips
          leading/trailing spaces and squeezes runs of spaces before encoding). llama.cpp-style SPM
          tokenizers (and this engine) do not do that, so the reference is SentencePiece with that
          one flag turned off; everything else (identity normalization, add_dummy_prefix, byte
          fallback, BPE by score) is SentencePiece's own. The script checks that the unmodified model
          agrees wherever the text has no extra whitespace. SentencePiece never parses special
          tokens; for parse_special=1 the reference is llama.cpp's rule: split the text at <s>, </s>
          and <unk> (leftmost-longest) and encode each piece separately, each with its dummy prefix.

Rows (tab-separated, '#' starts a comment):
  big <vocab> <source> <parse_special> <n_ids> <fnv1a64 of the ids as little-endian int32, hex>
  str <vocab> <name> <parse_special> <escaped text> <ids, comma-separated>
Strings: NASTY below, plus N_RANDOM random concatenations of FRAGMENTS (fixed seed).
Sources: "wiki" = data/wikitext-2/wiki.test.raw, "pg:<file>" = data/pg_essays/<file>,
"lb:<line>" = the prompt of line <line> (0-based) of data/longbench/longbench_mini_en.jsonl,
"rep:<count>:<escaped unit>" = unit repeated count times. Escapes: \\\\ \\t \\n \\r \\xHH (every
non-printable or non-ASCII byte of the UTF-8 text).

Needs: pip install tokenizers sentencepiece protobuf. Run from the repo root with ../shared present.
"""
import glob
import json
import os
import struct
import sys

import sentencepiece as spm
from sentencepiece import sentencepiece_model_pb2 as spm_pb
from tokenizers import Tokenizer

SHARED = os.environ.get("EI_SHARED", "../shared")
OUT = "tests/data/tokenizer_refs.tsv"

NASTY = [
    ("empty", ""),
    ("space", " "),
    ("hello", "Hello world"),
    ("leading_space", " leading space"),
    ("trailing_space", "trailing space "),
    ("spaces_both", "  two leading and two trailing  "),
    ("contractions", "I'm they'll DON'T we've she'd you're it's I'M He'S THEY'LL"),
    ("apostrophes", "'s 't 're ''s ''' 'x' '' 'll'd"),
    ("curly_apostrophe", "don\u2019t it\u2019s \u2018quoted\u2019"),
    ("digits_long", "12345678901234567890 0000000 9"),
    ("numbers", "3.14159 1,000,000 2024-01-01 x=-42 +7e10"),
    ("emoji", "\U0001F44D \U0001F44D\U0001F3FD \U0001F468\u200D\U0001F469\u200D\U0001F467\u200D\U0001F466 "
              "\U0001F3F3\uFE0F\u200D\U0001F308 \U0001F1FA\U0001F1F8 \u2764\uFE0F\U0001F917"),
    ("emoji_only", "\U0001F917"),
    ("cjk", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3067\u3059\u3002\u4e2d\u6587\u6587\u672c"
            "\uff0c\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8"),
    ("arabic", "\u0645\u0631\u062d\u0628\u0627 \u0628\u0627\u0644\u0639\u0627\u0644\u0645 \u0661\u0662\u0663"),
    ("combining", "e\u0301 a\u0308\u0304 Z\u0351\u0352\u0353 \u00f1 vs n\u0303 \u1100\u1161\u11a8"),
    ("mixed_ws", "a\tb\r\nc\n\n\nd  \t e\u00a0f\u3000g\u2003h"),
    ("newline", "\n"),
    ("crlf", "\r\n"),
    ("tabs", "\t\t"),
    ("ws_before_words", "   word\n\nword\t word \u00a0word  \u3000word"),
    ("controls", "\x00\x01\x07\x1b[31mred\x1b[0m\x7f\u0085\u200b\u200d\ufeff"),
    ("nul_inside", "a\x00b\x00\x00 c"),
    ("chatml", "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n"),
    ("partial_specials", "<|im_start <|im_end| <|<|im_end|>|> <|endoftext"),
    ("adjacent_specials", "<|endoftext|><|endoftext|>  <|im_end|>  x<|im_start|>"),
    ("llama_specials", "<s>hello</s> <unk> <s></s>"),
    ("year", "The year 1999 ended; 2000 began."),
    ("math", "\u2211\u1d62 x\u1d62\u00b2 \u2264 \u221e \u2192 \u2200\u03b5>0 \u2203\u03b4"),
    ("code", "def f(x):\n    return x**2  # comment\n\n\n    pass\n"),
    ("url", "https://example.com/path?q=1&r=two#frag mail@host.org"),
    ("scripts", "\u041f\u0440\u0438\u0432\u0435\u0442 \u043c\u0438\u0440! \u0393\u03b5\u03b9\u03ac "
                "\u03c3\u03bf\u03c5 \u039a\u03cc\u03c3\u03bc\u03b5! \u05e9\u05dc\u05d5\u05dd"),
    ("indic_thai", "\u0e2a\u0e27\u0e31\u0e2a\u0e14\u0e35\u0e04\u0e23\u0e31\u0e1a \u0928\u092e\u0938\u094d"
                   "\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e"),
    ("numeric_other", "\uff11\uff12\uff13\uff14\uff15 x\u00b2\u00b3 \u00bd \u2154 \u216b \u2460"),
    ("nbsp_only", "\u00a0"),
    ("ideographic_space", "\u3000"),
    ("nbsp_between", "a\u00a0\u00a0b \u00a0 c"),
    ("upper_contractions", "'S 'T 'RE 'VE 'M 'LL 'D"),
    ("trailing_newlines", "hello\n\nhello \nhello\n"),
    ("letters_digits", "abc123def456ghi 7x8y9z"),
    ("newline_spaces", "a \n \n b  \n\n  c"),
    ("tab_space", "\t \t x \t"),
    ("zero_width", "a\u200bb\u200cc\u200dd\u2060e"),
    ("private_use", "\ue000 \uffff \U0010ffff \U000f0000"),
    ("spaced_digits", "  1 2  3   4    "),
    ("turkish_greek", "\u0130\u0131\u015e\u015f \u03c3\u03c2\u03a3"),
    ("unicode16_17", "a\u1c89b \u1c8a 1\U00011de0 2\U00016ff4 \U000105c0x"),
    ("many_spaces_words", "a          b                           c"),
    ("line_separators", "a\u2028b\u2029c\u0085d\u000b\u000ce"),
    ("punct_runs", "!!!??? ... --- *** ;;; ''' \"\"\" ``` ~~~ <<< >>>"),
    ("quote_words", "\"Hello,\" she said. 'Yes' (really) [x] {y}"),
    ("email_like", "user.name+tag@example.co.uk <a href=\"x\">link</a>"),
    ("sp_space_char", "a\u2581b \u2581\u2581 \u2581"),
    ("byte_edge", "\u007f\u0080\u00ad\u00a0\u00ff\u0100\u0143\u0144"),
]

# Synthetic long inputs (not stored in full): (name, count, unit).
REPEATS = [
    ("spaces_10k", 10000, " "),
    ("letter_50k", 50000, "a"),
    ("word_50k", 10000, "hello"),
    ("newlines_5k", 5000, "\n"),
    ("digits_2k", 2000, "9"),
    ("emoji_2k", 2000, "\U0001F600"),
    ("space_word", 3000, "ab "),
    ("mixed_ws_run", 2000, " \t\n\u00a0"),
    ("letter_1m", 1000000, "a"),        # must stay ~linear
    ("spaces_100k", 100000, " "),
]


# Fragments random strings are built from: each class boundary of the pre-tokenizer regex, the
# Digits split, contractions, special tokens (whole and partial) and SentencePiece's U+2581.
FRAGMENTS = ["a", "Z", "hello", " world", "'s", "'ll", "'T", "'", " ", "  ", "   ", "\t", "\n",
             "\r\n", "\n\n", "\u00a0", "\u3000", "\u2009", "0", "42", "\u0663", "\u00bd", "\uff17",
             "!", "?!", "...", "-", "\"", "(", "\u4e2d\u6587", "\u65e5", "\u00e9", "e\u0301", "\u0915\u094d",
             "\U0001F600", "\U0001F44D\U0001F3FD", "\u200d", "\ufeff", "\x00", "\x1b", "\u0085",
             "<|im_start|>", "<|im_end|>", "<|endoftext|>", "<|im_", "|>", "<s>", "</s>", "<unk>",
             "\u2581", "\u0130", "\u00df", "\u1c89", "\U00011de0"]
N_RANDOM = 64


def random_strings():
    import random
    rng = random.Random(20240601)
    out = []
    for i in range(N_RANDOM):
        k = rng.randint(1, 16)
        out.append((f"random_{i}", "".join(rng.choice(FRAGMENTS) for _ in range(k))))
    return out


def escape(text):
    out = []
    for b in text.encode("utf-8"):
        c = chr(b)
        if c == "\\":
            out.append("\\\\")
        elif c == "\t":
            out.append("\\t")
        elif c == "\n":
            out.append("\\n")
        elif c == "\r":
            out.append("\\r")
        elif 0x20 <= b < 0x7F:
            out.append(c)
        else:
            out.append("\\x%02X" % b)
    return "".join(out)


def fnv1a64(ids):
    h = 0xcbf29ce484222325
    for b in struct.pack("<%di" % len(ids), *ids):
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def read_text(path):
    with open(path, "rb") as f:
        return f.read().decode("utf-8")  # bytes exactly as on disk (CRLF kept)


def big_sources():
    src = [("wiki", read_text(f"{SHARED}/data/wikitext-2/wiki.test.raw"))]
    for p in sorted(glob.glob(f"{SHARED}/data/pg_essays/*.txt")):
        src.append(("pg:" + os.path.basename(p), read_text(p)))
    with open(f"{SHARED}/data/longbench/longbench_mini_en.jsonl", "rb") as f:
        for i, line in enumerate(f):
            src.append((f"lb:{i}", json.loads(line.decode("utf-8"))["prompt"]))
    for name, count, unit in REPEATS:
        src.append((f"rep:{count}:{escape(unit)}", unit * count))
    return src


class Smollm:
    def __init__(self):
        self.tok = Tokenizer.from_file(f"{SHARED}/reference/smollm2-135m-instruct/tokenizer.json")

    def encode(self, text, parse_special):
        self.tok.encode_special_tokens = not parse_special
        return self.tok.encode(text, add_special_tokens=False).ids


class Tok512:
    SPECIALS = ["<s>", "</s>", "<unk>"]

    def __init__(self):
        path = f"{SHARED}/models/stories260K/tok512.model"
        proto = spm_pb.ModelProto()
        with open(path, "rb") as f:
            proto.ParseFromString(f.read())
        assert proto.normalizer_spec.name == "identity" and not proto.normalizer_spec.precompiled_charsmap
        assert proto.normalizer_spec.add_dummy_prefix and proto.trainer_spec.byte_fallback
        self.orig = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
        proto.normalizer_spec.remove_extra_whitespaces = False  # llama.cpp's behaviour
        self.sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())

    def encode(self, text, parse_special):
        ids = self._encode_plain(text) if not parse_special else self._encode_split(text)
        ws = text.replace("\u2581", " ")  # SentencePiece squeezes U+2581 like a space
        if "  " not in ws and ws.strip(" ") == ws:  # no extra whitespace to squeeze
            if not parse_special or not any(s in text for s in self.SPECIALS):
                assert self.orig.encode(text) == ids, text
        return ids

    def _encode_plain(self, text):
        return self.sp.encode(text)

    def _encode_split(self, text):
        ids, seg, p = [], 0, 0
        while p < len(text):
            hit = max((s for s in self.SPECIALS if text.startswith(s, p)), key=len, default=None)
            if hit is None:
                p += 1
                continue
            if p > seg:
                ids += self.sp.encode(text[seg:p])
            ids.append(self.sp.piece_to_id(hit))
            p += len(hit)
            seg = p
        if seg < len(text):
            ids += self.sp.encode(text[seg:])
        return ids


def main():
    vocabs = [("smollm", Smollm()), ("tok512", Tok512())]
    sources = big_sources()
    rows = ["# Generated by scripts/gen_tokenizer_refs.py; see its docstring for the format.",
            "# kind\tvocab\tsource\tparse_special\t..."]
    n_ids = 0
    for vname, v in vocabs:
        for src, text in sources:
            ids = v.encode(text, 1)
            n_ids += len(ids)
            rows.append(f"big\t{vname}\t{src}\t1\t{len(ids)}\t{fnv1a64(ids)}")
        for name, text in NASTY + random_strings():
            for ps in (1, 0):
                if ps == 0 and "<" not in text:
                    continue  # no special token inside: same ids either way
                ids = v.encode(text, ps)
                n_ids += len(ids)
                rows.append(f"str\t{vname}\t{name}\t{ps}\t{escape(text)}\t{','.join(map(str, ids))}")
        print(f"{vname}: {len(sources)} texts, {len(NASTY) + N_RANDOM} strings", file=sys.stderr)
    with open(OUT, "w", newline="\n") as f:
        f.write("\n".join(rows) + "\n")
    print(f"wrote {OUT}: {len(rows) - 2} rows, {n_ids} reference ids", file=sys.stderr)


if __name__ == "__main__":
    main()
