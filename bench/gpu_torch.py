"""Peer side of bench/gpu.sh, on the same GPU: one BLD training step (forward, normalized MSE, backward, clip, AdamW)
of the stories110M-shape FFN (d 768, h 2048) and attention (12 heads, 12 KV heads, head dim 64) blocks on 8 x 256
tokens, in FP32 (TF32 off) and in BF16 autocast (FP32 master weights, BF16 matmuls with FP32 accumulation), median
CUDA-event time of 30 steps after 5; and the 4096^3 matmul in BF16 and FP32. Prints the keys GpuBench prints."""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from train_step_torch import Attention, Ffn  # noqa: E402  the blocks of bench/train_step.sh

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.manual_seed(1)
dev = "cuda"
S, T, D, H, G, E, F = 8, 256, 768, 12, 12, 64, 2048


def timed(fn, warm=5, reps=30):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    ms = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        b.synchronize()
        ms.append(a.elapsed_time(b))
    ms.sort()
    return ms[len(ms) // 2]


for precision in ("fp32", "bf16"):
    for name, m in (("ffn", Ffn(D, F)), ("attention", Attention(S, T, D, H, G, E))):
        m = m.to(dev)
        opt = torch.optim.AdamW(m.parameters(), lr=1e-4, betas=(0.9, 0.95), weight_decay=0.1)
        x, y = torch.randn(S, T, D, device=dev), 0.1 * torch.randn(S, T, D, device=dev)

        def step():
            opt.zero_grad()
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=precision == "bf16"):
                out = m(x)
            loss = (out.float() - y).pow(2).sum() / y.pow(2).sum()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(m.parameters(), 1.0)
            opt.step()
            loss.item()  # the divergence check synchronizes, as GpuBench's step does

        print("step %s %s %.3f" % (name, precision, timed(step)))

n = 4096
for precision, dt in (("bf16", torch.bfloat16), ("fp32", torch.float32)):
    a, b = torch.randn(n, n, device=dev, dtype=dt), torch.randn(n, n, device=dev, dtype=dt)
    t = timed(lambda: torch.matmul(a, b), warm=3, reps=10)
    print("gemm4096 %s %.3f ms %.1f TFLOP/s" % (precision, t, 2.0 * n ** 3 / (t * 1e-3) / 1e12))
