#!/usr/bin/env bash
# The bundled example: Karpathy's TinyStories 260K Llama, named by its Hugging Face coordinates and resolved
# through the mirror ../shared/models on air-gapped machines (else the cache, else a download).
set -euo pipefail
cd "$(dirname "$0")/../.."
MODEL=hf:karpathy/tinyllamas/stories260K/stories260K.bin
TOKENIZER=hf:karpathy/tinyllamas/stories260K/tok512.bin
export PUZZLE_HF_MIRRORS="${PUZZLE_HF_MIRRORS:-../shared/models}"
OUT="${1:-runs/stories260K-example}"
mkdir -p "$OUT"

echo "== inspect" >&2
./puzzle inspect "$MODEL"
echo "== generate (greedy, 200 positions: equals llama2.c run.c's output)" >&2
./puzzle generate "$MODEL" --tokenizer "$TOKENIZER" --temperature 0 --steps 200 | tee "$OUT/greedy.txt"
echo "== eval (teacher-forced NLL on held-out TinyStories text)" >&2
./puzzle eval "$MODEL" --tokenizer "$TOKENIZER" --text ../shared/models/tinystories-val-text/tinystories_val.txt --max-tokens 512 --json | tee "$OUT/eval.json"
CONFIG=examples/stories260K/puzzle.yaml
echo "== profile: cost every candidate of the search space on an H100 (roofline)" >&2
./puzzle profile "$CONFIG"
echo "== library: cache the parent's activations, initialize every candidate" >&2
./puzzle library "$CONFIG"
echo "== distill: blockwise local distillation of every candidate" >&2
./puzzle distill "$CONFIG"
echo "== score: replace-1-block KL of every candidate on held-out text" >&2
./puzzle score "$CONFIG"
echo "== search: the least-KL architecture under the config's throughput and memory budgets" >&2
./puzzle search --config "$CONFIG"
echo "== convert to a Hugging Face directory, and run it" >&2
./puzzle convert "$MODEL" --tokenizer "$TOKENIZER" --to hf "$OUT/hf" --force
./puzzle generate "$OUT/hf" --prompt "Once upon a time" --temperature 0 --steps 60
