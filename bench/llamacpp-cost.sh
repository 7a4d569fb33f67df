#!/usr/bin/env bash
# The llamacpp-cpu cost model against llama.cpp itself (#26): a random-weight parent of the stories15M shape (dim 288,
# 6 layers, 6 heads, FFN 768, vocab 32000, BF16), its candidates timed in real llama.cpp (node-llama-cpp 3.21.1, one
# thread) by `puzzle profile` with `hardware: llamacpp-cpu`, then `--validate N` (default 10): N random children of the
# search space (not the MIP's picks) predicted from the block costs and measured whole in llama.cpp. Prints the table,
# the MAPE (goal <= 15%), the worst error and Spearman's rank correlation, beside this machine's one-thread roofline.
# About 3 minutes on 2 cores. Usage: bench/llamacpp-cost.sh [N]
source "$(dirname "$0")/common.sh"
need_llamacpp
N="${1:-10}"
OUT="$ROOT/bench-out/llamacpp-cost"; mkdir -p "$OUT"
need_shared "$TOK" "$TEXT"
M="$OUT/stories15M-shape-random-bf16"
[ -f "$M/model.safetensors" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomHf "$M" 288 6 6 6 768 32000 256 bf16 2>/dev/null
cat > "$OUT/llamacpp-cpu.yaml" <<YAML
parent: $M
tokenizer: $TOK
run_dir: $OUT/run
hardware: llamacpp-cpu
cost_model: measured
workload: {batch: 1, prefill_length: 64, generation_length: 64, weight_dtype: bf16, kv_dtype: bf16}
search_space:
  attention: {kv_heads: [6, 3, 2, 1], linear: true, no_op: true}
  ffn: {widths: [1.0, 0.75, 0.5, 0.25], no_op: true}
data:
  text: $TEXT
  seq_len: 64
  calibration: {offset: 0, sequences: 4}
  heldout: {offset: 400000, sequences: 2}
compress:
  throughputs: [1.5x]
  llama_cpp: {dir: $NLC}
YAML
rm -rf "$OUT/run"
./puzzle profile "$OUT/llamacpp-cpu.yaml" --validate "$N" 2>/dev/null | tail -n "$((N + 5))"
