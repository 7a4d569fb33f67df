#!/usr/bin/env bash
# Decode as a user sees it: `puzzle generate --steps 256 --temperature 0` (startup and JIT warm-up included)
# beside llama2.c's own run.c built as its `runomp` target (../shared/peers/llama2.c/run.c), on the same
# llama2.c .bin files: random-weight models of the stories15M and stories110M shapes (FP32), and the 110M
# model converted to a BF16 Hugging Face directory for this toolkit (run.c reads FP32 only, so its FP32
# figure is the peer there). Prints each side's own "achieved tok/s", the wall time of each command,
# and the ratio (this toolkit / run.c) of both. Both count tok/s after their first position (run.c: "the first
# iteration can be slower"); the wall time is the whole command, first token, JIT warm-up and start-up included.
# Usage: bench/decode.sh [STEPS]   (THREADS=2 by default)
source "$(dirname "$0")/common.sh"
STEPS="${1:-256}"
OUT="$ROOT/bench-out"; mkdir -p "$OUT"
RUNC="$ROOT/../shared/peers/llama2.c/run.c"
need_shared "$RUNC" "$TOK"
command -v gcc >/dev/null || apt-get install -y -q gcc >/dev/null
gcc -Ofast -march=native -fopenmp "$RUNC" -o "$OUT/runomp" -lm   # llama2.c's Makefile, target runomp
[ -f "$OUT/stories15M-random.bin" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomLlama2c "$OUT/stories15M-random.bin" 288 6 6 6 768 32000 256 2>/dev/null
[ -f "$OUT/stories110M-random.bin" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomLlama2c "$OUT/stories110M-random.bin" 768 12 12 12 2048 32000 1024 2>/dev/null
[ -d "$OUT/stories110M-random-bf16" ] || ./puzzle convert "$OUT/stories110M-random.bin" --to hf --dtype bf16 --force "$OUT/stories110M-random-bf16" >/dev/null
tps() { grep -o 'achieved tok/s: [0-9.]*' | awk '{print $3}'; }
wall() { /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; }
printf "%-26s %12s %12s %7s %10s %10s %7s\n" model "puzzle tok/s" "run.c tok/s" ratio "puzzle s" "run.c s" ratio
row() { # row NAME OUR_MODEL PEER_MODEL
  local ours peer ow pw
  ours=$(./puzzle generate "$2" --tokenizer "$TOK" --steps "$STEPS" --temperature 0 --threads "$THREADS" 2>&1 >/dev/null | tps)
  peer=$(peer "$OUT/runomp" "$3" -z "$TOK" -n "$STEPS" -t 0 2>&1 | tps)
  ow=$(wall ./puzzle generate "$2" --tokenizer "$TOK" --steps "$STEPS" --temperature 0 --threads "$THREADS")
  pw=$(wall env OMP_NUM_THREADS="$THREADS" "$OUT/runomp" "$3" -z "$TOK" -n "$STEPS" -t 0)
  printf "%-26s %12s %12s %6.2fx %10s %10s %6.2fx\n" "$1" "$ours" "$peer" "$(awk -v a="$ours" -v b="$peer" 'BEGIN{print a/b}')" \
    "$ow" "$pw" "$(awk -v a="$ow" -v b="$pw" 'BEGIN{print b/a}')"
}
row "stories15M (FP32)" "$OUT/stories15M-random.bin" "$OUT/stories15M-random.bin"
row "stories110M (FP32)" "$OUT/stories110M-random.bin" "$OUT/stories110M-random.bin"
row "stories110M (BF16 vs FP32)" "$OUT/stories110M-random-bf16" "$OUT/stories110M-random.bin"
echo "($STEPS positions from BOS, greedy, $THREADS threads; tok/s as each program reports it; wall = the whole command, startup included."
echo " A ratio above 1 means this toolkit is faster.)"
