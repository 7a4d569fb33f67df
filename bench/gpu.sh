#!/usr/bin/env bash
# On the accelerator machine (run bench/gpu-prepare.sh here first and carry build/gpu): the CUDA backend against
# the CPU path (BLD jobs and a replace-1-block score, 1e-3 relative) and against PyTorch on the same GPU (a training
# step of the stories110M-shape FFN and attention blocks, FP32 and BF16; the 4096^3 GEMM), and the measured cost
# model on the GPU beside the H200 roofline profile. Prints the ratios; exit 1 when an equality check failed.
#   Usage: bench/gpu.sh   (writes its logs under $OUT, or bench-out/gpu)
set -uo pipefail
cd "$(dirname "$0")/.."
G=build/gpu
O="${OUT:-bench-out/gpu}"
mkdir -p "$O"
[ -x "$G/jdk/bin/java" ] || { echo "bench/gpu.sh: no $G/jdk here; run bench/gpu-prepare.sh first and carry build/gpu" >&2; exit 2; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$O/nvidia-smi.txt"
source bench/gpu-env.sh
"$G/jdk/bin/java" --add-modules jdk.incubator.vector --enable-native-access=ALL-UNNAMED -XX:+UseParallelGC -Xmx48g -cp "$G/lib/*" dev.puzzle.examples.bench.GpuBench all 2>&1 | tee "$O/puzzle.txt"
ours_rc=${PIPESTATUS[0]}
python3 bench/gpu_torch.py 2>&1 | tee "$O/torch.txt"
echo
printf "%-26s %12s %12s %14s\n" "" "puzzle ms" "PyTorch ms" "speed ratio"
for k in "step ffn fp32" "step ffn bf16" "step attention fp32" "step attention bf16" "gemm4096 bf16" "gemm4096 fp32"; do
  n=$(($(wc -w <<<"$k") + 1))  # the value follows the key
  a=$(grep "^$k " "$O/puzzle.txt" | awk -v n=$n '{print $n}'); p=$(grep "^$k " "$O/torch.txt" | awk -v n=$n '{print $n}')
  [ -n "$a" ] && [ -n "$p" ] && printf "%-26s %12s %12s %13.2fx\n" "$k" "$a" "$p" "$(awk -v a="$a" -v p="$p" 'BEGIN{print p/a}')"
done
echo "(median CUDA-event times on the same GPU; speed ratio = PyTorch time / puzzle time, above 1 means puzzle is faster)"
exit "$ours_rc"
