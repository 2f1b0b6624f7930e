#!/usr/bin/env python3
"""Make models/SmolLM2-135M-Instruct.Q8_0.gguf from the Q4_1 file with llama.cpp's quantizer.

Uses llama-cpp-python's binding of llama_model_quantize (ftype LLAMA_FTYPE_MOSTLY_Q8_0,
allow_requantize = true). The Q4_1 linear weights are dequantized and requantized to Q8_0,
so the Q8_0 model carries the Q4_1 model's weights (not the original bf16 ones) at 8 bits;
tensors that are already Q8_0 (token_embd) are kept as they are.

Idempotent: when the output exists and is a GGUF whose general.file_type is MOSTLY_Q8_0,
nothing is done. The output is written to a temporary name and renamed into place.

usage: python3 scripts/make_q8_0.py [--src PATH] [--dst PATH] [--threads N] [--force]
"""
import argparse
import hashlib
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SRC = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q4_1.gguf")
DST = os.path.join(ROOT, "models", "SmolLM2-135M-Instruct.Q8_0.gguf")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def gguf_file_type(path):
    """general.file_type of a GGUF file, or None when it is not readable."""
    try:
        from gguf import GGUFReader
        r = GGUFReader(path)
        field = r.fields.get("general.file_type")
        if field is None:
            return None
        return int(field.parts[field.data[0]][0])
    except Exception:
        return None


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--src", default=SRC)
    ap.add_argument("--dst", default=DST)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--force", action="store_true", help="requantize even if the output exists")
    args = ap.parse_args()

    import llama_cpp

    q8_0 = llama_cpp.LLAMA_FTYPE_MOSTLY_Q8_0
    if not args.force and os.path.exists(args.dst) and gguf_file_type(args.dst) == q8_0:
        print(f"{args.dst}: present (file_type MOSTLY_Q8_0), sha256 {sha256(args.dst)}")
        return 0
    if not os.path.exists(args.src):
        print(f"missing {args.src} (run scripts/fetch_model.sh)", file=sys.stderr)
        return 1

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = q8_0
    params.allow_requantize = True
    params.nthread = args.threads
    tmp = args.dst + ".tmp"
    rc = llama_cpp.llama_model_quantize(args.src.encode(), tmp.encode(), params)
    if rc != 0:
        if os.path.exists(tmp):
            os.remove(tmp)
        print(f"llama_model_quantize failed with {rc}", file=sys.stderr)
        return 1
    if gguf_file_type(tmp) != q8_0:
        print(f"{tmp}: unexpected general.file_type {gguf_file_type(tmp)}", file=sys.stderr)
        return 1
    os.replace(tmp, args.dst)
    print(f"wrote {args.dst} ({os.path.getsize(args.dst)} bytes, llama-cpp-python "
          f"{llama_cpp.__version__}), sha256 {sha256(args.dst)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
