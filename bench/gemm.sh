#!/usr/bin/env bash
# FP32 GEMM GFLOP/s of this toolkit beside numpy/OpenBLAS on the same shapes and thread count; prints the ratio.
# Usage: bench/gemm.sh [M,N,K ...]   (THREADS=2 by default)
source "$(dirname "$0")/common.sh"
need_debian numpy python3-numpy python3-threadpoolctl libopenblas0-pthread
# Debian's numpy links whatever libblas.so.3 the alternatives select: make sure that is OpenBLAS, not the reference BLAS.
dpkg -s libopenblas0-pthread >/dev/null 2>&1 || { echo "installing Debian package libopenblas0-pthread" >&2; apt-get install -y -q libopenblas0-pthread python3-threadpoolctl >/dev/null; }
SHAPES=("$@")
[ ${#SHAPES[@]} -gt 0 ] || SHAPES=(512,512,512 1024,1024,1024 2048,2048,2048 4096,2048,512 4096,4096,1024)
ours=$("${JAVA_RUN[@]}" dev.puzzle.examples.bench.GemmBench "$THREADS" "${SHAPES[@]}" 2>/dev/null)
theirs=$(peer /usr/bin/python3 bench/gemm_numpy.py "${SHAPES[@]}")
printf "%-18s %12s %12s %12s %8s\n" "M x N x K" "puzzle NN" "puzzle NT" "OpenBLAS" "ratio"
for s in "${SHAPES[@]}"; do
  IFS=, read -r m n k <<<"$s"
  nn=$(awk -v m=$m -v n=$n -v k=$k '$1==m && $2==n && $3==k && $4=="NN" {print $5}' <<<"$ours")
  nt=$(awk -v m=$m -v n=$n -v k=$k '$1==m && $2==n && $3==k && $4=="NT" {print $5}' <<<"$ours")
  np_=$(awk -v m=$m -v n=$n -v k=$k '$1==m && $2==n && $3==k {print $4}' <<<"$theirs")
  ratio=$(awk -v a="$nn" -v b="$np_" 'BEGIN { printf "%.2f", a / b }')
  printf "%-18s %12s %12s %12s %7sx\n" "${m}x${n}x${k}" "$nn" "$nt" "$np_" "$ratio"
done
echo "(GFLOP/s, FP32, $THREADS threads, best of the runs of 1 s after 1 s of warm-up on each side; ratio = puzzle NN / OpenBLAS; NT is the x·Wᵀ weight layout)"
