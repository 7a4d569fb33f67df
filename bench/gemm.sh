#!/usr/bin/env bash
# FP32 GEMM GFLOP/s of this toolkit beside numpy/OpenBLAS on the same shapes and thread count; prints the ratio.
# Usage: bench/gemm.sh [M,N,K ...]   (THREADS=2, ROUNDS=3 by default)
source "$(dirname "$0")/common.sh"
need_debian numpy python3-numpy python3-threadpoolctl libopenblas0-pthread
# Debian's numpy links whatever libblas.so.3 the alternatives select: make sure that is OpenBLAS, not the reference BLAS.
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || { echo "installing Debian package libopenblas0-pthread" >&2; apt-get install -y -q libopenblas0-pthread python3-threadpoolctl >/dev/null; }
SHAPES=("$@")
[ ${#SHAPES[@]} -gt 0 ] || SHAPES=(512,512,512 1024,1024,1024 2048,2048,2048 4096,2048,512 4096,4096,1024)
# ROUNDS rounds (3 by default), each side once a round, which goes first alternating: this machine's speed drifts over
# a minute (other tenants), and a side measured only once can catch a slow stretch the other did not. Each side's best.
ROUNDS="${ROUNDS:-3}"
# The cores' FP32 multiply-add ceiling (FmaPeak: independent FMA chains, no memory traffic), measured before and after the
# rounds (the speed drifts); the higher is the reference for each side's share of it.
peak=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.FmaPeak "$THREADS" 2>/dev/null)
ours=""; theirs=""
for ((r = 0; r < ROUNDS; r++)); do
  if ((r % 2 == 0)); then
    ours+=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.GemmBench "$THREADS" "${SHAPES[@]}" 2>/dev/null)$'\n'
    theirs+=$(peer /usr/bin/python3 bench/gemm_numpy.py "${SHAPES[@]}" 2>/dev/null)$'\n'
  else
    theirs+=$(peer /usr/bin/python3 bench/gemm_numpy.py "${SHAPES[@]}" 2>/dev/null)$'\n'
    ours+=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.GemmBench "$THREADS" "${SHAPES[@]}" 2>/dev/null)$'\n'
  fi
done
peer /usr/bin/python3 -c "import numpy; from threadpoolctl import threadpool_info as t; [print('# peer BLAS:', i.get('internal_api'), i.get('version'), i.get('architecture'), 'threads', i.get('num_threads')) for i in t()]" 2>/dev/null || true
peak=$(awk -v a="$peak" -v b="$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.FmaPeak "$THREADS" 2>/dev/null)" 'BEGIN { print (a > b ? a : b) }')
printf "%-18s %12s %12s %12s %8s %14s\n" "M x N x K" "puzzle NN" "puzzle NT" "OpenBLAS" "ratio" "% of FMA peak"
for s in "${SHAPES[@]}"; do
  IFS=, read -r m n k <<<"$s"
  nn=$(awk -v m=$m -v n=$n -v k=$k '$1==m && $2==n && $3==k && $4=="NN" && $5>b {b=$5} END {print b}' <<<"$ours")
  nt=$(awk -v m=$m -v n=$n -v k=$k '$1==m && $2==n && $3==k && $4=="NT" && $5>b {b=$5} END {print b}' <<<"$ours")
  np_=$(awk -v m=$m -v n=$n -v k=$k '$1==m && $2==n && $3==k && $4>b {b=$4} END {print b}' <<<"$theirs")
  ratio=$(awk -v a="$nn" -v b="$np_" 'BEGIN { printf "%.2f", a / b }')
  shares=$(awk -v a="$nn" -v b="$np_" -v p="$peak" 'BEGIN { printf "%.0f%% / %.0f%%", 100 * a / p, 100 * b / p }')
  printf "%-18s %12s %12s %12s %7sx %14s\n" "${m}x${n}x${k}" "$nn" "$nt" "$np_" "$ratio" "$shares"
done
echo "(GFLOP/s, FP32, $THREADS threads, best of the runs of 1 s after 1 s of warm-up on each side, best of $ROUNDS interleaved rounds; ratio = puzzle NN / OpenBLAS; NT is the x·Wᵀ weight layout)"
echo "(% of FMA peak: puzzle NN / OpenBLAS against $peak GFLOP/s, what $THREADS threads of independent FMA chains reach here, FmaPeak)"
