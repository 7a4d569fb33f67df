#!/usr/bin/env bash
# Makes the gpt-oss-shaped parent of this example from Karpathy's stories260K (real weights). No trained gpt-oss
# checkpoint is small enough to run here, so: stories260K's embeddings and attention are carried over; each layer's
# SwiGLU FFN (172 neurons) is split into 4 experts of 43 by co-activation on TinyStories text and trained per layer
# as gpt-oss experts (clamped SwiGLU, biases, a biased router, top-3 of 4: the softmax over the top-3 logits) against the
# dense FFN; the attention gets q/k/v/o biases and one sink logit per head (all zero to start) and its layers alternate
# sliding (window 32) and full as gpt-oss's do; then the whole model is distilled end to end against stories260K.
# Writes runs/gpt-oss-tiny-parent (a GptOssForCausalLM directory with its tokenizer) and prints the held-out NLL of
# stories260K and of the gpt-oss-shaped model (also in moefication.json there). About 45 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PUZZLE_HF_MIRRORS="${PUZZLE_HF_MIRRORS:-../shared/models}"
./puzzle moefy hf:karpathy/tinyllamas/stories260K/stories260K.bin --tokenizer hf:karpathy/tinyllamas/stories260K/tok512.bin \
  --text ../shared/models/tinystories-val-text/tinystories_val.txt --layout gpt-oss --window 32 --experts 4 --top-k 3 \
  --sequences 128 --tokens 65536 --gkd-tokens 131072 --force "${1:-runs/gpt-oss-tiny-parent}"
