"""Peer side of bench/gemm.sh: FP32 matmul GFLOP/s through numpy (OpenBLAS), the best of runs timed for a second after a second of warm-up."""
import sys
import time

import numpy as np

for spec in sys.argv[1:]:
    m, n, k = map(int, spec.split(","))
    rng = np.random.default_rng(1)
    a = (rng.random((m, k), dtype=np.float32) - 0.5)
    b = (rng.random((k, n), dtype=np.float32) - 0.5)
    flops = 2.0 * m * n * k
    # As GemmBench times this toolkit: at least 1 s (and 3 runs) of warm-up, then the best of at least 1 s (and 3 runs).
    end, reps = time.perf_counter() + 1.0, 0
    while reps < 3 or time.perf_counter() < end:
        a @ b
        reps += 1
    best, end, reps = float("inf"), time.perf_counter() + 1.0, 0
    while reps < 3 or time.perf_counter() < end:
        t = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t)
        reps += 1
    print(m, n, k, "%.2f" % (flops / best / 1e9))
try:
    from threadpoolctl import threadpool_info
    for info in threadpool_info():
        print("# peer BLAS:", info.get("internal_api"), info.get("version"), info.get("architecture"),
              "threads", info.get("num_threads"), file=sys.stderr)
except ImportError:
    pass
