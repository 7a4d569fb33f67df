#!/usr/bin/env bash
# Compiles kernels.cu to the PTX the CUDA backend loads (src/main/resources/dev/puzzle/core/cuda/kernels.ptx).
# The PTX is committed: building and testing need no CUDA toolkit. Targets compute_80 (BF16); the ISA header is
# set to PTX 7.8 (CUDA 11.8) so older drivers JIT it too, and ptxas checks that every instruction exists at that
# ISA for sm_80 and sm_90 before the file is written.   Usage: make_ptx.sh   (needs nvcc and ptxas on PATH)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="$here/../resources/dev/puzzle/core/cuda/kernels.ptx"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
nvcc -ptx -arch=compute_80 -O3 "$here/kernels.cu" -o "$tmp/kernels.ptx"
sed -i -e 's/^\.version .*/.version 7.8/' -e '/^\/\/ Compiler Build ID/d' "$tmp/kernels.ptx"
for sm in sm_80 sm_90; do ptxas -arch=$sm "$tmp/kernels.ptx" -o "$tmp/$sm.cubin"; done
mkdir -p "$(dirname "$out")"
{ echo "// kernels.cu sha256 $(sha256sum "$here/kernels.cu" | cut -d' ' -f1) (CudaPtxTest checks it)"; cat "$tmp/kernels.ptx"; } >"$out"
echo "wrote $out ($(grep -c '^\.visible \.entry' "$out") kernels)"
