#!/usr/bin/env bash
# The AVX2 and AVX-512 kernels give the same bits end to end: the perplexity of a ~500-token stream
# (every logit of every token feeds it) through full attention and through EdgeInfinite with a
# constant gate and a small window (eviction, memory updates and reads all happen), in 64-token
# chunks and one token at a time (the decode path), is identical with EI_ISA=avx2 and
# EI_ISA=avx512 on SmolLM2. Evaluation runs resumed on another x86 machine therefore
# continue with the same numbers. Skips without the model or without AVX-512; AMX is not covered.
set -u
BUILD=${BUILD:-build}
bin=$BUILD/edgeinf
real=models/SmolLM2-135M-Instruct.Q4_1.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
name="ISA bit-identity: perplexity with EI_ISA=avx2 and avx512"
if [ ! -f "$real" ]; then echo "skip $name: $real is absent (make model)"; exit 0; fi
# a bit-identity check gains nothing from the sanitizers (test_kernels runs both kernels under them)
case $BUILD in *asan*) echo "skip $name: sanitizer build (the plain build runs it)"; exit 0 ;; esac
# any text will do; the README is long enough, repeated
for _ in 1 2 3 4; do cat README.md; done > "$tmp/text.txt"
run() { # isa, out-dir, extra options
  local isa=$1 out=$2; shift 2
  if ! EI_ISA=$isa $bin eval ppl --corpus wikitext --wikitext "$tmp/text.txt" -m "$real" -t 1 --out-dir "$tmp/$isa/$out" \
      "$@" > "$tmp/out" 2> "$tmp/err"; then
    echo "FAIL $name: the $isa $out run failed"; tail -3 "$tmp/err"; exit 1
  fi
}
for isa in avx2 avx512; do
  # prefill (64-token chunks): full attention, and EdgeInfinite evicting into memory
  run $isa prefill --max-tokens 512 --method full,const0.3 --sink 4 --window 128 --chunk 64
  # one token at a time: the decode path, over more than one 256-key span
  run $isa decode --max-tokens 448 --method const0.3 --sink 4 --window 320 --chunk 1
done
python3 - "$tmp" "$name" <<'EOF2'
import json, sys
tmp, name = sys.argv[1], sys.argv[2]
for run, m in [("prefill", "full"), ("prefill", "const0.3"), ("decode", "const0.3")]:
    a, b = (json.load(open(f"{tmp}/{isa}/{run}/ppl-{m}.json")) for isa in ("avx2", "avx512"))
    if b["isa"] != "avx512":
        print(f"skip {name}: this CPU has no AVX-512 (the run used {b['isa']})")
        sys.exit(0)
    sa, sb = a["scores"]["wikitext"], b["scores"]["wikitext"]
    ok = a["isa"] == "avx2" and sa == sb and sa and sa[0]["tokens"] > 400
    print(f"{'ok' if ok else 'FAIL'} {name}, {run} {m}: nll_sum {sa[0]['nll_sum']!r} vs {sb[0]['nll_sum']!r}")
EOF2
