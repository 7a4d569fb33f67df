#!/usr/bin/env bash
# One BLD training step (forward + backward + AdamW) of a SwiGLU FFN block (8×256 tokens, d 512, h 1536) and of an
# attention block (d 512, 8 heads, 2 KV heads, T 256), this toolkit beside PyTorch (Debian python3-torch) on the
# same shapes and thread count; prints the ratio.   Usage: bench/train_step.sh   (THREADS=2)
source "$(dirname "$0")/common.sh"
need_debian torch python3-torch
ours=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.TrainStepBench "$THREADS" 2>/dev/null)
theirs=$(peer /usr/bin/python3 bench/train_step_torch.py "$THREADS")
printf "%-10s %12s %12s %14s\n" block "puzzle ms" "PyTorch ms" "speed ratio"
for b in ffn attention; do
  a=$(awk -v k=$b '$1==k {print $2}' <<<"$ours"); p=$(awk -v k=$b '$1==k {print $2}' <<<"$theirs")
  printf "%-10s %12s %12s %13.2fx\n" "$b" "$a" "$p" "$(awk -v a=$a -v p=$p 'BEGIN{print p/a}')"
done
echo "(median step time, FP32, $THREADS threads; speed ratio = PyTorch time / puzzle time, above 1 means puzzle is faster)"
