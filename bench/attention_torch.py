"""Peer side of bench/attention.sh: causal attention of H heads of E over T positions in PyTorch (FP32, no grad) —
scaled_dot_product_attention where the installed PyTorch has it (2.0 on), else the eager form Hugging Face's models
run, softmax(q·kᵀ/√E masked)·v — median of 15 timed runs after at least 3 runs and 1 s of warm-up, in ms; one line
per shape, "H T E ms"."""
import sys
import time

import torch

torch.set_num_threads(int(sys.argv[1]))
torch.manual_seed(1)
print("# peer: PyTorch", torch.__version__, "scaled_dot_product_attention" if hasattr(torch.nn.functional, "scaled_dot_product_attention")
      else "eager softmax(q·kᵀ/√E masked)·v", "threads", torch.get_num_threads(), file=sys.stderr)
with torch.no_grad():
    for spec in sys.argv[2:]:
        H, T, E = map(int, spec.split(","))
        q, k, v = (torch.randn(1, H, T, E) for _ in range(3))
        if hasattr(torch.nn.functional, "scaled_dot_product_attention"):
            run = lambda: torch.nn.functional.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            mask = torch.ones(T, T, dtype=torch.bool).triu(1)
            run = lambda: torch.softmax((q @ k.transpose(-1, -2)).mul_(E ** -0.5).masked_fill_(mask, float("-inf")), -1) @ v
        start, warm = time.perf_counter(), 0
        while warm < 3 or time.perf_counter() - start < 1.0:
            run()
            warm += 1
        ms = []
        for _ in range(15):
            t = time.perf_counter()
            run()
            ms.append((time.perf_counter() - t) * 1e3)
        ms.sort()
        print(H, T, E, "%.3f" % ms[len(ms) // 2])
