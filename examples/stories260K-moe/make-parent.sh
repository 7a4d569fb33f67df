#!/usr/bin/env bash
# Makes the MoE parent of this example from Karpathy's stories260K (real weights): each layer's SwiGLU FFN
# (172 neurons) split into 4 experts of 43 by co-activation on TinyStories text, top-3 routing (Mixtral's,
# renormalized), routers fitted and then router + experts distilled against the dense FFN per layer.
# Writes runs/stories260K-moe-parent (a MixtralForCausalLM directory with its tokenizer) and prints the
# held-out NLL of the dense parent and of the MoE one (also in moefication.json there). About 20 s on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PUZZLE_HF_MIRRORS="${PUZZLE_HF_MIRRORS:-../shared/models}"
./puzzle moefy hf:karpathy/tinyllamas/stories260K/stories260K.bin --tokenizer hf:karpathy/tinyllamas/stories260K/tok512.bin \
  --text ../shared/models/tinystories-val-text/tinystories_val.txt --experts 4 --top-k 3 --sequences 128 --tokens 131072 \
  --gkd-tokens 0 --force "${1:-runs/stories260K-moe-parent}"
