# Sourced by bench/gpu.sh and bench/gpu-cli.sh on the accelerator machine: puts the first libcublas.so.13 or .12
# found on the loader's path (the backend binds cuBLAS by name through the JDK's FFI) — PyTorch's CUDA wheels carry
# one (nvidia/cu13/lib or nvidia/cublas/lib), else the CUDA toolkit's — and says which; none: the PTX GEMM serves.
cublas=$(python3 -c 'import glob, site; c=[p for d in site.getsitepackages() for v in ("13", "12") for p in sorted(glob.glob(d+"/nvidia/*/lib/libcublas.so."+v+"*"))]; print(c[0] if c else "")' 2>/dev/null)
[ -z "$cublas" ] && cublas=$(ls /usr/local/cuda*/lib64/libcublas.so.1[23]* /usr/local/cuda*/targets/*/lib/libcublas.so.1[23]* 2>/dev/null | head -1)
[ -n "$cublas" ] && export LD_LIBRARY_PATH="$(dirname "$cublas")${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
echo "cuBLAS: ${cublas:-none found (the PTX GEMM serves)}"
