#!/usr/bin/env python3
"""Generate tests/data/memory_refs.bin: float64 NumPy references for the compressed memory
(src/memory.c) and the memory gate (src/gate.c), checked by tests/test_memory.c.

Only NumPy is needed (Debian: python3-numpy, e.g. `/usr/bin/python3 scripts/gen_memory_refs.py`).
Every input is drawn from a seeded generator and rounded to float32 before the reference is
computed, so the C code and the reference see exactly the same inputs; the references themselves
are computed in float64 and rounded to float32 only when written. The output is deterministic.

Equations (method.md section 2; src/memory.h, src/gate.h):
    sigma(x) = ELU(x) + 1 = x + 1 (x > 0), exp(x) (x <= 0)
    retrieval  A = sigma(q) M / (sigma(q) . z + eps),   eps = EI_MEMORY_EPS = float32(1e-6)
    linear     M += sigma(K)^T V ;  z += sum_t sigma(K_t)
    delta      M += sigma(K)^T (V - sigma(K) M / (sigma(K) z + eps)) ; z as linear.
               Batch semantics as src/memory.c: all n corrections of one write use M, z from
               before the write; when z is all zero before the write (first write), plain V.
    GQA        query head h (of H) reads memory unit h / (H / G) (G KV heads).
    gate       g = sigmoid(w_h . x + b_h), out = g * A_mem + (1 - g) * A_loc, per query head h
               head-scalar: x = [A_mem_h ; A_loc_h]                           (in_dim = 2 hd)
               layer-mix:   x = [A_mem_0 ; A_loc_0 ; A_mem_1 ; A_loc_1 ; ...] (in_dim = 2 H hd)
               w is [n_layer][H][in_dim], b is [n_layer][H] (struct ei_gate in src/gate.h)
    constant   gate == NULL: out = gconst * A_mem + (1 - gconst) * A_loc

File layout (little-endian; u32 = uint32, f32 = IEEE-754 binary32):
    magic    4 bytes  b"EIMR"
    version  u32      1
    n_cases  u32
    n_cases cases, each:
        kind     u32       1 sigma, 2 retrieve, 3 update, 4 gqa, 5 gate, 6 gate-const
        name     24 bytes  ASCII, NUL-padded (for messages only)
        p        4 x u32   kind-specific sizes, below
        n_arrays u32
        n_arrays arrays, each: count u32, then count f32
    kind 1 sigma       p = {n, 0, 0, 0};        arrays x[n], want[n]
    kind 2 retrieve    p = {d, nq, 0, 0};       arrays M[d*d], z[d], q[nq*d], want[nq*d]
                                                (each of the nq queries is read separately)
    kind 3 update      p = {d, rule, n_writes, 0}, rule 0 linear, 1 delta; memory starts empty
                       (M = 0, z = 0); arrays, for each write in order: K[n*d], V[n*d],
                       M_want[d*d or 0], z_want[d] (state after the write; a count of 0 for M_want
                       means that write's M is not stored, to keep the file small)
    kind 4 gqa         p = {d, H, G, T};        arrays M[G*d*d], z[G*d], q[T*H*d], want[T*H*d]
                                                (q and want are [token][head][d])
    kind 5 gate        p = {type, n_layer, H, hd}, type 0 head-scalar, 1 layer-mix;
                       arrays w[n_layer*H*in_dim], b[n_layer*H], a_mem[n_layer*H*hd],
                       a_loc[n_layer*H*hd], g_want[n_layer*H], out_want[n_layer*H*hd]
                       (one token per layer, its own a_mem and a_loc)
    kind 6 gate-const  p = {H, hd, 0, 0};       arrays gconst[1], a_mem[H*hd], a_loc[H*hd],
                                                out_want[H*hd]
Usage: python3 scripts/gen_memory_refs.py [output path]   (default tests/data/memory_refs.bin)
"""
import struct
import sys

import numpy as np

MAGIC = b"EIMR"
VERSION = 1
EPS = float(np.float32(1e-6))  # EI_MEMORY_EPS is the float 1e-6f
K_SIGMA, K_RETRIEVE, K_UPDATE, K_GQA, K_GATE, K_GATE_CONST = 1, 2, 3, 4, 5, 6
LINEAR, DELTA = 0, 1
HEAD_SCALAR, LAYER_MIX = 0, 1

rng = np.random.default_rng(20250807)


def f32(x):
    """Round to float32 and return as float64 (an input both sides see exactly)."""
    return np.asarray(x, dtype=np.float64).astype(np.float32).astype(np.float64)


def randn(*shape, scale=1.0):
    return f32(rng.standard_normal(shape) * scale)


def sigma(x):
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x + 1.0, np.exp(np.minimum(x, 0.0)))


def retrieve(M, z, q):
    """Rows of q (..., d) read from one memory (M [d, d], z [d])."""
    sq = sigma(q)
    return (sq @ M) / (sq @ z + EPS)[..., None]


def update(M, z, K, V, rule):
    """One write of n tokens; returns the new (M, z). Batch semantics of src/memory.c."""
    sk = sigma(K)
    if rule == DELTA and np.any(z != 0):
        val = V - (sk @ M) / (sk @ z + EPS)[:, None]  # every correction from the pre-write M, z
    else:
        val = V
    return M + sk.T @ val, z + sk.sum(axis=0)


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


class Writer:
    def __init__(self):
        self.cases = []

    def case(self, kind, name, p, arrays):
        assert len(name) < 24 and len(p) <= 4
        p = list(p) + [0] * (4 - len(p))
        out = [struct.pack("<I", kind), name.encode("ascii").ljust(24, b"\0"), struct.pack("<4I", *p),
               struct.pack("<I", len(arrays))]
        for a in arrays:
            a = np.ascontiguousarray(np.asarray(a, dtype=np.float64).ravel().astype("<f4"))
            assert np.all(np.isfinite(a)), name
            out.append(struct.pack("<I", a.size))
            out.append(a.tobytes())
        self.cases.append(b"".join(out))

    def bytes(self):
        return MAGIC + struct.pack("<II", VERSION, len(self.cases)) + b"".join(self.cases)


def gen_sigma(w):
    special = [-1e30, -1e4, -200.0, -104.0, -100.0, -88.0, -87.3, -50.0, -20.0, -10.0, -3.0, -1.0,
               -0.5, -1e-3, -1e-8, -1e-30, -0.0, 0.0, 1e-30, 1e-8, 1e-3, 0.5, 1.0, 3.0, 10.0, 100.0,
               1e4, 3e7, 1e30]
    x = np.concatenate([f32(special), randn(40, scale=3.0)])
    w.case(K_SIGMA, "sigma", [x.size], [x, sigma(x)])


def keys_sum_sigma(n, d, scale=1.0):
    return sigma(randn(n, d, scale=scale)).sum(axis=0)


def gen_retrieve(w):
    for d, nq in ((64, 3), (16, 3), (13, 3)):
        M = randn(d, d)
        z = f32(keys_sum_sigma(50, d))
        q = randn(nq, d, scale=1.5)
        w.case(K_RETRIEVE, "retrieve d=%d" % d, [d, nq], [M, z, q, retrieve(M, z, q)])
    # A nearly empty memory (3 tiny keys): sigma(q).z is ~1e-5, so eps = 1e-6 changes the result by
    # several percent; a missing or different eps fails this case.
    d = 8
    M = randn(d, d, scale=1e-6)
    z = f32(keys_sum_sigma(3, d) * 1e-6)
    q = randn(2, d)
    want = retrieve(M, z, q)
    sq = sigma(q)
    no_eps = (sq @ M) / (sq @ z)[:, None]
    effect = np.abs(no_eps - want).max() / np.abs(want).max()
    assert effect > 1e-2, effect
    print("  retrieve small-z: eps changes the read by %.1f%% (max-norm relative)" % (100 * effect))
    w.case(K_RETRIEVE, "retrieve small-z d=8", [d, 2], [M, z, q, want])
    # Empty memory: the read is exactly zero (denominator = eps), no NaN.
    d = 13
    q = randn(2, d)
    w.case(K_RETRIEVE, "retrieve empty d=13", [d, 2], [np.zeros((d, d)), np.zeros(d), q, np.zeros((2, d))])


def gen_update(w, rule, d, ns, store_m):
    M, z = np.zeros((d, d)), np.zeros(d)
    arrays = []
    for i, n in enumerate(ns):
        K = randn(n, d, scale=1.5)
        V = randn(n, d)
        M, z = update(M, z, K, V, rule)
        arrays += [K, V, M if store_m[i] else np.zeros(0), z]
    name = "%s d=%d" % ("linear" if rule == LINEAR else "delta", d)
    w.case(K_UPDATE, name, [d, rule, len(ns)], arrays)


def gen_gqa(w):
    d, H, G, T = 32, 9, 3, 2
    Ms, zs = [], []
    for _ in range(G):  # each KV head's memory from its own 64 tokens (linear rule), so all differ
        K = randn(64, d, scale=1.5)
        V = randn(64, d)
        M, z = update(np.zeros((d, d)), np.zeros(d), K, V, LINEAR)
        Ms.append(f32(M))
        zs.append(f32(z))
    q = randn(T, H, d, scale=1.5)
    want = np.zeros((T, H, d))
    for t in range(T):
        for h in range(H):
            g = h // (H // G)
            want[t, h] = retrieve(Ms[g], zs[g], q[t, h])
    w.case(K_GQA, "gqa H=9 G=3 d=32", [d, H, G, T], [np.stack(Ms), np.stack(zs), q, want])


def gen_gate(w, gtype, L, H, hd):
    in_dim = 2 * hd if gtype == HEAD_SCALAR else 2 * H * hd
    W = np.zeros((L, H, in_dim))
    B = np.zeros((L, H))
    for l in range(L):
        if l % 2 == 0:  # a trained-looking gate: logits of order 1, a few heads nearly open
            W[l] = randn(H, in_dim, scale=1.0 / np.sqrt(in_dim))
            B[l] = randn(H)
            B[l, H - 1] = 6.0
        else:  # near the training initialisation (w ~ 0, b = -8): g ~ 3e-4
            W[l] = randn(H, in_dim, scale=0.01)
            B[l] = f32(-8.0 + rng.standard_normal(H) * 0.1)
    a_mem = randn(L, H, hd)
    a_loc = randn(L, H, hd)
    g = np.zeros((L, H))
    for l in range(L):
        for h in range(H):
            if gtype == HEAD_SCALAR:
                x = np.concatenate([a_mem[l, h], a_loc[l, h]])
            else:
                x = np.concatenate([np.concatenate([a_mem[l, j], a_loc[l, j]]) for j in range(H)])
            g[l, h] = sigmoid(W[l, h] @ x + B[l, h])
    out = g[:, :, None] * a_mem + (1.0 - g[:, :, None]) * a_loc
    name = "gate %s" % ("head-scalar" if gtype == HEAD_SCALAR else "layer-mix")
    w.case(K_GATE, name, [gtype, L, H, hd], [W, B, a_mem, a_loc, g, out])


def gen_gate_const(w):
    H, hd = 9, 16
    for gc in (0.3, 0.0, 1.0):
        a_mem = randn(H, hd)
        a_loc = randn(H, hd)
        g = float(np.float32(gc))
        w.case(K_GATE_CONST, "gate const %g" % gc, [H, hd], [[g], a_mem, a_loc, g * a_mem + (1.0 - g) * a_loc])


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/data/memory_refs.bin"
    w = Writer()
    gen_sigma(w)
    gen_retrieve(w)
    # Consecutive writes from an empty memory; n = 1, 16, 256 tokens per write.
    # d = 64: M stored after the last write only (the earlier states are in it), to keep the file small.
    gen_update(w, LINEAR, 13, [1, 16, 256], [True] * 3)
    gen_update(w, DELTA, 13, [16, 1, 256, 16], [True] * 4)
    gen_update(w, LINEAR, 64, [1, 16, 16], [False, False, True])
    gen_update(w, DELTA, 64, [16, 1, 16], [False, False, True])
    gen_gqa(w)
    gen_gate(w, HEAD_SCALAR, 2, 9, 16)
    gen_gate(w, LAYER_MIX, 2, 9, 8)
    gen_gate_const(w)
    data = w.bytes()
    with open(path, "wb") as f:
        f.write(data)
    print("wrote %s: %d cases, %d bytes" % (path, len(w.cases), len(data)))


if __name__ == "__main__":
    main()
