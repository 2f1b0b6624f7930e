#!/usr/bin/env python3
"""Generate tests/data/quant_refs.bin: reference quantization vectors from the gguf Python package.

gguf.quants (PyPI `gguf`) is a NumPy port of ggml's reference quantizers (quantize_row_*_ref) and
dequantizers, bit-exact with ggml-quants.c. tests/test_types.c checks that our C reference
quantizers produce the same bytes and our dequantizers the same floats.

gguf.quants has no Q8_1 (an activation-only format). Its reference here is derived from the
definition of ggml's quantize_row_q8_1_ref: d = amax/127, q = roundf(x/d) (round half away from
zero, x multiplied by id = 1/d in fp32), s = fp16(fp32(sum(q)) * d), d stored as fp16.
F16 uses numpy's float32->float16 cast (round to nearest even) and BF16 uses gguf.quants.BF16.

Variant 1 records are the activation quantizer (ei_quantize_row_act): Q8_0/Q8_1 as llama.cpp's CPU
backend quantizes activations on x86 (ggml-cpu quantize_row_q8_0/_q8_1 in AVX/AVX2/AVX-512 builds):
d = amax/127, id = 127/amax, q = round half to even (x*id), s = fp16(d * fp32(sum(q))). gguf has
no such function; this NumPy version follows those formulas (the C implementation that matches
these vectors was also compared with libggml-cpu's from_float on 12M values, ties included).

File layout (all integers little-endian uint32, floats little-endian IEEE float32):
    magic   b"EIQR"
    version 2
    count   number of records
    count records, each:
        type    ggml type id (1 F16, 2 Q4_0, 3 Q4_1, 8 Q8_0, 9 Q8_1, 30 BF16)
        variant 0 = reference quantizer (ei_quantize_row), 1 = activation quantizer
                (ei_quantize_row_act); dequantization is the same for both
        n       number of elements (multiple of 32)
        input   n float32: the row to quantize
        nbytes  size of the quantized row in bytes
        bytes   nbytes bytes: expected quantize output
        deq     n float32: expected dequantize(bytes)
Usage: python3 scripts/gen_quant_refs.py [output path]
"""
import struct
import sys

import numpy as np
from gguf.constants import GGMLQuantizationType as T
from gguf import quants

OUT = sys.argv[1] if len(sys.argv) > 1 else "tests/data/quant_refs.bin"


def np_roundf(n):
    a = np.abs(n)
    fl = np.floor(a)
    return np.sign(n) * (fl + np.floor(2 * (a - fl)))


def q8_1_quantize(x):
    blocks = x.astype(np.float32).reshape(-1, 32)
    d = np.abs(blocks).max(axis=1, keepdims=True) / np.float32(127)
    with np.errstate(divide="ignore"):
        idv = np.where(d == 0, np.float32(0), np.float32(1) / d).astype(np.float32)
    q = np_roundf((blocks * idv).astype(np.float32)).astype(np.int8)
    s = (q.astype(np.int32).sum(axis=1, keepdims=True).astype(np.float32) * d).astype(np.float32)
    out = np.concatenate([d.astype(np.float16).view(np.uint8), s.astype(np.float16).view(np.uint8),
                          q.view(np.uint8)], axis=1)
    return out.reshape(-1)


def q8_act_quantize(x, with_sum):
    blocks = x.astype(np.float32).reshape(-1, 32)
    amax = np.abs(blocks).max(axis=1, keepdims=True)
    d = (amax / np.float32(127)).astype(np.float32)
    with np.errstate(divide="ignore"):
        idv = np.where(amax == 0, np.float32(0), np.float32(127) / amax).astype(np.float32)
    q = np.rint((blocks * idv).astype(np.float32)).astype(np.int8)  # rint: half to even
    parts = [d.astype(np.float16).view(np.uint8)]
    if with_sum:
        s = (d * q.astype(np.int32).sum(axis=1, keepdims=True).astype(np.float32)).astype(np.float32)
        parts.append(s.astype(np.float16).view(np.uint8))
    parts.append(q.view(np.uint8))
    return np.concatenate(parts, axis=1).reshape(-1)


def q8_1_dequantize(b):
    blocks = b.reshape(-1, 36)
    d = blocks[:, 0:2].copy().view(np.float16).astype(np.float32)
    q = blocks[:, 4:].copy().view(np.int8).astype(np.float32)
    return (d * q).reshape(-1)


def quantize(x, t):
    if t == T.Q8_1:
        return q8_1_quantize(x)
    if t == T.F16:
        return x.astype(np.float16).view(np.uint8).reshape(-1)
    return np.asarray(quants.quantize(x.reshape(1, -1), t)).view(np.uint8).reshape(-1)


def dequantize(b, t):
    if t == T.Q8_1:
        return q8_1_dequantize(b)
    if t == T.F16:
        return b.view(np.float16).astype(np.float32)
    return np.asarray(quants.dequantize(b.reshape(1, -1), t), dtype=np.float32).reshape(-1)


def inputs(rng):
    n = 256
    sets = []
    sets.append(rng.standard_normal(n).astype(np.float32))                     # typical
    sets.append((rng.standard_normal(n) * 1e-3 + 0.05).astype(np.float32))    # offset, small spread
    # blocks designed to hit rounding ties and edge cases
    v = np.zeros(n, dtype=np.float32)
    v[0:32] = np.arange(-16, 16, dtype=np.float32) * 0.5          # exact halves
    v[32:64] = 3.25                                                  # constant block (d=0 for q4_1)
    v[64:96] = 0.0                                                   # all zero
    v[96] = 127.0                                                    # q8: d = 1, so x/d lands on
    v[97:128] = np.arange(-15, 16, dtype=np.float32) + 0.5          # exact .5 ties
    v[128:160] = rng.standard_normal(32).astype(np.float32) * 1e4   # large (fp16 scale range)
    v[160:192] = rng.standard_normal(32).astype(np.float32) * 1e-6  # tiny (subnormal fp16 scales)
    v[192:224] = rng.integers(-8, 8, 32).astype(np.float32)         # small integers
    v[224:256] = -rng.random(32).astype(np.float32) * 7             # all negative
    sets.append(v)
    return sets


def main():
    rng = np.random.default_rng(1234)
    types = [T.F16, T.BF16, T.Q4_0, T.Q4_1, T.Q8_0, T.Q8_1]
    recs = []
    for t in types:
        for x in inputs(rng):
            b = np.ascontiguousarray(quantize(x, t), dtype=np.uint8)
            dq = np.ascontiguousarray(dequantize(b.copy(), t), dtype=np.float32)
            assert dq.size == x.size
            recs.append((int(t), 0, x, b, dq))
    for t in [T.Q8_0, T.Q8_1]:
        for x in inputs(rng):
            b = np.ascontiguousarray(q8_act_quantize(x, t == T.Q8_1), dtype=np.uint8)
            dq = np.ascontiguousarray(dequantize(b.copy(), t), dtype=np.float32)
            recs.append((int(t), 1, x, b, dq))
    with open(OUT, "wb") as f:
        f.write(b"EIQR")
        f.write(struct.pack("<II", 2, len(recs)))
        for t, variant, x, b, dq in recs:
            f.write(struct.pack("<III", t, variant, x.size))
            f.write(x.astype("<f4").tobytes())
            f.write(struct.pack("<I", b.size))
            f.write(b.tobytes())
            f.write(dq.astype("<f4").tobytes())
    print(f"wrote {OUT}: {len(recs)} records")


if __name__ == "__main__":
    main()
