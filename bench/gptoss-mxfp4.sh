#!/usr/bin/env bash
# gpt-oss decode with MXFP4 experts against the same model with BF16 experts (#23): a random-weight gpt-oss
# (GptOssForCausalLM: dim 512, 8 layers, 8 heads × 64, 2 KV heads, 16 experts of width 512, top-4, sliding window 128 on
# even layers, YaRN, Llama-2's 32000-token vocabulary), written by RandomGptOss as a Hugging Face directory twice —
# experts in BF16, then in MXFP4 (the released layout's blocks and scales; everything else BF16) — and decoded by
# `puzzle generate --steps N --temperature 0`, beside real llama.cpp (node-llama-cpp 3.21.1, the runtime gpt-oss children
# are deployed on) decoding each one's GGUF (`puzzle convert --to gguf`) with the same thread count. Prints each side's
# tok/s, the ratio (this toolkit / llama.cpp), the bytes of the experts a token reads (top-4 of 16 per layer) and the
# MXFP4 speed-up over BF16 beside how many times fewer bytes those experts hold.
# Usage: bench/gptoss-mxfp4.sh [STEPS]   (THREADS=2 by default)
source "$(dirname "$0")/common.sh"
STEPS="${1:-256}"
OUT="$ROOT/bench-out"; mkdir -p "$OUT"
need_shared "$TOK"
need_llamacpp
tps() { grep -o 'achieved tok/s: [0-9.]*' | awk '{print $3}'; }
printf "%-8s %12s %14s %7s %17s %9s %13s\n" experts "puzzle tok/s" "llama.cpp tok/s" ratio "expert MiB/token" "vs BF16" "bytes vs BF16"
bf16_ours=""; bf16_bytes=""
for dt in bf16 mxfp4; do
  d="$OUT/gpt-oss-random-$dt"
  [ -f "$d/config.json" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomGptOss "$d" 512 8 8 2 64 16 4 512 32000 4096 128 "$dt" 2>/dev/null
  g="$d.gguf"
  [ -f "$g" ] || ./puzzle convert "$d" --tokenizer "$TOK" --to gguf "$g" >/dev/null
  # a token reads top-4 experts × 3 matrices × 512 × 512 values per layer, 8 layers: BF16 2 bytes a value, MXFP4 17 bytes per 32
  bytes=$(awk -v t="$dt" 'BEGIN{v=8*4*3*512*512; print (t=="bf16") ? v*2 : v*17/32}')
  ours=$(./puzzle generate "$d" --tokenizer "$TOK" --steps "$STEPS" --temperature 0 --threads "$THREADS" 2>&1 >/dev/null | tps)
  theirs=$(node "$LLAMACPP_DECODE" "$NLC" "$g" "$STEPS" "$THREADS" 2>/dev/null | grep -o '"tokens_per_s_after_first":[0-9.]*' | cut -d: -f2)
  [ -n "$bf16_ours" ] || { bf16_ours=$ours; bf16_bytes=$bytes; }
  printf "%-8s %12s %14s %6.2fx %17.2f %8.2fx %12.2fx\n" "$dt" "$ours" "$theirs" "$(awk -v a="$ours" -v b="$theirs" 'BEGIN{print a/b}')" \
    "$(awk -v b="$bytes" 'BEGIN{print b/1048576}')" "$(awk -v a="$ours" -v b="$bf16_ours" 'BEGIN{print a/b}')" "$(awk -v a="$bytes" -v b="$bf16_bytes" 'BEGIN{print b/a}')"
done
echo "($STEPS positions from BOS, greedy, $THREADS threads each; tok/s = positions / seconds as each reports it, JIT warm-up included"
echo " for this toolkit. ratio above 1: this toolkit is faster. 'vs BF16': this toolkit's MXFP4 speed-up over its own BF16 experts;"
echo " 'bytes vs BF16': how many times fewer bytes the experts a token reads hold — the most a bandwidth-bound decode can gain there.)"
