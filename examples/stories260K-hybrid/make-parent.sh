#!/usr/bin/env bash
# Makes the hybrid Mamba-Transformer parent of this example from Karpathy's stories260K (real weights). No trained
# Nemotron-H checkpoint is small enough to run here, so: the attention of layers 1 and 3 becomes a Mamba-2 mixer of the
# attention's shape (8 heads of 8, a group per KV head, state 8, 4 conv taps), started from the attention's own
# projections (x <- V, B <- K, C <- Q, out_proj <- O) and trained per layer against the attention's output on TinyStories
# text; then the whole model is distilled end to end against stories260K. Writes runs/stories260K-hybrid-parent (a
# heterogeneous Hugging Face directory: DeciLM block_configs with attention.mamba2, its tokenizer) and prints the held-out
# NLL of stories260K and of the hybrid (also in hybrid.json there). About a minute on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PUZZLE_HF_MIRRORS="${PUZZLE_HF_MIRRORS:-../shared/models}"
./puzzle hybridize hf:karpathy/tinyllamas/stories260K/stories260K.bin --tokenizer hf:karpathy/tinyllamas/stories260K/tok512.bin \
  --text ../shared/models/tinystories-val-text/tinystories_val.txt --mamba-layers 1,3 \
  --sequences 128 --tokens 32768 --gkd-tokens 65536 --force "${1:-runs/stories260K-hybrid-parent}"
