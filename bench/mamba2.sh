#!/usr/bin/env bash
# A Mamba-2 mixer block (d 512, 8 heads of 64, state 64, 2 groups, 4 conv taps): one decode step against its state and one
# training step (forward + backward, 4 × 256 tokens), this toolkit's Mamba2Op beside PyTorch (Debian python3-torch) running
# the published definition's naive recurrence on the same shapes and thread count; prints the ratio.
# Usage: bench/mamba2.sh   (THREADS=2)
source "$(dirname "$0")/common.sh"
need_debian torch python3-torch
ours=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.Mamba2Bench "$THREADS" 2>/dev/null)
theirs=$(peer /usr/bin/python3 bench/mamba2_torch.py "$THREADS")
printf "%-8s %12s %12s %14s\n" step "puzzle ms" "PyTorch ms" "speed ratio"
for b in decode train; do
  a=$(awk -v k=$b '$1==k {print $2}' <<<"$ours"); p=$(awk -v k=$b '$1==k {print $2}' <<<"$theirs")
  printf "%-8s %12s %12s %13.2fx\n" "$b" "$a" "$p" "$(awk -v a=$a -v p=$p 'BEGIN{print p/a}')"
done
echo "(median ms, FP32, $THREADS threads; speed ratio = PyTorch time / puzzle time, above 1 means puzzle is faster)"
