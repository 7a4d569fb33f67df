#!/usr/bin/env bash
# Prefill and decode tokens/s of this toolkit beside a llama2.c-style C decoder (bench/peer/decode.c, built
# with -O3 as llama2.c's `make run` and -Ofast as its `make runfast`), on the same llama2.c .bin files:
# stories260K (real weights) and random-weight models of the stories15M and stories110M shapes.
# Usage: bench/decode.sh [PROMPT GEN]   (THREADS=2 by default)
source "$(dirname "$0")/common.sh"
PROMPT="${1:-128}"; GEN="${2:-128}"
OUT="$ROOT/bench-out"; mkdir -p "$OUT"
command -v gcc >/dev/null || apt-get install -y -q gcc >/dev/null
gcc -O3 -march=native -fopenmp -o "$OUT/decode_O3" bench/peer/decode.c -lm
gcc -Ofast -march=native -fopenmp -o "$OUT/decode_Ofast" bench/peer/decode.c -lm
[ -f "$OUT/stories15M-random.bin" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomLlama2c "$OUT/stories15M-random.bin" 288 6 6 6 768 32000 256 2>/dev/null
[ -f "$OUT/stories110M-random.bin" ] || "${JAVA_RUN[@]}" dev.puzzle.examples.bench.RandomLlama2c "$OUT/stories110M-random.bin" 768 12 12 12 2048 32000 1024 2>/dev/null
MODELS=("$ROOT/../shared/models/stories260K/stories260K.bin" "$OUT/stories15M-random.bin" "$OUT/stories110M-random.bin")
val() { awk -v k="$1" '$1==k {print $2}' <<<"$2"; }
printf "%-22s %-8s %10s %12s %12s %9s %9s\n" model phase puzzle "C -O3" "C -Ofast" "vs -O3" "vs -Ofast"
for m in "${MODELS[@]}"; do
  [ -f "$m" ] || { echo "skip: $m absent" >&2; continue; }
  ours=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.DecodeBench "$m" "$THREADS" "$PROMPT" "$GEN" 2>/dev/null)
  o3=$(OMP_NUM_THREADS="$THREADS" "$OUT/decode_O3" "$m" "$PROMPT" "$GEN" 2>/dev/null)
  of=$(OMP_NUM_THREADS="$THREADS" "$OUT/decode_Ofast" "$m" "$PROMPT" "$GEN" 2>/dev/null)
  for phase in prefill decode; do
    a=$(val $phase "$ours"); b=$(val $phase "$o3"); c=$(val $phase "$of")
    printf "%-22s %-8s %10s %12s %12s %8.2fx %8.2fx\n" "$(basename "$m" .bin)" "$phase" "$a" "$b" "$c" "$(awk -v a=$a -v b=$b 'BEGIN{print a/b}')" "$(awk -v a=$a -v b=$c 'BEGIN{print a/b}')"
  done
done
echo "(tokens/s, FP32, $THREADS threads, $PROMPT prompt + $GEN generated positions, best of 3 after a warm-up."
echo " Prefill: puzzle runs the prompt as one batched forward; the C peer, like run.c, one position at a time.)"
