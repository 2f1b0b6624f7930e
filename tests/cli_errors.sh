#!/usr/bin/env bash
# Bad input to the CLI: each case must exit non-zero (not by a signal), print exactly one line on
# stderr starting with "edgeinf:" that names the problem, and write nothing to stdout.
set -u
BUILD=${BUILD:-build}
bin=$BUILD/edgeinf
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
model=models/SmolLM2-135M-Instruct.Q4_1.gguf
stories=../shared/models/stories260K

expect_error() { # name, expected substring, command...
  local name=$1 want=$2; shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$?
  local lines; lines=$(wc -l < "$tmp/err")
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then
    echo "FAIL $name: exit status $rc"; cat "$tmp/err"; return
  fi
  if [ "$lines" -ne 1 ] || ! grep -q "^edgeinf: .*$want" "$tmp/err"; then
    echo "FAIL $name: expected one stderr line containing '$want', got:"; cat "$tmp/err"; return
  fi
  if [ -s "$tmp/out" ]; then echo "FAIL $name: wrote to stdout"; return; fi
  echo "ok $name"
}

expect_last_error() { # the same, where informational lines (a profile scaled down to the tiny model, the path) come first
  local name=$1 want=$2; shift 2
  "$@" > "$tmp/out" 2> "$tmp/err" < /dev/null
  local rc=$?
  if [ "$rc" -eq 0 ] || [ "$rc" -ge 128 ]; then echo "FAIL $name: exit status $rc"; cat "$tmp/err"; return; fi
  if ! tail -n 1 "$tmp/err" | grep -q "^edgeinf: .*$want" || [ "$(grep -c "$want" "$tmp/err")" -ne 1 ]; then
    echo "FAIL $name: expected a last stderr line containing '$want', got:"; cat "$tmp/err"; return
  fi
  if [ -s "$tmp/out" ]; then echo "FAIL $name: wrote to stdout"; return; fi
  echo "ok $name"
}

expect_error "cli: missing model file" "cannot open" $bin run -m "$tmp/nope.gguf" -p hi
expect_error "cli: unknown command" "unknown command" $bin frobnicate
expect_error "cli: unknown flag" "unknown option '--frob'" $bin run -m x -p hi --frob
expect_error "cli: flag without value" "needs a value" $bin run -m x -p
expect_error "cli: bad number" "expects an integer" $bin run -m x -p hi -n many
expect_error "cli: no prompt" "exactly one of" $bin run -m x
printf 'GGUF' > "$tmp/tiny.gguf"
expect_error "cli: tiny file" "truncated" $bin run -m "$tmp/tiny.gguf" -p hi
head -c 1000 /dev/urandom > "$tmp/random.gguf"
expect_error "cli: not a GGUF" "bad magic" $bin info -m "$tmp/random.gguf"
expect_error "cli: missing prompt file" "cannot open" $bin run -m "$tmp/tiny.gguf" -f "$tmp/none.txt"

if [ -f "$model" ]; then
  # long-input options: routing, profiles and gates
  expect_error "cli: bad --mode" "--mode expects auto, full or infinite" $bin run -m "$model" -p hi --mode sideways
  expect_error "cli: unknown profile" "unknown profile 'nosuch'" $bin run -m "$model" -p hi --profile nosuch
  expect_error "cli: unknown task" "--task 'poetry' is unknown" $bin run -m "$model" -p hi --task poetry
  expect_error "cli: profile past the trained context" "exceeds the model's trained context" $bin run -m "$model" -p hi --sink 4000 --window 4096
  expect_error "cli: window not a multiple of the chunk" "multiple of chunk" $bin run -m "$model" -p hi --window 1000 --chunk 128
  expect_error "cli: missing gate file" "cannot open" $bin run -m "$model" -p hi --gate "$tmp/none.gguf"
  expect_error "cli: gate file not a GGUF" "bad magic" $bin run -m "$model" -p hi --gate "$tmp/random.gguf"
  expect_error "cli: gate and constant gate" "not both" $bin run -m "$model" -p hi --gate "$tmp/random.gguf" --gate-const 0.3
  expect_error "cli: H2O with a gate" "baseline without memory" $bin run -m "$model" -p hi --evict h2o --gate-const 0.3
  expect_error "cli: SnapKV with a gate" "baseline without memory" $bin run -m "$model" -p hi --evict snapkv --gate-const 0.3
  expect_error "cli: unknown eviction policy" "expects oldest, h2o or snapkv" $bin run -m "$model" -p hi --evict lru
  expect_error "cli: --observe without SnapKV" "applies to --evict snapkv only" $bin run -m "$model" -p hi --evict h2o --observe 8
  expect_last_error "cli: SnapKV observers past the chunk" "exceeds the chunk" $bin run -m "$model" -p hi --mode infinite --evict snapkv --observe 4096
  expect_last_error "cli: SnapKV observers outside the recent tokens" "recent tokens kept" $bin run -m "$model" -p hi --mode infinite --evict snapkv --observe 16 --recent 8
  expect_error "cli: H2O recent past the window" "do not fit the window" $bin run -m "$model" -p hi --mode infinite --evict h2o --recent 9999
  expect_error "cli: constant gate out of range" "expects a number in \[0, 1\]" $bin run -m "$model" -p hi --gate-const 1.5
  printf 'chunk = 128\nwindow = lots\n' > "$tmp/bad.profile"
  expect_error "cli: bad profile file value" "bad.profile:2: bad value 'lots' for 'window'" $bin run -m "$model" -p hi --profile-file "$tmp/bad.profile"
  printf 'colour = blue\n' > "$tmp/bad2.profile"
  expect_error "cli: unknown profile file key" "unknown key 'colour'" $bin plan -m "$model" --profile-file "$tmp/bad2.profile"
  if $bin plan -m "$model" --profile summarize --gate-const 0.5 > "$tmp/plan" 2> "$tmp/err" && grep -q "memory M" "$tmp/plan" && grep -q "session arena total" "$tmp/plan"; then
    echo "ok cli: plan lists the buffers"
  else
    echo "FAIL cli: plan lists the buffers"; cat "$tmp/err"
  fi
  head -c 5000000 "$model" > "$tmp/trunc.gguf"
  expect_error "cli: truncated model" "outside the file" $bin run -m "$tmp/trunc.gguf" -p hi
  head -c 700 "$model" > "$tmp/trunc2.gguf"
  expect_error "cli: model truncated in metadata" "truncated" $bin info -m "$tmp/trunc2.gguf"
  printf 'caf\xc3 au lait' > "$tmp/bad_utf8.txt"
  expect_error "cli: invalid UTF-8 prompt" "UTF-8" $bin run -m "$model" -f "$tmp/bad_utf8.txt" -n 1
  python3 -c "print('word ' * 3000)" > "$tmp/long.txt"
  expect_error "cli: prompt longer than context" "longer than the context" $bin run -m "$model" -f "$tmp/long.txt" --ctx 256 -n 1
else
  echo "skip cli: model-based error cases: $model is absent (run make model)"
fi

if [ -f "$stories/stories260K.bin" ]; then
  $bin convert-llama2c "$stories/stories260K.bin" "$stories/tok512.bin" "$tmp/s.gguf" 2> /dev/null
  # patch bytes of the converted file (python stdlib only): architecture, tensor type, dimensions
  python3 - "$tmp/s.gguf" "$tmp" <<'PY'
import sys
src, out = sys.argv[1], sys.argv[2]
data = open(src, "rb").read()
def save(name, b): open(f"{out}/{name}", "wb").write(b)
save("arch.gguf", data.replace(b"llama", b"mamba", 1))
# tensor info of token_embd.weight: name, n_dims u32, ne u64*n, type u32, offset u64
i = data.index(b"token_embd.weight") + len(b"token_embd.weight")
nd = int.from_bytes(data[i:i+4], "little")
t = i + 4 + 8 * nd
save("type.gguf", data[:t] + (6).to_bytes(4, "little") + data[t+4:])           # q5_0: not supported
save("dims.gguf", data[:i+4] + (1 << 45).to_bytes(8, "little") + data[i+12:])   # absurd dimension
o = t + 4
save("offset.gguf", data[:o] + (1 << 40).to_bytes(8, "little") + data[o+8:])     # offset past the end
k = data.index(b"llama.embedding_length") + len(b"llama.embedding_length") + 4
save("hparam.gguf", data[:k] + (1000000).to_bytes(4, "little") + data[k+4:])     # absurd embedding size
PY
  expect_error "cli: unsupported architecture" "architecture 'mamba' is not supported" $bin run -m "$tmp/arch.gguf" -p hi
  expect_error "cli: unsupported tensor type" "q5_0, which this engine does not support" $bin run -m "$tmp/type.gguf" -p hi
  expect_error "cli: absurd dimension" "absurd" $bin info -m "$tmp/dims.gguf"
  expect_error "cli: offset past the end" "outside the file" $bin info -m "$tmp/offset.gguf"
  expect_error "cli: absurd hyper-parameter" "embedding_length" $bin info -m "$tmp/hparam.gguf"
  # and the good file works end to end through the CLI
  if $bin run -m "$tmp/s.gguf" -p "Once upon a time" -n 16 --temp 0 > "$tmp/out" 2> "$tmp/err" && grep -q "stats" "$tmp/err"; then
    echo "ok cli: converted stories260K generates"
  else
    echo "FAIL cli: converted stories260K generates"; cat "$tmp/err"
  fi
  if $bin run -m "$tmp/s.gguf" -p "Once upon a time" -n 80 --temp 0 --mode infinite --sink 4 --window 32 --chunk 16 --gate-const 0.3 \
       > "$tmp/out" 2> "$tmp/err" && grep -q "path: EdgeInfinite (requested)" "$tmp/err" && grep -q "tokens in memory" "$tmp/err" \
       && grep -q '"path":"infinite"' "$tmp/err"; then
    echo "ok cli: --mode infinite runs the EdgeInfinite path and says so"
  else
    echo "FAIL cli: --mode infinite runs the EdgeInfinite path and says so"; cat "$tmp/err"
  fi
  # gate files: one for the tiny model with a NaN bias; a good one for the tiny model used with another
  # model or another window; a prompt file with a NUL byte; a profile file whose name would break JSON
  G="--mode infinite --sink 4 --window 32 --chunk 16"
  $bin gate-new -m "$tmp/s.gguf" $G --bias 1.5 -o "$tmp/g.gguf" 2> /dev/null
  python3 -c "import struct,sys; p=sys.argv[1]; b=open(p,'rb').read(); open(p+'.nan','wb').write(b.replace(struct.pack('<f',1.5), struct.pack('<f',float('nan'))))" "$tmp/g.gguf"
  expect_last_error "cli: gate with a NaN bias" "g.gguf.nan: gate biases contain NaN or Inf" $bin run -m "$tmp/s.gguf" -p hi $G --gate "$tmp/g.gguf.nan"
  expect_last_error "cli: gate for another window" "g.gguf: gate was trained with sink 4, window 32" $bin run -m "$tmp/s.gguf" -p hi --mode infinite --sink 4 --window 64 --chunk 16 --gate "$tmp/g.gguf"
  if [ -f "$model" ]; then
    expect_error "cli: gate for another model" "g.gguf: gate is for a model with 5 layers, 8 heads" $bin run -m "$model" -p hi $G --gate "$tmp/g.gguf"
  fi
  printf 'Once upon\0 a time' > "$tmp/nul.txt"
  expect_error "cli: NUL byte in a prompt file" "nul.txt: a NUL byte at offset 9" $bin run -m "$tmp/s.gguf" -f "$tmp/nul.txt"
  printf 'name = my"profile\n' > "$tmp/bad.profile"
  expect_last_error "cli: profile name with a quote" "bad.profile:1: profile name" $bin run -m "$tmp/s.gguf" -p hi --profile-file "$tmp/bad.profile"
  expect_error "gate-new: a NaN bias" "expects a number" $bin gate-new -m "$tmp/s.gguf" --bias nan -o "$tmp/x.gguf"
else
  echo "skip cli: stories260K cases: $stories is absent"
fi
