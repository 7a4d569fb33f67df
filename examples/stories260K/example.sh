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
echo "== profile the search space of puzzle.yaml on an H100 (roofline), then search it" >&2
./puzzle profile examples/stories260K/puzzle.yaml
# Until scoring lands (issue #3) the profile has costs only: maximize parameters kept under the config's budgets.
./puzzle search --config examples/stories260K/puzzle.yaml --objective stats.num_params --maximize
echo "== convert to a Hugging Face directory, and run it" >&2
./puzzle convert "$MODEL" --tokenizer "$TOKENIZER" --to hf "$OUT/hf" --force
./puzzle generate "$OUT/hf" --prompt "Once upon a time" --temperature 0 --steps 60
