#!/usr/bin/env bash
# `edgeinf eval` smoke test on the tiny stories260K model (seconds): LongBench on one small task for
# three methods, the run file's fields, resume after a finished and after a killed run, passkey and
# perplexity on tiny grids, the report, and one-line errors for bad input.
set -u
BUILD=${BUILD:-build}
bin=$BUILD/edgeinf
stories=../shared/models/stories260K
data=../shared/data/longbench/longbench_mini_en.jsonl
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$stories/stories260K.bin" ] || [ ! -f "$data" ]; then
  echo "skip eval smoke: $stories or $data is absent"
  exit 0
fi
$bin convert-llama2c "$stories/stories260K.bin" "$stories/tok512.bin" "$tmp/s.gguf" > /dev/null 2>&1
m="$tmp/s.gguf"

check() { # name, command...
  local name=$1; shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then echo "ok $name"; else echo "FAIL $name"; tail -5 "$tmp/err"; fi
}

# one LongBench sample (lcc: a short prompt) per method
check "eval longbench: full, streaming, const0.3 on one lcc sample" \
  $bin eval longbench -m "$m" --tasks lcc --limit 1 --method full,streaming,const0.3 --out-dir "$tmp/runs"
check "eval longbench: run file has the fields and a score per task" python3 - "$tmp/runs" <<'PY'
import json, sys
for m in ("full", "streaming", "const0.3"):
    d = json.load(open(f"{sys.argv[1]}/longbench-{m}.json"))
    assert d["bench"] == "longbench" and d["complete"] is True and d["method"]["name"] == m, m
    assert len(d["model"]["sha256"]) == 64 and d["profile"]["window"] > 0 and d["threads"] >= 1
    s = d["samples"][0]
    assert s["key"] == "lcc/0" and s["group"] == "lcc" and 0 <= s["score"] <= 1 and s["prompt_tokens"] > 0
    assert isinstance(s["prediction"], str) and s["answers"]
    assert d["scores"]["groups"]["lcc"]["n"] == 1
assert json.load(open(f"{sys.argv[1]}/longbench-full.json"))["samples"][0]["truncated"] > 0  # 512-token context
PY
# a small data set (short prompts) for the resume tests
python3 - "$data" "$tmp/small.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for t in ("lcc", "repobench-p"):
        for r in [r for r in rows if r["task"] == t][:2]:
            r["prompt"] = r["prompt"][-1500:]
            f.write(json.dumps(r) + "\n")
PY
cp "$(dirname "$data")/dataset2maxlen.json" "$tmp/"
first=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['samples'][0]['prediction'])" "$tmp/runs/longbench-streaming.json")
$bin eval longbench -m "$m" --data "$tmp/small.jsonl" --tasks lcc --limit 2 --method streaming --out-dir "$tmp/runs" > /dev/null 2> "$tmp/err"
again=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['samples'][0]['prediction'])" "$tmp/runs/longbench-streaming.json")
if grep -q "resuming: 1 samples already done" "$tmp/err" && [ "$first" = "$again" ] &&
   python3 -c "import json,sys;d=json.load(open(sys.argv[1]));assert d['done']==2 and d['complete']" "$tmp/runs/longbench-streaming.json"; then
  echo "ok eval longbench: resumes a finished run and keeps its samples"
else echo "FAIL eval longbench: resume"; cat "$tmp/err"; fi

# killed run: stop it after its first sample is saved, then finish it
$bin eval longbench -m "$m" --data "$tmp/small.jsonl" --method streaming --out-dir "$tmp/kill" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 300); do
  [ -f "$tmp/kill/longbench-streaming.json" ] && break
  sleep 0.05
done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
$bin eval longbench -m "$m" --data "$tmp/small.jsonl" --method streaming --out-dir "$tmp/kill" > /dev/null 2> "$tmp/err"
if python3 -c "import json,sys;d=json.load(open(sys.argv[1]));assert d['complete'] and d['done']==4 and len({s['key'] for s in d['samples']})==4" \
     "$tmp/kill/longbench-streaming.json"; then
  echo "ok eval longbench: a killed run completes when restarted (no sample lost or repeated)"
else echo "FAIL eval longbench: killed run"; cat "$tmp/err"; fi

check "eval passkey: tiny grid" $bin eval passkey -m "$m" --lengths 256,400 --depths 0,100 --keys 1 --method full,const0.5 --out-dir "$tmp/runs"
check "eval needle: tiny grid" $bin eval needle -m "$m" --lengths 300 --depths 50 --keys 2 --method streaming --out-dir "$tmp/runs"
check "eval ppl: bands over 1200 tokens" $bin eval ppl -m "$m" --corpus wikitext --max-tokens 1200 --bands 256,512 --method full,closed,streaming --out-dir "$tmp/runs"
check "eval ppl: bands add up, full stops at the trained context" python3 - "$tmp/runs" <<'PY'
import json, sys
for m, n in (("full", 512), ("closed", 1200), ("streaming", 1200)):
    s = json.load(open(f"{sys.argv[1]}/ppl-{m}.json"))["samples"][0]
    assert s["tokens"] == n and sum(b["tokens"] for b in s["bands"]) == n - 1, (m, s)
    assert all(1 < b["ppl"] < 1e4 for b in s["bands"]), s
PY
check "eval report: tables and heat maps" $bin eval report --runs "$tmp/runs" --out "$tmp/r.md" --plots "$tmp/plots"
if grep -q "| lcc |" "$tmp/r.md" && grep -q "passkey accuracy" "$tmp/r.md" && grep -q "Perplexity" "$tmp/r.md" &&
   python3 -c "import sys,xml.dom.minidom as x;[x.parse(f) for f in sys.argv[1:]]" "$tmp"/plots/passkey-*.svg; then
  echo "ok eval report: content and well-formed SVG"
else echo "FAIL eval report: content"; cat "$tmp/r.md"; fi

expect_error() { # name, expected substring, command...
  local name=$1 want=$2; shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -q "^edgeinf: .*$want" "$tmp/err"; then
    echo "ok $name"
  else echo "FAIL $name (exit $rc)"; cat "$tmp/err"; fi
}
expect_error "eval: unknown method" "unknown method 'fancy'" $bin eval longbench -m "$m" --method fancy --out-dir "$tmp/e"
expect_error "eval: unknown task" "unknown task 'nope'" $bin eval longbench -m "$m" --tasks nope --out-dir "$tmp/e"
printf '{"task": "lcc", "id": 0, "prompt": "x", "answers": ["y"]}\n{"task": "lcc", "prompt": \n' > "$tmp/bad.jsonl"
expect_error "eval: malformed JSONL names file and line" "bad.jsonl:2: line 2 col 1: unexpected end" $bin eval longbench -m "$m" --data "$tmp/bad.jsonl" --out-dir "$tmp/e"
expect_error "eval: resume refuses another profile" "made with another profile" \
  $bin eval longbench -m "$m" --tasks lcc --limit 1 --method streaming --sink 8 --out-dir "$tmp/runs"
expect_error "eval: bad depth" "not a percentage" $bin eval passkey -m "$m" --depths 150 --out-dir "$tmp/e"
expect_error "eval: unknown benchmark" "unknown eval benchmark" $bin eval frob
