#!/usr/bin/env bash
# Causal attention over whole sequences (prefill, scoring, evaluation): this toolkit's Attention.head over H heads
# beside PyTorch's scaled_dot_product_attention (Debian python3-torch) on the same shapes and thread count; prints the
# ratio. Usage: bench/attention.sh [H,T,E ...]   (THREADS=2)
source "$(dirname "$0")/common.sh"
need_debian torch python3-torch
SHAPES=("$@")
[ ${#SHAPES[@]} -gt 0 ] || SHAPES=(8,512,8 8,512,64 12,1024,64 8,1024,128)
ours=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.AttentionBench "$THREADS" "${SHAPES[@]}" 2>/dev/null)
theirs=$(peer /usr/bin/python3 bench/attention_torch.py "$THREADS" "${SHAPES[@]}")
printf "%-16s %12s %12s %14s\n" "H x T x E" "puzzle ms" "PyTorch ms" "speed ratio"
for s in "${SHAPES[@]}"; do
  IFS=, read -r h t e <<<"$s"
  a=$(awk -v h=$h -v t=$t -v e=$e '$1==h && $2==t && $3==e {print $4}' <<<"$ours")
  p=$(awk -v h=$h -v t=$t -v e=$e '$1==h && $2==t && $3==e {print $4}' <<<"$theirs")
  printf "%-16s %12s %12s %13.2fx\n" "${h}x${t}x${e}" "$a" "$p" "$(awk -v a=$a -v p=$p 'BEGIN{print p/a}')"
done
echo "(median time of causal attention over the sequence, FP32, $THREADS threads; speed ratio = PyTorch time / puzzle time, above 1 means puzzle is faster)"
