#!/usr/bin/env bash
# A parent bigger than the heap: a random-weight 1.1B BF16 Llama (TinyLlama-1.1B's shape: dim 2048, 22 layers,
# 32 heads, 4 KV heads, FFN 5632, vocab 32000; 2.2 GB of safetensors) taken through inspect, eval (64 tokens),
# profile, and library + distill + score of one layer, every command under PUZZLE_JAVA_OPTS=-Xmx2g, with its
# wall time and peak RSS (/usr/bin/time -v). Then the same weights converted to F32 are evaluated the same way:
# the two NLLs must agree (2e-3).
# Usage: bench/big_parent.sh   (needs ~7 GB of disk under bench-out/)
source "$(dirname "$0")/common.sh"
OUT="$ROOT/bench-out/big"; mkdir -p "$OUT"
need_shared "$TOK" "$TEXT"
M="$OUT/tinyllama-1.1b-random-bf16"
[ -f "$M/model.safetensors" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomHf "$M" 2048 22 32 4 5632 32000 2048 bf16 2>/dev/null
cat > "$OUT/big.yaml" <<YAML
parent: $M
tokenizer: $TOK
run_dir: $OUT/run
hardware: h100-80gb-sxm
cost_model: roofline
workload: {batch: 64, prefill_length: 256, generation_length: 256, weight_dtype: bf16, kv_dtype: bf16}
search_space:   # the parent's block everywhere, two candidates in layer 0
  overrides:
    - {layers: [0], attention: {kv_heads: [2]}, ffn: {widths: [0.5]}}
data:
  text: $TEXT
  seq_len: 64
  calibration: {offset: 0, sequences: 4}
  heldout: {offset: 400000, sequences: 2}
distill: {mode: decoupled, tokens: 1024, batch_sequences: 2, lr: 1.0e-3, warmup: 0.1, weight_decay: 0.0, clip: 1.0, cache_dtype: bf16, seed: 1}
YAML
rm -rf "$OUT/run"
printf "%-10s %6s %9s %12s\n" command exit "wall s" "peak RSS MiB"
measure() { # measure NAME ARGS...
  PUZZLE_JAVA_OPTS=-Xmx2g /usr/bin/time -v ./puzzle "${@:2}" >"$OUT/$1.out" 2>"$OUT/$1.err"; local rc=$?
  printf "%-10s %6s %9s %12s\n" "$1" "$rc" "$(awk -F': ' '/Elapsed/ {print $2}' "$OUT/$1.err")" \
    "$(awk -F': ' '/Maximum resident/ {printf "%.0f", $2/1024}' "$OUT/$1.err")"
}
set +e
measure inspect inspect "$M"
measure eval eval "$M" --tokenizer "$TOK" --text "$TEXT" --max-tokens 64 --json
for s in profile library distill score; do measure "$s" "$s" "$OUT/big.yaml"; done
[ -d "$OUT/f32" ] || ./puzzle convert "$M" --to hf --dtype f32 "$OUT/f32" >/dev/null
measure eval-f32 eval "$OUT/f32" --tokenizer "$TOK" --text "$TEXT" --max-tokens 64 --json
nll() { grep -o '"mean_nll":[0-9.]*' "$OUT/$1.out" | cut -d: -f2; }
echo "mean NLL, BF16 weights read as stored: $(nll eval); the same weights in F32: $(nll eval-f32);" \
  "difference $(awk -v a="$(nll eval)" -v b="$(nll eval-f32)" 'BEGIN{d=a-b; if (d<0) d=-d; print d}') (must be < 2e-3)"
