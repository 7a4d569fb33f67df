#!/usr/bin/env bash
# MoE prefill and decode tokens/s against a dense model of the same active parameters (random weights,
# Mixtral-style routing), in one run; prints the ratio MoE / dense.
# Usage: bench/moe.sh [DIM LAYERS EXPERTS WIDTH TOPK PREFILL DECODE]   (THREADS=2 by default)
source "$(dirname "$0")/common.sh"
"${JAVA_RUN[@]}" dev.puzzle.examples.bench.MoeBench "${1:-512}" "${2:-8}" "${3:-8}" "${4:-1024}" "${5:-2}" "${6:-256}" "${7:-128}" "$THREADS" 2>/dev/null
