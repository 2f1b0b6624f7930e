#!/usr/bin/env bash
# `edgeinf eval` smoke test, seconds on the tiny stories260K model (no real model needed): LongBench on
# three short tasks for three methods and the run file's fields, resume after a finished and after a
# killed run, passkey / needle / perplexity on tiny grids, the report, one-line errors for bad input;
# and one tiny LongBench sample on SmolLM2 when models/ has it. One thread: the library's workers
# spin while they wait, which costs far more than it gains on a tiny model when the machine is busy.
set -u
BUILD=${BUILD:-build}
bin=$BUILD/edgeinf
stories=/work/shared/models/stories260K
lb=/work/shared/data/longbench
real=models/SmolLM2-135M-Instruct.Q4_1.gguf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

if [ ! -f "$stories/stories260K.bin" ] || [ ! -f "$lb/longbench_mini_en.jsonl" ]; then
  echo "skip eval smoke: $stories or $lb is absent"
  exit 0
fi
if ! $bin convert-llama2c "$stories/stories260K.bin" "$stories/tok512.bin" "$tmp/s.gguf" > /dev/null 2>&1; then
  echo "FAIL eval smoke: converting stories260K"
  exit 1
fi
m="$tmp/s.gguf"

ok_if() { # name, then a command whose success is the check; prints the error output on failure
  local name=$1; shift
  if "$@" > "$tmp/out" 2> "$tmp/err"; then echo "ok $name"; else echo "FAIL $name"; tail -5 "$tmp/err"; tail -5 "$tmp/out"; fi
}
py() { python3 - "$@" 2>&1; } # the Python checks print the assertion that failed

# short prompts (the end of each prompt, where the question is) keep every run at a few hundred tokens
python3 - "$lb/longbench_mini_en.jsonl" "$tmp/small.jsonl" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1], encoding="utf-8")]
with open(sys.argv[2], "w", encoding="utf-8") as f:
    for t in ("lcc", "trec", "samsum"):
        for r in [r for r in rows if r["task"] == t][:2]:
            r["prompt"] = r["prompt"][-1500:]
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
PY
cp "$lb/dataset2maxlen.json" "$tmp/"
d="$tmp/small.jsonl"
t0=$(date +%s)

ok_if "eval longbench: full, streaming, const0.3 on lcc, trec, samsum" \
  $bin eval longbench -m "$m" -t 1 --data "$d" --tasks lcc,trec,samsum --limit 1 --method full,streaming --method const0.3 --out-dir "$tmp/runs"
ok_if "eval longbench: run file fields, scores, middle truncation for full" py "$tmp/runs" <<'PY'
import json, sys
for m in ("full", "streaming", "const0.3"):
    d = json.load(open(f"{sys.argv[1]}/longbench-{m}.json"))
    assert d["tool"] == "edgeinf eval" and d["bench"] == "longbench" and d["complete"] is True, m
    assert d["requested"] == 3 and d["done"] == 3 and d["wall_s"] > 0 and d["started"].endswith("Z"), d
    assert d["method"]["name"] == m and d["method"]["path"] == ("full" if m == "full" else "infinite"), d["method"]
    assert d["method"]["freeze_memory"] == (m == "streaming") and d["method"]["gate"] == ("const" if m == "const0.3" else "none")
    assert (d["method"]["gate_const"] == 0.3) == (m == "const0.3"), d["method"]
    assert len(d["model"]["sha256"]) == 64 and d["model"]["n_ctx_train"] == 512 and d["model"]["chat_template"] is False
    assert d["profile"]["window"] > 0 and d["threads"] >= 1 and d["isa"] and "--method" in d["command"]
    assert len(d["options"]["data_sha256"]) == 64
    keys = [s["key"] for s in d["samples"]]
    assert keys == ["lcc/0", "trec/0", "samsum/0"], keys
    for s in d["samples"]:
        assert 0 <= s["score"] <= 1 and s["prompt_tokens"] > 0 and isinstance(s["prediction"], str) and s["answers"], s
        assert s["chat"] is False and s["generated_tokens"] >= 1 and s["seconds"] >= 0, s
        if m == "full":
            assert s["truncated"] > 0 and s["prompt_tokens"] <= 512 - json.load(open(sys.argv[1] + "/../dataset2maxlen.json"))[s["task"]], s
        else:
            assert s["truncated"] == 0, s
    sc = d["scores"]["tasks"]
    assert set(sc) == {"lcc", "trec", "samsum"} and all(v["n"] == 1 for v in sc.values()), sc
    assert abs(d["scores"]["average"] - sum(v["score"] for v in sc.values()) / 3) < 1e-9
    assert "\n" not in d["samples"][2]["prediction"].lstrip("\n"), "samsum stops at the newline token"
    assert "all_classes" in d["samples"][1] and "all_classes" not in d["samples"][0]
PY

# resume: --limit 2 keeps the three samples of --limit 1 and adds three
first=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['samples'][0]['prediction'])" "$tmp/runs/longbench-streaming.json")
$bin eval longbench -m "$m" -t 1 --data "$d" --limit 2 --method streaming --out-dir "$tmp/runs" > /dev/null 2> "$tmp/err"
again=$(python3 -c "import json,sys;print(json.load(open(sys.argv[1]))['samples'][0]['prediction'])" "$tmp/runs/longbench-streaming.json")
if grep -q "resuming: 3 samples already done" "$tmp/err" && [ "$first" = "$again" ] &&
   python3 -c "import json,sys;d=json.load(open(sys.argv[1]));assert d['done']==6 and d['requested']==6 and d['complete'] and len(d['samples'])==6" \
     "$tmp/runs/longbench-streaming.json"; then
  echo "ok eval longbench: resumes a finished run, keeps its samples, adds the new ones"
else echo "FAIL eval longbench: resume"; cat "$tmp/err"; fi

# killed run: kill -9 once the first sample is saved, then finish it
$bin eval longbench -m "$m" -t 1 --data "$d" --method closed --out-dir "$tmp/kill" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 1 2400); do # up to 2 min: the tests run side by side
  [ -f "$tmp/kill/longbench-closed.json" ] && break
  sleep 0.05
done
kill -9 $pid 2> /dev/null; wait $pid 2> /dev/null
n_before=$(python3 -c "import json,sys;print(len(json.load(open(sys.argv[1]))['samples']))" "$tmp/kill/longbench-closed.json" 2> /dev/null)
$bin eval longbench -m "$m" -t 1 --data "$d" --method closed --out-dir "$tmp/kill" > /dev/null 2> "$tmp/err"
if [ -n "$n_before" ] && [ "$n_before" -ge 1 ] && grep -q "resuming: $n_before samples already done" "$tmp/err" &&
   python3 -c "import json,sys;d=json.load(open(sys.argv[1]));assert d['complete'] and d['done']==6 and len({s['key'] for s in d['samples']})==6==len(d['samples'])" \
     "$tmp/kill/longbench-closed.json"; then
  echo "ok eval longbench: a run killed after $n_before samples completes when restarted (none lost or repeated)"
else echo "FAIL eval longbench: killed run (had ${n_before:-no file})"; cat "$tmp/err"; fi

ok_if "eval passkey: tiny grid; full skips lengths beyond its context" \
  $bin eval passkey -m "$m" -t 1 --lengths 256,600 --depths 0,100 --keys 1 --method full,const0.5 --out-dir "$tmp/runs"
ok_if "eval passkey: cells, lengths, skipped full cells" py "$tmp/runs" <<'PY'
import json, sys
f = json.load(open(f"{sys.argv[1]}/passkey-full.json"))
c = json.load(open(f"{sys.argv[1]}/passkey-const0.5.json"))
assert f["requested"] == 2 and f["complete"] and {s["length"] for s in f["samples"]} == {256}, f["samples"]
assert c["requested"] == 4 and c["complete"] and [s["key"] for s in c["samples"]] == ["256/0/0", "256/100/0", "600/0/0", "600/100/0"]
for s in c["samples"]:
    assert len(s["answer"]) == 5 and s["answer"].isdigit() and s["correct"] in (0, 1) and s["prompt_tokens"] > 0.8 * s["length"], s
    assert s["correct"] == (s["answer"] in s["prediction"]), s
assert [(x["length"], x["depth"], x["n"]) for x in c["scores"]["cells"]] == [(256, 0, 1), (256, 100, 1), (600, 0, 1), (600, 100, 1)]
assert [(x["length"], x["n"]) for x in c["scores"]["lengths"]] == [(256, 2), (600, 2)]
assert c["scores"]["lengths"][1]["accuracy"] == sum(s["correct"] for s in c["samples"][2:]) / 2
PY
ok_if "eval passkey: the H2O and SnapKV baselines run past the window" \
  $bin eval passkey -m "$m" -t 1 --lengths 600 --depths 50 --keys 1 --method h2o,snapkv --out-dir "$tmp/runs"
ok_if "eval passkey h2o, snapkv: method fields" py "$tmp/runs" <<'PY'
import json, sys
for name in ("h2o", "snapkv"):
    d = json.load(open(f"{sys.argv[1]}/passkey-{name}.json"))
    assert d["complete"] and d["method"]["evict"] == name and d["method"]["gate"] == "none", d["method"]
    assert d["samples"][0]["prompt_tokens"] > d["profile"]["sink"] + d["profile"]["window"] + d["profile"]["chunk"], d["profile"]
PY
ok_if "eval needle: tiny grid" $bin eval needle -m "$m" -t 1 --lengths 300 --depths 50 --keys 2 --method streaming --out-dir "$tmp/runs"
ok_if "eval needle: samples and essays hash" py "$tmp/runs" <<'PY'
import json, sys
d = json.load(open(f"{sys.argv[1]}/needle-streaming.json"))
assert d["complete"] and len(d["samples"]) == 2 and len(d["options"]["essays_sha256"]) == 64
assert all(s["answer"] and s["depth"] == 50 for s in d["samples"]), d["samples"]
assert len({s["answer"] for s in d["samples"]}) == 2, "the two keys of a cell ask the same needle"
# a sample made from another prompt (another needle): the resume below must run it again
s = d["samples"][1]
s["answer"], s["prediction"], s["correct"] = "an older needle", "stale", 1
json.dump(d, open(f"{sys.argv[1]}/needle-streaming.json", "w"))
PY
ok_if "eval needle: resume runs a sample whose answer changed" bash -c '
  "$1" eval needle -m "$2" -t 1 --lengths 300 --depths 50 --keys 2 --method streaming --out-dir "$3" 2> "$3/resume.err" &&
  grep -q "1 stored samples asked for another answer" "$3/resume.err" && grep -q "resuming: 2 samples" "$3/resume.err"' _ \
  "$bin" "$m" "$tmp/runs"
ok_if "eval needle: the stale sample was replaced, the other kept" py "$tmp/runs" <<'PY'
import json, sys
d = json.load(open(f"{sys.argv[1]}/needle-streaming.json"))
assert d["complete"] and len(d["samples"]) == 2, len(d["samples"])
assert not any(s["answer"] == "an older needle" or s["prediction"] == "stale" for s in d["samples"]), d["samples"]
PY
# prefix reuse: passkey cells share the filler, needles the haystack before them; the saved state
# (taken after eviction and memory updates: small window) must give the same predictions as
# prefilling every prompt from scratch (--no-reuse); test_infinite checks the bits
for mode in reuse no-reuse; do
  flag=""; [ $mode = no-reuse ] && flag=--no-reuse
  for bench in needle passkey; do
    ok_if "eval $bench: $mode run" $bin eval $bench -m "$m" -t 1 --lengths 400 --depths 50,100 --keys 2 \
      --method full,streaming,h2o,const0.3 --sink 4 --window 128 --chunk 64 $flag --out-dir "$tmp/$mode"
  done
done
ok_if "eval needle, passkey: a reused prefix gives the same predictions as none" py "$tmp" <<'PY'
import json, sys
for bench in ("needle", "passkey"):
    for m in ("full", "streaming", "h2o", "const0.3"):
        a, b = (json.load(open(f"{sys.argv[1]}/{d}/{bench}-{m}.json"))["samples"] for d in ("reuse", "no-reuse"))
        assert [s["prediction"] for s in a] == [s["prediction"] for s in b], (bench, m)
        assert any(s["prefix_reused"] > 0 for s in a), (bench, m, [s["prefix_reused"] for s in a])
        assert all(s["prefix_reused"] == 0 for s in b), (bench, m)
PY
# needles of different lengths move the insertion point from key to key: the state is kept where the
# coming prompts still agree (eval_next_prompts), so no needle after a depth's first prefills from
# scratch; with one prompt of lookahead, 400/100/2 and 1000/50/3 did
for mode in reuse no-reuse; do
  flag=""; [ $mode = no-reuse ] && flag=--no-reuse
  ok_if "eval needle: 5 keys, $mode run" $bin eval needle -m "$m" -t 1 --lengths 400,1000 --depths 25,50,75,100 --keys 5 \
    --method streaming --sink 4 --window 128 --chunk 64 $flag --out-dir "$tmp/keys-$mode"
done
ok_if "eval needle: every key after a depth's first starts from a saved prefix, predictions as without" py "$tmp" <<'PY'
import json, sys
a, b = (json.load(open(f"{sys.argv[1]}/keys-{d}/needle-streaming.json"))["samples"] for d in ("reuse", "no-reuse"))
assert len(a) == 40 and [s["prediction"] for s in a] == [s["prediction"] for s in b]
assert all(s["prefix_reused"] > 0 for s in a if s["k"] > 0), [(s["key"], s["prefix_reused"]) for s in a]
PY
ok_if "eval ppl: bands over 1200 tokens" \
  $bin eval ppl -m "$m" -t 1 --corpus wikitext --max-tokens 1200 --bands 256,512 --method full,closed,streaming --out-dir "$tmp/runs"
ok_if "eval ppl: bands add up, full stops at the trained context" py "$tmp/runs" <<'PY'
import json, math, sys
for m, n in (("full", 512), ("closed", 1200), ("streaming", 1200)):
    d = json.load(open(f"{sys.argv[1]}/ppl-{m}.json"))
    s = d["samples"][0]
    assert s["key"] == "wikitext" and s["tokens"] == n and s["limited_to_n_ctx"] == (m == "full"), s
    assert sum(b["tokens"] for b in s["bands"]) == n - 1, s
    assert [b["from"] for b in s["bands"]] == ([0, 256] if m == "full" else [0, 256, 512]), s
    assert all(1 < b["ppl"] < 1e4 and abs(b["ppl"] - math.exp(b["nll_sum"] / b["tokens"])) < 1e-6 * b["ppl"] for b in s["bands"])
    assert d["scores"]["wikitext"] == s["bands"]
PY
# gate files (edgeinf gate-new): an untrained gate of bias 0 reads memory at g = 0.5 in every head, so it
# must give const0.5's numbers exactly (both gate types), one of bias -8 the closed gate's; a gate made for
# another window is refused with one line naming the file
G="--task stream --sink 4 --window 128 --chunk 64"
ok_if "gate-new: three untrained gates for the tiny model" sh -c "$bin gate-new -m '$m' $G --bias 0 -o '$tmp/half.gguf' &&
  $bin gate-new -m '$m' $G --type layer-mix --bias 0 -o '$tmp/halfmix.gguf' && $bin gate-new -m '$m' $G -o '$tmp/shut.gguf' &&
  $bin gate-new -m '$m' --task stream --sink 4 --window 64 --chunk 64 -o '$tmp/w64.gguf'"
ok_if "eval ppl: gate files as methods" $bin eval ppl -m "$m" -t 1 --corpus wikitext --max-tokens 1200 --bands 256,512 \
  --sink 4 --window 128 --chunk 64 --method const0.5,closed,streaming,gate:"$tmp/half.gguf",gate:"$tmp/halfmix.gguf" \
  --method gate:"$tmp/shut.gguf" --out-dir "$tmp/gates"
ok_if "eval ppl: gate b=0 = const0.5 and gate b=-8 = closed, exactly; the files are named and hashed" py "$tmp/gates" "$tmp" <<'PY'
import hashlib, json, sys
run = lambda m: json.load(open(f"{sys.argv[1]}/ppl-{m}.json"))
bands = lambda m: run(m)["samples"][0]["bands"]
assert bands("gate:half.gguf") == bands("const0.5") == bands("gate:halfmix.gguf"), (bands("gate:half.gguf"), bands("const0.5"))
assert bands("gate:shut.gguf") == bands("closed"), (bands("gate:shut.gguf"), bands("closed"))
assert bands("const0.5") != bands("streaming")  # the memory is read: the equalities above say something
for name in ("half", "halfmix", "shut"):
    me = run(f"gate:{name}.gguf")["method"]
    path = f"{sys.argv[2]}/{name}.gguf"
    assert me["gate"] == "file" and me["gate_file"] == path, me
    assert me["gate_sha256"] == hashlib.sha256(open(path, "rb").read()).hexdigest(), me
PY
# QMSum on a two-query meeting written here (the real transcripts are long)
mkdir -p "$tmp/qm"
python3 - "$tmp/qm/Mtg001.json" <<'PY'
import json, sys
json.dump({"meeting_transcripts": [{"speaker": "Anna", "content": "The cat sat on the mat and the dog ran to the park ."},
                                   {"speaker": "Ben", "content": "Then they had lunch , and the sun came out over the hill ."}],
           "general_query_list": [{"query": "Summarize the whole meeting", "answer": "Anna and Ben talked about a cat and a dog ."}],
           "specific_query_list": [{"query": "What did Ben say about lunch ?", "answer": "Ben said they had lunch ."}]},
          open(sys.argv[1], "w"))
PY
ok_if "eval qmsum: two queries, full and streaming" \
  $bin eval qmsum -m "$m" -t 1 --data "$tmp/qm" --max-new 24 --method full,streaming --out-dir "$tmp/runs"
ok_if "eval qmsum: ROUGE per sample and x 100 in the scores" py "$tmp/runs" <<'PY'
import json, sys
for m in ("full", "streaming"):
    d = json.load(open(f"{sys.argv[1]}/qmsum-{m}.json"))
    assert d["complete"] and [s["key"] for s in d["samples"]] == ["Mtg001/g0", "Mtg001/s0"], d["samples"]
    assert d["profile"]["name"] == "summarize" and d["options"]["max_new"] == 24
    for s in d["samples"]:
        assert s["query"] and s["answer"] and 1 <= s["generated_tokens"] <= 24 and all(0 <= s[k] <= 1 for k in ("rouge1", "rouge2", "rougeL"))
    for k in ("rouge1", "rouge2", "rougeL"):
        assert abs(d["scores"][k] - 100 * sum(s[k] for s in d["samples"]) / 2) < 1e-9, d["scores"]
    assert d["scores"]["n"] == 2
PY
# --count-only: token counts that add up (per task and total), truncation only for full, no run file
$bin eval longbench -m "$m" --data "$d" --tasks lcc,trec --limit 2 --method full,streaming --count-only --out-dir "$tmp/count" > "$tmp/count.txt" 2> "$tmp/err"
ok_if "eval longbench --count-only: per-task and total prompt tokens" py "$tmp/count.txt" "$tmp/count" <<'PY'
import os, sys
rows = {}
method = None
for line in open(sys.argv[1]):
    if line.startswith("longbench prompt tokens, method "):
        method = line.split("method ")[1].split(",")[0]
    elif line.startswith("  ") and not line.split()[0] == "task":
        f = line.split()
        rows[(method, f[0])] = [int(x) for x in f[1:]]
for m in ("full", "streaming"):
    tot = rows[(m, "total")]
    parts = [rows[(m, t)] for t in ("lcc", "trec")]
    assert tot == [a + b for a, b in zip(*parts)], (m, rows)
    assert tot[0] == 4 and tot[1] > 0, rows
assert rows[("streaming", "total")][2] == 0 and rows[("full", "total")][1] + rows[("full", "total")][2] >= rows[("streaming", "total")][1] - 64, rows
assert not os.path.exists(sys.argv[2]), "count-only wrote run files"
PY
ok_if "eval report: runs of every benchmark" $bin eval report --runs "$tmp/runs" --out "$tmp/r.md" --plots "$tmp/plots"
ok_if "eval report: tables name the tasks" grep -q "lcc" "$tmp/r.md"

expect_error() { # name, expected message (grep -E), command...
  local name=$1 want=$2; shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$?
  if [ "$rc" -ne 0 ] && [ "$rc" -lt 128 ] && [ "$(wc -l < "$tmp/err")" -eq 1 ] && grep -Eq "^edgeinf: .*$want" "$tmp/err"; then
    echo "ok $name"
  else echo "FAIL $name (exit $rc)"; cat "$tmp/err"; fi
}
expect_error "eval: a gate made for another window" "w64.gguf.*window 64" \
  $bin eval ppl -m "$m" -t 1 --corpus wikitext --max-tokens 300 --sink 4 --window 128 --chunk 64 --method gate:"$tmp/w64.gguf" --out-dir "$tmp/e"
expect_error "gate-new: no output file" "-o FILE is required" $bin gate-new -m "$m"
expect_error "gate-new: unknown gate type" "--type expects head-scalar or layer-mix" $bin gate-new -m "$m" -o "$tmp/e.gguf" --type fancy
expect_error "eval: unknown method" "unknown method 'fancy'" $bin eval longbench -m "$m" -t 1 --method fancy --out-dir "$tmp/e"
expect_error "eval: method given twice" "'full' given twice" $bin eval longbench -m "$m" -t 1 --method full,full --out-dir "$tmp/e"
expect_error "eval: unknown task" "unknown task 'nope'" $bin eval longbench -m "$m" -t 1 --tasks lcc,nope --out-dir "$tmp/e"
printf '{"task": "lcc", "id": 0, "prompt": "x", "answers": ["y"]}\n{"task": "lcc", "prompt": \n' > "$tmp/bad.jsonl"
expect_error "eval: malformed JSONL names file and line" "bad.jsonl:2: line 1 col 2[0-9]: unexpected end" \
  $bin eval longbench -m "$m" -t 1 --data "$tmp/bad.jsonl" --maxlen "$tmp/dataset2maxlen.json" --out-dir "$tmp/e"
printf '{"task": "lcc", "id": 0, "prompt": "x"}\n' > "$tmp/bad.jsonl"
expect_error "eval: missing field" "bad.jsonl:1: missing or bad field answers" \
  $bin eval longbench -m "$m" -t 1 --data "$tmp/bad.jsonl" --maxlen "$tmp/dataset2maxlen.json" --out-dir "$tmp/e"
printf '{"task": "frobnicate", "id": 0, "prompt": "x", "answers": ["y"]}\n' > "$tmp/bad.jsonl"
expect_error "eval: unknown task in the data" "bad.jsonl:1: unknown task 'frobnicate'" \
  $bin eval longbench -m "$m" -t 1 --data "$tmp/bad.jsonl" --maxlen "$tmp/dataset2maxlen.json" --out-dir "$tmp/e"
expect_error "eval: resume refuses another profile" "made with a different profile.sink" \
  $bin eval longbench -m "$m" -t 1 --data "$d" --limit 1 --method streaming --sink 8 --out-dir "$tmp/runs"
cp "$d" "$tmp/other.jsonl"; echo >> "$tmp/other.jsonl"
expect_error "eval: resume refuses other data" "different options.data_sha256" \
  $bin eval longbench -m "$m" -t 1 --data "$tmp/other.jsonl" --maxlen "$tmp/dataset2maxlen.json" --limit 1 --method streaming --out-dir "$tmp/runs"
expect_error "eval: resume refuses another seed" "different options.seed" \
  $bin eval passkey -m "$m" -t 1 --lengths 256 --depths 0 --keys 1 --seed 7 --method const0.5 --out-dir "$tmp/runs"
echo '{"tool": "edgeinf eval", "bench": ' > "$tmp/runs/qmsum-closed.json"
expect_error "eval: broken run file" "qmsum-closed.json: line 2 col 1: unexpected end" \
  $bin eval qmsum -m "$m" -t 1 --data "$tmp/qm" --limit 1 --method closed --out-dir "$tmp/runs"
expect_error "eval: a huge negative length" "--lengths: expected" $bin eval passkey -m "$m" -t 1 --lengths -9999999999999999K --out-dir "$tmp/e"
python3 -c "import json,sys; m=json.load(open(sys.argv[1])); m['lcc']=1e10; json.dump(m, open(sys.argv[2],'w'))" "$tmp/dataset2maxlen.json" "$tmp/huge.json"
expect_error "eval: a maxlen entry out of range" "huge.json: 'lcc' = 10000000000: expected a whole number of tokens" \
  $bin eval longbench -m "$m" -t 1 --data "$d" --maxlen "$tmp/huge.json" --method streaming --out-dir "$tmp/e"
expect_error "eval: full attention with nothing left for the prompt" "--max-new: 600 new tokens do not leave room" \
  $bin eval qmsum -m "$m" -t 1 --data "$tmp/qm" --max-new 600 --method full --out-dir "$tmp/e"
printf '{"task": "lcc", "id": 0, "prompt": "x\\u0000y", "answers": ["y"]}\n' > "$tmp/nul.jsonl"
expect_error "eval: a NUL character in a prompt" "nul.jsonl:1: missing or bad field prompt" \
  $bin eval longbench -m "$m" -t 1 --data "$tmp/nul.jsonl" --maxlen "$tmp/dataset2maxlen.json" --out-dir "$tmp/e"
head -n 1 "$d" > "$tmp/dup.jsonl"; head -n 2 "$d" >> "$tmp/dup.jsonl"
expect_error "eval: a sample twice in the data" "dup.jsonl:2: sample lcc/.* appears twice \(also line 1\)" \
  $bin eval longbench -m "$m" -t 1 --data "$tmp/dup.jsonl" --maxlen "$tmp/dataset2maxlen.json" --out-dir "$tmp/e"
expect_error "eval: bad depth" "--depths: expected" $bin eval passkey -m "$m" -t 1 --depths 150 --out-dir "$tmp/e"
expect_error "eval: option of another benchmark" "unknown option '--tasks' for eval passkey" $bin eval passkey -m "$m" -t 1 --tasks lcc
expect_error "eval: no model" "needs -m MODEL" $bin eval ppl --corpus wikitext
expect_error "eval: missing model file" "nope.gguf" $bin eval ppl -m "$tmp/nope.gguf" --out-dir "$tmp/e"
expect_error "eval: unknown corpus" "unknown corpus 'poems'" $bin eval ppl -m "$m" -t 1 --corpus poems
expect_error "eval: unknown benchmark" "unknown eval benchmark" $bin eval frob
ok_if "eval --help lists the benchmarks and methods" sh -c "$bin eval --help | grep -q 'gate:FILE' && $bin eval --help | grep -q qmsum"
echo "(eval smoke on stories260K: $(( $(date +%s) - t0 )) s)"

# one LongBench sample on the real model (a short prompt, a small cache)
if [ -f "$real" ]; then
  ok_if "eval longbench on SmolLM2: one trec sample, streaming, chat template recorded" \
    $bin eval longbench -m "$real" --data "$d" --tasks trec --limit 1 --method streaming -t 1 --chunk 128 --sink 16 --window 256 --out-dir "$tmp/real"
  ok_if "eval longbench on SmolLM2: run file" py "$tmp/real/longbench-streaming.json" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["complete"] and d["model"]["chat_template"] is True and d["profile"]["window"] == 256 and d["profile"]["sink"] == 16
s = d["samples"][0]
assert s["key"] == "trec/0" and s["chat"] is False and s["prompt_tokens"] > 100 and s["generated_tokens"] >= 1, s
PY
else
  echo "skip eval longbench on SmolLM2: $real is absent (make model)"
fi
