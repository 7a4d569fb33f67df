#!/usr/bin/env bash
# Decode of quantized weights as a user sees it: `puzzle generate --steps N --temperature 0` on GGUFs of a
# random-weight model of the stories110M shape (dim 768, 12 layers, FFN 2048, vocabulary 32000, tied
# classifier) written by `puzzle convert --to gguf --dtype X` in F32, BF16, Q8_0 and Q4_0 (and Q8_0/Q4_0 layers with
# the embeddings in Q8_0, `--embedding-dtype q8_0`, as llama.cpp's quantize also stores them: "+e"), beside real
# llama.cpp (node-llama-cpp 3.21.1, the runtime the children are deployed on) decoding the same file with the
# same thread count. Prints each side's tok/s (both timed after the first evaluation, as llama2.c's run.c times), the ratio (this toolkit / llama.cpp), the bytes each token reads
# (the weights, the F32 classifier included) and the speed-up over F32 beside the bytes ratio: decode is
# bound by the bytes read, so a format should gain about what it saves.
# SHAPE=1b: the same on a random model of TinyLlama-1.1B's shape (dim 2048, 22 layers, 32 heads, 4 KV heads, FFN 5632;
# 4.1 GB in F32, 0.6 GB in Q4_0 — past this machine's caches, as every real model is: the 110M one (0.07-0.4 GB)
# may sit in a large L3, where the number of memory streams a kernel reads at once does not show). There this
# toolkit is given the prompt "Once": greedy decode of that random model from BOS alone picks BOS again at once
# (its hidden state is little more than the input embedding), and generate stops at BOS as run.c does; llama.cpp
# decodes on regardless. Either way each side times the same number of single-token positions.
# Usage: bench/quant-decode.sh [STEPS]   (THREADS=2, SHAPE=110m by default; STEPS 256, or 64 for SHAPE=1b)
source "$(dirname "$0")/common.sh"
OUT="$ROOT/bench-out"; mkdir -p "$OUT"
need_shared "$TOK"
need_llamacpp
case "${SHAPE:-110m}" in
  110m) NAME=stories110M-random; DIMS=(768 12 12 12 2048 32000 1024); STEPS="${1:-256}"; PROMPT=() ;;
  1b) NAME=tinyllama-random; DIMS=(2048 22 32 4 5632 32000 2048); STEPS="${1:-64}"; PROMPT=(--prompt Once) ;;
  *) echo "bench/quant-decode.sh: SHAPE must be 110m or 1b, not '$SHAPE'" >&2; exit 2 ;;
esac
[ -f "$OUT/$NAME.bin" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomLlama2c "$OUT/$NAME.bin" "${DIMS[@]}" 2>/dev/null
tps() { grep -o 'achieved tok/s: [0-9.]*' | awk '{print $3}'; }
llamacpp_tps() { node "$LLAMACPP_DECODE" "$NLC" "$1" "$STEPS" "$2" 2>/dev/null | grep -o '"tokens_per_s_after_first":[0-9.]*' | cut -d: -f2; }
printf "%-7s %9s %12s %14s %7s %10s %14s %16s %9s\n" format MiB "puzzle tok/s" "llama.cpp tok/s" ratio "vs F32" "bytes vs F32" "llama.cpp best" "vs best"
f32_ours=""; f32_bytes=""
for fmt in f32 bf16 q8_0 q4_0 q8_0+e q4_0+e; do  # +e: the embeddings (the tied classifier) in Q8_0 too, as llama.cpp's quantize stores them
  dt=${fmt%+e}; emb=(); [ "$fmt" = "$dt" ] || emb=(--embedding-dtype q8_0)
  g="$OUT/$NAME-${fmt/+/-}.gguf"
  [ -f "$g" ] || ./puzzle convert "$OUT/$NAME.bin" --tokenizer "$TOK" --to gguf "$g" --dtype "$dt" "${emb[@]}" >/dev/null
  bytes=$(stat -c %s "$g")
  ours=$(./puzzle generate "$g" "${PROMPT[@]}" --steps "$STEPS" --temperature 0 --threads "$THREADS" 2>&1 >/dev/null | tps)
  theirs=$(llamacpp_tps "$g" "$THREADS")
  # llama.cpp's best rate over 1..THREADS threads: on a 2-vCPU VM its two-thread decode was slower than its one-thread
  # one (2026-12-05: Q4_0+e 71.9 vs 171.7 tok/s), so the same thread count alone flatters this toolkit.
  best=$theirs; bestT=$THREADS
  for ((t = 1; t < THREADS; t++)); do
    x=$(llamacpp_tps "$g" "$t")
    if awk -v a="$x" -v b="$best" 'BEGIN { exit !(a > b) }'; then best=$x; bestT=$t; fi
  done
  [ -n "$f32_ours" ] || { f32_ours=$ours; f32_bytes=$bytes; }
  printf "%-7s %9.1f %12s %14.1f %6.2fx %9.2fx %13.2fx %16s %8.2fx\n" "$fmt" "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')" "$ours" "$theirs" \
    "$(awk -v a="$ours" -v b="$theirs" 'BEGIN{print a/b}')" "$(awk -v a="$ours" -v b="$f32_ours" 'BEGIN{print a/b}')" \
    "$(awk -v a="$bytes" -v b="$f32_bytes" 'BEGIN{print b/a}')" "$(printf "%.1f (%dT)" "$best" "$bestT")" "$(awk -v a="$ours" -v b="$best" 'BEGIN{print a/b}')"
done
echo "(${SHAPE:-110m} shape; $STEPS positions from BOS${PROMPT:+ (this toolkit: from the prompt 'Once')}, greedy, $THREADS threads each; tok/s = positions after the first evaluation / their seconds on"
echo " both sides, as llama2.c's run.c counts (the first call, with this toolkit's JIT start, is in neither). ratio above 1: this toolkit is faster. 'vs F32': this toolkit's speed-up over its own F32;"
echo " 'bytes vs F32': how many times fewer bytes the file holds — the most a bandwidth-bound decode can gain. 'llama.cpp best': its fastest"
echo " rate over 1..$THREADS threads (and that count), 'vs best': this toolkit at $THREADS threads against it.)"
