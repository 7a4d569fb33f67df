#!/usr/bin/env bash
# MIP solve times: the 80 × 16 Llama-3.3-70B library to optimality (both solvers), a synthetic
# 120 × 100 × 3-budget instance, and a 50-point frontier sweep. Usage: bench/mip.sh   (THREADS=2)
source "$(dirname "$0")/common.sh"
LIB="$ROOT/../shared/data/llama-3.3-70b-block-library/block_library.json"
[ -f "$LIB" ] || { echo "bench/mip.sh: $LIB is absent" >&2; exit 1; }
"${JAVA_RUN[@]}" dev.puzzle.examples.bench.MipBench "$LIB" "$THREADS" 2>/dev/null
